"""Constraint and trigger health of our schemas (queries/health/constraints.sql)."""

from __future__ import annotations

from datalayer import queries as q
from datalayer.repository import Repository, Row


class NotValidConstraint(Row):
    schema_name: str
    table_name: str
    constraint_name: str
    kind: str


class DisabledTrigger(Row):
    schema_name: str
    table_name: str
    trigger_name: str


_NOT_VALID = q.many("health.list_not_valid_constraints", NotValidConstraint, (list[str],))
_DISABLED = q.many("health.list_disabled_triggers", DisabledTrigger, (list[str],))


class ConstraintHealthRepository(Repository):
    async def not_valid(self, schemas: list[str]) -> list[NotValidConstraint]:
        return await self._x.many(_NOT_VALID, schemas)

    async def disabled_triggers(self, schemas: list[str]) -> list[DisabledTrigger]:
        return await self._x.many(_DISABLED, schemas)

"""Aggregate `audit` (queries/chat_bot/audit.sql): the append-only audit trail, partitioned by month.

There is no update or delete here, and the table refuses them (a trigger); only GDPR erasure redacts the
entries about an erased user. A client-generated `request_id` makes appending retry-safe. Partitions are made
ahead (`ensure_partitions_ahead`, `datalayer partitions ensure`) and old ones dropped by `datalayer partitions
drop-older-than --table chat_bot.audit_logs`, through `datalayer.partitions`, which never stalls appending."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from pydantic import Field, JsonValue

from datalayer import queries as q
from datalayer.partitions.partitions import PartitionRepository
from datalayer.repository import Params, Repository, Row, params
from datalayer.validation import Moment


class AuditEntry(Row):
    id: int
    request_id: UUID
    actor: str
    action: str
    entity_type: str
    entity_id: str
    before: JsonValue | None
    after: JsonValue | None
    occurred_at: datetime


class AppendAuditParams(Params):
    """Build it once per entry and pass the same object to every retry."""

    request_id: UUID = Field(default_factory=uuid4)
    actor: str = Field(min_length=1, max_length=200, pattern=r"\S")
    action: str = Field(pattern=r"^[a-z][a-z0-9_.]{1,99}$")
    entity_type: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    entity_id: str = Field(min_length=1, max_length=200)
    before: JsonValue = None
    after: JsonValue = None
    occurred_at: Moment = Field(default_factory=lambda: datetime.now(UTC))


class ListAuditByEntityParams(Params):
    entity_type: str
    entity_id: str
    limit: int = Field(default=100, ge=1, le=10_000)


class ListAuditByActorParams(Params):
    actor: str
    limit: int = Field(default=100, ge=1, le=10_000)


class ListAuditBetweenParams(Params):
    since: Moment
    until: Moment
    limit: int = Field(default=1000, ge=1, le=100_000)


_APPEND = q.one("chat_bot.append_audit", AuditEntry, AppendAuditParams, retry=True)
_BY_ENTITY = q.many("chat_bot.list_audit_by_entity", AuditEntry, ListAuditByEntityParams)
_BY_ACTOR = q.many("chat_bot.list_audit_by_actor", AuditEntry, ListAuditByActorParams)
_BETWEEN = q.many("chat_bot.list_audit_between", AuditEntry, ListAuditBetweenParams)
TABLE = "chat_bot.audit_logs"


class AuditRepository(Repository):
    async def append(self, p: AppendAuditParams) -> AuditEntry:
        """Append an entry. Retry-safe (by request_id: a repeat returns the stored entry)."""
        return await self._settled(_APPEND, p)

    async def by_entity(self, entity_type: str, entity_id: str, limit: int = 100) -> list[AuditEntry]:
        return await self._x.many(
            _BY_ENTITY, params(ListAuditByEntityParams, entity_type=entity_type, entity_id=entity_id, limit=limit)
        )

    async def by_actor(self, actor: str, limit: int = 100) -> list[AuditEntry]:
        return await self._x.many(_BY_ACTOR, params(ListAuditByActorParams, actor=actor, limit=limit))

    async def between(self, since: datetime, until: datetime, limit: int = 1000) -> list[AuditEntry]:
        return await self._x.many(_BETWEEN, params(ListAuditBetweenParams, since=since, until=until, limit=limit))

    async def ensure_partitions_ahead(self, months: int = 3, now: datetime | None = None) -> list[date]:
        """Make the audit partitions of this month and the next `months`; returns those created (appending goes
        on meanwhile; see datalayer.partitions). Retry-safe."""
        return await PartitionRepository(self._x).ensure(TABLE, months, now=now or datetime.now(UTC))

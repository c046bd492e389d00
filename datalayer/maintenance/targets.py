"""What VACUUM, ANALYZE and REINDEX run on (queries/maintenance/targets.sql)."""

from __future__ import annotations

from datetime import datetime

from datalayer import queries as q
from datalayer.repository import Repository, Row


class MaintenanceTarget(Row):
    schema_name: str
    table_name: str
    partitioned: bool
    is_partition: bool
    total_bytes: int
    dead_rows: int
    last_vacuum: datetime | None
    last_analyze: datetime | None

    @property
    def qualified(self) -> str:
        return f"{self.schema_name}.{self.table_name}"


_TARGETS = q.many("maintenance.list_maintenance_targets", MaintenanceTarget, (list[str],))


class MaintenanceTargetRepository(Repository):
    async def targets(self, schemas: list[str]) -> list[MaintenanceTarget]:
        return await self._x.many(_TARGETS, schemas)

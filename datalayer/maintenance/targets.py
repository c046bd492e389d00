"""What VACUUM, ANALYZE and REINDEX run on (queries/maintenance/targets.sql)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from datalayer import queries as q
from datalayer.db import Database, ident
from datalayer.repository import Repository, Row

Action = Literal["vacuum", "analyze", "reindex"]


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


def statement(action: Action, t: MaintenanceTarget, *, whole: bool = True) -> str | None:
    """The utility statement for one target, or None when it is covered otherwise: a partitioned parent has no
    storage to VACUUM or REINDEX (its partitions are targets of their own), and an ANALYZE of the parent already
    analyses its partitions (`whole`: every table is being done, not one picked by name)."""
    if action in ("vacuum", "reindex") and t.partitioned:
        return None
    if action == "analyze" and t.is_partition and whole:
        return None
    name = ident(t.schema_name, t.table_name)
    return {"vacuum": f"VACUUM (ANALYZE) {name}", "analyze": f"ANALYZE {name}",
            "reindex": f"REINDEX TABLE CONCURRENTLY {name}"}[action]  # fmt: skip


async def analyze_all(db: Database) -> int:
    """ANALYZE every table of ours, partitioned parents included (after loading data); how many were analysed."""
    from datalayer.ops.catalog import CatalogRepository

    done = 0
    for t in await MaintenanceTargetRepository(db).targets(await CatalogRepository(db).our_schemas()):
        sql = statement("analyze", t)
        if sql is not None:
            await db.executor.utility("maintenance.analyze", sql)
            done += 1
    return done

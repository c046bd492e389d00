"""Row counts and sizes per table, and their history for growth (queries/maintenance/sizes.sql)."""

from __future__ import annotations

from datetime import datetime

from datalayer import queries as q
from datalayer.repository import Repository, Row, params


class PreviousSize(Row):
    schema_name: str
    table_name: str
    taken_at: datetime
    live_rows: int
    total_bytes: int


class RecordTableSizesParams(q.Params):
    taken_at: datetime
    readings: list[dict[str, object]]


_RECORD = q.execute("maintenance.record_table_sizes", RecordTableSizesParams, retry=True)  # DO NOTHING on a repeat
_PREVIOUS = q.many("maintenance.list_previous_sizes", PreviousSize, (datetime,))
_DELETE_OLD = q.value("maintenance.delete_sizes_older_than", int, (datetime,), retry=True)  # deleting twice: 0
_COUNT = q.value("maintenance.count_rows_exactly", int, (str,), retry=True)  # reads only (a dynamic count)


class SizeHistoryRepository(Repository):
    async def record(self, taken_at: datetime, readings: list[dict[str, object]]) -> None:
        """Keep one run's readings. Retry-safe: the same run (taken_at) is stored once."""
        await self._x.execute(_RECORD, params(RecordTableSizesParams, taken_at=taken_at, readings=readings))

    async def previous(self, before: datetime) -> dict[tuple[str, str], PreviousSize]:
        """Each table's latest reading before `before`."""
        return {(p.schema_name, p.table_name): p for p in await self._x.many(_PREVIOUS, before)}

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Retention of the history. Retry-safe."""
        return await self._x.value(_DELETE_OLD, cutoff)

    async def count_exactly(self, schema_name: str, table_name: str) -> int:
        """count(*) of one of our tables (a full scan). Reads only; retry-safe."""
        from datalayer.db import ident

        return await self._x.value(_COUNT, ident(schema_name, table_name))

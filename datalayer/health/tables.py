"""Table-level health of our schemas (queries/health/tables.sql)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from datalayer import queries as q
from datalayer.repository import Repository, Row


class SchemaTable(Row):
    schema_name: str
    table_name: str
    partitioned: bool
    partitions: int
    live_rows: int
    total_bytes: int


class CacheHits(Row):
    table_hits: int
    table_reads: int
    index_hits: int
    index_reads: int


class TableActivity(Row):
    schema_name: str
    table_name: str
    partitioned: bool
    seq_scan: int
    seq_tup_read: int
    idx_scan: int
    live_rows: int
    dead_rows: int
    modified_since_analyze: int
    last_vacuum: datetime | None
    last_analyze: datetime | None


class TableBloat(Row):
    schema_name: str
    table_name: str
    bytes: int
    expected_bytes: int


class SequenceUsage(Row):
    schema_name: str
    sequence_name: str
    last_value: Decimal
    max_value: Decimal
    owned_by: str


_SCHEMA_TABLES = q.many("health.list_schema_tables", SchemaTable, (list[str],))
_CACHE = q.one("health.get_cache_hit_ratio", CacheHits, (list[str],))
_ACTIVITY = q.many("health.list_table_activity", TableActivity, (list[str],))
_BLOAT = q.many("health.list_table_bloat", TableBloat, (list[str],))
_SEQUENCES = q.many("health.list_sequence_usage", SequenceUsage, (list[str],))


class TableHealthRepository(Repository):
    async def schema_tables(self, schemas: list[str]) -> list[SchemaTable]:
        """The tables of these schemas, each partitioned table once with its partitions summed."""
        return await self._x.many(_SCHEMA_TABLES, schemas)

    async def cache_hits(self, schemas: list[str]) -> CacheHits:
        row = await self._x.one(_CACHE, schemas)
        assert row is not None  # aggregates without GROUP BY: always one row
        return row

    async def activity(self, schemas: list[str]) -> list[TableActivity]:
        return await self._x.many(_ACTIVITY, schemas)

    async def bloat(self, schemas: list[str]) -> list[TableBloat]:
        return await self._x.many(_BLOAT, schemas)

    async def sequences(self, schemas: list[str]) -> list[SequenceUsage]:
        return await self._x.many(_SEQUENCES, schemas)

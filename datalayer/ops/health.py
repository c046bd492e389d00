"""Health probes (queries/ops/health.sql)."""

from __future__ import annotations

from datalayer import queries as q
from datalayer.repository import Repository, Row


class SchemaTable(Row):
    schema_name: str
    table_name: str
    partitioned: bool
    partitions: int
    live_rows: int
    total_bytes: int


class ServerInfo(Row):
    server_version: str
    server_version_num: int
    database: str
    user_name: str


_PING = q.value("ops.ping", int)
_SERVER_INFO = q.one("ops.get_server_info", ServerInfo)
_SCHEMA_TABLES = q.many("ops.list_schema_tables", SchemaTable, (list[str],))


class HealthRepository(Repository):
    async def ping(self) -> int:
        return await self._x.value(_PING)

    async def server_info(self) -> ServerInfo:
        info = await self._x.one(_SERVER_INFO)
        assert info is not None  # a SELECT without FROM always returns its row
        return info

    async def schema_tables(self, schemas: list[str]) -> list[SchemaTable]:
        """The tables of these schemas, each partitioned table once with its partitions summed."""
        return await self._x.many(_SCHEMA_TABLES, schemas)

"""Health probes (queries/ops/health.sql)."""

from __future__ import annotations

from datalayer import queries as q
from datalayer.repository import Repository, Row


class ServerInfo(Row):
    server_version: str
    server_version_num: int
    database: str
    user_name: str


_PING = q.value("ops.ping", int)
_SERVER_INFO = q.one("ops.get_server_info", ServerInfo)


class HealthRepository(Repository):
    async def ping(self) -> int:
        return await self._x.value(_PING)

    async def server_info(self) -> ServerInfo:
        info = await self._x.one(_SERVER_INFO)
        assert info is not None  # a SELECT without FROM always returns its row
        return info

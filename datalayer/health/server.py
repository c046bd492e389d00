"""Server-wide health probes (queries/health/server.sql)."""

from __future__ import annotations

from datetime import datetime

from datalayer import queries as q
from datalayer.repository import Repository, Row


class ServerInfo(Row):
    server_version: str
    server_version_num: int
    database: str
    user_name: str
    in_recovery: bool
    replay_delay_s: float | None
    database_bytes: int
    stats_reset: datetime | None


class ConnectionUsage(Row):
    used: int
    max_connections: int
    reserved: int
    active: int
    idle: int
    idle_in_transaction: int


class Session(Row):
    pid: int
    user_name: str
    application_name: str
    seconds: float
    query_name: str | None
    query: str | None


class IdleSession(Row):
    pid: int
    user_name: str
    application_name: str
    seconds: float
    transaction_seconds: float | None
    last_query_name: str | None
    last_query: str | None


class BlockedQuery(Row):
    pid: int
    waiting_seconds: float | None
    wait_event: str
    query_name: str | None
    query: str | None
    blocked_by: list[int]
    blockers: str


class PreparedTransaction(Row):
    gid: str
    owner: str
    prepared: datetime
    seconds: float


class WraparoundAge(Row):
    database: str
    xid_age: int
    multixact_age: int


class CheckpointCounts(Row):
    timed: int
    requested: int


class ArchiverState(Row):
    archive_mode: str
    archived_count: int
    failed_count: int
    last_archived_wal: str | None
    last_archived_time: datetime | None
    last_failed_wal: str | None
    last_failed_time: datetime | None


class Replica(Row):
    application_name: str
    client_addr: str | None
    state: str
    replay_lag_s: float | None
    replay_lag_bytes: int | None


class ReplicationSlot(Row):
    slot_name: str
    slot_type: str
    active: bool
    wal_status: str
    retained_bytes: int | None


_PING = q.value("health.ping", int)
_SERVER_INFO = q.one("health.get_server_info", ServerInfo)
_CONNECTIONS = q.one("health.get_connection_usage", ConnectionUsage)
_LONG = q.many("health.list_long_running_queries", Session, (float,))
_IDLE = q.many("health.list_idle_in_transaction", IdleSession, (float,))
_BLOCKED = q.many("health.list_blocked_queries", BlockedQuery)
_PREPARED = q.many("health.list_prepared_transactions", PreparedTransaction)
_WRAPAROUND = q.many("health.list_wraparound_ages", WraparoundAge)
_CHECKPOINTS = q.one("health.get_checkpoint_counts", CheckpointCounts, retry=True)  # a read-only function
_ARCHIVER = q.one("health.get_archiver_state", ArchiverState)
_REPLICAS = q.many("health.list_replicas", Replica)
_SLOTS = q.many("health.list_replication_slots", ReplicationSlot)
_LIMIT = q.value("health.set_session_limits", str, (str, str), retry=True)  # sets two settings: harmless twice


class ServerHealthRepository(Repository):
    async def limit_session(self, lock_timeout_ms: int, statement_timeout_ms: int) -> None:
        """Inside a transaction: lock and statement timeouts until it ends. Retry-safe (sets, never adds)."""
        await self._x.value(_LIMIT, f"{lock_timeout_ms}ms", f"{statement_timeout_ms}ms")

    async def ping(self) -> int:
        return await self._x.value(_PING)

    async def server_info(self) -> ServerInfo:
        info = await self._x.one(_SERVER_INFO)
        assert info is not None  # a SELECT without FROM always returns its row
        return info

    async def connections(self) -> ConnectionUsage:
        row = await self._x.one(_CONNECTIONS)
        assert row is not None  # aggregates without GROUP BY: always one row
        return row

    async def long_running(self, min_seconds: float) -> list[Session]:
        return await self._x.many(_LONG, min_seconds)

    async def idle_in_transaction(self, min_seconds: float) -> list[IdleSession]:
        return await self._x.many(_IDLE, min_seconds)

    async def blocked(self) -> list[BlockedQuery]:
        return await self._x.many(_BLOCKED)

    async def prepared_transactions(self) -> list[PreparedTransaction]:
        return await self._x.many(_PREPARED)

    async def wraparound(self) -> list[WraparoundAge]:
        return await self._x.many(_WRAPAROUND)

    async def checkpoints(self) -> CheckpointCounts:
        """Reads only (through a function, hence declared). Retry-safe."""
        row = await self._x.one(_CHECKPOINTS)
        assert row is not None  # the function returns one row
        return row

    async def archiver(self) -> ArchiverState:
        row = await self._x.one(_ARCHIVER)
        assert row is not None  # pg_stat_archiver has one row
        return row

    async def replicas(self) -> list[Replica]:
        return await self._x.many(_REPLICAS)

    async def replication_slots(self) -> list[ReplicationSlot]:
        return await self._x.many(_SLOTS)

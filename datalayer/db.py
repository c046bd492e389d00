"""`Database` owns the asyncpg pool; `Executor` runs bound queries on the pool or on one connection."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic import BaseModel

from datalayer import errors
from datalayer.config import Settings, mask_url
from datalayer.queries import Execute, Many, One, Value

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

log = logging.getLogger("datalayer")

Connection = asyncpg.Connection | PoolConnectionProxy
Isolation = Literal["read_committed", "read_uncommitted", "serializable", "repeatable_read"]

_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError)

# Called with each query's name after it ran; the test suite uses it to prove every query was executed.
observers: list[Callable[[str], None]] = []


async def init_connection(conn: asyncpg.Connection) -> None:
    """Per-connection setup: json/jsonb arrive as Python objects, not strings."""
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class Executor:
    """Runs bound queries on a pool (one pooled connection per call) or on a single connection."""

    __slots__ = ("_acquire_timeout", "_conn", "_pool", "_slow_s")

    def __init__(
        self,
        target: asyncpg.Pool | Connection,
        *,
        acquire_timeout: float = 10.0,
        slow_query_ms: float = 0.0,
    ) -> None:
        self._pool: asyncpg.Pool | None = None
        self._conn: Connection | None = None
        if isinstance(target, asyncpg.Pool):
            self._pool = target
        else:
            self._conn = target
        self._acquire_timeout = acquire_timeout
        self._slow_s = slow_query_ms / 1000.0

    @property
    def executor(self) -> Executor:
        return self

    @property
    def connection(self) -> Connection | None:
        return self._conn

    def _acquire(self) -> Any:
        """A pooled connection (awaitable). An idle one is handed over at once; only a real wait pays for
        the acquire-timeout machinery."""
        pool = self._pool
        assert pool is not None
        return pool.acquire(timeout=None if pool.get_idle_size() else self._acquire_timeout)

    async def _pooled(self, method: str, sql: str, args: Sequence[object]) -> Any:
        pool = self._pool
        assert pool is not None
        conn = await self._acquire()
        try:
            return await getattr(conn, method)(sql, *args)
        finally:
            await pool.release(conn)

    def _finished(self, name: str, started: float) -> None:
        """After each query: the slow-query log, and the observers (the test suite's executed-query set)."""
        if self._slow_s:
            elapsed = time.perf_counter() - started
            if elapsed > self._slow_s:
                log.warning("slow query %s took %.1f ms", name, elapsed * 1000)
        for observe in observers:
            observe(name)

    # The four methods below are the hot path: each is one await on the driver plus the row conversion.
    # They repeat their shape on purpose: a shared helper would add a coroutine frame to every query.
    async def one(self, q: One[M], *args: object) -> M | None:
        started = time.perf_counter()
        try:
            if self._conn is not None:
                row = await self._conn.fetchrow(q.sql, *q.args(args))
            else:
                row = await self._pooled("fetchrow", q.sql, q.args(args))
        except _DRIVER_ERRORS as exc:
            raise errors.from_postgres(exc, q.query.name) from exc
        if self._slow_s or observers:
            self._finished(q.query.name, started)
        if row is None:
            return None
        assert q.build is not None
        result: M = q.build(row)
        return result

    async def many(self, q: Many[M], *args: object) -> list[M]:
        started = time.perf_counter()
        try:
            if self._conn is not None:
                rows = await self._conn.fetch(q.sql, *q.args(args))
            else:
                rows = await self._pooled("fetch", q.sql, q.args(args))
        except _DRIVER_ERRORS as exc:
            raise errors.from_postgres(exc, q.query.name) from exc
        if self._slow_s or observers:
            self._finished(q.query.name, started)
        build = q.build
        assert build is not None
        return [build(row) for row in rows]

    async def value(self, q: Value[T], *args: object) -> T:
        started = time.perf_counter()
        try:
            if self._conn is not None:
                result: T = await self._conn.fetchval(q.sql, *q.args(args))
            else:
                result = await self._pooled("fetchval", q.sql, q.args(args))
        except _DRIVER_ERRORS as exc:
            raise errors.from_postgres(exc, q.query.name) from exc
        if self._slow_s or observers:
            self._finished(q.query.name, started)
        return result

    async def execute(self, q: Execute, *args: object) -> str:
        started = time.perf_counter()
        try:
            if self._conn is not None:
                status: str = await self._conn.execute(q.sql, *q.args(args))
            else:
                status = await self._pooled("execute", q.sql, q.args(args))
        except _DRIVER_ERRORS as exc:
            raise errors.from_postgres(exc, q.query.name) from exc
        if self._slow_s or observers:
            self._finished(q.query.name, started)
        return status

    async def copy_records(
        self, schema: str, table: str, columns: Sequence[str], records: Iterable[Sequence[object]]
    ) -> int:
        """Bulk insert with COPY; returns the number of rows copied."""
        name = f"copy {schema}.{table}"

        async def copy(conn: Connection) -> int:
            status: str = await conn.copy_records_to_table(
                table, schema_name=schema, columns=list(columns), records=records
            )
            return int(status.rsplit(" ", 1)[-1])

        try:
            if self._conn is not None:
                return await copy(self._conn)
            assert self._pool is not None
            conn = await self._acquire()
            try:
                return await copy(conn)
            finally:
                await self._pool.release(conn)
        except _DRIVER_ERRORS as exc:
            raise errors.from_postgres(exc, name) from exc


class Transaction:
    """One connection inside BEGIN … COMMIT; build repositories on it like on the `Database`."""

    def __init__(self, executor: Executor) -> None:
        self.executor = executor

    @property
    def connection(self) -> Connection:
        conn = self.executor.connection
        assert conn is not None
        return conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Transaction]:
        """A savepoint inside this transaction: an error rolls back only what ran inside it."""
        async with _tx(self.connection, None):
            yield self


class Database:
    """The entry point: `async with Database.connect() as db:`; repositories are built on `db` or on a `tx`."""

    def __init__(self, executor: Executor, settings: Settings, url: str, pool: asyncpg.Pool | None = None) -> None:
        self.executor = executor
        self.settings = settings
        self.url = url
        self.pool = pool

    def __repr__(self) -> str:
        return f"Database({mask_url(self.url)})"

    @classmethod
    @asynccontextmanager
    async def connect(cls, settings: Settings | None = None, url: str | None = None) -> AsyncIterator[Database]:
        """Open a pool on `url`, DATABASE_URL, or the embedded cluster (started if needed)."""
        settings = settings or Settings()
        url = url or resolve_url(settings)
        try:
            pool = await asyncpg.create_pool(
                url,
                min_size=settings.pool_min_size,
                max_size=settings.pool_max_size,
                command_timeout=settings.command_timeout,
                statement_cache_size=settings.statement_cache_size,
                init=init_connection,
            )
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise errors.Unavailable(f"cannot connect to {mask_url(url)}: {exc}") from exc
        assert pool is not None
        try:
            yield cls(
                Executor(pool, acquire_timeout=settings.acquire_timeout, slow_query_ms=settings.slow_query_ms),
                settings,
                url,
                pool,
            )
        finally:
            await pool.close()

    @classmethod
    def on_connection(cls, conn: Connection, settings: Settings | None = None) -> Database:
        """A Database bound to one connection (tests run everything inside one rolled-back transaction)."""
        settings = settings or Settings()
        return cls(Executor(conn, slow_query_ms=settings.slow_query_ms), settings, url="(connection)")

    @asynccontextmanager
    async def transaction(self, isolation: Isolation | None = None) -> AsyncIterator[Transaction]:
        """BEGIN … COMMIT on one connection; any exception rolls back. Nested use becomes a savepoint."""
        ex = self.executor
        conn = ex.connection
        if conn is not None:
            async with _tx(conn, isolation):
                yield Transaction(ex)
            return
        assert self.pool is not None
        try:
            pooled: PoolConnectionProxy = await self.pool.acquire(timeout=self.settings.acquire_timeout)
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, TimeoutError) as exc:
            raise errors.from_postgres(exc, "transaction") from exc
        try:
            async with _tx(pooled, isolation):
                yield Transaction(Executor(pooled, slow_query_ms=self.settings.slow_query_ms))
        finally:
            await self.pool.release(pooled)


@asynccontextmanager
async def _tx(conn: Connection, isolation: Isolation | None) -> AsyncIterator[None]:
    tx = conn.transaction(isolation=isolation) if isolation else conn.transaction()
    try:
        await tx.start()
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise errors.from_postgres(exc, "BEGIN") from exc
    try:
        yield
    except BaseException:
        await tx.rollback()
        raise
    try:
        await tx.commit()
    except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
        raise errors.from_postgres(exc, "COMMIT") from exc


def resolve_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded cluster's URL (starting it if it is not running)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from datalayer.embedded import EmbeddedCluster

    return EmbeddedCluster(settings.home.resolve()).up()

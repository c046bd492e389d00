"""`Database` owns the asyncpg pool; `Executor` runs bound queries on the pool or on one connection.

The contract under connection loss (tests/test_faults.py causes each case for real):

- No driver exception reaches a caller: everything becomes a `datalayer.errors` class.
- A statement that returned, or a COMMIT that was acknowledged, is a success. Putting the connection back
  afterwards may fail (it died in between); that only discards the connection.
- A retry-safe binding (reads, and writes that are idempotent by construction) is retried on a fresh pooled
  connection after a connection-class failure, with exponential backoff and jitter, within
  `retry_attempts` and `retry_deadline`. Any binding is retried when the failure came before its statement was
  sent (no connection could be had). Otherwise the caller gets `Unavailable(connection_lost=True)` at once.
- Inside a transaction nothing is retried statement by statement: the transaction is gone with its connection.
  `run_in_transaction` runs the whole function again; a connection lost *during* COMMIT is reported as
  `Unavailable(commit_unknown=True)` and never repeated blindly.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
from bisect import bisect_left
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, replace
from time import perf_counter
from typing import Any, Literal, TypeVar

import asyncpg
from asyncpg.pool import PoolConnectionProxy
from pydantic import BaseModel
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, stop_after_delay, wait_exponential_jitter

from datalayer import errors
from datalayer.cache import CacheStore, tags_of
from datalayer.config import Settings, mask_url, url_problem
from datalayer.errors import DRIVER_ERRORS, is_connection_lost, never_sent
from datalayer.ops.replica import Replica, ReplicaStatus
from datalayer.queries import BUCKETS_S, Bound, Execute, Many, One, QueryStats, Value, all_stats, percentile

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

log = logging.getLogger("datalayer")

Connection = asyncpg.Connection | PoolConnectionProxy
Isolation = Literal["read_committed", "read_uncommitted", "serializable", "repeatable_read"]

# Called with each query's name after it ran; the test suite uses it to prove every query was executed.
observers: list[Callable[[str], None]] = []


class _NotSent(Exception):
    """No connection could be had: the statement never left this process, so any binding may be retried."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(str(cause))
        self.cause = cause


_BOUNDS = BUCKETS_S
_CAUGHT: tuple[type[Exception], ...] = (*DRIVER_ERRORS, _NotSent)


def _unwrap(exc: BaseException) -> BaseException:
    return exc.cause if isinstance(exc, _NotSent) else exc


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    attempts: int = 5
    backoff: float = 0.05
    backoff_max: float = 1.0
    deadline: float = 15.0

    @classmethod
    def from_settings(cls, s: Settings) -> RetryPolicy:
        return cls(s.retry_attempts, s.retry_backoff, s.retry_backoff_max, s.retry_deadline)


@dataclass(frozen=True, slots=True)
class ExecConfig:
    """What every executor of one Database shares (the pool's, and each transaction's)."""

    acquire_timeout: float = 10.0
    slow_query_ms: float = 0.0
    retry: RetryPolicy = RetryPolicy()
    stats: bool = True
    trust: bool = True  # False: every row is fully validated (schema not checked at connect)
    cache: CacheStore | None = None  # the repository read cache (reads bound with cache=, writes with invalidates=)
    replica: Replica | None = None  # DATABASE_REPLICA_URL: where reads bound with replica=True may run

    @classmethod
    def from_settings(
        cls, s: Settings, *, trust: bool = True, cache: CacheStore | None = None, replica: Replica | None = None
    ) -> ExecConfig:
        return cls(
            s.acquire_timeout, s.slow_query_ms, RetryPolicy.from_settings(s), s.query_stats, trust, cache, replica
        )


def tcp_keepalive(conn: asyncpg.Connection, settings: Settings) -> None:
    """Make a TCP connection notice a peer that vanished without an RST (a black hole: a dead host, a router
    or NAT that forgot the flow): keepalive probes after `tcp_keepalives_idle` seconds of silence, and
    TCP_USER_TIMEOUT, without which data sent into the hole (a statement, a COMMIT) is retransmitted for
    ~15 minutes first (keepalive does not probe while data is unacknowledged). The connection then fails
    as lost, even with command_timeout=None. asyncpg has no option for either, so the socket is set here."""
    transport = getattr(conn, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None or sock.family not in (socket.AF_INET, socket.AF_INET6):
        return  # a Unix socket: no network in between
    idle, interval, count = (
        settings.tcp_keepalives_idle,
        settings.tcp_keepalives_interval,
        settings.tcp_keepalives_count,
    )
    user_timeout = settings.tcp_user_timeout
    if user_timeout is None:
        user_timeout = idle + interval * count if idle else 0
    options: list[tuple[int, int, int]] = []
    if idle:
        # macOS names the idle time TCP_KEEPALIVE; an option the platform lacks keeps the OS default.
        tcp = {"TCP_KEEPIDLE": idle, "TCP_KEEPALIVE": idle, "TCP_KEEPINTVL": interval, "TCP_KEEPCNT": count}
        options.append((socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1))
        options += [(socket.IPPROTO_TCP, getattr(socket, name), v) for name, v in tcp.items() if hasattr(socket, name)]
    if user_timeout and hasattr(socket, "TCP_USER_TIMEOUT"):
        options.append((socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, int(user_timeout * 1000)))
    for level, option, value in options:
        try:
            sock.setsockopt(level, option, value)
        except OSError as exc:
            log.warning("could not set TCP option %s=%s on a database connection: %s", option, value, exc)


async def init_connection(conn: asyncpg.Connection, settings: Settings | None = None) -> None:
    """Per-connection setup: TCP keepalive from `settings` (first: what follows talks to the server), and
    json/jsonb arrive as Python objects, not strings."""
    if settings is not None:
        tcp_keepalive(conn, settings)
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _with_custom_plan(conn: Connection, method: str, sql: str, args: Sequence[object]) -> Any:
    """Run one statement with plan_cache_mode = force_custom_plan, so a prepared statement never switches to its
    generic plan. Outside a transaction: BEGIN, SET LOCAL, the statement, COMMIT. Inside one: the setting is
    made local, and put back after the statement (after a failure the transaction or savepoint is aborted, and
    its rollback puts it back)."""
    if conn.is_in_transaction():
        before = await conn.fetchval("SELECT current_setting('plan_cache_mode')")
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        result = await getattr(conn, method)(sql, *args)
        if before != "force_custom_plan":
            await conn.execute(f"SET LOCAL plan_cache_mode = {before}")  # one of three keywords, from the server
        return result
    async with conn.transaction():
        await conn.execute("SET LOCAL plan_cache_mode = force_custom_plan")
        return await getattr(conn, method)(sql, *args)


async def _release_quietly(pool: asyncpg.Pool, conn: PoolConnectionProxy) -> None:
    """Put a connection back. If it died meanwhile, asyncpg has already terminated it (the pool opens a new
    one on demand): that is no failure of the call that used it."""
    try:
        await pool.release(conn)
    except DRIVER_ERRORS as exc:
        log.debug("discarded a pooled connection that failed on release: %s", exc)


def ident(*parts: str) -> str:
    """A qualified SQL identifier, each part double-quoted as PostgreSQL's quote_ident would (for utility
    statements only: the names come from the catalog, and quoting makes any name one identifier)."""
    for part in parts:
        if not part or "\x00" in part:
            raise errors.InvalidData(f"not an identifier: {part!r}")
    return ".".join('"' + part.replace('"', '""') + '"' for part in parts)


class Executor:
    """Runs bound queries on a pool (one pooled connection per call) or on a single connection."""

    __slots__ = ("_cache", "_cfg", "_conn", "_pending", "_pool", "_replica", "_slow_s", "_stats", "_trust")

    def __init__(self, target: asyncpg.Pool | Connection, config: ExecConfig | None = None) -> None:
        self._pool: asyncpg.Pool | None = None
        self._conn: Connection | None = None
        # Invalidations of writes run on one connection (a transaction) wait for its COMMIT.
        self._pending: list[tuple[tuple[str, ...], QueryStats]] | None = None
        if isinstance(target, asyncpg.Pool):
            self._pool = target
        else:
            self._conn = target
            self._pending = []
        cfg = config or ExecConfig()
        self._cfg = cfg
        self._slow_s = cfg.slow_query_ms / 1000.0
        self._stats = cfg.stats
        self._trust = cfg.trust
        # Reads inside a transaction never use the cache, nor the replica: they must see the transaction's own
        # writes.
        self._cache = cfg.cache if self._pool is not None else None
        self._replica = cfg.replica if self._pool is not None else None

    @property
    def executor(self) -> Executor:
        return self

    @property
    def connection(self) -> Connection | None:
        return self._conn

    @property
    def pool(self) -> asyncpg.Pool | None:
        """The pool this executor takes a connection from per call (None on one connection: a transaction)."""
        return self._pool

    @property
    def cache(self) -> CacheStore | None:
        """The read cache this executor's Database uses (None when off)."""
        return self._cfg.cache

    @property
    def config(self) -> ExecConfig:
        return self._cfg

    async def _pooled(self, method: str, sql: str, args: Sequence[object]) -> Any:
        pool = self._pool
        assert pool is not None
        try:
            # An idle connection is handed over at once; only a real wait pays for the timeout machinery.
            conn = await pool.acquire(timeout=None if pool.get_idle_size() else self._cfg.acquire_timeout)
        except DRIVER_ERRORS as exc:
            raise _NotSent(exc) from exc
        try:
            if method[0] == "+":
                result = await _with_custom_plan(conn, method[1:], sql, args)
            else:
                result = await getattr(conn, method)(sql, *args)
        except BaseException:
            await _release_quietly(pool, conn)
            raise
        await _release_quietly(pool, conn)
        return result

    async def _read_on_replica(self, method: str, q: Bound, args: Sequence[object]) -> Any:
        """A lag-tolerant read: on the replica when it is within its lag bound, else (or when it fails there) on
        the primary, where a failure takes the usual path (retry, then our error)."""
        replica = self._replica
        assert replica is not None
        pool = replica.pool_for_read()
        if pool is not None:
            try:
                conn = await pool.acquire(timeout=replica.acquire_timeout)
            except DRIVER_ERRORS as exc:
                replica.failed(exc)
            else:
                try:
                    if method[0] == "+":
                        return await _with_custom_plan(conn, method[1:], q.sql, args)
                    return await getattr(conn, method)(q.sql, *args)
                except DRIVER_ERRORS as exc:
                    replica.failed(exc)
                finally:
                    await _release_quietly(pool, conn)
        return await self._pooled(method, q.sql, args)

    async def _custom_plan(self, method: str, q: Bound, values: Sequence[object]) -> Any:
        """A `custom_plan` binding: the statement runs with plan_cache_mode = force_custom_plan (the rest as usual:
        the transaction's connection, else the replica when allowed, else the pool; a failure is retried the same
        way, through the `+` method)."""
        if self._conn is not None:
            return await _with_custom_plan(self._conn, method, q.sql, values)
        if self._replica is not None and q.replica:
            return await self._read_on_replica("+" + method, q, values)
        return await self._pooled("+" + method, q.sql, values)

    def _finished(self, q: Bound, started: float, rows: int) -> None:
        """After each query: statistics, the slow-query log, and the observers (the tests' executed set)."""
        elapsed = perf_counter() - started
        if self._stats:
            st = q.stats
            st.calls += 1
            st.rows += rows
            st.total_s += elapsed
            if elapsed > st.max_s:
                st.max_s = elapsed
            st.buckets[bisect_left(_BOUNDS, elapsed)] += 1
        if self._slow_s and elapsed > self._slow_s:
            log.warning("slow query %s took %.1f ms", q.name, elapsed * 1000)
        for observe in observers:
            observe(q.name)

    def _may_retry(self, q: Bound, exc: BaseException) -> bool:
        if self._pool is None:
            return False  # one connection (a transaction): it is gone, and the transaction with it
        if self._pool.is_closing():
            return False  # the Database was closed: no connection will come
        if isinstance(exc, _NotSent):
            return is_connection_lost(exc.cause)
        if never_sent(exc):
            return True  # the statement never left this process: any binding may run on a fresh connection
        return q.retry and is_connection_lost(exc)

    async def _recover(
        self, q: Bound, method: str, args: Sequence[object], exc: BaseException, started: float,
        original: tuple[object, ...] = (),
    ) -> Any:  # fmt: skip
        """The slow path after a failed first try: retry on a fresh connection when allowed, else raise ours."""
        if self._may_retry(q, exc):
            policy = self._cfg.retry
            stats = q.stats

            def count(_state: object) -> None:
                stats.retries += 1

            remaining = max(0.0, policy.deadline - (perf_counter() - started))
            try:
                await asyncio.sleep(policy.backoff)
                async for attempt in AsyncRetrying(
                    stop=stop_after_attempt(max(1, policy.attempts - 1)) | stop_after_delay(remaining),
                    wait=wait_exponential_jitter(
                        multiplier=policy.backoff, max=policy.backoff_max, jitter=policy.backoff
                    ),
                    retry=retry_if_exception(lambda e: self._may_retry(q, e)),
                    before=count,
                    reraise=True,
                ):
                    with attempt:
                        return await self._pooled(method, q.sql, args)
            except _CAUGHT as again:
                exc = again
        self._finished(q, started, 0)
        q.stats.errors += 1
        cause = _unwrap(exc)
        if q.invalidates is not None and not isinstance(exc, _NotSent) and is_connection_lost(cause):
            self._invalidate(q, original)  # the write may have run: invalidating too much is only a miss
        if self._pool is not None and self._pool.is_closing():
            raise errors.Unavailable(
                f"query {q.name} ran after its Database was closed; use it inside `async with Database.connect()`",
                query=q.name,
            ) from cause
        if isinstance(exc, _NotSent) and isinstance(cause, TimeoutError):
            raise errors.Unavailable(
                f"no database connection within {self._cfg.acquire_timeout:g} s (query {q.name}): every pooled "
                "connection stayed busy, or opening a new one timed out (a slow or unreachable network, or a "
                "server that does not answer); nothing was sent. DATALAYER_ACQUIRE_TIMEOUT and "
                "DATALAYER_CONNECT_TIMEOUT set the limits; `datalayer health` shows what holds connections",
                query=q.name,
            ) from cause
        raise errors.from_postgres(cause, q.name, q.query.numbered) from cause

    # The four methods below are the hot path: each is one await on the driver plus the row conversion.
    # They repeat their shape on purpose: a shared helper would add a coroutine frame to every query.
    async def one(self, q: One[M], *args: object, nocache: bool = False) -> M | None:
        if q.cache is not None and self._cache is not None and not nocache:
            cached: M | None = await self._cache.get_or_load(q, args, lambda: self.one(q, *args, nocache=True))
            return cached
        values = q.args(args)
        started = perf_counter()
        try:
            if q.custom_plan:
                row = await self._custom_plan("fetchrow", q, values)
            elif self._conn is not None:
                row = await self._conn.fetchrow(q.sql, *values)
            elif self._replica is not None and q.replica:
                row = await self._read_on_replica("fetchrow", q, values)
            else:
                row = await self._pooled("fetchrow", q.sql, values)
        except _CAUGHT as exc:
            row = await self._recover(q, "fetchrow", values, exc, started, args)
        except asyncio.CancelledError:
            if q.invalidates is not None:
                self._invalidate(q, args)  # cancelled: the write may have run (or committed during the release)
            raise
        if self._stats or self._slow_s or observers:
            self._finished(q, started, row is not None)
        if q.invalidates is not None:
            self._invalidate(q, args)
        if row is None:
            return None
        build = q.build if self._trust else q.validate
        assert build is not None
        result: M = build(row)
        return result

    async def many(self, q: Many[M], *args: object, nocache: bool = False) -> list[M]:
        if q.cache is not None and self._cache is not None and not nocache:
            cached: list[M] = await self._cache.get_or_load(q, args, lambda: self.many(q, *args, nocache=True))
            return cached
        values = q.args(args)
        started = perf_counter()
        try:
            if q.custom_plan:
                rows = await self._custom_plan("fetch", q, values)
            elif self._conn is not None:
                rows = await self._conn.fetch(q.sql, *values)
            elif self._replica is not None and q.replica:
                rows = await self._read_on_replica("fetch", q, values)
            else:
                rows = await self._pooled("fetch", q.sql, values)
        except _CAUGHT as exc:
            rows = await self._recover(q, "fetch", values, exc, started, args)
        except asyncio.CancelledError:
            if q.invalidates is not None:
                self._invalidate(q, args)
            raise
        if self._stats or self._slow_s or observers:
            self._finished(q, started, len(rows))
        if q.invalidates is not None:
            self._invalidate(q, args)
        build = q.build if self._trust else q.validate
        assert build is not None
        return [build(row) for row in rows]

    async def value(self, q: Value[T], *args: object, nocache: bool = False) -> T:
        if q.cache is not None and self._cache is not None and not nocache:
            cached: T = await self._cache.get_or_load(q, args, lambda: self.value(q, *args, nocache=True))
            return cached
        values = q.args(args)
        started = perf_counter()
        try:
            if self._conn is not None:
                result: T = await self._conn.fetchval(q.sql, *values)
            elif self._replica is not None and q.replica:
                result = await self._read_on_replica("fetchval", q, values)
            else:
                result = await self._pooled("fetchval", q.sql, values)
        except _CAUGHT as exc:
            result = await self._recover(q, "fetchval", values, exc, started, args)
        except asyncio.CancelledError:
            if q.invalidates is not None:
                self._invalidate(q, args)
            raise
        if self._stats or self._slow_s or observers:
            self._finished(q, started, 1)
        if q.invalidates is not None:
            self._invalidate(q, args)
        return result

    async def execute(self, q: Execute, *args: object) -> str:
        values = q.args(args)
        started = perf_counter()
        try:
            if self._conn is not None:
                status: str = await self._conn.execute(q.sql, *values)
            else:
                status = await self._pooled("execute", q.sql, values)
        except _CAUGHT as exc:
            status = await self._recover(q, "execute", values, exc, started, args)
        except asyncio.CancelledError:
            if q.invalidates is not None:
                self._invalidate(q, args)
            raise
        if self._stats or self._slow_s or observers:
            tail = status.rsplit(" ", 1)[-1]
            self._finished(q, started, int(tail) if tail.isdigit() else 0)
        if q.invalidates is not None:
            self._invalidate(q, args)
        return status

    async def utility(
        self, name: str, sql: str, *, lock_timeout: str | None = None, statement_timeout: str | None = None
    ) -> str:
        """Run one utility statement that no named query can hold, because it names a table or cannot run in
        a function or a transaction block (VACUUM, ANALYZE, REINDEX … CONCURRENTLY, DETACH … CONCURRENTLY,
        DROP TABLE of a detached partition). `sql` is built by the caller from identifiers read from the
        catalog and quoted with `ident()`; it takes no parameters and carries `/* name */` like every other
        statement. On the pool it runs on its own connection, outside any transaction; never retried (the
        caller decides, knowing the statement). Timeouts are set for that one session and reset on release.
        Errors are ours, as for any query."""
        started = perf_counter()
        text = f"/* {name} */ {sql}"
        settings = [(k, v) for k, v in (("lock_timeout", lock_timeout), ("statement_timeout", statement_timeout)) if v]
        try:
            if self._conn is not None:
                # Inside a transaction a local setting lasts until it ends; outside, it would end with its own
                # statement, so it is set for the session and reset after.
                local = self._conn.is_in_transaction()
                for key, val in settings:
                    await self._conn.execute("SELECT set_config($1, $2, $3)", key, val, local)
                try:
                    status: str = await self._conn.execute(text)
                finally:
                    if settings and not local and not self._conn.is_closed():
                        await self._conn.execute("RESET lock_timeout; RESET statement_timeout")
            else:
                assert self._pool is not None
                try:
                    conn = await self._pool.acquire(timeout=self._cfg.acquire_timeout)
                except DRIVER_ERRORS as exc:
                    raise _NotSent(exc) from exc
                try:
                    for key, val in settings:
                        await conn.execute("SELECT set_config($1, $2, false)", key, val)
                    status = await conn.execute(text)
                    if settings:
                        await conn.execute("RESET lock_timeout; RESET statement_timeout")
                finally:
                    await _release_quietly(self._pool, conn)
        except _CAUGHT as exc:
            raise errors.from_postgres(_unwrap(exc), name) from _unwrap(exc)
        for observe in observers:
            observe(name)
        if self._slow_s and perf_counter() - started > self._slow_s:
            log.info("utility statement %s took %.1f ms", name, (perf_counter() - started) * 1000)
        return status

    def _invalidate(self, q: Bound, args: tuple[object, ...]) -> None:
        """After a write: invalidate its tags now (on the pool the statement has committed), or at COMMIT (on a
        transaction's connection; never if it rolls back). Synchronous: no await can come between the write and
        the invalidation of this process's cached entries."""
        tags = tags_of(q.invalidates, args)
        if self._pending is not None:
            self._pending.append((tags, q.stats))
        elif self._cfg.cache is not None:
            self._cfg.cache.invalidate(tags, q.stats)

    def committed(self) -> None:
        """The transaction this executor ran committed (or may have): run the invalidations its writes declared.
        Synchronous, for the same reason."""
        pending, self._pending = self._pending or [], []
        if self._cfg.cache is not None:
            for tags, stats in pending:
                self._cfg.cache.invalidate(tags, stats)


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
        async with _tx(self.connection, None, nested=True):
            yield self


@dataclass(frozen=True)
class QueryStatsRow:
    """Statistics of one named query in this process (`db.query_stats()`)."""

    name: str
    calls: int
    errors: int
    retries: int
    rows: int
    total_ms: float
    mean_ms: float
    max_ms: float
    p95_ms: float
    buckets: tuple[int, ...]
    cache_hits: int = 0
    cache_misses: int = 0
    cache_evictions: int = 0
    cache_invalidations: int = 0
    cache_redis_errors: int = 0


def stats_row(name: str, st: QueryStats) -> QueryStatsRow:
    return QueryStatsRow(
        name=name,
        calls=st.calls,
        errors=st.errors,
        retries=st.retries,
        rows=st.rows,
        total_ms=st.total_s * 1000,
        mean_ms=st.total_s * 1000 / st.calls if st.calls else 0.0,
        max_ms=st.max_s * 1000,
        p95_ms=percentile(st.buckets, 0.95, st.max_s) * 1000,
        buckets=tuple(st.buckets),
        cache_hits=st.cache_hits,
        cache_misses=st.cache_misses,
        cache_evictions=st.cache_evictions,
        cache_invalidations=st.cache_invalidations,
        cache_redis_errors=st.cache_redis_errors,
    )


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
    async def connect(
        cls, settings: Settings | None = None, url: str | None = None, *, check_schema: bool | None = None
    ) -> AsyncIterator[Database]:
        """Open a pool on `url`, DATABASE_URL, or the embedded cluster (started if needed).

        Unless `check_schema=False` (or DATALAYER_CHECK_SCHEMA=false), first make sure every migration file is
        applied and none was edited since: otherwise `MigrationError` says what is pending and to run
        `datalayer migrate`. Without that check, every row is fully validated instead of trusted.
        """
        settings = settings or Settings()
        url = url or resolve_url(settings)
        problem = url_problem(url)
        if problem:
            raise errors.Unavailable(f"{mask_url(url)} is not a usable database URL: {problem}")
        check = settings.check_schema if check_schema is None else check_schema
        try:
            pool = await _create_pool(settings, url, settings.pool_min_size, settings.pool_max_size)
        except DRIVER_ERRORS as exc:
            raise errors.connect_failed(url, exc) from exc
        assert pool is not None
        replica = None
        if settings.database_replica_url is not None:
            replica = await _replica_pool(settings, settings.database_replica_url.get_secret_value(), pool)
        cache = CacheStore.from_settings(settings, url)
        config = ExecConfig.from_settings(settings, trust=check, cache=cache, replica=replica)
        db = cls(Executor(pool, config), settings, url, pool)
        if replica is not None:
            replica.bind(Executor(pool, replace(config, replica=None, cache=None)),
                         Executor(replica.pool, replace(config, replica=None, cache=None, retry=RetryPolicy(1))))  # fmt: skip
        try:
            if check:
                await db.require_migrated()
            if cache is not None:
                cache.start()
            yield db
        finally:
            if replica is not None:
                await replica.close(settings.connect_timeout)
            if cache is not None:
                await cache.close()
            if settings.query_stats:
                await db.flush_query_stats()
            try:
                await asyncio.wait_for(pool.close(), timeout=settings.connect_timeout)
            except DRIVER_ERRORS:
                pool.terminate()
            except asyncio.CancelledError:
                pool.terminate()
                raise

    @property
    def replica(self) -> Replica | None:
        """The read replica (DATABASE_REPLICA_URL), or None."""
        return self.executor.config.replica

    def replica_status(self) -> ReplicaStatus | None:
        """Where lag-tolerant reads go now, the replica's lag, and its read and fallback counts (None: no replica)."""
        replica = self.replica
        return None if replica is None else replica.status()

    @classmethod
    def on_connection(cls, conn: Connection, settings: Settings | None = None) -> Database:
        """A Database bound to one connection (tests run everything inside one rolled-back transaction)."""
        settings = settings or Settings()
        return cls(Executor(conn, ExecConfig.from_settings(settings)), settings, url="(connection)")

    async def require_migrated(self) -> None:
        """Raise MigrationError unless every migration file is applied and none drifted."""
        from datalayer.migrate import schema_state

        pending, drift = await schema_state(self.executor)
        if pending or drift:
            parts = []
            if pending:
                parts.append(f"{len(pending)} migration(s) pending ({', '.join(pending)})")
            if drift:
                parts.append("drift: " + "; ".join(f"{mid}: {why}" for mid, why in drift))
            hint = "run `datalayer migrate`" if not drift else "restore the edited files, then `datalayer migrate`"
            raise errors.MigrationError(
                f"the database at {mask_url(self.url)} does not match this code's migrations: "
                f"{'; '.join(parts)}; {hint} (or skip this check: DATALAYER_CHECK_SCHEMA=false, or check_schema=False in Python)"
            )

    @asynccontextmanager
    async def transaction(self, isolation: Isolation | None = None) -> AsyncIterator[Transaction]:
        """BEGIN … COMMIT on one connection; any exception rolls back. Nested use becomes a savepoint.

        A connection lost during COMMIT raises `Unavailable(commit_unknown=True)`."""
        ex = self.executor
        conn = ex.connection
        if conn is not None:
            async with _tx(conn, isolation, nested=True):
                yield Transaction(ex)
            return
        assert self.pool is not None
        try:
            pooled: PoolConnectionProxy = await self.pool.acquire(timeout=self.settings.acquire_timeout)
        except DRIVER_ERRORS as exc:
            raise errors.from_postgres(exc, "transaction") from exc
        tx_ex = Executor(pooled, ex.config)
        try:
            async with _tx(pooled, isolation, nested=False):
                yield Transaction(tx_ex)
            tx_ex.committed()
        except errors.Unavailable as exc:
            if exc.commit_unknown:
                tx_ex.committed()  # it may have committed: invalidating too much is only a miss
            raise
        except asyncio.CancelledError:
            tx_ex.committed()  # cancelled around COMMIT, it may have committed: invalidate (at worst a miss)
            raise
        finally:
            await _release_quietly(self.pool, pooled)

    async def run_in_transaction(
        self,
        fn: Callable[[Transaction], Awaitable[T]],
        *,
        isolation: Isolation | None = None,
        attempts: int | None = None,
    ) -> T:
        """Run `async def fn(tx)` in a transaction, and run it again, whole, after a serialization failure or
        deadlock (`Retryable`) or a connection lost before COMMIT was sent; give up after `attempts` runs
        (default DATALAYER_TRANSACTION_ATTEMPTS) with the last error. A connection lost during COMMIT is not
        repeated: `Unavailable(commit_unknown=True)`. `fn` may run more than once, so it must not have side
        effects outside the transaction. Inside another transaction it runs once, as a savepoint."""
        if self.executor.connection is not None:
            async with self.transaction(isolation) as tx:
                return await fn(tx)
        runs = attempts or self.settings.transaction_attempts
        policy = self.executor.config.retry

        def again(exc: BaseException) -> bool:
            if isinstance(exc, errors.Retryable):
                return True
            return isinstance(exc, errors.Unavailable) and exc.connection_lost and not exc.commit_unknown

        async for attempt in AsyncRetrying(
            stop=stop_after_attempt(runs),
            wait=wait_exponential_jitter(multiplier=policy.backoff, max=policy.backoff_max, jitter=policy.backoff),
            retry=retry_if_exception(again),
            reraise=True,
        ):
            with attempt:
                async with self.transaction(isolation) as tx:
                    result = await fn(tx)
        return result

    # -- statistics --------------------------------------------------------------------------------------------
    def query_stats(self) -> list[QueryStatsRow]:
        """Per named query in this process: calls, errors, retries, rows, total / mean / max / p95 latency."""
        return [
            stats_row(name, st)
            for name, st in sorted(all_stats().items())
            if st.calls or st.errors or st.cache_hits or st.cache_invalidations or st.cache_redis_errors
        ]

    async def flush_query_stats(self) -> int:
        """Add this process's statistics since the last flush to `ops.query_stats` (for `datalayer stats
        queries`); returns the queries written. Never raises: statistics must not fail their caller."""
        from datalayer.ops import stats as ops_stats

        try:
            return await ops_stats.flush(self.executor, self.settings.application_name)
        except errors.DatalayerError as exc:
            log.debug("query statistics not flushed: %s", exc)
            return 0


@asynccontextmanager
async def _tx(conn: Connection, isolation: Isolation | None, *, nested: bool) -> AsyncIterator[None]:
    tx = conn.transaction(isolation=isolation) if isolation else conn.transaction()
    try:
        await tx.start()
    except DRIVER_ERRORS as exc:
        raise errors.from_postgres(exc, "SAVEPOINT" if nested else "BEGIN") from exc
    try:
        yield
    except BaseException:
        try:
            await tx.rollback()
        except DRIVER_ERRORS as exc:
            # The connection is gone; the server rolls back what it had. Keep the original error.
            log.debug("rollback failed on a lost connection: %s", exc)
        raise
    try:
        await tx.commit()
    except DRIVER_ERRORS as exc:
        if not nested and never_sent(exc):
            raise errors.Unavailable(
                f"the connection was lost before COMMIT was sent ({exc}): the transaction was not committed",
                connection_lost=True,
                query="COMMIT",
            ) from exc
        if not nested and is_connection_lost(exc):
            raise errors.Unavailable(
                f"the connection was lost during COMMIT ({exc or type(exc).__name__}): the transaction may or "
                "may not have been committed; look at the data before running it again",
                connection_lost=True,
                commit_unknown=True,
                query="COMMIT",
            ) from exc
        raise errors.from_postgres(exc, "RELEASE SAVEPOINT" if nested else "COMMIT") from exc


async def _replica_pool(settings: Settings, url: str, primary: asyncpg.Pool) -> Replica:
    """The replica's pool, opened lazily (min_size 0): a replica that is down never stops the application; its
    reads go to the primary until it answers."""
    problem = url_problem(url)
    if problem:
        await primary.close()
        raise errors.Unavailable(f"DATABASE_REPLICA_URL {mask_url(url)} is not a usable database URL: {problem}")
    return Replica(await _create_pool(settings, url, 0, settings.replica_pool_max_size), url, settings)


async def _create_pool(settings: Settings, url: str, min_size: int, max_size: int) -> asyncpg.Pool:
    """An asyncpg pool with every per-connection setting of `settings` (the primary's, and the replica's)."""
    pool = await asyncpg.create_pool(
        url,
        min_size=min_size,
        max_size=max_size,
        command_timeout=settings.command_timeout,
        statement_cache_size=settings.statement_cache_size,
        init=lambda conn: init_connection(conn, settings),
        timeout=settings.connect_timeout,
        server_settings={"application_name": settings.application_name},
    )
    assert pool is not None
    return pool


def resolve_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded cluster's URL (starting it if it is not running)."""
    if settings.database_url is not None:
        return settings.database_url.get_secret_value()
    from datalayer.embedded import EmbeddedCluster

    return EmbeddedCluster(settings.home.resolve()).up()

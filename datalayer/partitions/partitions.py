"""Aggregate `partitions` (queries/partitions/partitions.sql): the monthly partitions of every table of the data
layer partitioned by range of one timestamptz column, found from the catalog (a bot added later is covered
without a list to update) — made ahead, listed, and dropped after their retention, without stalling the bots.

What keeps the application going (tests/test_partitions.py measures each with concurrent inserts and reads):

- **Making a month** (`ensure`): `ops.ensure_monthly_partition` creates a table LIKE the parent and ATTACHes it,
  which takes SHARE UPDATE EXCLUSIVE on the parent: inserts (ROW EXCLUSIVE) and reads (ACCESS SHARE) neither wait
  for it nor queue behind it while it waits. (`CREATE TABLE … PARTITION OF` takes ACCESS EXCLUSIVE; attaching next
  to a DEFAULT partition locks and scans the default: no table of ours has one any more.) The partition of a
  month that exists is found without taking any lock; the rest runs under an advisory lock per table, so two
  sessions making one month never collide.
- **Dropping a month** (`drop_older_than`): `ALTER TABLE parent DETACH PARTITION child CONCURRENTLY` (SHARE UPDATE
  EXCLUSIVE on the parent; it then waits for the transactions that still use the parent), then `DROP TABLE child`
  (locks only the detached table). A detach interrupted earlier leaves the partition "detach pending"
  (`pg_inherits.inhdetachpending`): invisible to new queries, finished here with `DETACH PARTITION … FINALIZE`. A
  table detached but not dropped (the process died in between) is dropped by the next run.
- **A table with foreign keys** (error_api.usage_logs references error_api.users): attaching and detaching a
  partition take SHARE ROW EXCLUSIVE on the referenced table (writes to it wait, reads do not), and dropping the
  detached table takes ACCESS EXCLUSIVE on it (its foreign key's triggers live there): that one step waits at
  most `FK_DROP_LOCK_TIMEOUT` (0.2 s) per try, so reads of the referenced table never queue longer; refused, the
  table stays detached (out of every query) and the next run drops it.
- **Every lock is waited for at most `lock_timeout`** (default 2 s) and a refused lock (55P03) is retried a
  bounded number of times with backoff (`attempts`, default 3), then `Retryable` says what is left; nothing is
  half-done (a partition left detach pending is already out of the table, and the next run finishes it).

Inside a caller's transaction (tests, or a caller that wants it atomic) the detach cannot be concurrent: the
partition is dropped in that transaction (ACCESS EXCLUSIVE on the parent until COMMIT), waiting at most
`lock_timeout` for the lock, and nothing is retried. Run retention on the pool.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from datetime import UTC, date, datetime

from pydantic import BaseModel, ConfigDict
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential_jitter

from datalayer import queries as q
from datalayer.db import Executor, ident
from datalayer.errors import DRIVER_ERRORS, DatalayerError, InvalidData, NotFound, Retryable, from_postgres
from datalayer.ops.catalog import CatalogRepository
from datalayer.repository import HasExecutor, Params, Repository, Row
from datalayer.validation import shown

DEFAULT_LOCK_TIMEOUT = 2.0  # seconds each partition statement may wait for a lock
DEFAULT_ATTEMPTS = 3  # tries of a statement refused a lock, the first included
DEFAULT_BACKOFF = 0.2  # seconds before the second try (then doubling, with jitter)
DEFAULT_MONTHS_AHEAD = 3
FK_DROP_LOCK_TIMEOUT = 0.2  # seconds: the longest wait of a drop that locks the tables a foreign key references


class PartitionedTable(Row):
    schema_name: str
    table_name: str
    qualified_name: str
    key_column: str
    default_partition: str | None
    default_estimated_rows: int | None


class Partition(Row):
    """One partition, or a table left detached (`state` attached, detach_pending or detached). Rows and bytes
    are the planner's estimates (as of the last VACUUM / ANALYZE): reading them takes no lock."""

    parent: str
    name: str
    schema_name: str
    table_name: str
    state: str
    is_default: bool
    lower_bound: datetime | None
    upper_bound: datetime | None
    foreign_keys: int
    estimated_rows: int
    estimated_bytes: int


class TableReport(BaseModel):
    """What `datalayer partitions list` shows of one table."""

    model_config = ConfigDict(frozen=True)

    table: PartitionedTable
    partitions: list[Partition]
    missing: list[date]  # months (first day, UTC) of this month and the next that no attached partition holds


class EnsureMonthlyPartitionParams(Params):
    parent: str
    month: date
    max_lock_wait: str


_TABLES = q.many("partitions.list_partitioned_tables", PartitionedTable, (list[str],))
_PARTITIONS = q.many("partitions.list_partitions", Partition, (list[str],))
_ENSURE = q.value("partitions.ensure_monthly_partition", bool, EnsureMonthlyPartitionParams, retry=True)
_LOCK = q.execute("partitions.lock_table_partitions", (str,), retry=False)
_LOCK_IN_TRANSACTION = q.execute("partitions.lock_table_partitions_in_transaction", (str,), retry=False)
_UNLOCK = q.value("partitions.unlock_table_partitions", bool, (str,), retry=True)
_GET_LOCK_TIMEOUT = q.value("partitions.get_lock_timeout", str)
_SET_LOCK_TIMEOUT = q.value("partitions.set_lock_timeout", str, (str,))


# -- helpers shared with the bots' repositories -----------------------------------------------------------------
def month_of(moment: datetime | date) -> date:
    """The first day of the month (UTC) holding `moment`; a date is taken as that day."""
    if isinstance(moment, datetime):
        utc = moment.astimezone(UTC) if moment.tzinfo else moment
        return date(utc.year, utc.month, 1)
    return date(moment.year, moment.month, 1)


def add_months(month: date, n: int) -> date:
    index = month.year * 12 + month.month - 1 + n
    return date(index // 12, index % 12 + 1, 1)


def month_start(month: date) -> datetime:
    return datetime(month.year, month.month, 1, tzinfo=UTC)


def in_transaction(x: Executor) -> bool:
    """True when `x` runs inside a transaction, where a failed statement has aborted it (nothing can be retried
    there) and DETACH … CONCURRENTLY cannot run."""
    conn = x.connection
    return conn is not None and conn.is_in_transaction()


def is_missing_partition(exc: DatalayerError) -> bool:
    """An insert into a month that has no partition (23514 "no partition of relation … found for row")."""
    return (
        isinstance(exc, InvalidData)
        and exc.sqlstate == "23514"
        and exc.constraint is None
        and ("no partition of" in str(exc))
    )


def pg_duration(seconds: float) -> str:
    """Seconds as a PostgreSQL duration setting ('1500ms')."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 3600:
        raise InvalidData(f"a lock timeout is a number of seconds above 0 and at most 3600, not {seconds!r}")
    return f"{max(1, round(seconds * 1000))}ms"


_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ms|s)$")


def parse_duration(text: str) -> float:
    """'2s' or '500ms' as seconds (the form error_api's cleanup_old_logs took)."""
    match = _DURATION.match(text) if isinstance(text, str) else None
    if match is None:
        raise InvalidData(f"a lock wait is written like 2s or 500ms, not {shown(text)}")
    value = float(match.group(1))
    return value / 1000 if match.group(2) == "ms" else value


def _lock_refused(exc: BaseException) -> bool:
    return isinstance(exc, Retryable)  # 55P03 lock timeout, and a deadlock or serialization failure


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class PartitionRepository(Repository):
    """`PartitionRepository(db)`; `lock_timeout` (seconds) bounds every wait for a lock, `attempts` the tries."""

    __slots__ = ("_attempts", "_backoff", "_lock_timeout")

    def __init__(
        self, source: HasExecutor, *, lock_timeout: float = DEFAULT_LOCK_TIMEOUT, attempts: int = DEFAULT_ATTEMPTS,
        backoff: float = DEFAULT_BACKOFF,
    ) -> None:  # fmt: skip
        super().__init__(source)
        pg_duration(lock_timeout)  # validates
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= 100:
            raise InvalidData(f"attempts is a whole number from 1 to 100, not {attempts!r}")
        self._lock_timeout = float(lock_timeout)
        self._attempts = attempts
        self._backoff = max(0.0, float(backoff))

    @property
    def lock_timeout(self) -> float:
        return self._lock_timeout

    def _retrying(self) -> AsyncRetrying:
        return AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(
                multiplier=self._backoff, max=max(self._backoff * 8, 0.01), jitter=self._backoff
            ),
            retry=retry_if_exception(_lock_refused),
            reraise=True,
        )

    def _gave_up(
        self, what: str, exc: Retryable, left: str = "nothing was changed", waited: float | None = None,
        where: str = "the table",
    ) -> Retryable:  # fmt: skip
        return Retryable(
            f"{what}: a lock was not granted within {waited or self._lock_timeout:g} s, {self._attempts} time(s) "
            f"(another session holds a conflicting lock on {where}: a long transaction, or LOCK TABLE); {left}; "
            "run it again later (or raise the lock timeout)",
            sqlstate=exc.sqlstate,
            table=exc.table,
            query=exc.query,
        )

    # -- reading --------------------------------------------------------------------------------------------------
    async def tables(self) -> list[PartitionedTable]:
        """Every table of the data layer's schemas partitioned by range of one timestamptz column."""
        return await self._x.many(_TABLES, await CatalogRepository(self._x).our_schemas())

    async def table(self, name: str) -> PartitionedTable:
        """One of `tables()` by its qualified name (`twitter_bot.api_usage`); NotFound otherwise."""
        tables = await self.tables()
        for t in tables:
            if name in (t.qualified_name, f"{t.schema_name}.{t.table_name}"):
                return t
        known = ", ".join(t.qualified_name for t in tables) or "none"
        raise NotFound(f"{name} is not a monthly partitioned table of the data layer (they are: {known})")

    async def partitions(self, table: str) -> list[Partition]:
        """The partitions of a table (and tables left detached from it), oldest first. Takes no lock."""
        return await self._x.many(_PARTITIONS, [(await self.table(table)).qualified_name])

    async def report(self, now: datetime | None = None) -> list[TableReport]:
        """Every partitioned table with its partitions, and the months of this month and the next (UTC) that no
        attached partition holds."""
        tables = await self.tables()
        parts = await self._x.many(_PARTITIONS, [t.qualified_name for t in tables]) if tables else []
        this = month_of(now or datetime.now(UTC))
        reports = []
        for t in tables:
            mine = [p for p in parts if p.parent == t.qualified_name]
            missing = [m for m in (this, add_months(this, 1)) if not _covered(mine, m)]
            reports.append(TableReport(table=t, partitions=mine, missing=missing))
        return reports

    async def droppable(self, table: str, cutoff: datetime) -> list[Partition]:
        """The partitions of `table` that end at or before `cutoff` (what `drop_older_than` would drop)."""
        return _older(await self.partitions(table), _aware(cutoff))

    # -- making months ------------------------------------------------------------------------------------------
    async def ensure_month(self, table: str, month: date | datetime) -> bool:
        """Make the partition of `table` for the month (UTC) of `month` unless it exists; True when made. A lock
        refused within the lock timeout is tried again (`attempts`), then `Retryable`. Retry-safe, and safe to
        call from several sessions at once (one makes it, the others find it)."""
        first = month_of(month)
        p = EnsureMonthlyPartitionParams(parent=table, month=first, max_lock_wait=pg_duration(self._lock_timeout))
        if in_transaction(self._x):
            return await self._x.value(_ENSURE, p)  # one try: a refused lock has aborted the transaction
        try:
            async for attempt in self._retrying():
                with attempt:
                    return await self._x.value(_ENSURE, p)
        except Retryable as exc:
            raise self._gave_up(f"could not make the {first:%Y-%m} partition of {table}", exc) from exc
        raise AssertionError("unreachable")  # pragma: no cover

    async def ensure(
        self, table: str, months_ahead: int = DEFAULT_MONTHS_AHEAD, *, now: datetime | date | None = None
    ) -> list[date]:
        """Make the partitions of `table` for this month (UTC; or the month of `now`) and the next `months_ahead`
        ones; returns the months made. Retry-safe."""
        if isinstance(months_ahead, bool) or not isinstance(months_ahead, int) or not 0 <= months_ahead <= 120:
            raise InvalidData(f"months_ahead is a whole number from 0 to 120, not {months_ahead!r}")
        first = month_of(now or datetime.now(UTC))
        made = []
        for i in range(months_ahead + 1):
            month = add_months(first, i)
            if await self.ensure_month(table, month):
                made.append(month)
        return made

    async def ensure_all(
        self, months_ahead: int = DEFAULT_MONTHS_AHEAD, *, now: datetime | date | None = None
    ) -> dict[str, list[date]]:
        """`ensure` for every partitioned table; the months made per table. Retry-safe."""
        return {
            t.qualified_name: await self.ensure(t.qualified_name, months_ahead, now=now) for t in await self.tables()
        }

    # -- dropping months ----------------------------------------------------------------------------------------
    async def drop_older_than(self, table: str, cutoff: datetime) -> list[str]:
        """Drop the partitions of `table` that end at or before `cutoff` (and finish what an interrupted run left:
        a detach pending, a table detached but not dropped); returns their qualified names, oldest first.

        On the pool each one is detached CONCURRENTLY, then dropped, under the table's advisory lock (two runs
        never collide); inserts and reads of the table go on meanwhile. Retry-safe: a repeat finds nothing left
        to drop."""
        info = await self.table(table)
        cutoff = _aware(cutoff)
        if in_transaction(self._x):
            return await self._drop_in_transaction(info, cutoff)
        if info.default_partition is not None:
            raise DatalayerError(
                f"{info.qualified_name} has a DEFAULT partition ({info.default_partition}): PostgreSQL cannot "
                "detach its partitions concurrently, and a plain detach would lock the table for every insert and "
                "read; move the default's rows into monthly partitions and drop it first (as migration 0018 did)"
            )
        dropped: list[str] = []
        async with self._session() as ex:
            try:
                async for attempt in self._retrying():
                    with attempt:
                        await ex.execute(_LOCK, info.qualified_name)
            except Retryable as exc:
                raise self._gave_up(
                    f"could not start dropping partitions of {info.qualified_name} (another run holds its lock)", exc
                ) from exc
            try:
                for part in _older(await ex.many(_PARTITIONS, [info.qualified_name]), cutoff):
                    await self._drop_one(ex, info, part)
                    dropped.append(part.name)
            finally:
                try:
                    await ex.value(_UNLOCK, info.qualified_name)
                except DatalayerError:
                    pass  # the connection is gone, and its session lock with it
        return dropped

    async def _drop_one(self, ex: Executor, info: PartitionedTable, part: Partition) -> None:
        parent = ident(info.schema_name, info.table_name)
        child = ident(part.schema_name, part.table_name)
        try:
            async for attempt in self._retrying():
                with attempt:
                    state = await _state_of(ex, info.qualified_name, part.name)
                    if state == "attached":
                        await ex.utility(
                            "partitions.detach_partition_concurrently",
                            f"ALTER TABLE {parent} DETACH PARTITION {child} CONCURRENTLY",
                        )
                        state = "detached"
                    if state == "detach_pending":
                        await ex.utility(
                            "partitions.finalize_detach", f"ALTER TABLE {parent} DETACH PARTITION {child} FINALIZE"
                        )
                        state = "detached"
                    if state == "detached":
                        await self._drop_detached(ex, child, part.foreign_keys > 0)
                        state = None
        except Retryable as exc:
            state = await _state_of(ex, info.qualified_name, part.name)
            left = {
                "attached": "nothing was changed",
                "detach_pending": f"{part.name} is detached pending (new queries no longer see it); the next run "
                "finishes the detach and drops it",
                "detached": f"{part.name} is detached but not dropped; the next run drops it",
            }.get(state or "", "nothing was changed")
            if state == "detached" and part.foreign_keys:
                raise self._gave_up(
                    f"could not drop {part.name}", exc, left, min(self._lock_timeout, FK_DROP_LOCK_TIMEOUT),
                    "a table its foreign keys reference",
                ) from exc  # fmt: skip
            raise self._gave_up(f"could not drop {part.name}", exc, left) from exc

    async def _drop_detached(self, ex: Executor, child: str, has_foreign_keys: bool) -> None:
        """DROP TABLE of a detached partition: it locks only that table, unless it has foreign keys, whose
        triggers on the referenced tables go with it (ACCESS EXCLUSIVE on those): then wait only briefly."""
        brief = has_foreign_keys and self._lock_timeout > FK_DROP_LOCK_TIMEOUT
        if brief:
            await ex.value(_SET_LOCK_TIMEOUT, pg_duration(FK_DROP_LOCK_TIMEOUT))
        try:
            await ex.utility("partitions.drop_detached_partition", f"DROP TABLE {child}")
        finally:
            if brief:
                with suppress(DatalayerError):  # a dead connection: the statement's own error is the one to see
                    await ex.value(_SET_LOCK_TIMEOUT, pg_duration(self._lock_timeout))

    async def _drop_in_transaction(self, info: PartitionedTable, cutoff: datetime) -> list[str]:
        """`drop_older_than` inside the caller's transaction: a plain DROP of each old partition (ACCESS EXCLUSIVE
        on the parent until COMMIT), under the advisory lock until then. Retry-safe (the caller's transaction is
        run again whole)."""
        await self._x.execute(_LOCK_IN_TRANSACTION, info.qualified_name)
        dropped = []
        for part in _older(await self._x.many(_PARTITIONS, [info.qualified_name]), cutoff):
            await self._x.utility(
                "partitions.drop_partition_in_transaction",
                f"DROP TABLE {ident(part.schema_name, part.table_name)}",
                lock_timeout=pg_duration(self._lock_timeout),
            )
            dropped.append(part.name)
        return dropped

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[Executor]:
        """One connection, outside any transaction, for a whole drop: its session holds the advisory lock, and
        its lock_timeout bounds each statement (put back afterwards)."""
        x = self._x
        if x.connection is not None:  # a Database bound to one connection, not in a transaction
            previous = await x.value(_GET_LOCK_TIMEOUT)
            await x.value(_SET_LOCK_TIMEOUT, pg_duration(self._lock_timeout))
            try:
                yield x
            finally:
                try:
                    await x.value(_SET_LOCK_TIMEOUT, previous)
                except DatalayerError:
                    pass
            return
        pool = x.pool
        assert pool is not None
        try:
            conn = await pool.acquire(timeout=x.config.acquire_timeout)
        except DRIVER_ERRORS as exc:
            raise from_postgres(exc, "partitions.session") from exc
        try:
            ex = Executor(conn, x.config)
            await ex.value(_SET_LOCK_TIMEOUT, pg_duration(self._lock_timeout))
            yield ex
        finally:
            try:
                await pool.release(conn)  # asyncpg resets the session: settings, advisory locks
            except DRIVER_ERRORS:
                pass


async def _state_of(ex: Executor, parent: str, name: str) -> str | None:
    for p in await ex.many(_PARTITIONS, [parent]):
        if p.name == name:
            return p.state
    return None


def _covered(parts: list[Partition], month: date) -> bool:
    lo, hi = month_start(month), month_start(add_months(month, 1))
    return any(
        p.state == "attached" and p.lower_bound is not None and p.upper_bound is not None
        and p.lower_bound <= lo and p.upper_bound >= hi
        for p in parts
    )  # fmt: skip


def _older(parts: list[Partition], cutoff: datetime) -> list[Partition]:
    return [p for p in parts if not p.is_default and p.upper_bound is not None and p.upper_bound <= cutoff]

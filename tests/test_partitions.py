"""datalayer.partitions on a real PostgreSQL: partition changes never stall inserts and reads.

Every test here runs on a database of its own (committed data, several connections), and is bounded in time.
The load beside each change is the bots' own: `ApiUsageRepository.log` into the current month, and
`check_rate_limit` plus a full count on the parent, each on its own connection. The wait of every statement is
measured and must stay below the lock timeout of the partition change plus slack: a bound, not a speed target.
The longest waits are printed (`pytest -s`).
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest
from click.testing import CliRunner

from datalayer import Database, DatalayerError, InvalidData, NotFound, Retryable
from datalayer.cli import main
from datalayer.embedded import bin_dir
from datalayer.migrate import Migrator, migrations_dir
from datalayer.partitions import PartitionRepository
from datalayer.partitions.partitions import add_months, month_of, month_start, parse_duration, pg_duration
from datalayer.twitter_bot import ApiUsageRepository, LogApiCallParams
from tests.conftest import create_database, drop_database, migrated_database

TABLE = "twitter_bot.api_usage"
LOCK_TIMEOUT = 0.5  # seconds: the partition changes' lock timeout in these tests
SLACK = 0.25  # scheduling and round trips on a busy machine
THIS = month_of(datetime.now(UTC))
MIGRATION = "0018.partitions-never-stall"
ALL_IDS = sorted(p.stem for p in migrations_dir().glob("*.sql") if not p.stem.endswith(".rollback"))
BEFORE = ALL_IDS[ALL_IDS.index(MIGRATION) - 1]


def part(month: date, table: str = "api_usage") -> str:
    return f"{table}_y{month:%Y}m{month:%m}"


@pytest.fixture(scope="module")
async def url(server_url: str) -> AsyncIterator[str]:
    """A migrated database of this module's own."""
    async with migrated_database(server_url, "datalayer_parts") as u:
        yield u


async def sql(url: str, statement: str, *args: object) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(statement, *args)
    finally:
        await conn.close()


async def state_of(url: str, name: str) -> str | None:
    """attached / detach_pending / detached (a table, not a partition) / None (gone)."""
    found = await sql(
        url,
        """SELECT CASE WHEN i.inhrelid IS NULL THEN 'detached' WHEN i.inhdetachpending THEN 'detach_pending'
                       ELSE 'attached' END
             FROM pg_class AS c LEFT JOIN pg_inherits AS i ON i.inhrelid = c.oid
            WHERE c.oid = to_regclass($1)""",
        f"twitter_bot.{name}",
    )
    return None if found is None else str(found)


async def add_old_partition(url: str, month: date, rows: int = 20) -> None:
    async with Database.connect(url=url) as db:
        await PartitionRepository(db).ensure_month(TABLE, month)
        at = month_start(month) + timedelta(days=3)
        await ApiUsageRepository(db).log_many(
            [LogApiCallParams(service="old", endpoint="e", success=True, called_at=at) for _ in range(rows)]
        )


@dataclass
class Load:
    """Inserts into the current month and reads of the parent, each on its own connection, until stopped."""

    url: str
    inserted: list[LogApiCallParams] = field(default_factory=list)
    insert_waits: list[float] = field(default_factory=list)
    read_waits: list[float] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)

    async def _connect(self) -> asyncpg.Connection:
        # A statement stuck behind a lock would otherwise wait for ever: the test stays bounded in time.
        return await asyncpg.connect(self.url, server_settings={"statement_timeout": "20s"})

    async def _insert(self) -> None:
        conn = await self._connect()
        try:
            repo = ApiUsageRepository(Database.on_connection(conn))
            while not self._stop.is_set():
                p = LogApiCallParams(service="load", endpoint="log", success=True)
                started = time.perf_counter()
                await repo.log(p)
                self.insert_waits.append(time.perf_counter() - started)
                self.inserted.append(p)
                await asyncio.sleep(0.005)
        finally:
            await conn.close()

    async def _read(self) -> None:
        conn = await self._connect()
        try:
            repo = ApiUsageRepository(Database.on_connection(conn))
            while not self._stop.is_set():
                started = time.perf_counter()
                await repo.check_rate_limit("load", max_calls=1_000_000, window=timedelta(minutes=15))
                self.read_waits.append(time.perf_counter() - started)
                started = time.perf_counter()
                await conn.fetchval("SELECT count(*) FROM twitter_bot.api_usage")
                self.read_waits.append(time.perf_counter() - started)
                await asyncio.sleep(0.005)
        finally:
            await conn.close()

    async def __aenter__(self) -> Load:
        self._tasks = [asyncio.create_task(self._insert()), asyncio.create_task(self._read())]
        for _ in range(1000):  # both running before the change starts
            if self.insert_waits and self.read_waits:
                break
            await asyncio.sleep(0.01)
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.sleep(0.05)
        self._stop.set()
        await asyncio.wait_for(asyncio.gather(*self._tasks), timeout=30)

    def check(self, what: str, bound: float = LOCK_TIMEOUT + SLACK) -> tuple[float, float]:
        worst = (max(self.insert_waits), max(self.read_waits))
        print(f"\n{what}: {len(self.insert_waits)} inserts (longest {worst[0] * 1000:.1f} ms), "
              f"{len(self.read_waits)} reads (longest {worst[1] * 1000:.1f} ms)")  # fmt: skip
        assert worst[0] < bound and worst[1] < bound, (what, worst)
        return worst

    async def all_stored(self) -> None:
        ids = [p.call_id for p in self.inserted]
        stored = await sql(self.url, "SELECT count(*) FROM twitter_bot.api_usage WHERE call_id = ANY($1)", ids)
        assert stored == len(ids) > 0


@asynccontextmanager
async def holding(url: str, statement: str, isolation: str | None = None) -> AsyncIterator[asyncpg.Connection]:
    """Another session inside an open transaction that ran `statement` (a LOCK TABLE, or a read whose locks it
    keeps until it ends), until the block ends."""
    conn = await asyncpg.connect(url)
    tx = conn.transaction(isolation=isolation) if isolation else conn.transaction()
    await tx.start()
    try:
        await conn.execute(statement)
        yield conn
    finally:
        await tx.rollback()
        await conn.close()


READ_OPEN = "SELECT count(*) FROM twitter_bot.api_usage"  # in REPEATABLE READ: keeps its snapshot and locks


def test_durations() -> None:
    assert pg_duration(2) == "2000ms" and pg_duration(0.25) == "250ms"
    assert parse_duration("2s") == 2 and parse_duration("500ms") == 0.5
    for bad in (0, -1, True, "2s"):
        with pytest.raises(InvalidData, match="lock timeout"):
            pg_duration(bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidData, match="like 2s or 500ms"):
        parse_duration("2 seconds")


async def test_tables_are_found_from_the_catalog_and_bad_input_is_refused(url: str) -> None:
    async with Database.connect(url=url) as db:
        repo = PartitionRepository(db)
        tables = {t.qualified_name: t for t in await repo.tables()}
        assert {"twitter_bot.api_usage", "error_api.usage_logs", "chat_bot.audit_logs"} <= set(tables)
        assert tables[TABLE].key_column == "called_at" and tables[TABLE].default_partition is None
        with pytest.raises(NotFound, match="not a monthly partitioned table of the data layer"):
            await repo.partitions("twitter_bot.tweets")
        with pytest.raises(InvalidData, match="months_ahead"):
            await repo.ensure(TABLE, -1)
        with pytest.raises(InvalidData, match="attempts"):
            PartitionRepository(db, attempts=0)
        with pytest.raises(InvalidData, match="lock timeout"):
            PartitionRepository(db, lock_timeout=0)
        # a table added later (any schema of ours, by range of one timestamptz) is covered without code changes;
        # one with a DEFAULT partition is refused, with the reason, rather than locked and scanned
        await sql(url, "CREATE TABLE twitter_bot.later (at timestamptz NOT NULL, note text) PARTITION BY RANGE (at)")
        await sql(url, "CREATE TABLE twitter_bot.later_default PARTITION OF twitter_bot.later DEFAULT")
        try:
            later = await repo.table("twitter_bot.later")
            assert (later.key_column, later.default_partition) == ("at", "twitter_bot.later_default")
            with pytest.raises(DatalayerError, match=r"has a DEFAULT partition: attaching .* would lock and scan it"):
                await repo.ensure_month("twitter_bot.later", THIS)
            with pytest.raises(DatalayerError, match="cannot detach its partitions concurrently"):
                await repo.drop_older_than("twitter_bot.later", month_start(THIS))
            await sql(url, "DROP TABLE twitter_bot.later_default")
            assert await repo.ensure("twitter_bot.later", 1) == [THIS, add_months(THIS, 1)]
            report = {r.table.qualified_name: r for r in await repo.report()}
            assert report["twitter_bot.later"].missing == [] and len(report["twitter_bot.later"].partitions) == 2
        finally:
            await sql(url, "DROP TABLE twitter_bot.later")


async def test_two_concurrent_ensures_of_one_month_both_succeed_and_one_makes_it(url: str) -> None:
    month = add_months(THIS, 8)
    async with Database.connect(url=url) as db:
        repo = PartitionRepository(db)
        made = await asyncio.wait_for(asyncio.gather(*(repo.ensure_month(TABLE, month) for _ in range(2))), 30)
        assert sorted(made) == [False, True]
        # whole ranges from four sessions at once: each month made once
        ahead = add_months(THIS, 9)
        runs = await asyncio.wait_for(asyncio.gather(*(repo.ensure(TABLE, 2, now=ahead) for _ in range(4))), 30)
        assert sorted(m for run in runs for m in run) == [ahead, add_months(ahead, 1), add_months(ahead, 2)]
    assert await state_of(url, part(month)) == "attached"


async def test_ensure_never_makes_inserts_or_reads_wait(url: str) -> None:
    nxt = add_months(THIS, 1)
    await sql(url, f"DROP TABLE twitter_bot.{part(nxt)}")  # empty (made by the migration): ensure makes it again
    async with Database.connect(url=url) as db:
        repo = PartitionRepository(db, lock_timeout=LOCK_TIMEOUT, attempts=10, backoff=0.05)
        async with Load(url) as load:
            assert await repo.ensure_month(TABLE, nxt) is True
            # Behind a session holding SHARE UPDATE EXCLUSIVE on the table (an ANALYZE, another change), ensure
            # waits and is refused, again and again: the inserts and reads neither wait for it nor queue behind it.
            async with holding(url, "LOCK TABLE twitter_bot.api_usage IN SHARE UPDATE EXCLUSIVE MODE"):
                task = asyncio.create_task(repo.ensure_month(TABLE, add_months(THIS, 12)))
                await asyncio.sleep(3 * LOCK_TIMEOUT)
                assert not task.done()
            assert await asyncio.wait_for(task, 15) is True
            await asyncio.sleep(0.1)
        worst = load.check("ensure (next month, then behind a SHARE UPDATE EXCLUSIVE holder)")
        assert max(worst) < LOCK_TIMEOUT / 2  # not queued at all: see the control test below
    await load.all_stored()
    assert await state_of(url, part(nxt)) == "attached"


async def test_control_create_table_partition_of_would_have_queued_them(url: str) -> None:
    """The same load and holder with CREATE TABLE … PARTITION OF (what ensure did before 0018): its ACCESS
    EXCLUSIVE request waits for the holder, and every insert and read queues behind it until its lock timeout.
    This shows that the measurement above does see a stall when there is one."""
    month = add_months(THIS, 20)
    async with Load(url) as load, holding(url, "LOCK TABLE twitter_bot.api_usage IN SHARE UPDATE EXCLUSIVE MODE"):
        conn = await asyncpg.connect(url)
        try:
            await conn.execute(f"SET lock_timeout = '{pg_duration(LOCK_TIMEOUT)}'")
            with pytest.raises(asyncpg.LockNotAvailableError):
                await conn.execute(
                    f"CREATE TABLE twitter_bot.{part(month)} PARTITION OF twitter_bot.api_usage "
                    f"FOR VALUES FROM ('{month_start(month).isoformat()}') TO ('{month_start(add_months(month, 1)).isoformat()}')"
                )
        finally:
            await conn.close()
    print(
        f"\ncontrol: longest insert {max(load.insert_waits) * 1000:.0f} ms, read {max(load.read_waits) * 1000:.0f} ms"
    )
    assert max(load.insert_waits) > LOCK_TIMEOUT / 2 and max(load.read_waits) > LOCK_TIMEOUT / 2


async def test_drop_never_makes_inserts_or_reads_wait_and_loses_nothing(url: str) -> None:
    old = [date(2024, 1, 1), date(2024, 2, 1), date(2024, 3, 1)]
    for month in old:
        await add_old_partition(url, month)
    async with Database.connect(url=url) as db:
        repo = PartitionRepository(db, lock_timeout=LOCK_TIMEOUT, attempts=10, backoff=0.05)
        async with Load(url) as load:
            # An open transaction that read the table: DETACH … CONCURRENTLY waits for it, is refused after the lock
            # timeout (the partition stays detach pending, out of every new query) and is finished once it ends.
            async with holding(url, READ_OPEN, isolation="repeatable_read"):
                task = asyncio.create_task(repo.drop_older_than(TABLE, month_start(date(2024, 4, 1))))
                await asyncio.sleep(3 * LOCK_TIMEOUT)
                assert not task.done()
                assert await state_of(url, part(old[0])) == "detach_pending"
            dropped = await asyncio.wait_for(task, 30)
            await asyncio.sleep(0.1)
        load.check("drop-older-than (detach concurrently behind an open reader, finalize, drop)")
    assert [d for d in dropped if d in {f"twitter_bot.{part(m)}" for m in old}] == [
        f"twitter_bot.{part(m)}" for m in old
    ]
    assert [await state_of(url, part(m)) for m in old] == [None, None, None]
    await load.all_stored()


async def test_a_conflicting_lock_makes_ensure_and_drop_give_up_cleanly_and_a_later_run_succeeds(url: str) -> None:
    old, new = date(2023, 5, 1), add_months(THIS, 14)
    await add_old_partition(url, old)
    cutoff = month_start(add_months(old, 1))
    timeout, attempts = 0.3, 2
    bound = attempts * (timeout + SLACK) + 1.0  # the retries' backoff included
    async with Database.connect(url=url) as db:
        repo = PartitionRepository(db, lock_timeout=timeout, attempts=attempts, backoff=0.05)
        async with holding(url, "LOCK TABLE twitter_bot.api_usage IN ACCESS EXCLUSIVE MODE"):
            started = time.perf_counter()
            with pytest.raises(Retryable, match=rf"could not make the {new:%Y-%m} partition of {TABLE}: a lock was not "
                                                r"granted within 0.3 s, 2 time\(s\) .*; nothing was changed"):  # fmt: skip
                await repo.ensure_month(TABLE, new)
            assert attempts * timeout <= time.perf_counter() - started < bound
            started = time.perf_counter()
            with pytest.raises(Retryable, match=rf"could not drop twitter_bot.{part(old)}: .*; nothing was changed"):
                await repo.drop_older_than(TABLE, cutoff)
            assert attempts * timeout <= time.perf_counter() - started < bound
            # listing reads only the catalog: it answers at once, even now
            started = time.perf_counter()
            assert f"twitter_bot.{part(old)}" in {p.name for p in await repo.partitions(TABLE)}
            assert time.perf_counter() - started < timeout
            # nothing half-done
            assert (await state_of(url, part(new)), await state_of(url, part(old))) == (None, "attached")
        # A transaction that read the table and stays open: the detach is refused in its wait for it, and says so.
        async with holding(url, READ_OPEN, isolation="repeatable_read"):
            with pytest.raises(Retryable, match=rf"twitter_bot.{part(old)} is detached pending .*next run finishes"):
                await repo.drop_older_than(TABLE, cutoff)
            assert await state_of(url, part(old)) == "detach_pending"
        assert await repo.ensure_month(TABLE, new) is True
        assert f"twitter_bot.{part(old)}" in await repo.drop_older_than(TABLE, cutoff)
    assert (await state_of(url, part(new)), await state_of(url, part(old))) == ("attached", None)


async def test_a_detach_cancelled_midway_is_finished_by_the_next_run(url: str) -> None:
    old = date(2023, 1, 1)
    await add_old_partition(url, old)
    async with holding(url, READ_OPEN, isolation="repeatable_read"):
        detacher = await asyncpg.connect(url)
        try:
            pid = detacher.get_server_pid()
            task = asyncio.create_task(
                detacher.execute(f"ALTER TABLE {TABLE} DETACH PARTITION twitter_bot.{part(old)} CONCURRENTLY")
            )
            for _ in range(500):  # until it waits for the open transaction (its first step is committed then)
                if await sql(url, "SELECT wait_event = 'virtualxid' FROM pg_stat_activity WHERE pid = $1", pid):
                    break
                await asyncio.sleep(0.01)
            assert await sql(url, "SELECT pg_cancel_backend($1)", pid)
            with pytest.raises(asyncpg.QueryCanceledError):
                await asyncio.wait_for(task, 10)
        finally:
            await detacher.close()
    assert await state_of(url, part(old)) == "detach_pending"
    async with Database.connect(url=url) as db:
        repo = PartitionRepository(db)
        assert {p.name: p.state for p in await repo.partitions(TABLE)}[f"twitter_bot.{part(old)}"] == "detach_pending"
        assert f"twitter_bot.{part(old)}" in await repo.drop_older_than(TABLE, month_start(add_months(old, 1)))
    assert await state_of(url, part(old)) is None


async def test_a_table_detached_but_not_dropped_is_dropped_by_the_next_run(url: str) -> None:
    """The process died between the detach and the drop. Also: a Database bound to one connection outside a
    transaction runs the drop on that connection and gives its lock_timeout back."""
    old = date(2022, 6, 1)
    await add_old_partition(url, old)
    await sql(url, f"ALTER TABLE {TABLE} DETACH PARTITION twitter_bot.{part(old)}")
    conn = await asyncpg.connect(url)
    try:
        repo = PartitionRepository(Database.on_connection(conn), lock_timeout=1.5)
        assert {p.name: p.state for p in await repo.partitions(TABLE)}[f"twitter_bot.{part(old)}"] == "detached"
        with pytest.raises(DatalayerError, match=rf"table twitter_bot.{part(old)} exists but is not a partition of"):
            await repo.ensure_month(TABLE, old)
        assert await repo.drop_older_than(TABLE, month_start(add_months(old, 1))) == [f"twitter_bot.{part(old)}"]
        assert await conn.fetchval("SHOW lock_timeout") == "0"
    finally:
        await conn.close()
    assert await state_of(url, part(old)) is None


async def _definitions(conn: asyncpg.Connection) -> list[tuple[object, ...]]:
    """What 0018 changes besides rows: the partition functions (text and comment) and the table's comment."""
    rows = await conn.fetch(
        """SELECT p.oid::regprocedure::text, pg_get_functiondef(p.oid), obj_description(p.oid, 'pg_proc')
             FROM pg_proc AS p
            WHERE p.pronamespace IN ('ops'::regnamespace, 'twitter_bot'::regnamespace) AND p.proname LIKE '%partition%'
            ORDER BY 1"""
    )
    comment = await conn.fetchval("SELECT obj_description('twitter_bot.api_usage'::regclass, 'pg_class')")
    return [tuple(r) for r in rows] + [("table comment", comment)]


def _dump(url: str) -> str:
    """`pg_dump --schema-only` of ops and twitter_bot, without the lines that name the run (as test_migrations)."""
    out = subprocess.run(
        [str(bin_dir() / "pg_dump"), "--schema-only", "--no-owner", "--schema=ops", "--schema=twitter_bot", url],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    skip = ("-- Dumped", "\\restrict", "\\unrestrict")
    return "\n".join(
        re.sub(r"pg_attver=\d+", "pg_attver=?", line) for line in out.splitlines() if not line.startswith(skip)
    )


async def test_migration_moves_the_default_partitions_rows_and_the_rollback_restores_the_default(
    server_url: str,
) -> None:
    u = await create_database(server_url, "datalayer_parts_mig")
    conn = await asyncpg.connect(u)
    try:
        async with Migrator(u) as m:
            await m.apply()
            await m.rollback(to=BEFORE)
        # The months 0018 makes ahead exist already (made the old way): then its rollback restores the schema
        # exactly, as pg_dump shows it.
        for i in range(4):
            await conn.fetchval("SELECT twitter_bot.ensure_api_usage_partition($1)", add_months(THIS, i))
        before, dump_before = await _definitions(conn), _dump(u)
        async with Migrator(u) as m:
            assert MIGRATION in await m.apply()
            assert await m.rollback(to=BEFORE)
        assert await _definitions(conn) == before
        assert _dump(u) == dump_before
        # Rows in the DEFAULT partition: months that have no partition, up to the last microsecond of one.
        await conn.execute(
            """INSERT INTO twitter_bot.api_usage (call_id, service, endpoint, called_at, success, status_code,
                                                  response_time_ms, error_type, error_message)
               SELECT gen_random_uuid(), 'mig', 'e', t, t < '2025-03-01', 200, 1.5, 'Timeout', 'slow'
                 FROM generate_series(timestamptz '2025-01-01 00:00+00', '2025-06-30 23:00+00', interval '7 hours') AS t
               UNION ALL
               SELECT gen_random_uuid(), 'mig', 'e', '2031-05-31 23:59:59.999999+00', true, NULL, NULL, NULL, NULL"""
        )
        everything = "SELECT * FROM twitter_bot.api_usage ORDER BY call_id"
        rows = await conn.fetch(everything)
        assert await conn.fetchval("SELECT count(*) FROM twitter_bot.api_usage_default") == len(rows) > 600
        async with Migrator(u) as m:
            assert MIGRATION in await m.apply()
        assert await conn.fetch(everything) == rows  # every row, every value
        assert await conn.fetchval(
            "SELECT partdefid FROM pg_partitioned_table WHERE partrelid = 'twitter_bot.api_usage'::regclass"
        ) == 0  # fmt: skip
        placed = await conn.fetch(
            "SELECT tableoid::regclass::text AS p, count(*) AS n FROM twitter_bot.api_usage GROUP BY 1 ORDER BY 1"
        )
        expected = [f"twitter_bot.{part(date(2025, m, 1))}" for m in range(1, 7)] + ["twitter_bot.api_usage_y2031m05"]
        assert [r["p"] for r in placed] == expected and sum(r["n"] for r in placed) == len(rows)
        attached = {r[0] for r in await conn.fetch(
            "SELECT inhrelid::regclass::text FROM pg_inherits WHERE inhparent = 'twitter_bot.api_usage'::regclass")}  # fmt: skip
        assert {*expected, *(f"twitter_bot.{part(add_months(THIS, i))}" for i in range(4))} <= attached
        # the helper CHECK of each moved month is gone again; each has its comment
        assert await conn.fetchval("SELECT count(*) FROM pg_constraint WHERE conname LIKE 'api_usage_y%_range'") == 0
        assert await conn.fetchval(f"SELECT obj_description('twitter_bot.{part(date(2025, 1, 1))}'::regclass)") == (
            "Rows of twitter_bot.api_usage with a time in 2025-01 (UTC): a monthly partition."
        )
        # Rolled back: the DEFAULT partition is back (empty), the functions are the old ones, and the rows stay.
        async with Migrator(u) as m:
            await m.rollback(to=BEFORE)
        assert await conn.fetchval("SELECT obj_description('twitter_bot.api_usage_default'::regclass)") == (
            "Calls in months that have no partition yet; ensure_api_usage_partition moves them out."
        )
        assert await _definitions(conn) == before
        assert await conn.fetch(everything) == rows
        async with Migrator(u) as m:
            assert MIGRATION in await m.apply()
        assert await conn.fetch(everything) == rows
    finally:
        await conn.close()
        await drop_database(server_url, u)


def test_cli_list_ensure_and_drop_older_than(url: str) -> None:
    def run(*args: str, stdin: str | None = None) -> tuple[int, str]:
        result = CliRunner().invoke(main, ["--database-url", url, "partitions", *args], input=stdin)
        assert "Traceback" not in result.output
        return result.exit_code, result.output

    old = date(2021, 3, 1)

    async def setup() -> None:
        await add_old_partition(url, old)
        async with Database.connect(url=url) as db:
            await PartitionRepository(db).ensure_month("chat_bot.audit_logs", old)

    asyncio.run(setup())
    names = {f"twitter_bot.{part(old)}", f"chat_bot.{part(old, 'audit_logs')}"}

    code, out = run("list", "--json")
    assert code == 0, out
    listed = {t["table"]: t for t in json.loads(out)["tables"]}
    assert {"twitter_bot.api_usage", "error_api.usage_logs", "chat_bot.audit_logs"} <= set(listed)
    for t in listed.values():
        assert t["default_partition"] is None and t["missing"] == [], t
    twitter = {p["name"]: p for p in listed[TABLE]["partitions"]}
    assert twitter[f"twitter_bot.{part(old)}"] == {
        "name": f"twitter_bot.{part(old)}", "state": "attached", "default": False,
        "from": "2021-03-01T00:00:00+00:00", "to": "2021-04-01T00:00:00+00:00",
        "estimated_rows": twitter[f"twitter_bot.{part(old)}"]["estimated_rows"],
        "estimated_bytes": twitter[f"twitter_bot.{part(old)}"]["estimated_bytes"],
    }  # fmt: skip
    code, out = run("list")
    assert code == 0 and f"twitter_bot.{part(old)}" in out and "this month and the next have partitions" in out, out

    code, out = run("ensure", "--months-ahead", "30", "--json")
    assert code == 0, out
    made = json.loads(out)
    assert made["months"][0] == f"{THIS:%Y-%m}" and len(made["months"]) == 31
    assert f"{add_months(THIS, 30):%Y-%m}" in made["created"]["chat_bot.audit_logs"]
    code, out = run("ensure", "--months-ahead", "30", "--json")
    assert code == 0 and all(v == [] for v in json.loads(out)["created"].values()), out
    code, out = run("ensure", "--table", TABLE, "--lock-timeout", "1")
    assert code == 0 and f"{TABLE}: nothing to make" in out, out
    code, out = run("ensure", "--table", "twitter_bot.nope")
    assert code == 1 and "twitter_bot.nope is not a monthly partitioned table" in out, out

    for args, complaint in (
        ((), "give a cutoff date or --months N"),
        (("2021-01-01", "--months", "3"), "give a cutoff date or --months N"),
        (("2999-01-01",), "after the start of this month"),
        (("yesterday",), "Invalid value"),
    ):
        code, out = run("drop-older-than", *args)
        assert code == 2 and complaint in out, (args, out)

    code, out = run("drop-older-than", "--months", "12", "--dry-run", "--json")
    assert code == 0, out
    plan = json.loads(out)
    assert plan["dry_run"] and names <= {n for ns in plan["would_drop"].values() for n in ns}
    code, out = run("drop-older-than", "--months", "12", "--dry-run")
    assert code == 0 and f"would drop twitter_bot.{part(old)} (2021-03-01 to 2021-04-01" in out, out
    code, out = run("drop-older-than", "--months", "12", "--table", "chat_bot.audit_logs", stdin="n\n")
    assert code == 1 and "Drop these" in out and "Aborted" in out, out
    listed_after = json.loads(run("list", "--json")[1])
    still = {p["name"] for t in listed_after["tables"] for p in t["partitions"]}
    assert names <= still  # neither the dry run nor the refused confirmation dropped anything

    code, out = run("drop-older-than", "--months", "12", "--table", "chat_bot.audit_logs", stdin="y\n")
    assert code == 0 and f"dropped chat_bot.{part(old, 'audit_logs')}" in out, out
    code, out = run("drop-older-than", f"{add_months(THIS, -12):%Y-%m-%d}", "--yes", "--json")
    assert code == 0, out
    assert f"twitter_bot.{part(old)}" in json.loads(out)["dropped"][TABLE]
    code, out = run("drop-older-than", "--months", "12", "--yes")
    assert code == 0 and "nothing to do" in out, out
    still = {p["name"] for t in json.loads(run("list", "--json")[1])["tables"] for p in t["partitions"]}
    assert not names & still


async def test_a_foreign_key_table_is_dropped_waiting_only_briefly_for_the_table_it_references(url: str) -> None:
    """error_api.usage_logs references error_api.users. Dropping a detached usage partition drops its foreign key's
    triggers on users, which takes ACCESS EXCLUSIVE on users: behind a long transaction that read users, that step
    gives up after FK_DROP_LOCK_TIMEOUT per try, so the reads of users queued behind it wait no longer; the table
    stays detached (in no query) and the next run drops it."""
    old = date(2022, 1, 1)
    usage = "error_api.usage_logs"
    cutoff = month_start(add_months(old, 1))
    waits: list[float] = []
    async with Database.connect(url=url) as db:
        repo = PartitionRepository(db, lock_timeout=LOCK_TIMEOUT, attempts=3, backoff=0.05)
        await repo.ensure_month(usage, old)
        async with holding(url, "SELECT count(*) FROM error_api.users"):
            stop = asyncio.Event()

            async def read_users() -> None:
                conn = await asyncpg.connect(url, server_settings={"statement_timeout": "20s"})
                try:
                    while not stop.is_set():
                        started = time.perf_counter()
                        await conn.fetchval("SELECT count(*) FROM error_api.users")
                        waits.append(time.perf_counter() - started)
                        await asyncio.sleep(0.005)
                finally:
                    await conn.close()

            reader = asyncio.create_task(read_users())
            await asyncio.sleep(0.05)
            with pytest.raises(Retryable, match=r"error_api.usage_logs_y2022m01 is detached but not dropped; the next "
                                                r"run drops it"):  # fmt: skip
                await repo.drop_older_than(usage, cutoff)
            stop.set()
            await asyncio.wait_for(reader, 30)
        assert {p.name: p.state for p in await repo.partitions(usage)}["error_api.usage_logs_y2022m01"] == "detached"
        assert await repo.drop_older_than(usage, cutoff) == ["error_api.usage_logs_y2022m01"]
    print(f"\nusers reads behind the drop of a detached usage partition: longest {max(waits) * 1000:.0f} ms")
    assert max(waits) < 0.2 + SLACK

"""What every call carries and counts: its name in the SQL, per-query statistics, the schema check at connect."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest
from click.testing import CliRunner

from datalayer import Database, InvalidData, MigrationError, Settings
from datalayer import queries as q
from datalayer.cli import main
from datalayer.migrate import Migrator
from datalayer.twitter_bot import SystemStateRepository, TweetRepository
from tests.conftest import create_database, drop_database


def test_every_statement_carries_its_name_after_its_first_keyword() -> None:
    for name, query in q.load().items():
        assert re.match(rf"[A-Z]+ /\* {re.escape(name)} \*/", query.sql), (name, query.sql[:60])


def test_percentile_from_buckets() -> None:
    counts = [0] * (len(q.BUCKETS_S) + 1)
    counts[3] = 90  # (0.5 ms, 1 ms]
    counts[6] = 10  # (5 ms, 10 ms]
    assert 0.0005 < q.percentile(counts, 0.50, 0.01) <= 0.001
    assert 0.005 < q.percentile(counts, 0.95, 0.01) <= 0.01
    assert q.percentile([0] * len(counts), 0.95, 0.0) == 0.0


async def test_query_stats_count_calls_rows_errors(database_url: str) -> None:
    settings = Settings(application_name="dl-stats-test")
    async with Database.connect(settings, database_url) as db:
        before = {s.name: s for s in db.query_stats()}
        tweets = TweetRepository(db)
        for _ in range(5):
            await tweets.get(1)
        await tweets.list_recent(3)
        with pytest.raises(InvalidData):
            await tweets.list_recent(-1)  # LIMIT must not be negative
        after = {s.name: s for s in db.query_stats()}
    get, recent = after["twitter_bot.get_tweet"], after["twitter_bot.list_recent_tweets"]
    prev_get = before.get("twitter_bot.get_tweet")
    assert get.calls - (prev_get.calls if prev_get else 0) == 5
    assert get.errors == (prev_get.errors if prev_get else 0)
    prev_recent = before.get("twitter_bot.list_recent_tweets")
    assert recent.errors - (prev_recent.errors if prev_recent else 0) == 1
    assert get.max_ms >= get.mean_ms > 0 and get.p95_ms <= get.max_ms and sum(get.buckets) == get.calls


@pytest.mark.direct(
    reason="reads application_name in pg_stat_activity, which is PgBouncer's own on its server connections"
)
async def test_names_reach_pg_stat_activity_and_pg_stat_statements(database_url: str) -> None:
    settings = Settings(application_name="dl-named")
    conn = await asyncpg.connect(database_url)
    try:
        async with Database.connect(settings, database_url) as db:
            await SystemStateRepository(db).get("named-query-probe")
            async with db.transaction() as tx:
                await SystemStateRepository(tx).get("named-query-probe")
                seen = await conn.fetchval(
                    "SELECT query FROM pg_stat_activity WHERE application_name = 'dl-named'"
                    " AND state = 'idle in transaction'"
                )
        assert seen.startswith("SELECT /* twitter_bot.get_system_state */")
        preloaded = "pg_stat_statements" in (await conn.fetchval("SHOW shared_preload_libraries"))
        if not preloaded:
            pytest.skip("pg_stat_statements is not preloaded on this server")
        rows = await conn.fetch(
            "SELECT query FROM ops.pg_stat_statements WHERE query LIKE 'SELECT /* twitter_bot.get_system_state */%'"
        )
    finally:
        await conn.close()
    assert rows


def test_stats_queries_cli_shows_ours_beside_the_server(database_url: str) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["--database-url", database_url, "twitter", "status"])
    assert first.exit_code == 0, first.output  # its queries are flushed when its Database closes
    out = runner.invoke(main, ["--database-url", database_url, "stats", "queries", "--json"])
    assert out.exit_code == 0, out.output
    report = json.loads(out.output)
    by_name = {r["name"]: r for r in report["queries"]}
    row = by_name["twitter_bot.count_translations_by_status"]
    assert row["calls"] >= 1 and row["errors"] == 0 and row["p95_ms"] is not None
    if report["pg_stat_statements"] == "available":
        assert row["server_calls"] >= 1
    else:
        assert "pg_stat_statements is not available" in report["pg_stat_statements"]
    table = runner.invoke(main, ["--database-url", database_url, "stats", "queries"])
    assert table.exit_code == 0 and "count_translations_by_status" in table.output
    reset = json.loads(
        runner.invoke(main, ["--database-url", database_url, "stats", "queries", "--reset", "--json"]).output
    )
    assert all(r["calls"] is None for r in reset["queries"])  # ours forgotten; the server's figures stay


@pytest.fixture
async def unmigrated_url(server_url: str) -> AsyncIterator[str]:
    url = await create_database(server_url, "datalayer_unmigrated")
    yield url
    await drop_database(server_url, url)


async def test_connect_refuses_an_unmigrated_database(unmigrated_url: str) -> None:
    with pytest.raises(MigrationError, match=r"pending \(0001.ops-and-system-state.*run `datalayer migrate`"):
        async with Database.connect(Settings(), unmigrated_url):
            pass
    async with Database.connect(Settings(), unmigrated_url, check_schema=False) as db:
        assert not db.executor.config.trust  # rows are fully validated when the schema was not checked
        with pytest.raises(MigrationError, match="run `datalayer migrate`"):
            await SystemStateRepository(db).get("x")  # not a bare 42P01
    result = await asyncio.to_thread(CliRunner().invoke, main, ["--database-url", unmigrated_url, "twitter", "status"])
    assert result.exit_code == 1 and "run `datalayer migrate`" in result.output and "Traceback" not in result.output


async def test_connect_refuses_a_half_migrated_database(unmigrated_url: str) -> None:
    async with Migrator(unmigrated_url) as m:
        await m.apply()
        await m.rollback()
    with pytest.raises(MigrationError, match=r"1 migration\(s\) pending"):
        async with Database.connect(Settings(), unmigrated_url):
            pass
    health = await asyncio.to_thread(CliRunner().invoke, main, ["--database-url", unmigrated_url, "health", "--json"])
    report = json.loads(health.output)
    assert health.exit_code == 1 and report["reachable"] and len(report["pending_migrations"]) == 1


async def test_unchecked_rows_are_validated(unmigrated_url: str, database_url: str) -> None:
    async with Database.connect(Settings(), database_url, check_schema=False) as db:
        state = SystemStateRepository(db)
        key = f"validated-{datetime.now(UTC).timestamp()}"
        stored = await state.set(key, {"a": 1})
        assert await state.get(key) == stored
        await state.delete(key)

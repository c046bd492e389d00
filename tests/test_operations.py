"""Operations on a committed database of this module's own: stats and growth, inspect, maintenance, cleanup,
seed --all, the three roles, and the first migration's rollback keeping extensions it did not create."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from click.testing import CliRunner

from datalayer import Database, Settings
from datalayer.cli import main
from datalayer.errors import InvalidData, NotFound
from datalayer.maintenance import rules
from datalayer.maintenance.inspect import InspectRepository, Where
from datalayer.migrate import Migrator
from datalayer.ops.catalog import CatalogRepository
from datalayer.reddit_bot import PostRepository
from datalayer.reddit_bot.posts import UpsertPostParams
from tests.conftest import create_database, drop_database, migrated_database

SECRET = "x" * 40


@pytest.fixture(scope="module")
async def url(server_url: str) -> AsyncIterator[str]:
    async with migrated_database(server_url, "datalayer_ops") as u:
        yield u


def cli(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--database-url", url, *args], env={"DATALAYER_API_KEY_SECRET": SECRET})
    return result.exit_code, result.output


def test_seed_all_is_idempotent_then_stats_show_growth(url: str) -> None:
    code, out = cli(url, "seed", "--all")
    assert code == 0, out
    for bot in ("chat-bot", "discord-bot", "error-api", "reddit-bot", "twitter-bot"):
        assert f"== {bot} ==" in out
    assert "skipped" not in out
    code, first = cli(url, "stats", "--exact", "--json")
    assert code == 0, first
    before = {(t["schema"], t["table"]): t for t in json.loads(first)["tables"]}
    assert before[("twitter_bot", "tweets")]["rows"] == 200 and before[("discord_bot", "events")]["rows"] == 30
    code, again = cli(url, "seed", "--all")
    assert code == 0 and "0 new messages" in again and "0 api calls" in again, again
    code, second = cli(url, "stats", "--exact", "--json")
    after = {(t["schema"], t["table"]): t for t in json.loads(second)["tables"]}
    bots = [k for k in before if k[0] != "ops"]  # ops holds the statistics these very commands write
    assert {k: after[k]["rows"] for k in bots} == {k: before[k]["rows"] for k in bots}  # the re-run added nothing
    assert after[("ops", "table_size_history")]["rows"] == len(before)  # the first run's readings
    assert after[("twitter_bot", "tweets")]["rows_growth"] == 0 and after[("twitter_bot", "tweets")]["since"]
    assert json.loads(second)["schemas"]["twitter_bot"]["tables"] == sum(1 for k in after if k[0] == "twitter_bot")
    code, human = cli(url, "stats")
    assert code == 0 and "twitter_bot.tweets" in human and "+0 rows" in human


def test_seed_all_skips_a_bot_whose_setting_is_missing(url: str) -> None:
    result = CliRunner().invoke(main, ["--database-url", url, "seed", "--all"], env={"DATALAYER_API_KEY_SECRET": None})
    assert result.exit_code == 0 and "skipped: DATALAYER_API_KEY_SECRET" in result.output.replace("\n", " ")
    assert "seeded all but error-api" in result.output


async def test_inspect_filters_orders_and_refuses_what_is_not_ours(url: str) -> None:
    async with Database.connect(Settings(), url) as db:
        repo = InspectRepository(db)
        schemas = await CatalogRepository(db).our_schemas()
        await db.executor.utility("test.insert", "INSERT INTO discord_bot.guilds (guild_id, name) VALUES "
                                  "(9000000000000000001, 'Alpha'), (9000000000000000002, 'Beta')")  # fmt: skip
        try:
            rows = await repo.rows(schemas, "discord_bot.guilds", [Where("name", "like", "%a")], "-guild_id", 5)
            assert [r["name"] for r in rows] == ["Beta", "Alpha"] and list(rows[0]) == [
                "guild_id", "name", "settings", "created_at", "updated_at",
            ]  # fmt: skip
            got = await repo.rows(schemas, "discord_bot.guilds", [Where("guild_id", "in", "9000000000000000002,1")])
            assert [r["name"] for r in got] == ["Beta"]
            assert await repo.rows(schemas, "discord_bot.guilds", [Where("name", "=", "x' OR '1'='1")]) == []
            with pytest.raises(InvalidData, match="filter guild_id >= 'abc' \\(bigint\\)"):
                await repo.rows(schemas, "discord_bot.guilds", [Where("guild_id", ">=", "abc")])
            with pytest.raises(InvalidData, match="has no column 'name; DROP TABLE x'"):
                await repo.rows(schemas, "discord_bot.guilds", [Where("name; DROP TABLE x", "=", "1")])
            with pytest.raises(InvalidData, match="unknown operator"):
                await repo.rows(schemas, "discord_bot.guilds", [Where("name", "~", "a")])
            with pytest.raises(InvalidData, match="cannot order by"):
                await repo.rows(schemas, "discord_bot.guilds", [], "nope")
            for foreign in ("public._yoyo_migration", "pg_catalog.pg_authid", "discord_bot.nope"):
                with pytest.raises(NotFound, match="is not a table of ours"):
                    await repo.rows(schemas, foreign, [])
        finally:
            await db.executor.utility(
                "test.delete", "DELETE FROM discord_bot.guilds WHERE guild_id >= 9000000000000000000"
            )
    code, out = await acli(url, "inspect", "discord_bot.events", "--where", "interval_minutes", ">=", "60", "--order",
                    "-created_at", "--limit", "3", "--json")  # fmt: skip
    assert code == 0, out
    assert len(json.loads(out)) <= 3 and all(e["interval_minutes"] >= 60 for e in json.loads(out))
    code, out = await acli(url, "inspect")
    assert code == 0 and "discord_bot.events" in out.split() and "twitter_bot.api_usage" in out.split()
    code, out = await acli(url, "inspect", "discord_bot.events", "--where", "interval_minutes", ">=", "soon")
    assert code == 2 and "interval_minutes >= 'soon' (integer)" in out
    code, out = await acli(url, "inspect", "user", "--limit", "5")
    assert code == 2 and "with its schema" in out
    code, out = await acli(url, "inspect", "public._yoyo_migration")
    assert code == 2 and "is not a table of ours" in out


def test_maintenance_vacuum_analyze_reindex(url: str) -> None:
    code, out = cli(url, "maintenance", "analyze", "--json")
    assert code == 0, out
    done = {d["table"] for d in json.loads(out)}
    assert "twitter_bot.api_usage" in done and "twitter_bot.tweets" in done  # the partitioned parent too
    assert not any(t.startswith("twitter_bot.api_usage_y") for t in done)  # covered by the parent
    code, out = cli(url, "maintenance", "vacuum", "--table", "twitter_bot.api_usage", "--json")
    tables = [d["table"] for d in json.loads(out)]
    assert code == 0 and tables and all(t.startswith("twitter_bot.api_usage_") for t in tables)  # its partitions
    code, out = cli(url, "maintenance", "reindex", "--table", "discord_bot.events")
    assert code == 0 and "REINDEX CONCURRENTLY" in out and "discord_bot.events" in out
    code, out = cli(url, "maintenance", "vacuum", "--table", "public._yoyo_migration")
    assert code == 1 and "is not a table of ours" in out


async def test_analyze_reaches_partitioned_parents(url: str) -> None:
    await acli(url, "maintenance", "analyze", "--table", "error_api.usage_logs")
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SELECT pg_stat_force_next_flush()")
        last = await conn.fetchval(
            "SELECT last_analyze FROM pg_stat_all_tables WHERE relid = 'error_api.usage_logs'::regclass"
        )
        assert last is not None
    finally:
        await conn.close()


async def test_cleanup_runs_every_rule_and_removes_what_is_past_retention(url: str) -> None:
    assert {"twitter_bot.expired_cache", "error_api.expired_keys", "reddit_bot.purged_posts", "ops.size_history",
            "chat_bot.idle_sessions"} <= {r.name for r in rules()}  # fmt: skip
    async with Database.connect(Settings(), url) as db:
        await PostRepository(db).upsert(UpsertPostParams(id="t3_cleanup1", subreddit="python", title="Old",
                                                         author="someone", created_at=datetime.now(UTC)))  # fmt: skip
        assert await PostRepository(db).delete("t3_cleanup1", at=datetime.now(UTC) - timedelta(days=40))
        await db.executor.utility("test.history", "INSERT INTO ops.table_size_history VALUES "
                                  "(now() - interval '400 days', 'x', 'y', 1, 1)")  # fmt: skip
    code, out = await acli(url, "cleanup", "--keep-days", "30", "--json")
    assert code == 0, out
    removed = {r["rule"]: r["rows"] for r in json.loads(out)["rules"]}
    assert removed["reddit_bot.purged_posts"] == 1 and removed["ops.size_history"] == 1
    code, out = await acli(url, "cleanup", "--keep-days", "30", "--json")
    assert code == 0 and all(r["rows"] == 0 or r["rule"] == "chat_bot.idle_sessions" for r in json.loads(out)["rules"])
    code, out = await acli(url, "cleanup", "--only", "nope")
    assert code == 2 and "unknown rule nope" in out
    code, out = await acli(url, "cleanup", "--list")
    assert code == 0 and "twitter_bot.expired_cache" in out


async def acli(url: str, *args: str) -> tuple[int, str]:
    """`cli` from an async test: the CLI runs its own event loop, so in a thread."""
    return await asyncio.to_thread(cli, url, *args)


def _as(url: str, user: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.split("@")[-1]
    return urlunsplit((parts.scheme, f"{user}@{host}", parts.path, parts.query, ""))


async def test_roles_app_cannot_ddl_readonly_cannot_write(url: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    app, ro = f"dl_app_{suffix}", f"dl_ro_{suffix}"
    admin = await asyncpg.connect(url)
    try:
        await admin.execute(
            f"CREATE ROLE {app} LOGIN IN ROLE datalayer_app; CREATE ROLE {ro} LOGIN IN ROLE datalayer_readonly"
        )
        a = await asyncpg.connect(_as(url, app))
        try:
            await a.execute("INSERT INTO discord_bot.guilds (guild_id, name) VALUES (8000000000000000001, 'role test')")
            assert (
                await a.fetchval("SELECT name FROM discord_bot.guilds WHERE guild_id = 8000000000000000001")
                == "role test"
            )
            for ddl in ("CREATE TABLE discord_bot.nope (id int)", "ALTER TABLE discord_bot.guilds ADD COLUMN x int",
                        "DROP TABLE discord_bot.reactions", "CREATE INDEX ON discord_bot.guilds (name)",
                        "TRUNCATE discord_bot.guilds", "SELECT * FROM public._yoyo_migration",
                        "SELECT * FROM public._datalayer_migration_checksum", "CREATE SCHEMA nope"):  # fmt: skip
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await a.execute(ddl)
        finally:
            await a.close()
        # the application role connects with the schema check, which reads the ledger through ops.migration_ledger()
        async with Database.connect(Settings(), _as(url, app)) as db:
            assert "discord_bot" in await CatalogRepository(db).our_schemas()
        r = await asyncpg.connect(_as(url, ro))
        try:
            assert await r.fetchval("SELECT count(*) FROM discord_bot.guilds WHERE guild_id = 8000000000000000001") == 1
            assert await r.fetch("SELECT * FROM twitter_bot.translation_queue") is not None  # the psql views
            for write in ("INSERT INTO discord_bot.guilds (guild_id, name) VALUES (1, 'x')",
                          "UPDATE discord_bot.guilds SET name = 'y'", "DELETE FROM discord_bot.guilds",
                          "CREATE TABLE discord_bot.nope (id int)"):  # fmt: skip
                with pytest.raises(asyncpg.InsufficientPrivilegeError):
                    await r.execute(write)
        finally:
            await r.close()
    finally:
        await admin.execute("DELETE FROM discord_bot.guilds WHERE guild_id = 8000000000000000001")
        await admin.execute(f"DROP OWNED BY {app}, {ro}; DROP ROLE {app}; DROP ROLE {ro}")
        await admin.close()


async def test_psql_views_are_commented(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        views = await conn.fetch("""
            SELECT c.oid::regclass::text AS name, obj_description(c.oid, 'pg_class') AS comment
              FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'v' AND n.nspname IN ('twitter_bot', 'chat_bot', 'error_api', 'reddit_bot', 'discord_bot')
        """)  # fmt: skip
        assert len(views) >= 10 and all(v["comment"] and v["comment"].startswith("psql:") for v in views)
        for v in views:
            await conn.fetch(f"SELECT * FROM {v['name']} LIMIT 1")
    finally:
        await conn.close()


async def test_first_migration_rollback_keeps_an_extension_that_was_there(server_url: str) -> None:
    u = await create_database(server_url, "datalayer_ext")
    try:
        conn = await asyncpg.connect(u)
        await conn.execute("CREATE EXTENSION pg_trgm")  # in public, before any migration
        async with Migrator(u) as m:
            await m.apply()
            await m.rollback(everything=True)
        assert (
            await conn.fetchval("SELECT extnamespace::regnamespace::text FROM pg_extension WHERE extname = 'pg_trgm'")
            == "public"
        )
        await conn.close()
    finally:
        await drop_database(server_url, u)

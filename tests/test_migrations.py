"""yoyo migrations: round trip, concurrency, drift, dry run, rollback targets."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from datalayer import Database
from datalayer.embedded import bin_dir
from datalayer.errors import MigrationError
from datalayer.migrate import Migrator, migrations_dir, pending_and_drift
from tests.conftest import create_database, drop_database

BOT_SCHEMAS = {"ops", "twitter_bot"}


@pytest.fixture
async def fresh_url(server_url: str) -> AsyncIterator[str]:
    url = await create_database(server_url, "datalayer_mig")
    yield url
    await drop_database(server_url, url)


# Some servers (the Debian 15 build on CI machines) stamp every new column with an attoption
# `pg_attver=<number>` that differs per creation; it is not part of our schema, so it is masked.
ATTVER = re.compile(r"pg_attver=\d+")


def schema_dump(url: str) -> str:
    """`pg_dump --schema-only` of the bot schemas, without lines that name the run (dates, versions)."""
    out = subprocess.run(
        [str(bin_dir() / "pg_dump"), "--schema-only", "--no-owner", "--dbname", url,
         *[f"--schema={s}" for s in sorted(BOT_SCHEMAS)]],
        check=True, capture_output=True, text=True,
    ).stdout  # fmt: skip
    return "\n".join(
        ATTVER.sub("pg_attver=?", line)
        for line in out.splitlines()
        if not line.startswith(("-- Dumped", "\\restrict", "\\unrestrict"))
    )


async def schemas(url: str) -> set[str]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT nspname FROM pg_namespace")
    finally:
        await conn.close()
    return {r["nspname"] for r in rows} & BOT_SCHEMAS


async def test_round_trip_leaves_identical_schema(fresh_url: str) -> None:
    async with Migrator(fresh_url) as m:
        applied = await m.apply()
    assert applied == sorted(p.stem for p in migrations_dir().glob("*.sql") if not p.stem.endswith(".rollback"))
    first = schema_dump(fresh_url)
    assert "CREATE TABLE twitter_bot.system_state" in first
    async with Migrator(fresh_url) as m:
        rolled = await m.rollback(everything=True)
    assert rolled == list(reversed(applied))
    assert await schemas(fresh_url) == set()
    async with Migrator(fresh_url) as m:
        assert await m.apply() == applied
    assert schema_dump(fresh_url) == first


async def test_rollback_to_and_dry_run(fresh_url: str) -> None:
    async with Migrator(fresh_url) as m:
        assert await m.apply(dry_run=True) == [s.id for s in await m.status()]
        assert not any(s.applied for s in await m.status())  # dry run changed nothing
        applied = await m.apply()
        first = applied[0]
        assert await m.rollback(to=first, dry_run=True) == list(reversed(applied[1:]))
        assert await m.rollback(to=first) == list(reversed(applied[1:]))
        assert [s.id for s in await m.status() if s.applied] == [first]
        with pytest.raises(MigrationError, match="no migration with id"):
            await m.rollback(to="9999.nope")
        assert await m.rollback() == [first]
        assert await m.rollback() == []


async def test_two_processes_migrating_at_once_apply_once(fresh_url: str) -> None:
    env = {**os.environ, "DATABASE_URL": fresh_url}
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "datalayer", "migrate", "--json",
            env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(2)
    ]  # fmt: skip
    outputs = [await p.communicate() for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outputs
    import json

    applied = [json.loads(out)["migrations"] for out, _ in outputs]
    expected = [s.stem for s in sorted(migrations_dir().glob("*.sql")) if not s.stem.endswith(".rollback")]
    assert sorted(applied, key=len) == [[], expected]
    conn = await asyncpg.connect(fresh_url)
    try:
        assert await conn.fetchval("SELECT count(*) FROM _yoyo_migration") == len(expected)
    finally:
        await conn.close()


async def test_edited_migration_is_drift_and_blocks_migrate(fresh_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), directory)
    async with Migrator(fresh_url, directory) as m:
        await m.apply()
    first = next(p for p in sorted(directory.glob("0001.*.sql")) if not p.stem.endswith(".rollback"))
    first.write_text(first.read_text() + "\n-- edited after apply\n")
    (directory / "0999.later.sql").write_text("CREATE TABLE twitter_bot.later (id int);")
    (directory / "0999.later.rollback.sql").write_text("DROP TABLE twitter_bot.later;")
    pending, drift = await pending_and_drift(fresh_url, directory)
    assert pending == ["0999.later"]
    assert [(d.id, d.drift) for d in drift] == [(first.stem, "file edited after it was applied")]
    async with Migrator(fresh_url, directory) as m:
        with pytest.raises(MigrationError, match=r"refusing to migrate.*0001"):
            await m.apply()
        assert not [s for s in await m.status() if s.id == "0999.later" and s.applied]


async def test_broken_migration_reports_and_applies_nothing_of_itself(fresh_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), directory)
    (directory / "0999.broken.sql").write_text("CREATE TABLE twitter_bot.half (id int);\nCREATE TABLE nope.x (id int);")
    (directory / "0999.broken.rollback.sql").write_text("DROP TABLE twitter_bot.half;")
    async with Migrator(fresh_url, directory) as m:
        with pytest.raises(MigrationError, match=r"0999.broken.*nope"):
            await m.apply()
        assert [s.id for s in await m.status() if not s.applied] == ["0999.broken"]
    conn = await asyncpg.connect(fresh_url)
    try:
        assert await conn.fetchval("SELECT to_regclass('twitter_bot.half')") is None
    finally:
        await conn.close()


async def test_applied_migration_whose_file_is_gone_is_drift(fresh_url: str, tmp_path: Path) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), directory)
    (directory / "0999.later.sql").write_text("CREATE TABLE twitter_bot.later (id int);")
    (directory / "0999.later.rollback.sql").write_text("DROP TABLE twitter_bot.later;")
    async with Migrator(fresh_url, directory) as m:
        await m.apply()
    (directory / "0999.later.sql").unlink()
    (directory / "0999.later.rollback.sql").unlink()
    pending, drift = await pending_and_drift(fresh_url, directory)
    assert pending == []
    assert [(d.id, d.applied, d.drift) for d in drift] == [("0999.later", True, "applied, but its file is gone")]


async def test_every_object_of_every_bot_schema_has_a_comment(db: Database) -> None:
    """`\\d+` in psql explains the schema: every schema, table, column, constraint, index, function and
    trigger the migrations create carries a COMMENT (what the rule or object is for)."""
    conn = db.executor.connection
    assert conn is not None
    missing = await conn.fetch(
        """
        WITH ours AS (
            SELECT oid, nspname FROM pg_namespace
             WHERE nspname NOT IN ('public', 'information_schema') AND nspname NOT LIKE 'pg\\_%'
        )
        SELECT 'schema ' || nspname AS what FROM ours WHERE obj_description(oid, 'pg_namespace') IS NULL
        UNION ALL
        SELECT 'table ' || c.oid::regclass FROM pg_class c JOIN ours n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p', 'v', 'm') AND obj_description(c.oid, 'pg_class') IS NULL
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
        UNION ALL
        SELECT 'column ' || c.oid::regclass || '.' || a.attname FROM pg_class c JOIN ours n ON n.oid = c.relnamespace
          JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition AND col_description(c.oid, a.attnum) IS NULL
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
        UNION ALL
        SELECT 'constraint ' || con.conname || ' on ' || con.conrelid::regclass FROM pg_constraint con
          JOIN ours n ON n.oid = con.connamespace JOIN pg_class c ON c.oid = con.conrelid
         WHERE NOT c.relispartition AND obj_description(con.oid, 'pg_constraint') IS NULL
           AND con.conparentid = 0 AND con.contype <> 'n'
        UNION ALL
        SELECT 'index ' || c.oid::regclass FROM pg_class c JOIN ours n ON n.oid = c.relnamespace
          JOIN pg_index i ON i.indexrelid = c.oid JOIN pg_class t ON t.oid = i.indrelid
         WHERE c.relkind IN ('i', 'I') AND NOT t.relispartition AND obj_description(c.oid, 'pg_class') IS NULL
           AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = c.oid)
        UNION ALL
        SELECT 'function ' || p.oid::regprocedure FROM pg_proc p JOIN ours n ON n.oid = p.pronamespace
         WHERE obj_description(p.oid, 'pg_proc') IS NULL
           AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
        UNION ALL
        SELECT 'trigger ' || tg.tgname || ' on ' || tg.tgrelid::regclass FROM pg_trigger tg
          JOIN pg_class c ON c.oid = tg.tgrelid JOIN ours n ON n.oid = c.relnamespace
         WHERE NOT tg.tgisinternal AND tg.tgparentid = 0 AND obj_description(tg.oid, 'pg_trigger') IS NULL
         ORDER BY 1
        """
    )
    assert [r["what"] for r in missing] == [], "\n".join(r["what"] for r in missing)


async def test_a_migration_behind_a_long_transaction_gives_up_after_its_lock_timeout(
    fresh_url: str, tmp_path: Path
) -> None:
    """The migrating session has lock_timeout (DATALAYER_MIGRATE_LOCK_TIMEOUT): behind an open transaction that
    read the table, the ALTER fails in about that time, applies nothing, and a later run applies it."""
    import time

    from datalayer import Settings

    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), directory)
    async with Migrator(fresh_url, directory) as m:
        await m.apply()
    (directory / "0999.later.sql").write_text("ALTER TABLE discord_bot.guilds ADD COLUMN later int;")
    (directory / "0999.later.rollback.sql").write_text("ALTER TABLE discord_bot.guilds DROP COLUMN later;")
    reader = await asyncpg.connect(fresh_url)
    try:
        await reader.execute("BEGIN; SELECT count(*) FROM discord_bot.guilds")  # holds ACCESS SHARE until COMMIT
        started = time.perf_counter()
        async with Migrator(fresh_url, directory, settings=Settings(migrate_lock_timeout=0.5)) as m:
            with pytest.raises(MigrationError, match="lock timeout"):
                await m.apply()
        assert time.perf_counter() - started < 10  # not the 60 s a statement may otherwise wait
        await reader.execute("COMMIT")
        assert (
            await reader.fetchval(
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'guilds' AND column_name = 'later'"
            )
            == 0
        )
        async with Migrator(fresh_url, directory) as m:
            assert await m.apply() == ["0999.later"]
    finally:
        await reader.close()


def test_squawk_policy_passes_ours_and_fails_an_unsafe_migration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`make lint` runs squawk: today's migrations pass its policy, a blocking index on a live table does not."""
    from tools import squawk_migrations as lint

    if not lint.SQUAWK.exists():
        pytest.skip("squawk is not installed: `make lint` installs it (npm)")
    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), directory)
    assert lint.main(directory) == 0
    (directory / "0999.unsafe.sql").write_text("CREATE INDEX tweets_text_idx ON twitter_bot.tweets (text);\n"
                                               "ALTER TABLE twitter_bot.tweets ADD CONSTRAINT t CHECK (id > 0);\n")  # fmt: skip
    capsys.readouterr()
    assert lint.main(directory) == 1
    out = capsys.readouterr().out
    assert "0999.unsafe.sql:1: require-concurrent-index-creation" in out
    assert "constraint-missing-not-valid" in out


async def test_a_pending_migration_that_breaks_a_named_query_is_refused_with_the_report(
    fresh_url: str, tmp_path: Path
) -> None:
    directory = tmp_path / "migrations"
    shutil.copytree(migrations_dir(), directory)
    async with Migrator(fresh_url, directory) as m:
        await m.apply()
    # Drops a column the tweet queries read, and a harmless table; non-transactional, with CONCURRENTLY.
    (directory / "0998.breaks-queries.sql").write_text(
        "-- transactional: false\n"
        "CREATE TABLE twitter_bot.harmless (id int);\n"
        "CREATE INDEX CONCURRENTLY harmless_id_idx ON twitter_bot.harmless (id);\n"
        "ALTER TABLE twitter_bot.tweets DROP COLUMN author_username;\n"
    )
    (directory / "0998.breaks-queries.rollback.sql").write_text("DROP TABLE twitter_bot.harmless;")
    async with Migrator(fresh_url, directory) as m:
        checked = await m.check_pending()
        assert checked.migrations == ["0998.breaks-queries"] and not checked.ok
        assert any("twitter_bot." in p and "author_username" in p for p in checked.report.problems), (
            checked.report.problems
        )
        with pytest.raises(MigrationError, match=r"not applied: with 0998.breaks-queries applied, \d+ named quer"):
            await m.apply(check_queries=True)
        assert [s.id for s in await m.status() if not s.applied] == ["0998.breaks-queries"]
    conn = await asyncpg.connect(fresh_url)
    try:  # the check ran it in a transaction and rolled back: nothing of it is left
        assert await conn.fetchval("SELECT to_regclass('twitter_bot.harmless')") is None
        assert await conn.fetchval(
            "SELECT count(*) FROM pg_attribute WHERE attrelid = 'twitter_bot.tweets'::regclass "
            "AND attname = 'author_username' AND NOT attisdropped"
        ) == 1  # fmt: skip
    finally:
        await conn.close()
    # A migration that keeps every query valid passes the check and then applies (CONCURRENTLY kept).
    (directory / "0998.breaks-queries.sql").write_text(
        "-- transactional: false\n"
        "CREATE TABLE twitter_bot.harmless (id int);\n"
        "CREATE INDEX CONCURRENTLY harmless_id_idx ON twitter_bot.harmless (id);\n"
    )
    async with Migrator(fresh_url, directory) as m:
        assert (await m.check_pending()).ok
        assert await m.apply(check_queries=True) == ["0998.breaks-queries"]
        assert (await m.check_pending()).migrations == []


async def test_migrate_check_only_cli_reports_and_changes_nothing(fresh_url: str) -> None:
    from click.testing import CliRunner

    from datalayer.cli import main

    async with Migrator(fresh_url) as m:
        await m.apply()
        newest = (await m.status())[-1].id
        await m.rollback()
    run = await asyncio.to_thread(CliRunner().invoke, main, ["--database-url", fresh_url, "migrate", "--check-only"])
    assert run.exit_code == 0, run.output
    assert f"with {newest} applied, all" in run.output and "nothing was applied" in run.output
    run = await asyncio.to_thread(
        CliRunner().invoke, main, ["--database-url", fresh_url, "migrate", "--check-only", "--json"]
    )
    assert run.exit_code == 0 and '"ok": true' in run.output
    async with Migrator(fresh_url) as m:
        assert [s.id for s in await m.status() if not s.applied] == [newest]
    run = await asyncio.to_thread(CliRunner().invoke, main, ["--database-url", fresh_url, "migrate", "--check-only",
                                                              "--rollback"])  # fmt: skip
    assert run.exit_code == 2 and "--check-only goes with none of" in run.output

"""Backups, verification, restore and point-in-time recovery, for real: pg_dump / pg_restore of the server under
test (embedded PostgreSQL 18, or DATABASE_URL's server, e.g. 15) on a database with sample data in every bot
schema; PITR on an embedded cluster this module starts itself in a temporary folder."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner, Result

from datalayer import Database, InvalidData, MigrationError, Settings, Unavailable
from datalayer.backup import logical, pitr, tools
from datalayer.backup.fingerprint import FingerprintRepository, TableEntry, take
from datalayer.chat_bot.seed import seed as seed_chat
from datalayer.cli import main
from datalayer.discord_bot.seed import seed as seed_discord
from datalayer.embedded import EmbeddedCluster
from datalayer.error_api.api_keys import KeyDigester
from datalayer.error_api.seed import seed as seed_error_api
from datalayer.migrate import Migrator
from datalayer.ops.catalog import CatalogRepository
from datalayer.reddit_bot.seed import seed as seed_reddit
from datalayer.twitter_bot import (
    ApiUsageRepository,
    LogApiCallParams,
    TranslationRepository,
    TweetRepository,
    UpsertTweetParams,
)
from tests.conftest import create_database, drop_database

TOOL_TIMEOUT = 120.0  # every pg_dump / pg_restore / pg_basebackup of these tests is bounded
SETTINGS = Settings.model_validate({"pool_max_size": 4})


async def _seed(url: str) -> None:
    async with Database.connect(SETTINGS, url) as db:
        await seed_chat(db, users=4)
        await seed_discord(db, guilds=1, members=8, events=4)
        await seed_error_api(db, KeyDigester("backup-test-" + "k" * 40), users=3, requests_per_user=15)
        await seed_reddit(db, posts=6)
        tweets, translations, usage = TweetRepository(db), TranslationRepository(db), ApiUsageRepository(db)
        for n in range(5):
            tweet = await tweets.upsert(UpsertTweetParams(
                id=1_900_000_000_000_000_000 + n, author_id=7, author_username="watched", text=f"Tweet número {n} ✓",
                created_at=datetime(2026, 11, 1, 8, n, tzinfo=UTC), language="es", metadata={"n": n, "x": [1.5, None]},
            ))  # fmt: skip
            await translations.ensure(tweet.id, "en")
            await usage.log(LogApiCallParams(service="deepl", endpoint="translate", success=n % 2 == 0,
                                             response_time_ms=12.5 * n))  # fmt: skip


async def _drop_like(server_url: str, prefix: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        for row in await admin.fetch("SELECT datname FROM pg_database WHERE starts_with(datname, $1)", prefix):
            await admin.execute(f'DROP DATABASE IF EXISTS "{row["datname"]}" WITH (FORCE)')
    finally:
        await admin.close()


@pytest.fixture(scope="module")
async def seeded(server_url: str) -> AsyncIterator[str]:
    """A committed database with sample data in every bot schema, migrated; dropped at the end, with every copy
    a restore kept of it."""
    url = await create_database(server_url, "datalayer_backup")
    try:
        async with Migrator(url) as m:
            await m.apply()
        await _seed(url)
        yield url
    finally:
        await drop_database(server_url, url)
        await _drop_like(server_url, logical.database_of(url) + "_pre_restore_")


async def cli(args: list[str], **kwargs: object) -> Result:
    """Run the CLI from an async test: in a thread, as the CLI runs its own event loop."""
    return await asyncio.to_thread(CliRunner().invoke, main, args, **kwargs)  # type: ignore[arg-type]


def read_text(path: str) -> str:
    return Path(path).read_text()


def files_in(folder: Path) -> list[Path]:
    return sorted(folder.iterdir())


async def fingerprints(url: str, schemas: list[str]) -> dict[str, TableEntry]:
    async with Database.connect(logical.quiet_settings(SETTINGS), url) as db:
        return await take(FingerprintRepository(db), schemas)


async def scratch_databases(server_url: str) -> list[str]:
    admin = await asyncpg.connect(server_url)
    try:
        rows = await admin.fetch(
            "SELECT datname FROM pg_database WHERE datname LIKE 'datalayer\\_verify\\_%' OR datname LIKE 'datalayer\\_restore\\_%'"
        )
        return [r["datname"] for r in rows]
    finally:
        await admin.close()


async def test_round_trip_loses_nothing(seeded: str, server_url: str, tmp_path: Path) -> None:
    """backup → verify → delete and change rows → restore: every table's rows and checksum equal the manifest
    again; the manifest covers every table of every schema of ours; partitioned parents are analysed."""
    result = await logical.backup(SETTINGS, seeded, tmp_path, tool_timeout=TOOL_TIMEOUT)
    manifest = result.manifest
    assert logical.read_manifest(result.file) == manifest
    async with Database.connect(logical.quiet_settings(SETTINGS), seeded) as db:
        ours = await CatalogRepository(db).our_schemas()
    assert {"ops", "twitter_bot", "chat_bot", "error_api", "reddit_bot", "discord_bot"} <= set(ours)
    assert set(ours) < set(manifest.schemas)
    for schema in ("twitter_bot", "chat_bot", "error_api", "reddit_bot", "discord_bot"):  # each has rows in it
        assert sum(t.rows for n, t in manifest.tables.items() if n.startswith(f"{schema}.")) > 0, schema
    conn = await asyncpg.connect(seeded)
    try:
        exact = await conn.fetchval("SELECT count(*) FROM twitter_bot.tweets")
        assert manifest.tables["twitter_bot.tweets"].rows == exact == 5
        assert manifest.tables["public._yoyo_migration"].rows > 10  # the migration history travels too
        assert any(t.partition_of == "twitter_bot.api_usage" and t.rows for t in manifest.tables.values())
        assert manifest.size == result.file.stat().st_size and manifest.pg_dump_version.split(".")[0] == str(
            manifest.server_version_num // 10000
        )
        assert oct(result.file.stat().st_mode & 0o777) == "0o600"  # a backup holds personal data

        check = await logical.verify(SETTINGS, seeded, result.file, tool_timeout=TOOL_TIMEOUT)
        assert check.ok, check.reasons()
        assert check.restored == manifest.tables

        # Damage: deletes in several schemas (cascading), an update, an insert, a whole partition emptied.
        await conn.execute("DELETE FROM reddit_bot.posts WHERE id IN (SELECT id FROM reddit_bot.posts LIMIT 2)")
        await conn.execute("UPDATE discord_bot.events SET title = title || ' (changed)'")
        await conn.execute("DELETE FROM twitter_bot.api_usage")
        await conn.execute("DELETE FROM error_api.usage_logs")
        await conn.execute("INSERT INTO twitter_bot.system_state (key, value) VALUES ('after-backup', '1')")
        damaged = await fingerprints(seeded, manifest.schemas)
        assert damaged != manifest.tables
    finally:
        await conn.close()

    plans: list[logical.RestorePlan] = []
    restored = await logical.restore(SETTINGS, seeded, result.file, confirm=plans.append, tool_timeout=TOOL_TIMEOUT)
    assert [p.database for p in plans] == [logical.database_of(seeded)] and plans[0].replaces
    assert restored.previous is not None and restored.previous.startswith(logical.database_of(seeded))
    assert await fingerprints(seeded, manifest.schemas) == manifest.tables

    conn = await asyncpg.connect(seeded)
    try:
        never = await conn.fetch(
            """SELECT c.oid::regclass::text AS name FROM pg_class c
                 JOIN pg_namespace n ON n.oid = c.relnamespace
                 LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
                WHERE c.relkind = 'p' AND n.nspname = ANY($1::text[]) AND s.last_analyze IS NULL""",
            ours,
        )
        assert never == []  # partitioned parents too: autovacuum never analyses them
        parents = await conn.fetchval("SELECT count(*) FROM pg_class WHERE relkind = 'p'")
        assert parents > 0
    finally:
        await conn.close()
    admin = await asyncpg.connect(server_url)
    try:  # the database as it was is kept, closed to connections, with the damage in it
        kept = await admin.fetchrow("SELECT datallowconn FROM pg_database WHERE datname = $1", restored.previous)
        assert kept is not None and kept["datallowconn"] is False
    finally:
        await admin.close()
    assert await scratch_databases(server_url) == []
    print(
        f"seeded round trip: {len(manifest.tables)} tables, {manifest.rows} rows, {manifest.size} bytes; backup "
        f"{result.seconds:.2f} s, verify {check.seconds:.2f} s, restore {restored.seconds:.2f} s"
    )


async def test_a_tampered_or_truncated_file_fails_verification_and_is_refused(
    seeded: str, server_url: str, tmp_path: Path
) -> None:
    result = await logical.backup(SETTINGS, seeded, tmp_path, tool_timeout=TOOL_TIMEOUT)
    before = await fingerprints(seeded, result.manifest.schemas)
    data = bytearray(result.file.read_bytes())
    data[len(data) // 2] ^= 0xFF
    result.file.write_bytes(bytes(data))
    check = await logical.verify(SETTINGS, seeded, result.file)
    assert not check.ok and "sha256" in check.problems[0] and "was changed" in check.problems[0]
    with pytest.raises(InvalidData, match=r"refusing to restore .* fails verification"):
        await logical.restore(SETTINGS, seeded, result.file, confirm=lambda plan: None)

    result.file.write_bytes(bytes(data[: len(data) // 3]))
    check = await logical.verify(SETTINGS, seeded, result.file)
    assert not check.ok and "truncated" in check.problems[0]

    out = await cli(["--database-url", seeded, "backup", "verify", result.file.name, "--dir", str(tmp_path)])
    assert out.exit_code == 1 and "fails verification" in out.output and "truncated" in out.output
    assert "Traceback" not in out.output
    assert await fingerprints(seeded, result.manifest.schemas) == before  # nothing was touched
    assert await scratch_databases(server_url) == []


async def test_a_corrupt_dump_with_a_matching_manifest_is_a_clean_failure(
    seeded: str, server_url: str, tmp_path: Path
) -> None:
    """Someone "fixed" the manifest of a cut file: sha256 and size agree, pg_restore cannot read it."""
    result = await logical.backup(SETTINGS, seeded, tmp_path, tool_timeout=TOOL_TIMEOUT)
    cut = result.file.read_bytes()[: result.manifest.size // 2]
    result.file.write_bytes(cut)
    forged = result.manifest.model_copy(update={"size": len(cut), "sha256": logical.sha256_of(result.file)})
    logical.manifest_path(result.file).write_text(forged.model_dump_json())
    check = await logical.verify(SETTINGS, seeded, result.file, tool_timeout=TOOL_TIMEOUT)
    assert not check.ok and check.problems[0].startswith(f"pg_restore could not restore {result.file.name}")
    assert await scratch_databases(server_url) == []  # dropped after the failure too


async def test_verify_reports_each_table_that_differs(seeded: str, server_url: str, tmp_path: Path) -> None:
    result = await logical.backup(SETTINGS, seeded, tmp_path, tool_timeout=TOOL_TIMEOUT)
    tables = dict(result.manifest.tables)
    tables["twitter_bot.tweets"] = tables["twitter_bot.tweets"].model_copy(update={"rows": 6})
    tables["discord_bot.events"] = tables["discord_bot.events"].model_copy(update={"checksum": "42"})
    tables["chat_bot.not_there"] = TableEntry(rows=1, checksum="1")
    del tables["reddit_bot.posts"]
    logical.manifest_path(result.file).write_text(
        result.manifest.model_copy(update={"tables": tables}).model_dump_json()
    )
    check = await logical.verify(SETTINGS, seeded, result.file, tool_timeout=TOOL_TIMEOUT)
    assert not check.ok
    assert {(m.table, m.problem) for m in check.mismatches} == {
        ("twitter_bot.tweets", "rows"), ("discord_bot.events", "checksum"),
        ("chat_bot.not_there", "missing"), ("reddit_bot.posts", "unexpected"),
    }  # fmt: skip
    assert "twitter_bot.tweets: 6 rows in the manifest, 5 restored" in check.reasons()
    out = await cli(["--database-url", seeded, "backup", "verify", str(result.file), "--json", "--timeout", "120"])
    assert out.exit_code == 1
    report = json.loads(out.output)
    assert report["ok"] is False and len(report["mismatches"]) == 4
    assert await scratch_databases(server_url) == []


async def test_writes_during_a_backup_do_not_break_its_verification(seeded: str, tmp_path: Path) -> None:
    """A writer commits rows all through the backup; the manifest and the dump come from one snapshot, so the
    backup verifies: the rows written after the snapshot are in neither."""
    stop = asyncio.Event()
    snapshot_taken = False
    during = 0

    def progress(stage: str, completed: float, total: float | None, detail: str = "") -> None:
        nonlocal snapshot_taken
        snapshot_taken = snapshot_taken or stage == "fingerprints"

    async def writer() -> int:
        nonlocal during
        conn = await asyncpg.connect(seeded)
        n = 0
        try:
            while not stop.is_set():
                n += 1
                await conn.execute(
                    "INSERT INTO twitter_bot.system_state (key, value) VALUES ($1, '0')", f"concurrent-{n}"
                )
                await conn.execute(
                    "UPDATE twitter_bot.system_state SET value = to_jsonb($1::int) WHERE key = 'concurrent-1'", n
                )
                during += snapshot_taken
                await asyncio.sleep(0)
        finally:
            await conn.close()
        return n

    task = asyncio.create_task(writer())
    await asyncio.sleep(0.1)
    try:
        result = await logical.backup(SETTINGS, seeded, tmp_path, progress=progress, tool_timeout=TOOL_TIMEOUT)
        at_end = during
        await asyncio.sleep(0.1)
    finally:
        stop.set()
        written = await task
    assert at_end > 0, "no write landed while the backup ran"
    state = result.manifest.tables["twitter_bot.system_state"].rows
    conn = await asyncpg.connect(seeded)
    try:
        now = await conn.fetchval("SELECT count(*) FROM twitter_bot.system_state")
        assert state < now and written > 0
        await conn.execute("DELETE FROM twitter_bot.system_state WHERE key LIKE 'concurrent-%'")
    finally:
        await conn.close()
    check = await logical.verify(SETTINGS, seeded, result.file, tool_timeout=TOOL_TIMEOUT)
    assert check.ok, check.reasons()


def test_cli_backup_list_keep_and_restore(seeded: str, server_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    base = ["--database-url", seeded]
    other = tmp_path / "other-20200101T000000Z.dump"  # another database's file, and one without a manifest
    other.write_bytes(b"not ours")
    outputs = []
    for _ in range(3):
        out = runner.invoke(main, [*base, "backup", "--dir", str(tmp_path), "--keep", "2", "--json"])
        assert out.exit_code == 0, out.output
        outputs.append(json.loads(out.output))  # nothing but JSON on stdout: no progress display
    assert outputs[2]["deleted"] == [Path(outputs[0]["file"]).name]
    listed = runner.invoke(main, [*base, "backup", "list", "--dir", str(tmp_path), "--json"])
    assert listed.exit_code == 0, listed.output
    files = json.loads(listed.output)["backups"]
    assert [f["file"] for f in files] == [Path(o["file"]).name for o in outputs[:0:-1]] + [other.name]
    assert files[0]["manifest"] is True and files[0]["rows"] == outputs[2]["rows"] and files[-1]["manifest"] is False
    human = runner.invoke(main, [*base, "backup", "list", "--dir", str(tmp_path)])
    assert Path(outputs[2]["file"]).name in human.output and "missing" in human.output

    newest = Path(outputs[2]["file"])
    refused = runner.invoke(main, [*base, "restore", newest.name, "--dir", str(tmp_path)], input="n\n")
    assert refused.exit_code == 1 and "Replace database" in refused.output and "Aborted" in refused.output
    assert logical.database_of(seeded) in refused.output
    assert asyncio.run(scratch_databases(server_url)) == []
    done = runner.invoke(main, [*base, "restore", str(newest), "--yes", "--json", "--timeout", "120"])
    assert done.exit_code == 0, done.output
    report = json.loads(done.output)
    assert report["ok"] and report["rows"] == outputs[2]["rows"] and report["analyzed"] is True
    assert report["previous_database"].startswith(logical.database_of(seeded) + "_pre_restore_")

    # A backup of a database of the same name on another server is never pruned by --keep here.
    foreign = tmp_path / f"{logical.database_of(seeded)}-20000101T000000Z.dump"
    foreign.write_bytes(newest.read_bytes())
    meta = json.loads(logical.manifest_path(newest).read_text())
    logical.manifest_path(foreign).write_text(json.dumps({**meta, "server": "elsewhere.example:5432"}))
    again = runner.invoke(main, [*base, "backup", "--dir", str(tmp_path), "--keep", "1", "--json"])
    assert again.exit_code == 0, again.output
    assert foreign.exists() and foreign.name not in json.loads(again.output)["deleted"]


def test_cli_usage_errors() -> None:
    runner = CliRunner()
    for args, complaint in [
        (["restore"], "either FILE"),
        (["restore", "x.dump", "--to-time", "2026-01-01"], "either FILE"),
        (["restore", "--to-time", "2026-01-01"], "--target-dir"),
        (["restore", "x.dump", "--port", "5"], "go with --to-time"),
        (["restore", "--to-time", "yesterday", "--target-dir", "d"], "ISO 8601"),
        (["backup", "--keep", "2", "list"], "after the subcommand"),
    ]:
        out = runner.invoke(main, args)
        assert out.exit_code == 2 and complaint in out.output, (args, out.output)


def test_base_backup_and_pitr_refuse_another_server() -> None:
    url = "postgresql://bot:s3cret@db.example:5432/bots"
    for args in (["backup", "base"], ["restore", "--to-time", "2026-01-01T00:00:00Z", "--target-dir", "/nowhere"]):
        out = CliRunner().invoke(main, ["--database-url", url, *args])
        assert out.exit_code == 1 and "embedded cluster only" in out.output and "pg_basebackup" in out.output
        assert "s3cret" not in out.output and "bot:***@db.example" in out.output


async def test_no_client_of_the_servers_version_is_a_clear_error(
    seeded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tools, "search_places", lambda: [tmp_path / "empty"])
    with pytest.raises(Unavailable, match=r"no pg_dump of PostgreSQL \d+ found, the major version of the server at"):
        await logical.backup(SETTINGS, seeded, tmp_path / "b")
    assert not (tmp_path / "b").exists()  # nothing made
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "pg_dump").write_text("#!/bin/sh\necho 'pg_dump (PostgreSQL) 9.6.24'\n")
    (fake / "pg_dump").chmod(0o755)
    monkeypatch.setattr(tools, "search_places", lambda: [fake])
    with pytest.raises(Unavailable, match=r"found only 9\.6\.24 in .*/bin\. Install the PostgreSQL"):
        tools.find_tool("pg_dump", 18)


async def test_a_database_without_the_fingerprint_function_says_to_migrate(server_url: str, tmp_path: Path) -> None:
    url = await create_database(server_url, "datalayer_backup_bare")
    try:
        with pytest.raises(MigrationError, match="run `datalayer migrate` first"):
            await logical.backup(SETTINGS, url, tmp_path)
        assert files_in(tmp_path) == []  # the partial file is gone
    finally:
        await drop_database(server_url, url)


def test_passwords_go_to_a_private_password_file_never_to_the_command_line() -> None:
    url = "postgresql://bot:p%3Ass%5Cw0rd@127.0.0.1:5432/bots?sslmode=disable"
    with tools.libpq_target(url, application_name="t", connect_timeout=5) as (bare, env):
        assert "p%3Ass" not in bare and bare == "postgresql://bot@127.0.0.1:5432/bots?sslmode=disable"
        passfile = Path(env["PGPASSFILE"])
        assert passfile.read_text() == "*:*:*:*:p\\:ss\\\\w0rd\n"
        assert oct(passfile.stat().st_mode & 0o777) == "0o600" and "PGPASSWORD" not in env
    assert not passfile.exists()


async def test_pg_dump_and_pg_restore_never_see_the_password_on_their_command_line(
    seeded: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[tuple[list[str], str]] = []
    real = logical.run_tool

    async def spy(tool: tools.Tool, args: list[str], env: dict[str, str], **kwargs: object) -> tools.ToolRun:
        runs.append((list(args), read_text(env["PGPASSFILE"])))
        return await real(tool, args, env, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(logical, "run_tool", spy)
    with_password = seeded.replace("postgresql://postgres@", "postgresql://postgres:Sup3r%20secret@")
    result = await logical.backup(SETTINGS, with_password, tmp_path, tool_timeout=TOOL_TIMEOUT)
    check = await logical.verify(SETTINGS, with_password, result.file, tool_timeout=TOOL_TIMEOUT)
    assert check.ok, check.reasons()
    assert len(runs) == 2  # pg_dump, then pg_restore
    for args, passfile in runs:
        assert not any("Sup3r" in a for a in args) and passfile == "*:*:*:*:Sup3r secret\n"


async def test_a_hung_client_program_is_stopped_by_its_timeout(tmp_path: Path) -> None:
    script = tmp_path / "pg_sleep"
    script.write_text("#!/bin/sh\necho 'pg_sleep: starting' >&2\nexec sleep 31.7\n")
    script.chmod(0o755)
    tool = tools.Tool("pg_sleep", script, "18.0")
    started = asyncio.get_running_loop().time()
    with pytest.raises(Unavailable, match=r"did not finish within 0\.5 s"):
        await tools.run_tool(tool, [], dict(os.environ), tool_timeout=0.5)
    assert asyncio.get_running_loop().time() - started < 5
    pgrep = await asyncio.to_thread(subprocess.run, ["pgrep", "-f", "sleep 31.7"], capture_output=True)
    assert pgrep.returncode == 1  # killed


# -- point-in-time recovery, on an embedded cluster of this module's own -----------------------------------------
@pytest.fixture(scope="module")
def pitr_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """PITR works on the embedded cluster (it archives its WAL); this one is the test's, whatever the server
    under test is, so the test runs in both sessions."""
    home = tmp_path_factory.mktemp("pitr") / "home"
    cluster = EmbeddedCluster(home)
    cluster.up()
    try:
        yield cluster
    finally:
        cluster.down()


async def test_point_in_time_recovery(pitr_cluster: EmbeddedCluster, tmp_path: Path) -> None:
    """Rows committed before TS are there after recovery to TS, rows committed (or changed) after it are not;
    the running cluster is untouched; a TS before the oldest base backup or in the future is a clear error."""
    cluster = pitr_cluster
    backups = tmp_path / "backups"
    admin = await asyncpg.connect(cluster.url())
    recovered: list[EmbeddedCluster] = []
    try:
        await admin.execute("CREATE TABLE pitr_rows (id int PRIMARY KEY, phase text NOT NULL)")
        first = await pitr.base_backup(SETTINGS, cluster, backups / "base", tool_timeout=TOOL_TIMEOUT)
        assert first.backup.verified and (first.folder / "base.tar.gz").is_file()
        await admin.execute("INSERT INTO pitr_rows SELECT g, 'before' FROM generate_series(1, 200) AS g")
        await asyncio.sleep(0.05)
        ts = await admin.fetchval("SELECT now()")
        await asyncio.sleep(0.05)
        await admin.execute("INSERT INTO pitr_rows SELECT g, 'after' FROM generate_series(201, 300) AS g")
        await admin.execute("UPDATE pitr_rows SET phase = 'changed after' WHERE id <= 10")
        await admin.execute("SELECT pg_switch_wal()")

        with pytest.raises(InvalidData, match="before the oldest base backup"):
            await pitr.recover(SETTINGS, cluster, backups / "base", first.backup.started_at - timedelta(seconds=1),
                               tmp_path / "never")  # fmt: skip
        with pytest.raises(InvalidData, match="is in the future"):
            await pitr.recover(SETTINGS, cluster, backups / "base", datetime.now(UTC) + timedelta(hours=1),
                               tmp_path / "never")  # fmt: skip
        assert not (tmp_path / "never").exists()
        stranger = tmp_path / "stranger" / first.folder.name  # another cluster's base backup (its identifier)
        stranger.mkdir(parents=True)
        meta = first.backup.model_copy(update={"system_identifier": first.backup.system_identifier + 1})
        (stranger / pitr.META).write_text(meta.model_dump_json())
        with pytest.raises(InvalidData, match="are of another cluster"):
            await pitr.recover(SETTINGS, cluster, stranger.parent, ts, tmp_path / "never")

        target = tmp_path / "recovered"
        recovered.append(EmbeddedCluster(target))
        out = await cli(
            ["restore", "--to-time", ts.isoformat(), "--target-dir", str(target), "--dir", str(backups), "--json"],
            env={"DATABASE_URL": "", "DATALAYER_HOME": str(cluster.home)},
        )
        assert out.exit_code == 0, out.output
        report = json.loads(out.output)
        assert report["base_backup"] == first.folder.name and report["url"] != cluster.url()
        assert report["source"] == str(cluster.home.resolve()) and report["home"] == str(target.resolve())
        copy = await asyncpg.connect(report["url"])
        try:
            phases = dict(await copy.fetch("SELECT phase, count(*) FROM pitr_rows GROUP BY phase"))
            assert phases == {"before": 200}
            assert await copy.fetchval("SELECT pg_is_in_recovery()") is False  # promoted: it takes writes
            await copy.execute("INSERT INTO pitr_rows VALUES (1000, 'in the copy')")
        finally:
            await copy.close()
        assert dict(await admin.fetch("SELECT phase, count(*) FROM pitr_rows GROUP BY phase")) == {
            "before": 190, "after": 100, "changed after": 10,
        }  # fmt: skip
        assert (target / "wal-archive").is_dir() and cluster.wal_archive != target / "wal-archive"

        with pytest.raises(InvalidData, match="is not empty"):
            await pitr.recover(SETTINGS, cluster, backups / "base", ts, target)

        second = await pitr.base_backup(SETTINGS, cluster, backups / "base", keep=1, tool_timeout=TOOL_TIMEOUT)
        assert second.deleted == [first.folder.name] and second.wal_removed > 0
        with pytest.raises(InvalidData, match="before the oldest base backup"):
            await pitr.recover(SETTINGS, cluster, backups / "base", ts, tmp_path / "again")
        listed = await cli(
            ["backup", "list", "--dir", str(backups), "--json"],
            env={"DATABASE_URL": "", "DATALAYER_HOME": str(cluster.home)},
        )
        assert [b["label"] for b in json.loads(listed.output)["base_backups"]] == [second.folder.name]
        print(f"base backup {first.seconds:.2f} s, recovery {report['seconds']:.2f} s")
    finally:
        await admin.close()
        for c in recovered:
            c.down()


def test_an_existing_cluster_gets_wal_archiving_at_its_next_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cluster made before archiving existed gets the settings when `db up` next runs (reloaded, and a note
    that archive_mode needs a restart); one whose file says `archive_mode = off` keeps it."""
    cluster = EmbeddedCluster(tmp_path / "home")
    cluster.pgdata.mkdir(parents=True)
    (cluster.pgdata / "PG_VERSION").write_text("18\n")
    cluster.conf.write_text("port = 5999\nlog_error_verbosity = terse\n")
    calls: list[tuple[str, ...]] = []
    monkeypatch.setattr(EmbeddedCluster, "is_running", lambda self: True)
    monkeypatch.setattr(EmbeddedCluster, "_pg_ctl", lambda self, *args: calls.append(args))
    assert cluster.up() == "postgresql://postgres@127.0.0.1:5999/postgres"
    text = cluster.conf.read_text()
    assert "archive_mode = on" in text and f"{cluster.wal_archive}/%f.gz" in text and "test ! -f" in text
    assert calls == [("reload",)] and "takes effect only when the server restarts" in capsys.readouterr().err
    assert cluster.wal_archive.is_dir()
    cluster.up()
    assert calls == [("reload",)] and cluster.conf.read_text() == text  # once
    cluster.conf.write_text("port = 5999\nlog_error_verbosity = terse\narchive_mode = off\n")
    cluster.up()
    assert "archive_command" not in cluster.conf.read_text()

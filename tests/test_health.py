"""`datalayer health`: each check provoked for real on a database of its own, and its verdict seen to change.

Every test leaves the database as it found it (what it creates it drops), so the baseline stays clean."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import asyncpg
import pytest
from click.testing import CliRunner

from datalayer import Database, Settings
from datalayer.cli import main
from datalayer.embedded import EmbeddedCluster
from datalayer.errors import InvalidData
from datalayer.health import report, thresholds_with
from datalayer.migrate import Migrator
from tests.conftest import create_database, drop_database, migrated_database


@pytest.fixture(scope="module")
async def url(server_url: str) -> AsyncIterator[str]:
    async with migrated_database(server_url, "datalayer_health") as u:
        yield u


async def checks(url: str, **overrides: object) -> dict[str, dict[str, Any]]:
    t = thresholds_with({k: str(v) for k, v in overrides.items()})
    async with Database.connect(Settings(), url, check_schema=False) as db:
        r = await report(db, thresholds=t)
    return {c["name"]: c for c in r["checks"]}


async def flush_stats(conn: asyncpg.Connection) -> None:
    """Make this session's table statistics visible now (PostgreSQL 15+ flushes them at most once a second)."""
    await conn.execute("SELECT pg_stat_force_next_flush()")


TABLE_LEVEL = [
    "duplicate_indexes", "invalid_indexes", "unindexed_foreign_keys", "not_valid_constraints", "disabled_triggers",
    "sequences", "partitions_ahead", "default_partition_rows", "pending_migrations", "migration_drift",
    "blocked_queries", "prepared_transactions", "long_running_queries", "idle_in_transaction", "connectivity",
]  # fmt: skip


async def test_a_fresh_database_passes_every_table_level_check(url: str) -> None:
    got = await checks(url)
    assert {name: got[name]["verdict"] for name in TABLE_LEVEL} == dict.fromkeys(TABLE_LEVEL, "ok")
    every = {"table_cache_hit_ratio", "index_cache_hit_ratio", "sequential_scans", "unused_indexes", "table_bloat",
             "index_bloat", "dead_rows", "vacuum_analyze_age", "transaction_id_wraparound", "multixact_wraparound",
             "checkpoints", "wal_archiving", "replication_lag", "replication_slots", "database_size",
             "slow_statements", "connections", "pool"}  # fmt: skip
    assert every <= set(got)
    for c in got.values():
        assert c["value"] and c["threshold"] and c["advice"] and c["verdict"] in ("ok", "warning", "critical")


async def test_blocked_query_its_blocker_and_the_idle_transaction(url: str) -> None:
    holder = await asyncpg.connect(url)
    waiter = await asyncpg.connect(url)
    try:
        holder_pid = await holder.fetchval("SELECT pg_backend_pid()")
        await holder.execute("BEGIN; LOCK TABLE discord_bot.guilds IN ACCESS EXCLUSIVE MODE")
        blocked = asyncio.create_task(
            waiter.fetchval("/* discord_bot.count_guilds */ SELECT count(*) FROM discord_bot.guilds")
        )
        for _ in range(100):
            got = await checks(url, blocked_s=0, idle_transaction_s=0)
            if got["blocked_queries"]["details"]:
                break
            await asyncio.sleep(0.05)
        b = got["blocked_queries"]
        assert b["verdict"] == "warning", b
        (entry,) = b["details"]
        assert entry["blocked_by"] == [holder_pid] and entry["query"] == "discord_bot.count_guilds"
        assert str(holder_pid) in entry["blockers"]
        idle = got["idle_in_transaction"]
        assert idle["verdict"] == "warning" and holder_pid in [d["pid"] for d in idle["details"]]
        assert (await checks(url, blocked_s=3600))["blocked_queries"]["verdict"] == "ok"  # below the threshold
        assert (await checks(url, blocked_s=0, blocked_critical_s=0))["blocked_queries"]["verdict"] == "critical"
        await holder.execute("ROLLBACK")
        assert await asyncio.wait_for(blocked, 10) == 0
        after = await checks(url, blocked_s=0, idle_transaction_s=0)
        assert after["blocked_queries"]["verdict"] == after["idle_in_transaction"]["verdict"] == "ok"
    finally:
        await holder.close()
        await waiter.close()


async def test_long_running_query_hides_literals_of_foreign_text(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        pid = await conn.fetchval("SELECT pg_backend_pid()")
        sleeper = asyncio.create_task(conn.execute("SELECT pg_sleep(2), 'hunter2' AS secret"))
        await asyncio.sleep(0.6)
        long = (await checks(url, long_query_s=0.3))["long_running_queries"]
        assert long["verdict"] == "warning"
        (entry,) = [d for d in long["details"] if d["pid"] == pid]
        assert "hunter2" not in json.dumps(long) and "pg_sleep" in entry["query"]
        assert (await checks(url, long_query_s=0.3, long_query_critical_s=0.4))["long_running_queries"][
            "verdict"
        ] == "critical"
        await sleeper
        assert (await checks(url, long_query_s=0.3))["long_running_queries"]["verdict"] == "ok"
    finally:
        await conn.close()


async def test_schema_checks_duplicate_invalid_not_valid_trigger_fk_sequence(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("""
            CREATE INDEX health_dup_idx ON discord_bot.events (message_id);
            ALTER TABLE discord_bot.guilds ADD CONSTRAINT health_name_short CHECK (length(name) < 1000) NOT VALID;
            CREATE TABLE discord_bot.health_child (id int4 GENERATED BY DEFAULT AS IDENTITY,
                                                   guild_id bigint REFERENCES discord_bot.guilds);
            CREATE TABLE discord_bot.health_dups (v int);
            INSERT INTO discord_bot.health_dups VALUES (1), (1);
        """)  # fmt: skip
        trigger = await conn.fetchval(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = 'discord_bot.guilds'::regclass AND NOT tgisinternal LIMIT 1"
        )
        await conn.execute(f'ALTER TABLE discord_bot.guilds DISABLE TRIGGER "{trigger}"')
        with pytest.raises(asyncpg.UniqueViolationError):
            await conn.execute("CREATE UNIQUE INDEX CONCURRENTLY health_bad_idx ON discord_bot.health_dups (v)")
        await conn.execute("SELECT setval(pg_get_serial_sequence('discord_bot.health_child', 'id'), 2040109465)")

        got = await checks(url)
        dup = got["duplicate_indexes"]
        assert dup["verdict"] == "warning" and [d["index"] for d in dup["details"]] == ["discord_bot.health_dup_idx"]
        assert dup["details"][0]["covered_by"] == "events_message_id_unique"
        assert got["invalid_indexes"]["verdict"] == "critical"
        assert [d["index"] for d in got["invalid_indexes"]["details"]] == ["discord_bot.health_bad_idx"]
        assert got["not_valid_constraints"]["details"] == [
            {"table": "discord_bot.guilds", "constraint": "health_name_short", "kind": "check"}
        ]
        assert got["disabled_triggers"]["details"] == [{"table": "discord_bot.guilds", "trigger": trigger}]
        fk = got["unindexed_foreign_keys"]
        assert fk["verdict"] == "warning" and fk["details"][0]["table"] == "discord_bot.health_child"
        seq = got["sequences"]  # 95% of the int4 column's range, although the sequence itself is bigint
        assert seq["verdict"] == "warning" and seq["details"][0]["owned_by"] == "discord_bot.health_child.id"
        await conn.execute("SELECT setval(pg_get_serial_sequence('discord_bot.health_child', 'id'), 2147000000)")
        assert (await checks(url))["sequences"]["verdict"] == "critical"

        await conn.execute("CREATE INDEX health_child_guild_idx ON discord_bot.health_child (guild_id)")
        assert (await checks(url))["unindexed_foreign_keys"]["verdict"] == "ok"  # an index leading with the key
    finally:
        await conn.execute("""
            DROP INDEX IF EXISTS discord_bot.health_dup_idx;
            ALTER TABLE discord_bot.guilds DROP CONSTRAINT IF EXISTS health_name_short;
            ALTER TABLE discord_bot.guilds ENABLE TRIGGER ALL;
            DROP TABLE IF EXISTS discord_bot.health_child, discord_bot.health_dups;
        """)  # fmt: skip
        await conn.close()
    assert {k: v["verdict"] for k, v in (await checks(url)).items() if k in TABLE_LEVEL} == dict.fromkeys(
        TABLE_LEVEL, "ok"
    )


async def test_sequential_scans_dead_rows_and_analyze_age(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("""
            CREATE TABLE discord_bot.health_scanned (id int PRIMARY KEY, v int) WITH (autovacuum_enabled = false);
            INSERT INTO discord_bot.health_scanned SELECT g, g FROM generate_series(1, 3000) AS g;
            DELETE FROM discord_bot.health_scanned WHERE id > 1000;
        """)  # fmt: skip
        for _ in range(12):
            await conn.fetchval("SELECT count(*) FROM discord_bot.health_scanned WHERE v = 5")
        await flush_stats(conn)
        got = await checks(url, seq_scan_min_rows=500, seq_scan_min_scans=10, dead_rows_min=1000, stale_min_changes=100)
        scans = got["sequential_scans"]
        assert scans["verdict"] == "warning"
        assert [d["table"] for d in scans["details"]] == ["discord_bot.health_scanned"]
        dead = got["dead_rows"]
        assert dead["verdict"] == "warning" and dead["details"][0]["dead_rows"] == 2000
        age = got["vacuum_analyze_age"]
        assert age["verdict"] == "warning" and "discord_bot.health_scanned" in [d["table"] for d in age["details"]]
        await conn.execute("VACUUM ANALYZE discord_bot.health_scanned")
        await flush_stats(conn)
        after = await checks(url, dead_rows_min=1000, stale_min_changes=100)
        assert after["dead_rows"]["verdict"] == "ok"
        assert "discord_bot.health_scanned" not in [d["table"] for d in after["vacuum_analyze_age"]["details"]]
    finally:
        await conn.execute("DROP TABLE IF EXISTS discord_bot.health_scanned")
        await conn.close()


async def test_partitions_ahead_and_rows_in_a_default_partition(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("""
            CREATE TABLE discord_bot.health_parted (at timestamptz NOT NULL) PARTITION BY RANGE (at);
            CREATE TABLE discord_bot.health_parted_old PARTITION OF discord_bot.health_parted
                FOR VALUES FROM ('2000-01-01') TO ('2000-02-01');
        """)  # fmt: skip
        got = await checks(url)
        ahead = got["partitions_ahead"]
        assert ahead["verdict"] == "critical"  # no partition for now and no DEFAULT: inserts fail
        assert ahead["details"] == [{"table": "discord_bot.health_parted", "this_month": False, "next_month": False,
                                     "partitions": 1}]  # fmt: skip
        await conn.execute("""
            CREATE TABLE discord_bot.health_parted_default PARTITION OF discord_bot.health_parted DEFAULT;
            INSERT INTO discord_bot.health_parted VALUES (now()), (now());
        """)  # fmt: skip
        await flush_stats(conn)
        got = await checks(url)
        assert got["partitions_ahead"]["verdict"] == "warning"
        rows = got["default_partition_rows"]
        assert rows["verdict"] == "warning"
        assert rows["details"] == [
            {"table": "discord_bot.health_parted", "default": "health_parted_default", "rows": 2}
        ]
    finally:
        await conn.execute("DROP TABLE IF EXISTS discord_bot.health_parted")
        await conn.close()
    got = await checks(url)
    assert got["partitions_ahead"]["verdict"] == got["default_partition_rows"]["verdict"] == "ok"


async def test_inactive_replication_slot(url: str) -> None:
    slot = f"datalayer_health_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(f"SELECT pg_create_physical_replication_slot('{slot}')")  # reserves no WAL
        s = (await checks(url))["replication_slots"]
        assert s["verdict"] == "warning" and slot in [d["slot"] for d in s["details"] if not d["active"]]
    finally:
        await conn.execute(f"SELECT pg_drop_replication_slot('{slot}')")
        await conn.close()


async def test_threshold_driven_checks_turn(url: str) -> None:
    """Checks whose condition a test cannot cause cheaply (a cold cache, wraparound, a slow server) are turned by
    their thresholds, which shows the threshold is the one applied."""
    got = await checks(url, cache_min_blocks=0, cache_hit=1, cache_hit_critical=1e-9, wraparound=1e-9,
                       unused_index_min_bytes=0, latency_ms=1e-6, database_bytes=1)  # fmt: skip
    assert got["transaction_id_wraparound"]["verdict"] == "warning"
    assert got["multixact_wraparound"]["verdict"] in ("ok", "warning")  # a database may have used no MultiXact
    assert got["unused_indexes"]["verdict"] == "warning" and got["unused_indexes"]["details"]
    assert got["connectivity"]["verdict"] == "warning" and got["database_size"]["verdict"] == "warning"
    assert got["index_cache_hit_ratio"]["verdict"] in ("ok", "warning")
    slow = got["slow_statements"]
    if slow["value"] != "not available":
        turned = (await checks(url, slow_statement_ms=1e-6, slow_statement_min_calls=1))["slow_statements"]
        assert turned["verdict"] == "warning" and all("." in d["query"] for d in turned["details"])
    else:
        assert "pg_stat_statements" in slow["advice"]


def test_thresholds_are_validated_strictly() -> None:
    assert thresholds_with({"long_query_s": "30"}).long_query_s == 30
    for bad, words in (({"long_query": "30"}, "unknown health threshold long_query"),
                       ({"long_query_s": "soon"}, "'soon' is not a number"),
                       ({"cache_hit": "2"}, "cache_hit"), ({"long_query_s": "inf"}, "not a finite number"),
                       ({"long_query_s": "nan"}, "not a finite number"),
                       ({"lock_timeout_ms": "0.5"}, "'0.5' is not a whole number")):  # fmt: skip
        with pytest.raises(InvalidData, match=words):
            thresholds_with(bad)


def test_cli_exit_status_json_and_bad_set(url: str) -> None:
    ok = CliRunner().invoke(main, ["--database-url", url, "health", "--json", "--set", "checkpoints_min=1000000000"])
    data = json.loads(ok.output)
    assert ok.exit_code == {"ok": 0, "warning": 1, "critical": 2}[data["status"]]
    assert data["reachable"] and data["tables"] and {c["name"] for c in data["checks"]} >= set(TABLE_LEVEL)
    warned = CliRunner().invoke(main, ["--database-url", url, "health", "--set", "latency_ms=0.000001"])
    assert warned.exit_code >= 1 and "connectivity (warning)" in warned.output
    bad = CliRunner().invoke(main, ["--database-url", url, "health", "--set", "long_query_s=soon"])
    assert bad.exit_code == 2 and "'soon' is not a number" in bad.output
    listed = CliRunner().invoke(main, ["health", "--thresholds", "--json"])
    rows = {r["name"]: r["value"] for r in json.loads(listed.output)}
    assert listed.exit_code == 0 and rows["long_query_s"] == 60.0 and rows["sequence"] == 0.9


@pytest.fixture(scope="module")
def two_phase_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    """An embedded cluster of this module's own with max_prepared_transactions (needs a restart to change)."""
    c = EmbeddedCluster(tmp_path_factory.mktemp("health2pc") / "home")
    c.up()
    try:
        # two-phase commit, and an archive_command that always fails (the last setting in the file wins)
        c.conf.write_text(c.conf.read_text() + "max_prepared_transactions = 4\narchive_mode = on\n"
                          "archive_command = 'false'\n")  # fmt: skip
        c.down()
        c.up()
        yield c
    finally:
        c.down()


async def test_prepared_transaction_left_open(two_phase_cluster: EmbeddedCluster) -> None:
    url = await create_database(two_phase_cluster.url(), "health2pc")
    async with Migrator(url) as m:
        await m.apply()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "BEGIN; INSERT INTO ops.table_size_history VALUES (now(), 's', 't', 0, 0); PREPARE TRANSACTION 'hx1'"
        )
        got = (await checks(url, prepared_s=0))["prepared_transactions"]
        assert got["verdict"] == "warning" and [d["gid"] for d in got["details"]] == ["hx1"]
        assert (await checks(url))["prepared_transactions"]["verdict"] == "ok"  # younger than 300 s
        await conn.execute("ROLLBACK PREPARED 'hx1'")
        assert (await checks(url, prepared_s=0))["prepared_transactions"]["verdict"] == "ok"
    finally:
        await conn.close()
        await drop_database(two_phase_cluster.url(), url)


async def test_failing_wal_archiving_and_requested_checkpoints(two_phase_cluster: EmbeddedCluster) -> None:
    url = await create_database(two_phase_cluster.url(), "healthwal")
    async with Migrator(url) as m:
        await m.apply()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("CREATE TABLE ops.health_wal AS SELECT g FROM generate_series(1, 1000) AS g")
        await conn.execute("SELECT pg_switch_wal()")
        for _ in range(100):
            got = await checks(url)
            if got["wal_archiving"]["verdict"] != "ok":
                break
            await asyncio.sleep(0.1)
        wal = got["wal_archiving"]
        assert wal["verdict"] == "critical" and "failing since" in wal["value"], wal
        for _ in range(3):
            await conn.execute("CHECKPOINT")  # each one a requested checkpoint
        k = (await checks(url, checkpoints_min=1, checkpoints_requested=0.01))["checkpoints"]
        assert k["verdict"] == "warning" and "requested" in k["value"]
    finally:
        await conn.execute("DROP TABLE IF EXISTS ops.health_wal")
        await conn.close()
        await drop_database(two_phase_cluster.url(), url)

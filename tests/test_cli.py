"""The CLI: every command documented with an example, JSON where output is data, clean errors."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from datalayer.cli import main
from tests.conftest import THROUGH_PGBOUNCER


def all_commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    found: list[tuple[tuple[str, ...], click.Command]] = []
    for name, cmd in group.commands.items():
        found.append(((*prefix, name), cmd))
        if isinstance(cmd, click.Group):
            found.extend(all_commands(cmd, (*prefix, name)))
    return found


@pytest.mark.parametrize(
    ("path", "command"), all_commands(main), ids=lambda v: " ".join(v) if isinstance(v, tuple) else ""
)
def test_every_command_has_help_with_example(path: tuple[str, ...], command: click.Command) -> None:
    result = CliRunner().invoke(main, [*path, "--help"])
    assert result.exit_code == 0
    assert "Example:" in (command.help or ""), f"datalayer {' '.join(path)} has no Example in its help"


def test_health_quick_json(database_url: str) -> None:
    result = CliRunner().invoke(main, ["--database-url", database_url, "health", "--quick", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["reachable"] is True and report["ok"] is True
    assert report["pending_migrations"] == [] and report["drift"] == []
    assert report["server_version"].split(".")[0] in {"15", "16", "17", "18"}
    assert report["latency_ms"] > 0


def test_migrate_list_json(database_url: str) -> None:
    result = CliRunner().invoke(main, ["--database-url", database_url, "migrate", "--list", "--json"])
    assert result.exit_code == 0, result.output
    states = json.loads(result.output)
    assert states and all(s["applied"] and s["drift"] is None for s in states)


def test_migrate_on_current_schema_does_nothing(database_url: str) -> None:
    result = CliRunner().invoke(main, ["--database-url", database_url, "migrate"])
    if THROUGH_PGBOUNCER:  # migrations need a session of their own: a pooler URL is refused, with what to do
        assert result.exit_code == 1 and "connection pooler (PgBouncer?)" in result.output, result.output
        assert "server's own URL" in result.output
        return
    assert result.exit_code == 0 and "nothing to do" in result.output


def test_migrate_flag_misuse_is_a_usage_error(database_url: str) -> None:
    result = CliRunner().invoke(main, ["--database-url", database_url, "migrate", "--all"])
    assert result.exit_code == 2 and "--rollback" in result.output


CONNECT_WORDING = "cannot connect to postgresql://bot:***@127.0.0.1:1/x"


def test_unreachable_database_is_a_clean_error_with_masked_password() -> None:
    url = "postgresql://bot:s3cr3t@127.0.0.1:1/x"
    for args in (["check"], ["migrate", "--list"], ["migrate"], ["stats", "queries"], ["twitter", "status"]):
        result = CliRunner().invoke(main, ["--database-url", url, *args])
        assert result.exit_code == 1, (args, result.output)
        assert "Error:" in result.output and "Traceback" not in result.output
        assert "s3cr3t" not in result.output
        assert CONNECT_WORDING in result.output, (args, result.output)  # one wording everywhere


def test_health_on_unreachable_server_still_reports() -> None:
    url = "postgresql://bot:s3cr3t@127.0.0.1:1/x"
    for args in (["health", "--json"], ["health", "--quick", "--json"]):
        result = CliRunner().invoke(main, ["--database-url", url, *args])
        assert result.exit_code == 2, result.output  # critical
        report = json.loads(result.output)  # JSON on stdout even when the server is down
        assert report["reachable"] is False and report["ok"] is False and report["status"] == "critical"
        assert CONNECT_WORDING in report["error"] and "s3cr3t" not in result.output
    human = CliRunner().invoke(main, ["--database-url", url, "health"])
    assert human.exit_code == 2 and "unhealthy" in human.output and "s3cr3t" not in human.output


def test_db_url_masks_password() -> None:
    result = CliRunner().invoke(main, ["--database-url", "postgresql://bot:s3cr3t@db.example:5432/x", "db", "url"])
    assert result.exit_code == 0
    assert result.output.strip() == "postgresql://bot:***@db.example:5432/x"


def test_db_psql_runs_a_command(database_url: str) -> None:
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-m", "datalayer", "--database-url", database_url, "db", "psql", "-At", "-c",
         "SELECT count(*) FROM twitter_bot.system_state WHERE false"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert out.stdout.strip() == "0"


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (["migrate", "--list", "--rollback"], "--list only lists"),
        (["migrate", "--list", "--dry-run"], "--list only lists"),
        (["migrate", "--to", "0001.x"], "--to and --all go with --rollback"),
        (["migrate", "--rollback", "--to", "0001.x", "--all"], "either --to ID or --all"),
        (["twitter", "drafts", "--limit", "-1"], "-1 is not in the range"),
        (["twitter", "drafts", "--limit", "abc"], "'abc' is not a valid integer"),
        (["twitter", "maintain", "--months-ahead", "-1"], "-1 is not in the range"),
        (["twitter", "maintain", "--keep-days", "0"], "0 is not in the range"),
        (["--pool-max-size", "0", "health"], "0 is not in the range"),
        (["--statement-cache-size", "-5", "health"], "-5 is not in the range"),
    ],
)
def test_contradictory_or_out_of_range_options_are_usage_errors(args: list[str], complaint: str) -> None:
    result = CliRunner().invoke(main, ["--database-url", "postgresql://u@127.0.0.1:1/x", *args])
    assert result.exit_code == 2, result.output
    assert complaint in result.output


def test_health_works_without_quick(database_url: str) -> None:
    result = CliRunner().invoke(main, ["--database-url", database_url, "health"])
    # server-wide checks (checkpoints on a cluster many test runs share) may warn; nothing is critical
    assert result.exit_code in (0, 1), result.output
    assert result.output.rstrip().endswith(("healthy", "warnings")) and "reddit_bot.comments ~" in result.output


def test_full_health_lists_every_bot_table(database_url: str) -> None:
    """Without --quick: each table of each bot schema, a partitioned table once with its partitions summed."""
    result = CliRunner().invoke(main, ["--database-url", database_url, "health", "--json"])
    assert result.exit_code in (0, 1), result.output
    tables = {t["table"]: t for t in json.loads(result.output)["tables"]}
    for name in ("reddit_bot.posts", "reddit_bot.comments", "reddit_bot.successful_patterns",
                 "twitter_bot.tweets", "chat_bot.messages", "discord_bot.events", "error_api.api_keys"):  # fmt: skip
        assert name in tables, name
        assert tables[name]["total_bytes"] > 0 and tables[name]["live_rows"] >= 0
    assert tables["error_api.usage_logs"]["partitions"] >= 1
    assert not any(".usage_logs_" in name for name in tables), "a partition listed on its own"
    assert {name.split(".")[0] for name in tables} <= {"ops", "twitter_bot", "chat_bot", "error_api", "reddit_bot",
                                                        "discord_bot"}  # fmt: skip
    quick = json.loads(CliRunner().invoke(main, ["--database-url", database_url, "health", "--quick", "--json"]).output)
    assert "tables" not in quick


def test_json_commands_report_failures_as_json() -> None:
    """A machine asking for --json gets JSON on stdout when the command fails, not only a line for people."""
    for args in (["migrate", "--list", "--json"], ["check", "--json"], ["twitter", "status", "--json"],
                 ):  # fmt: skip
        result = CliRunner().invoke(main, ["--database-url", "postgresql://bot:pw@127.0.0.1:1/x", *args])
        assert result.exit_code == 1, (args, result.output)
        report = json.loads(result.stdout.split("Error:")[0])
        assert report["ok"] is False and CONNECT_WORDING in report["error"], (args, result.output)


async def test_migrate_list_on_an_unmigrated_database_changes_nothing(server_url: str) -> None:
    import asyncio

    import asyncpg

    from tests.conftest import create_database, drop_database

    url = await create_database(server_url, "datalayer_list")
    try:
        result = await asyncio.to_thread(
            CliRunner().invoke, main, ["--database-url", url, "migrate", "--list", "--json"]
        )
        assert result.exit_code == 0, result.output
        assert not any(s["applied"] for s in json.loads(result.output))
        conn = await asyncpg.connect(url)
        try:
            tables = await conn.fetch("SELECT relname FROM pg_class WHERE relnamespace = 'public'::regnamespace")
        finally:
            await conn.close()
        assert tables == [], "a listing created tables"
    finally:
        await drop_database(server_url, url)


def test_db_commands_say_when_database_url_is_in_use(database_url: str, tmp_path: Path) -> None:
    # A home of its own: `db down` must not stop the cluster the suite runs on.
    result = CliRunner().invoke(
        main, ["--database-url", database_url, "db", "down"], env={"DATALAYER_HOME": str(tmp_path)}
    )
    assert "DATABASE_URL is set" in result.stderr and "not running" in result.stdout and result.exit_code == 0

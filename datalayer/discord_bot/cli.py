"""`datalayer discord …`: the Discord reminder bot's data from the command line."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from datalayer.cli import AppContext, emit_json, pass_app, show
from datalayer.db import Database
from datalayer.discord_bot.events import EventRepository
from datalayer.discord_bot.importer import import_store
from datalayer.discord_bot.integrity import IntegrityRepository
from datalayer.discord_bot.seed import seed


@click.group("discord")
def group() -> None:
    """The Discord reminder bot (schema discord_bot).

    Example: datalayer discord due
    """


@group.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 10_000), help="Most events to show.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def due(app: AppContext, limit: int, as_json: bool) -> None:
    """Events due for a reminder now, the most overdue first (a read: nothing is claimed).

    Example: datalayer discord due --limit 10 --json
    """

    async def go(db: Database) -> tuple[int, list[Any]]:
        repo = EventRepository(db)
        now = datetime.now(UTC)
        return await repo.count_due(now), await repo.list_due(now, limit)

    count, rows = app.with_db(go)
    if as_json:
        emit_json({"due": count, "events": [r.model_dump(mode="json") for r in rows]})
        return
    table = Table("message", "guild", "title", "every", "due since", "claimed by")
    now = datetime.now(UTC)
    for r in rows:
        late = now - r.next_reminder_at
        table.add_row(str(r.message_id), str(r.guild_id), r.title, f"{r.interval_minutes} min",
                      f"{int(late.total_seconds() // 60)} min", r.claimed_by or "-")  # fmt: skip
    show(table, 0, 1)
    click.echo(f"{count} event(s) due" + (f", {len(rows)} shown" if count > len(rows) else ""))


@group.command("import")
@click.argument("path", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--backup-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Where the JSON files are copied first (must not exist); default: PATH.backup-<UTC time> beside PATH.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def import_(app: AppContext, path: Path, backup_dir: Path | None, as_json: bool) -> None:
    """Import the old JSON store: one FILE, or every *.json in a DIR (format: see the README).

    Validates everything first (nothing is imported when any entry is malformed), copies the files to a
    backup directory, then imports in one transaction. Idempotent: a re-import changes nothing, a corrected
    file updates its events.

    Example: datalayer discord import ~/reminder-bot/data --backup-dir ~/reminder-bot/json-backup
    """
    report = app.with_db(lambda db: import_store(db, path, backup_dir)).as_dict()
    if as_json:
        emit_json(report)
        return
    click.echo(f"backed up {len(report['files'])} file(s) to {report['backup']}")
    click.echo(
        f"events: {report['events_inserted']} inserted, {report['events_updated']} updated, "
        f"{report['events_unchanged']} unchanged; guilds: {report['guilds']}; "
        f"reactions: {report['reactions_added']} added, {report['reactions_removed']} removed"
    )


@group.command("check")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def check(app: AppContext, as_json: bool) -> None:
    """Look for orphaned or inconsistent rows; exits 1 when it finds any.

    Example: datalayer discord check --json
    """
    rows = app.with_db(lambda db: IntegrityRepository(db).check())
    bad = [r for r in rows if r.rows]
    if as_json:
        emit_json({"ok": not bad, "checks": [r.model_dump(mode="json") for r in rows]})
    else:
        table = Table("check", "rows", "examples", "what it means")
        for r in rows:
            table.add_row(r.problem, str(r.rows), ", ".join(r.examples), r.description,
                          style="red" if r.rows else None)  # fmt: skip
        show(table, 0)
        click.echo(f"{len(bad)} problem(s) found" if bad else f"all {len(rows)} checks passed")
    if bad:
        raise SystemExit(1)


@click.command("discord-bot")
@click.option("--guilds", default=3, show_default=True, type=click.IntRange(1, 1000))
@click.option("--members", default=40, show_default=True, type=click.IntRange(1, 100_000), help="Per guild.")
@click.option("--events", default=10, show_default=True, type=click.IntRange(1, 10_000), help="Per guild.")
@click.option("--seed", "seed_", default=1, show_default=True, type=click.IntRange(0, 1000), help="Picks the ids.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def seed_command(app: AppContext, guilds: int, members: int, events: int, seed_: int, as_json: bool) -> None:
    """Sample guilds, members, events and reactions for the Discord bot (a re-run adds no rows).

    Example: datalayer seed discord-bot --guilds 2 --events 5
    """
    report = asdict(app.with_db(lambda db: seed(db, guilds=guilds, members=members, events=events, seed=seed_)))
    if as_json:
        emit_json(report)
    else:
        click.echo(", ".join(f"{v} {k}" for k, v in report.items()))

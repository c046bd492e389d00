"""`datalayer partitions …`: the monthly partitions of every partitioned table of the data layer, made ahead,
listed, and dropped after their retention without stalling the bots (see datalayer/partitions/partitions.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import click
from rich.table import Table

from datalayer.cli import AppContext, emit_json, pass_app, show
from datalayer.db import Database
from datalayer.partitions.partitions import (
    DEFAULT_LOCK_TIMEOUT,
    DEFAULT_MONTHS_AHEAD,
    Partition,
    PartitionRepository,
    add_months,
    month_of,
    month_start,
)

_LOCK_TIMEOUT = click.option(
    "--lock-timeout",
    type=click.FloatRange(0.01, 3600),
    default=DEFAULT_LOCK_TIMEOUT,
    show_default=True,
    metavar="SECONDS",
    help="Longest wait for each lock; a refused lock is tried again twice, then the command gives up.",
)
_TABLE = click.option("--table", metavar="SCHEMA.TABLE", help="Only this table (default: every partitioned table).")
_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group("partitions")
def group() -> None:
    """Monthly partitions of every partitioned table: make them ahead, list them, drop old ones.

    None of these stalls the bots: months are made with CREATE TABLE LIKE + ATTACH and dropped after
    DETACH … CONCURRENTLY, each lock waited for at most --lock-timeout seconds.

    Example: datalayer partitions list
    """


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).isoformat()


def _partition_json(p: Partition) -> dict[str, Any]:
    return {
        "name": p.name, "state": p.state, "default": p.is_default, "from": _iso(p.lower_bound),
        "to": _iso(p.upper_bound), "estimated_rows": p.estimated_rows, "estimated_bytes": p.estimated_bytes,
    }  # fmt: skip


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # pragma: no cover


def _day(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%d")


@group.command("list")
@_JSON
@pass_app
def list_partitions(app: AppContext, as_json: bool) -> None:
    """Every partitioned table with its partitions (range, state, estimated rows and size) and the months of
    this month and the next (UTC) that have no partition yet. Reads only the catalog: never waits for a lock.

    Rows and sizes are PostgreSQL's estimates as of the last VACUUM / ANALYZE.

    Example: datalayer partitions list --json
    """

    async def go(db: Database) -> dict[str, Any]:
        reports = await PartitionRepository(db).report()
        return {
            "tables": [
                {
                    "table": r.table.qualified_name,
                    "key": r.table.key_column,
                    "default_partition": r.table.default_partition,
                    "default_estimated_rows": r.table.default_estimated_rows,
                    "partitions": [_partition_json(p) for p in r.partitions],
                    "missing": [f"{m:%Y-%m}" for m in r.missing],
                }
                for r in reports
            ]
        }

    report = app.with_db(go)
    if as_json:
        emit_json(report)
        return
    table = Table("table", "partition", "from", "to", "state", "~rows", "~size")
    for t in report["tables"]:
        for p in t["partitions"]:
            table.add_row(
                t["table"], p["name"], (p["from"] or "-")[:10], (p["to"] or "-")[:10], p["state"],
                str(p["estimated_rows"]), _size(p["estimated_bytes"]),
            )  # fmt: skip
    show(table, 0, 1)
    for t in report["tables"]:
        notes = []
        if t["missing"]:
            notes.append(f"no partition for {', '.join(t['missing'])} (run `datalayer partitions ensure`)")
        if t["default_partition"]:
            notes.append(f"DEFAULT partition {t['default_partition']} (~{t['default_estimated_rows']} rows)")
        click.echo(f"{t['table']}: {'; '.join(notes) if notes else 'this month and the next have partitions'}")


@group.command("ensure")
@click.option(
    "--months-ahead", default=DEFAULT_MONTHS_AHEAD, show_default=True, type=click.IntRange(0, 120),
    help="Besides this month (UTC), make the next N months.",
)  # fmt: skip
@_TABLE
@_LOCK_TIMEOUT
@_JSON
@pass_app
def ensure(app: AppContext, months_ahead: int, table: str | None, lock_timeout: float, as_json: bool) -> None:
    """Make the partitions of this month and the next --months-ahead months, for every table (or --table).

    Safe to run at any time and from several places at once (one makes a month, the others find it); run it
    daily (cron), as the bots' maintain commands do for their own tables. Inserts and reads go on meanwhile.

    Example: datalayer partitions ensure --months-ahead 3
    """

    async def go(db: Database) -> dict[str, list[date]]:
        repo = PartitionRepository(db, lock_timeout=lock_timeout)
        if table is not None:
            name = (await repo.table(table)).qualified_name
            return {name: await repo.ensure(name, months_ahead)}
        return await repo.ensure_all(months_ahead)

    made = app.with_db(go)
    first = month_of(datetime.now(UTC))
    months = [f"{add_months(first, i):%Y-%m}" for i in range(months_ahead + 1)]
    if as_json:
        emit_json({"months": months, "created": {t: [f"{m:%Y-%m}" for m in ms] for t, ms in made.items()}})
        return
    for name, ms in made.items():
        done = ", ".join(f"{m:%Y-%m}" for m in ms)
        click.echo(f"{name}: {'made ' + done if ms else 'nothing to make'} ({months[0]} to {months[-1]} exist)")


@group.command("drop-older-than")
@click.argument("cutoff", required=False, type=click.DateTime(formats=["%Y-%m-%d"]), metavar="[YYYY-MM-DD]")
@click.option(
    "--months", type=click.IntRange(0, 1200),
    help="Instead of a date: keep this month and the N months before it (the cutoff is the 1st of the month N months back).",
)  # fmt: skip
@_TABLE
@click.option("--dry-run", is_flag=True, help="Only show what would be dropped.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_LOCK_TIMEOUT
@_JSON
@pass_app
def drop_older_than(
    app: AppContext, cutoff: datetime | None, months: int | None, table: str | None, dry_run: bool, yes: bool,
    lock_timeout: float, as_json: bool,
) -> None:  # fmt: skip
    """Drop the partitions that end at or before a cutoff (a date, 00:00 UTC; or --months N), for every table
    (or --table). Their rows are gone for good: it asks first, unless --yes.

    Each partition is detached CONCURRENTLY, then dropped, so the bots' inserts and reads go on; a detach
    interrupted earlier is finished. Never drops this month's partition (a later cutoff is refused).

    Example: datalayer partitions drop-older-than --months 12 --dry-run
    """
    if (cutoff is None) == (months is None):
        raise click.UsageError("give a cutoff date or --months N (one of them)")
    this_month = month_start(month_of(datetime.now(UTC)))
    if months is not None:
        limit = month_start(add_months(month_of(this_month), -months))
    else:
        assert cutoff is not None
        limit = cutoff.replace(tzinfo=UTC)
    if limit > this_month:
        raise click.UsageError(
            f"the cutoff {limit:%Y-%m-%d} is after the start of this month ({this_month:%Y-%m-%d}): that would "
            "drop the partition the bots write to"
        )

    async def plan(db: Database) -> dict[str, list[Partition]]:
        repo = PartitionRepository(db, lock_timeout=lock_timeout)
        names = [(await repo.table(table)).qualified_name] if table else [t.qualified_name for t in await repo.tables()]
        return {name: await repo.droppable(name, limit) for name in names}

    planned = app.with_db(plan)
    doomed = [p for ps in planned.values() for p in ps]
    if dry_run or not doomed:
        if as_json:
            key = "would_drop" if dry_run else "dropped"
            emit_json(
                {
                    "cutoff": limit.isoformat(),
                    "dry_run": dry_run,
                    key: {t: [p.name for p in ps] for t, ps in planned.items()},
                }
            )
            return
        for p in doomed:
            click.echo(
                f"would drop {p.name} ({_day(p.lower_bound)} to {_day(p.upper_bound)}, ~{p.estimated_rows} rows)"
            )
        tail = "" if dry_run else ": nothing to do"
        click.echo(f"{len(doomed)} partition(s) end at or before {limit:%Y-%m-%d}{tail}")
        return
    if not yes:
        for p in doomed:
            click.echo(f"{p.name} ({_day(p.lower_bound)} to {_day(p.upper_bound)}, ~{p.estimated_rows} rows)", err=True)
        click.confirm(f"Drop these {len(doomed)} partition(s) and their rows for good?", abort=True, err=True)

    async def drop(db: Database) -> dict[str, list[str]]:
        repo = PartitionRepository(db, lock_timeout=lock_timeout)
        return {name: await repo.drop_older_than(name, limit) for name in planned}

    dropped = app.with_db(drop)
    if as_json:
        emit_json({"cutoff": limit.isoformat(), "dry_run": False, "dropped": dropped})
        return
    for names in dropped.values():
        for name in names:
            click.echo(f"dropped {name}")
    click.echo(f"{sum(len(n) for n in dropped.values())} partition(s) dropped")

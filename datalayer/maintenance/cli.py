"""`datalayer maintenance vacuum|analyze|reindex`, `datalayer cleanup`, `datalayer inspect`."""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from typing import Any

import click
from rich.table import Table

from datalayer.cli import AppContext, emit_json, pass_app, show
from datalayer.db import Database
from datalayer.errors import InvalidData, NotFound
from datalayer.maintenance import CleanupContext, rules
from datalayer.maintenance.inspect import InspectRepository, Where
from datalayer.maintenance.targets import Action, MaintenanceTarget, MaintenanceTargetRepository, statement
from datalayer.ops.catalog import CatalogRepository


@click.group("maintenance")
def group() -> None:
    """VACUUM, ANALYZE and REINDEX (concurrently) on the data layer's tables, saying what was done.

    Example: datalayer maintenance analyze
    """


async def _targets(db: Database, table: str | None) -> list[MaintenanceTarget]:
    schemas = await CatalogRepository(db).our_schemas()
    found = await MaintenanceTargetRepository(db).targets(schemas)
    if table is None:
        return found
    parent = table.split(".")[-1]
    picked = [t for t in found if t.qualified == table]
    if not picked:
        raise NotFound(f"{table} is not a table of ours; give schema.table (e.g. discord_bot.events)")
    if picked[0].partitioned:  # the parent, and its partitions for what needs storage
        picked += [t for t in found if t.is_partition and t.schema_name == picked[0].schema_name
                   and t.table_name.startswith(parent + "_")]  # fmt: skip
    return picked


def _run(app: AppContext, action: Action, table: str | None, as_json: bool) -> None:
    async def go(db: Database) -> list[dict[str, Any]]:
        done = []
        for t in await _targets(db, table):
            sql = statement(action, t, whole=table is None)
            if sql is None:
                continue
            started = time.perf_counter()
            await db.executor.utility(f"maintenance.{action}", sql, lock_timeout="5s")
            done.append({"table": t.qualified, "action": sql.split(" ")[0] + (" CONCURRENTLY" if action == "reindex" else ""),
                         "seconds": round(time.perf_counter() - started, 3), "bytes_before": t.total_bytes})  # fmt: skip
        return done

    done = app.with_db(go)
    if as_json:
        emit_json(done)
        return
    for d in done:
        click.echo(f"{d['action']:<22} {d['table']}  {d['seconds']:.3f} s")
    click.echo(f"{action}: {len(done)} table(s)")


_TABLE = click.option(
    "--table", metavar="SCHEMA.TABLE", help="Only this table (a partitioned one: with its partitions)."
)
_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@group.command("vacuum")
@_TABLE
@_JSON
@pass_app
def vacuum(app: AppContext, table: str | None, as_json: bool) -> None:
    """VACUUM (ANALYZE) every table of ours (or one): dead rows become reusable space, statistics are fresh.

    Example: datalayer maintenance vacuum --table twitter_bot.translations
    """
    _run(app, "vacuum", table, as_json)


@group.command("analyze")
@_TABLE
@_JSON
@pass_app
def analyze(app: AppContext, table: str | None, as_json: bool) -> None:
    """ANALYZE every table of ours (or one), partitioned parents included (autovacuum never analyses them).

    Example: datalayer maintenance analyze
    """
    _run(app, "analyze", table, as_json)


@group.command("reindex")
@_TABLE
@_JSON
@pass_app
def reindex(app: AppContext, table: str | None, as_json: bool) -> None:
    """REINDEX TABLE CONCURRENTLY every table of ours (or one): rebuilds bloated or invalid indexes without
    blocking reads or writes.

    Example: datalayer maintenance reindex --table discord_bot.events
    """
    _run(app, "reindex", table, as_json)


@click.command("cleanup")
@click.option("--keep-days", type=click.IntRange(1, 36500), default=90, show_default=True,
              help="Retention of logs and of soft-deleted rows.")  # fmt: skip
@click.option("--only", "only", multiple=True, metavar="RULE", help="Run only this rule (repeatable).")
@click.option("--list", "show_list", is_flag=True, help="List the rules and exit.")
@_JSON
@pass_app
def cleanup(app: AppContext, keep_days: int, only: tuple[str, ...], show_list: bool, as_json: bool) -> None:
    """Apply every domain's retention rules: expired cache entries, tokens and keys, old logs and partitions,
    soft-deleted rows past the retention, old statistics. Each bot registers its own (datalayer/<bot>/cleanup.py).

    Each rule reports the rows (or partitions) it removed or, for sessions, marked expired.
    Safe to run again at any time; one failing rule is reported and the others still run (exit 1).

    Example: datalayer cleanup --keep-days 30 --json
    """
    registered = rules()
    names = {r.name for r in registered}
    unknown = sorted(set(only) - names)
    if unknown:
        raise click.BadParameter(
            f"unknown rule {', '.join(unknown)}; see `datalayer cleanup --list`", param_hint="'--only'"
        )
    if show_list:
        rows = [{"rule": r.name, "removes": r.description} for r in registered]
        if as_json:
            emit_json(rows)
        else:
            for r in rows:
                click.echo(f"{r['rule']:<32} {r['removes']}")
        return
    selected = [r for r in registered if not only or r.name in only]

    async def go(db: Database) -> list[dict[str, Any]]:
        from datalayer.errors import DatalayerError

        ctx = CleanupContext(db, datetime.now(UTC), keep_days)
        out = []
        for r in selected:
            try:
                out.append({"rule": r.name, "rows": await r.run(ctx), "error": None})
            except DatalayerError as exc:
                out.append({"rule": r.name, "rows": 0, "error": str(exc).splitlines()[0]})
        return out

    results = app.with_db(go)
    if as_json:
        emit_json({"keep_days": keep_days, "rules": results, "ok": not any(r["error"] for r in results)})
    else:
        for r in results:
            click.echo(f"{r['rule']:<32} " + (f"FAILED: {r['error']}" if r["error"] else f"{r['rows']} rows"))
    if any(r["error"] for r in results):
        sys.exit(1)


@click.command("inspect")
@click.argument("table", required=False)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@click.option("--where", "wheres", nargs=3, multiple=True, metavar="COL OP VALUE",
              help="A filter (repeatable): OP is = != < <= > >= like ilike in (VALUE a,b,c) is (VALUE null / 'not null').")  # fmt: skip
@click.option("--order", metavar="[-]COL", help="Sort by a column; a leading - for descending.")
@_JSON
@pass_app
def inspect(app: AppContext, table: str | None, limit: int, wheres: tuple[tuple[str, str, str], ...],
            order: str | None, as_json: bool) -> None:  # fmt: skip
    """Rows of any table of ours, for a quick look without psql; without TABLE, the tables that can be named.

    Only our schemas' tables and their real columns are accepted; values are bound parameters.

    Example: datalayer inspect discord_bot.events --where interval_minutes '>=' 60 --order -created_at --limit 5
    """

    async def go(db: Database) -> Any:
        from datalayer.health.server import ServerHealthRepository

        schemas = await CatalogRepository(db).our_schemas()
        async with db.transaction() as tx:  # a table locked by someone else: fail in 2 s, never hang
            await ServerHealthRepository(tx).limit_session(2000, 0)
            repo = InspectRepository(tx)
            if table is None:
                return [f"{t.schema_name}.{t.table_name}" for t in await repo.tables(schemas)]
            return await repo.rows(schemas, table, [Where(*w) for w in wheres], order, limit)

    try:
        found = app.with_db(go)
    except (InvalidData, NotFound) as exc:  # a name or value the user gave: a usage error (exit 2)
        raise click.BadParameter(str(exc)) from None
    if as_json:
        emit_json(found)
        return
    if table is None:
        click.echo("\n".join(found))
        return
    if not found:
        click.echo("no rows")
        return
    out = Table(*found[0].keys())
    for row in found:
        out.add_row(*("" if v is None else str(v) for v in row.values()))
    show(out, 0)


commands = [cleanup, inspect]

"""The `datalayer` command: a thin click layer over the library. Library errors become clean messages here."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import click
from rich.console import Console
from rich.table import Table

from datalayer.config import Settings, load_settings, mask_url, split_password, url_problem
from datalayer.db import Database, resolve_url
from datalayer.errors import DatalayerError

T = TypeVar("T")
console = Console()


def show(table: Table, *keep: int) -> None:
    """Print a table without cutting what must stay whole: the columns in `keep` (ids, names: values a user
    copies into the next command) are never shortened or wrapped, however narrow the terminal; the other
    columns fold their text onto more lines instead of ending in "…"."""
    needed = 4
    for index, column in enumerate(table.columns):
        longest = max((len(str(cell)) for cell in [column.header, *column.cells]), default=1)
        if index in keep:
            column.no_wrap, column.min_width = True, longest
            needed += longest + 3
        else:
            column.overflow = "fold"
            needed += min(longest, 12) + 3
    Console(width=max(console.width, needed)).print(table)


class AppContext:
    """The one context object: settings, and the database URL resolved on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._url: str | None = None

    @property
    def url(self) -> str:
        if self._url is None:
            self._url = resolve_url(self.settings)
        return self._url

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run(coro)

    def with_db(self, fn: Callable[[Database], Awaitable[T]], *, check_schema: bool | None = None) -> T:
        """Run `fn` on a pool. By default the schema is checked first: an unmigrated database is a clean
        MigrationError telling to run `datalayer migrate`, not a `relation does not exist`."""

        async def go() -> T:
            async with Database.connect(self.settings, self.url, check_schema=check_schema) as db:
                return await fn(db)

        return self.run(go())


pass_app = click.make_pass_decorator(AppContext)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class JsonError(click.ClickException):
    """A failure of a `--json` command: the error goes to stdout as JSON too, so a machine reads it."""

    def show(self, file: Any = None) -> None:
        click.echo(json.dumps({"ok": False, "error": self.message}, indent=2))
        super().show(file)


class CleanErrors(click.Group):
    """Turns library errors into one-line messages with exit code 1, never a traceback; with `--json`, also
    a JSON object `{"ok": false, "error": …}` on stdout."""

    def invoke(self, ctx: click.Context) -> Any:
        wants_json = "--json" in [*getattr(ctx, "_protected_args", ()), *ctx.args]
        error = JsonError if wants_json else click.ClickException
        try:
            return super().invoke(ctx)
        except (DatalayerError, FileNotFoundError) as exc:
            raise error(str(exc)) from exc
        except click.ClickException as exc:
            if wants_json and not isinstance(exc, (click.UsageError, JsonError)):
                raise JsonError(exc.message) from exc
            raise


@click.group(cls=CleanErrors)
# No envvar= here: the environment is read by Settings, so a bad variable is reported under its own name.
@click.option("--database-url", help="PostgreSQL URL (wins over DATABASE_URL); default: the embedded cluster.")
@click.option("--pool-max-size", type=click.IntRange(1, 10_000), help="Largest pool size (DATALAYER_POOL_MAX_SIZE).")
@click.option(
    "--statement-cache-size",
    type=click.IntRange(0, 100_000),
    help="asyncpg prepared-statement cache (DATALAYER_STATEMENT_CACHE_SIZE); 0 behind PgBouncer in transaction mode.",
)
@click.version_option(package_name="datalayer")
@click.pass_context
def main(
    ctx: click.Context, database_url: str | None, pool_max_size: int | None, statement_cache_size: int | None
) -> None:
    """PostgreSQL data layer of the five bots: migrations, checks, health and per-bot commands.

    Without DATABASE_URL everything runs on an embedded PostgreSQL under .datalayer/.

    Example: datalayer health --quick
    """
    if database_url is not None and database_url.strip():
        problem = url_problem(database_url.strip())
        if problem:
            raise click.BadParameter(
                f"{mask_url(database_url)} is not usable: {problem}", param_hint="'--database-url'"
            )
    try:
        settings = load_settings(
            database_url=database_url, pool_max_size=pool_max_size, statement_cache_size=statement_cache_size
        )
    except ValueError as exc:
        raise click.ClickException(f"bad configuration: {exc}") from None
    ctx.obj = AppContext(settings)


# -- db ----------------------------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Manage the embedded PostgreSQL cluster, or open psql on the configured database.

    Example: datalayer db up
    """


def _note_database_url(app: AppContext) -> None:
    if app.settings.database_url is not None:
        click.echo(
            f"note: DATABASE_URL is set, so every other command uses {mask_url(app.url)}, not this embedded cluster",
            err=True,
        )


def _cluster(app: AppContext) -> Any:
    from datalayer.embedded import EmbeddedCluster

    return EmbeddedCluster(app.settings.home.resolve())


@db.command("up")
@pass_app
def db_up(app: AppContext) -> None:
    """Start the embedded cluster (initialise it the first time); prints its URL.

    The cluster lives in DATALAYER_HOME, by default the project's .datalayer/ (found from any folder).

    Example: datalayer db up
    """
    _note_database_url(app)
    cluster = _cluster(app)
    url = cluster.up()
    click.echo(f"embedded PostgreSQL in {cluster.pgdata}", err=True)
    click.echo(url)


@db.command("down")
@pass_app
def db_down(app: AppContext) -> None:
    """Stop the embedded cluster (its port is kept for the next `db up`).

    Example: datalayer db down
    """
    _note_database_url(app)
    cluster = _cluster(app)
    click.echo(f"stopped ({cluster.pgdata})" if cluster.down() else f"not running ({cluster.pgdata})")


@db.command("url")
@pass_app
def db_url(app: AppContext) -> None:
    """Print the URL in use (password masked), starting the embedded cluster if needed.

    Example: datalayer db url
    """
    click.echo(mask_url(app.url))


@db.command("psql", context_settings={"ignore_unknown_options": True})
@click.argument("psql_args", nargs=-1, type=click.UNPROCESSED)
@pass_app
def db_psql(app: AppContext, psql_args: tuple[str, ...]) -> None:
    """Open psql on the configured database (embedded or DATABASE_URL); extra arguments go to psql.

    The password travels in PGPASSWORD, never on the command line.

    Example: datalayer db psql -c '\\dn+'
    """
    from datalayer.embedded import bin_dir

    url, password = split_password(app.url)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = password
    psql = bin_dir() / "psql"
    exe = str(psql) if psql.exists() else (shutil.which("psql") or "psql")
    sys.stdout.flush()
    os.execve(exe, [exe, f"--dbname={url}", *psql_args], env)


# -- migrate -----------------------------------------------------------------------------------------------------
@main.command()
@click.option("--list", "show_list", is_flag=True, help="Show applied and pending migrations, and drift.")
@click.option("--rollback", is_flag=True, help="Roll back the newest applied migration.")
@click.option("--to", "to", metavar="ID", help="With --rollback: roll back everything applied after ID.")
@click.option("--all", "everything", is_flag=True, help="With --rollback: roll back every migration.")
@click.option("--dry-run", is_flag=True, help="Print what would run, change nothing.")
@click.option(
    "--check-only", is_flag=True,
    help="Apply the pending migrations in a transaction, run `check` on the result, roll back; exit 1 if a query "
    "would break.",
)  # fmt: skip
@click.option("--no-query-check", is_flag=True, help="Apply without first checking that every named query survives.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def migrate(
    app: AppContext, show_list: bool, rollback: bool, to: str | None, everything: bool, dry_run: bool,
    check_only: bool, no_query_check: bool, as_json: bool,
) -> None:  # fmt: skip
    """Apply pending migrations (or list / roll back). Refuses to run when an applied file was edited.

    Before applying, the pending migrations are tried in a transaction that is rolled back, and every named
    query is checked against the schema they make (`--check-only` does just that): when a query would break,
    nothing is applied and the report says which.

    Example: datalayer migrate --list
    """
    from datalayer.migrate import Migrator

    if (to or everything) and not rollback:
        raise click.UsageError("--to and --all go with --rollback")
    if to and everything:
        raise click.UsageError("give either --to ID or --all, not both")
    if show_list and (rollback or dry_run):
        raise click.UsageError("--list only lists: it does not go with --rollback or --dry-run")
    if check_only and (show_list or rollback or dry_run or no_query_check):
        raise click.UsageError("--check-only goes with none of --list, --rollback, --dry-run, --no-query-check")

    async def go() -> None:
        async with Migrator(
            app.url, lock=not show_list, settings=app.settings
        ) as m:  # listing takes no lock and creates nothing
            if check_only:
                checked = await m.check_pending()
                if as_json:
                    emit_json(checked.as_dict())
                elif not checked.migrations:
                    click.echo("nothing pending: `datalayer check` covers the schema as it is")
                elif checked.ok:
                    click.echo(
                        f"with {', '.join(checked.migrations)} applied, all {checked.report.checked} named queries "
                        "and filters still prepare and match their models (nothing was applied)"
                    )
                else:
                    click.echo(checked.refusal(), err=True)
                if not checked.ok:
                    raise SystemExit(1)
                return
            if show_list:
                states = await m.status()
                if as_json:
                    emit_json([s.as_dict() for s in states])
                    return
                table = Table("migration", "state", "drift")
                for s in states:
                    table.add_row(s.id, "applied" if s.applied else "pending", s.drift or "")
                show(table, 0)
                return
            if rollback:
                done = await m.rollback(to=to, everything=everything, dry_run=dry_run)
                verb = "would roll back" if dry_run else "rolled back"
            else:
                done = await m.apply(dry_run=dry_run, check_queries=not (dry_run or no_query_check))
                verb = "would apply" if dry_run else "applied"
            if as_json:
                emit_json({"action": verb, "migrations": done})
                return
            if not done:
                click.echo("nothing to do")
            for mid in done:
                click.echo(f"{verb} {mid}")
                if dry_run:
                    click.echo(m.sql_of(mid, rollback=rollback))

    app.run(go())


# -- check -------------------------------------------------------------------------------------------------------
@main.command()
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def check(app: AppContext, as_json: bool) -> None:
    """Prepare every named query against the migrated schema and compare it with its model.

    Exits 1 with a list of every mismatch.

    Example: datalayer check
    """
    from datalayer import check as checker

    report = app.with_db(lambda db: checker.run(db.executor, db.url))
    if as_json:
        from datalayer import queries as q

        bindings = [
            {"query": b.name, "owner": b.owner, "shape": b.shape, "retry_safe": b.retry,
             "params": [f"{n}: {getattr(t, '__name__', str(t))}" for n, t in b.param_types]}
            for name in sorted(q.REGISTRY) for b in q.REGISTRY[name]
        ]  # fmt: skip
        emit_json({"checked": report.checked, "ok": report.ok, "problems": report.problems, "bindings": bindings})
    else:
        for problem in report.problems:
            click.echo(f"✗ {problem}")
        click.echo(f"{report.checked} named queries checked, {len(report.problems)} problem(s)")
    if not report.ok:
        sys.exit(1)


# -- health ------------------------------------------------------------------------------------------------------
@main.command()
@click.option("--quick", is_flag=True, help="Only the cheap checks: connectivity, migrations, connections, pool.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--set", "overrides", multiple=True, metavar="NAME=VALUE",
    help="Override a threshold for this run (also DATALAYER_HEALTH_<NAME>); repeatable.",
)  # fmt: skip
@click.option("--thresholds", "list_thresholds", is_flag=True, help="List every threshold and its value, then exit.")
@pass_app
def health(app: AppContext, quick: bool, as_json: bool, overrides: tuple[str, ...], list_thresholds: bool) -> None:
    """Check the database: each check has a value, a threshold, a verdict and one line of advice.

    Connectivity and latency, connections and pool, long queries, idle transactions, blocked queries,
    prepared transactions, cache hit ratios, sequential scans, unused / duplicate / invalid indexes,
    unindexed foreign keys, NOT VALID constraints, disabled triggers, bloat, dead rows, vacuum/analyze
    age, transaction-ID and MultiXact wraparound, sequences, checkpoints, WAL archiving, replication and
    slots, sizes, the slowest named queries (pg_stat_statements), migrations and drift, and monthly
    partitions. Without --quick it also lists every table of our schemas.

    Exit status: 0 ok, 1 warning, 2 critical (or unreachable): usable as a container health check.

    Example: datalayer health --set long_query_s=30 --json
    """
    from datalayer import health as checks

    pairs: dict[str, str] = {}
    for item in overrides:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="'--set'")
        pairs[name.strip()] = value.strip()
    try:
        thresholds = checks.thresholds_with(pairs)
    except DatalayerError as exc:
        if "(--set)" in str(exc) or "unknown health threshold" in str(exc) or "not a" in str(exc):
            raise click.BadParameter(str(exc), param_hint="'--set'") from None
        raise click.ClickException(f"bad configuration: {exc}") from None
    if list_thresholds:
        rows = [{"name": k, "value": getattr(thresholds, k), "meaning": f.description}
                for k, f in type(thresholds).model_fields.items()]  # fmt: skip
        if as_json:
            emit_json(rows)
        else:
            table = Table("threshold", "value", "meaning")
            for r in rows:
                table.add_row(r["name"], str(r["value"]), r["meaning"] or "")
            show(table, 0)
        return

    async def run(db: Database) -> dict[str, Any]:
        return await checks.report(db, quick=quick, thresholds=thresholds)

    try:
        report = app.with_db(run, check_schema=False)
    except DatalayerError as exc:
        try:
            url = app.url
        except DatalayerError:
            url = "(embedded cluster)"
        report = checks.unreachable(url, exc)
    if as_json:
        emit_json(report)
    else:
        from rich.text import Text

        colour = {"ok": "green", "warning": "yellow", "critical": "red"}
        head = report.get("server_version", "")
        console.print(f"{report['url']}  {('PostgreSQL ' + head) if head else ''}", markup=False, highlight=False)
        table = Table("check", "verdict", "value", "threshold")
        for c in report["checks"]:
            table.add_row(c["name"], Text(c["verdict"], style=colour[c["verdict"]]), c["value"], c["threshold"])
        show(table, 0, 1)
        for c in report["checks"]:
            if c["verdict"] != "ok":
                console.print(Text(f"{c['name']} ({c['verdict']}): ", style="bold") + Text(c["advice"]))
                for d in c["details"][:10]:
                    console.print("  " + ", ".join(f"{k}={v}" for k, v in d.items()), markup=False, highlight=False)
        if "tables" in report:
            console.print("tables:", style="bold")
            for entry in report["tables"]:
                console.print("  " + checks.describe_table(entry), markup=False, highlight=False)
        words = {"ok": "healthy", "warning": "warnings", "critical": "unhealthy"}
        console.print(f"[{colour[report['status']]}]{words[report['status']]}[/{colour[report['status']]}]")
    sys.exit(checks.EXIT_CODE[report["status"]])


# -- stats -------------------------------------------------------------------------------------------------------
@main.group(invoke_without_command=True)
@click.option(
    "--exact", is_flag=True, help="Count rows with count(*) (a full scan of every table) instead of estimates."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
@click.pass_context
def stats(ctx: click.Context, app: AppContext, exact: bool, as_json: bool) -> None:
    """Rows and sizes per schema and table, and growth since the last run (kept in ops.table_size_history);
    `datalayer stats queries` has the per-query figures.

    Rows are the statistics collector's estimates unless --exact.

    Example: datalayer stats --exact --json
    """
    if ctx.invoked_subcommand is not None:
        return
    from datetime import UTC, datetime

    from datalayer.health import size
    from datalayer.health.server import ServerHealthRepository
    from datalayer.health.tables import TableHealthRepository
    from datalayer.maintenance.sizes import SizeHistoryRepository
    from datalayer.ops.catalog import CatalogRepository

    async def go(db: Database) -> dict[str, Any]:
        now = datetime.now(UTC)
        schemas = await CatalogRepository(db).our_schemas()
        history = SizeHistoryRepository(db)
        async with db.transaction() as tx:  # a table locked by someone else: fail in 2 s, never hang
            await ServerHealthRepository(tx).limit_session(2000, 0)
            tables = await TableHealthRepository(tx).schema_tables(schemas)
            counts = {(t.schema_name, t.table_name): await SizeHistoryRepository(tx).count_exactly(t.schema_name, t.table_name)
                      for t in tables} if exact else {}  # fmt: skip
        before = await history.previous(now)
        rows: list[dict[str, Any]] = []
        for t in tables:
            live = counts[(t.schema_name, t.table_name)] if exact else t.live_rows
            prev = before.get((t.schema_name, t.table_name))
            rows.append({
                "schema": t.schema_name, "table": t.table_name, "rows": live, "exact": exact,
                "total_bytes": t.total_bytes, "partitions": t.partitions if t.partitioned else None,
                "rows_growth": None if prev is None else live - prev.live_rows,
                "bytes_growth": None if prev is None else t.total_bytes - prev.total_bytes,
                "since": None if prev is None else prev.taken_at.isoformat(),
            })  # fmt: skip
        await history.record(now, [{"schema_name": r["schema"], "table_name": r["table"], "live_rows": r["rows"],
                                    "total_bytes": r["total_bytes"]} for r in rows])  # fmt: skip
        per_schema: dict[str, dict[str, int]] = {}
        for r in rows:
            agg = per_schema.setdefault(r["schema"], {"tables": 0, "rows": 0, "total_bytes": 0})
            agg["tables"] += 1
            agg["rows"] += r["rows"]
            agg["total_bytes"] += r["total_bytes"]
        return {"taken_at": now.isoformat(), "schemas": per_schema, "tables": rows}

    report = app.with_db(go)
    if as_json:
        emit_json(report)
        return
    table = Table("table", "rows" + ("" if exact else " (est.)"), "size", "growth since last run")
    for r in report["tables"]:
        growth = "first run" if r["since"] is None else f"{r['rows_growth']:+,} rows, {size(r['bytes_growth'])}"
        table.add_row(f"{r['schema']}.{r['table']}", f"{r['rows']:,}", size(r["total_bytes"]), growth)
    for name, agg in report["schemas"].items():
        table.add_row(f"[bold]{name}[/bold] ({agg['tables']} tables)", f"{agg['rows']:,}", size(agg["total_bytes"]), "")
    show(table, 0)


@stats.command("queries")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option(
    "--reset",
    is_flag=True,
    help="Forget the flushed statistics of every process, and pg_stat_statements' for this database, first.",
)
@pass_app
def stats_queries(app: AppContext, as_json: bool, reset: bool) -> None:
    """Per named query: the data layer's own figures (calls, errors, retries, rows, mean / p95 / max latency,
    flushed by every process when it closes its Database) beside pg_stat_statements' for the same name.

    Every statement starts with its name as a comment (/* twitter_bot.get_tweet */), which is how the two meet.

    Example: datalayer stats queries --json
    """
    from datalayer.ops.stats import StatsRepository, missing_extension_reason
    from datalayer.queries import percentile

    async def go(db: Database) -> dict[str, Any]:
        repo = StatsRepository(db)
        note = None
        if reset:
            await repo.reset()
            try:
                await repo.reset_statements()
            except DatalayerError as exc:
                note = f"pg_stat_statements not reset: {exc.message.splitlines()[0]}"
        ours = {t.name: t for t in await repo.totals()}
        server: dict[str, Any] = {}
        try:
            server = {s.name: s for s in await repo.statements() if s.name}
        except DatalayerError as exc:
            note = missing_extension_reason(exc) if note is None else f"{note}; {missing_extension_reason(exc)}"
        rows = []
        for name in sorted(set(ours) | set(server)):
            o, s = ours.get(name), server.get(name)
            rows.append(
                {
                    "name": name,
                    "calls": o.calls if o else None,
                    "errors": o.errors if o else None,
                    "retries": o.retries if o else None,
                    "rows": o.rows if o else None,
                    "mean_ms": round(o.total_ms / o.calls, 3) if o and o.calls else None,
                    "p95_ms": round(percentile(o.buckets, 0.95, o.max_ms / 1000) * 1000, 3) if o else None,
                    "max_ms": round(o.max_ms, 3) if o else None,
                    "cache_hits": o.cache_hits if o else None,
                    "cache_misses": o.cache_misses if o else None,
                    "cache_evictions": o.cache_evictions if o else None,
                    "cache_invalidations": o.cache_invalidations if o else None,
                    "cache_redis_errors": o.cache_redis_errors if o else None,
                    "server_calls": s.calls if s else None,
                    "server_rows": s.rows if s else None,
                    "server_mean_ms": round(s.mean_ms, 3) if s and s.mean_ms is not None else None,
                    "server_total_ms": round(s.total_ms, 3) if s else None,
                }
            )
        return {"queries": rows, "pg_stat_statements": note or "available"}

    report = app.with_db(go)
    if as_json:
        emit_json(report)
        return
    table = Table(
        "query", "calls", "errors", "retries", "mean ms", "p95 ms", "max ms", "cache hit/miss", "invalidated",
        "server calls", "server mean ms",
    )  # fmt: skip
    for r in report["queries"]:
        cached = "-" if not (r["cache_hits"] or r["cache_misses"]) else f"{r['cache_hits']}/{r['cache_misses']}"
        if r["cache_redis_errors"]:
            cached += f" ({r['cache_redis_errors']} Redis errors)"
        table.add_row(
            r["name"], *("-" if r[k] is None else str(r[k]) for k in ("calls", "errors", "retries", "mean_ms", "p95_ms", "max_ms")),
            cached, "-" if not r["cache_invalidations"] else str(r["cache_invalidations"]),
            *("-" if r[k] is None else str(r[k]) for k in ("server_calls", "server_mean_ms")),
        )  # fmt: skip
    longest = max((len(r["name"]) for r in report["queries"]), default=10)
    table.columns[0].no_wrap = True
    table.columns[0].min_width = longest  # query names are long: never cut them
    Console(width=max(console.width, longest + 130)).print(table)
    if report["pg_stat_statements"] != "available":
        click.echo(report["pg_stat_statements"])


@main.command("secret-key")
def secret_key() -> None:
    """Print a new random key for DATALAYER_SECRET_KEY (encrypts stored API credentials).

    Keep it outside the database, e.g. in your secret manager; without it stored credentials cannot be read.

    Example: export DATALAYER_SECRET_KEY=$(datalayer secret-key)
    """
    from datalayer.secrets import Cipher

    click.echo(Cipher.generate_key())


@main.group(invoke_without_command=True)
@click.option("--all", "everything", is_flag=True, help="Every bot's sample data, with the defaults.")
@click.pass_context
def seed(ctx: click.Context, everything: bool) -> None:
    """Sample data for one bot (or --all), through its repositories; running it again adds no rows.

    Example: datalayer seed --all
    """
    if ctx.invoked_subcommand is not None:
        if everything:
            raise click.UsageError("--all seeds every bot: give it without a bot name")
        return
    if not everything:
        click.echo(ctx.get_help())
        return
    import time

    assert isinstance(ctx.command, click.Group)
    skipped = []
    for name in sorted(ctx.command.commands):
        console.print(f"== {name} ==", style="bold")
        started = time.perf_counter()
        try:
            ctx.invoke(ctx.command.commands[name])
        except (click.ClickException, DatalayerError) as exc:
            message = exc.message if isinstance(exc, click.ClickException) else str(exc)
            if "is not set" not in message:  # only a missing setting skips a bot; anything else fails
                raise
            skipped.append(name)
            console.print(f"skipped: {message}", style="yellow", markup=False, highlight=False)
            continue
        console.print(f"({time.perf_counter() - started:.1f} s)", style="dim")
    from datalayer.maintenance.targets import analyze_all

    app = ctx.find_object(AppContext)
    assert app is not None
    console.print(f"analysed {app.with_db(analyze_all)} tables (partitioned parents too: autovacuum never does)")
    if skipped:
        console.print(f"seeded all but {', '.join(skipped)} (see above)", style="yellow")


def _add_domain_commands() -> None:
    """Each package under `datalayer` may have a `cli` module with a click `group`, which becomes
    `datalayer <group>`, a list of top-level `commands` (`datalayer <command>`), and a `seed_command`, which
    becomes `datalayer seed <name>`. A new package adds its commands without touching this file."""
    import importlib
    import pkgutil

    import datalayer

    for info in pkgutil.iter_modules(datalayer.__path__):
        if info.ispkg:
            try:
                module = importlib.import_module(f"datalayer.{info.name}.cli")
            except ModuleNotFoundError:
                continue
            if hasattr(module, "group"):
                main.add_command(module.group)
            for command in getattr(module, "commands", ()):
                main.add_command(command)
            if hasattr(module, "seed_command"):
                seed.add_command(module.seed_command)


_add_domain_commands()

"""The `datalayer` command: a thin click layer over the library. Library errors become clean messages here."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar
from urllib.parse import unquote, urlsplit

import click
from rich.console import Console
from rich.table import Table

from datalayer.config import Settings, mask_url
from datalayer.db import Database, resolve_url
from datalayer.errors import DatalayerError

T = TypeVar("T")
console = Console()


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

    def with_db(self, fn: Callable[[Database], Awaitable[T]]) -> T:
        async def go() -> T:
            async with Database.connect(self.settings, self.url) as db:
                return await fn(db)

        return self.run(go())


pass_app = click.make_pass_decorator(AppContext)


def emit_json(data: Any) -> None:
    click.echo(json.dumps(data, indent=2, default=str))


class CleanErrors(click.Group):
    """Turns library errors into one-line messages with exit code 1, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DatalayerError as exc:
            raise click.ClickException(str(exc)) from exc
        except FileNotFoundError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=CleanErrors)
@click.option("--database-url", envvar="DATABASE_URL", help="PostgreSQL URL; default: the embedded cluster.")
@click.option("--pool-max-size", type=int, envvar="DATALAYER_POOL_MAX_SIZE", help="Largest pool size.")
@click.option(
    "--statement-cache-size",
    type=int,
    envvar="DATALAYER_STATEMENT_CACHE_SIZE",
    help="asyncpg prepared-statement cache; 0 behind PgBouncer in transaction mode.",
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
    try:
        settings = Settings().with_overrides(
            database_url=database_url, pool_max_size=pool_max_size, statement_cache_size=statement_cache_size
        )
    except ValueError as exc:
        raise click.ClickException(f"bad configuration: {exc}") from exc
    ctx.obj = AppContext(settings)


# -- db ----------------------------------------------------------------------------------------------------------
@main.group()
def db() -> None:
    """Manage the embedded PostgreSQL cluster, or open psql on the configured database.

    Example: datalayer db up
    """


def _cluster(app: AppContext) -> Any:
    from datalayer.embedded import EmbeddedCluster

    return EmbeddedCluster(app.settings.home.resolve())


@db.command("up")
@pass_app
def db_up(app: AppContext) -> None:
    """Start the embedded cluster (initialise it the first time); prints its URL.

    Example: datalayer db up
    """
    click.echo(_cluster(app).up())


@db.command("down")
@pass_app
def db_down(app: AppContext) -> None:
    """Stop the embedded cluster.

    Example: datalayer db down
    """
    click.echo("stopped" if _cluster(app).down() else "not running")


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

    parts = urlsplit(app.url)
    env = dict(os.environ)
    env.update(
        PGHOST=parts.hostname or "127.0.0.1",
        PGPORT=str(parts.port or 5432),
        PGUSER=unquote(parts.username or "postgres"),
        PGDATABASE=unquote(parts.path.lstrip("/") or "postgres"),
    )
    if parts.password:
        env["PGPASSWORD"] = unquote(parts.password)
    psql = bin_dir() / "psql"
    exe = str(psql) if psql.exists() else (shutil.which("psql") or "psql")
    sys.stdout.flush()
    os.execve(exe, [exe, *psql_args], env)


# -- migrate -----------------------------------------------------------------------------------------------------
@main.command()
@click.option("--list", "show_list", is_flag=True, help="Show applied and pending migrations, and drift.")
@click.option("--rollback", is_flag=True, help="Roll back the newest applied migration.")
@click.option("--to", "to", metavar="ID", help="With --rollback: roll back everything applied after ID.")
@click.option("--all", "everything", is_flag=True, help="With --rollback: roll back every migration.")
@click.option("--dry-run", is_flag=True, help="Print what would run, change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def migrate(
    app: AppContext, show_list: bool, rollback: bool, to: str | None, everything: bool, dry_run: bool, as_json: bool
) -> None:
    """Apply pending migrations (or list / roll back). Refuses to run when an applied file was edited.

    Example: datalayer migrate --list
    """
    from datalayer.migrate import Migrator

    if (to or everything) and not rollback:
        raise click.UsageError("--to and --all go with --rollback")
    if to and everything:
        raise click.UsageError("give either --to ID or --all, not both")

    async def go() -> None:
        async with Migrator(app.url) as m:
            if show_list:
                states = await m.status()
                if as_json:
                    emit_json([s.as_dict() for s in states])
                    return
                table = Table("migration", "state", "drift")
                for s in states:
                    table.add_row(s.id, "applied" if s.applied else "pending", s.drift or "")
                console.print(table)
                return
            if rollback:
                done = await m.rollback(to=to, everything=everything, dry_run=dry_run)
                verb = "would roll back" if dry_run else "rolled back"
            else:
                done = await m.apply(dry_run=dry_run)
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
        emit_json({"checked": report.checked, "ok": report.ok, "problems": report.problems})
    else:
        for problem in report.problems:
            click.echo(f"✗ {problem}")
        click.echo(f"{report.checked} named queries checked, {len(report.problems)} problem(s)")
    if not report.ok:
        sys.exit(1)


# -- health ------------------------------------------------------------------------------------------------------
@main.command()
@click.option("--quick", is_flag=True, required=True, help="Reachability, latency, version, migrations, drift.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_app
def health(app: AppContext, quick: bool, as_json: bool) -> None:
    """Report whether the database is healthy; exits 1 when it is not.

    Example: datalayer health --quick
    """
    from datalayer import health as checks

    report = app.with_db(checks.quick)
    if as_json:
        emit_json(report)
    else:
        table = Table("check", "result", show_header=False)
        for key, val in report.items():
            table.add_row(key, ", ".join(map(str, val)) if isinstance(val, list) else str(val))
        console.print(table)
        console.print("[green]healthy[/green]" if report["ok"] else "[red]unhealthy[/red]")
    if not report["ok"]:
        sys.exit(1)


@main.command("secret-key")
def secret_key() -> None:
    """Print a new random key for DATALAYER_SECRET_KEY (encrypts stored API credentials).

    Keep it outside the database, e.g. in your secret manager; without it stored credentials cannot be read.

    Example: export DATALAYER_SECRET_KEY=$(datalayer secret-key)
    """
    from datalayer.secrets import Cipher

    click.echo(Cipher.generate_key())


def _add_domain_commands() -> None:
    """Each bot package may have a `cli` module with a click `group`; it becomes `datalayer <group>`."""
    import importlib
    import pkgutil

    import datalayer

    for info in pkgutil.iter_modules(datalayer.__path__):
        if info.ispkg:
            try:
                module = importlib.import_module(f"datalayer.{info.name}.cli")
            except ModuleNotFoundError:
                continue
            main.add_command(module.group)


_add_domain_commands()

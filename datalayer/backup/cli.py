"""`datalayer backup …` and `datalayer restore`: pg_dump backups with a manifest, their verification and restore,
base backups and point-in-time recovery of the embedded cluster."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    SpinnerColumn,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.progress import Progress as RichProgress
from rich.table import Table

from datalayer.backup import logical, pitr
from datalayer.cli import AppContext, emit_json, pass_app, show
from datalayer.config import mask_url
from datalayer.embedded import EmbeddedCluster
from datalayer.errors import UsageError


class Bar:
    """The progress display: one line per stage (fingerprints, dump, restore …) on stderr, only on a terminal
    and never with --json, so nothing garbles the output a program reads."""

    def __init__(self, enabled: bool) -> None:
        self._bar = RichProgress(
            SpinnerColumn(), TextColumn("{task.description:<20}"), BarColumn(), TaskProgressColumn(),
            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(),
            console=Console(stderr=True), transient=True, disable=not enabled,
        )  # fmt: skip
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Bar:
        self._bar.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self._bar.stop()

    def stop(self) -> None:
        """Take the display off the terminal for good (before a question is asked)."""
        self._bar.stop()

    def __call__(self, stage: str, completed: float, total: float | None, detail: str = "") -> None:
        task = self._tasks.get(stage)
        if task is None:
            task = self._tasks[stage] = self._bar.add_task(stage, total=total, detail=detail)
        self._bar.update(task, completed=completed, total=total, detail=detail[:60])


@contextmanager
def progress_for(as_json: bool) -> Iterator[Bar]:
    with Bar(enabled=not as_json and sys.stderr.isatty()) as bar:
        yield bar


def _size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TB"


def _when(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _directory(app: AppContext, directory: Path | None) -> Path:
    return directory if directory is not None else logical.default_dir(app.settings)


def _base_directory(app: AppContext, directory: Path | None) -> Path:
    """Base backups live in the backups folder's base/."""
    return directory / "base" if directory is not None else pitr.default_base_dir(app.settings)


def _embedded_only(app: AppContext, what: str) -> EmbeddedCluster:
    if app.settings.database_url is not None:
        raise UsageError(
            f"{what} works on the embedded cluster only, whose WAL datalayer archives; DATABASE_URL points at "
            f"{mask_url(app.url)}. On your own server: set wal_level = replica, archive_mode = on and an "
            "archive_command in its postgresql.conf, allow a replication connection in pg_hba.conf, and take base "
            "backups with pg_basebackup (or pgBackRest, Barman); `datalayer backup` (pg_dump) works on any server"
        )
    return EmbeddedCluster(app.settings.home.resolve())


_DIR = click.option(
    "--dir", "directory", type=click.Path(file_okay=False, path_type=Path),
    help="Folder of the backups (default: DATALAYER_HOME's backups/).",
)  # fmt: skip
_TIMEOUT = click.option(
    "--timeout", "tool_timeout", type=click.FloatRange(1, None), default=None,
    help="Stop pg_dump / pg_restore / pg_basebackup after this many seconds (default: no limit).",
)  # fmt: skip
_JSON = click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")


@click.group("backup", invoke_without_command=True)
@_DIR
@click.option(
    "--keep", type=click.IntRange(1, 100_000),
    help="After a successful backup, delete this database's older backups beyond the newest N.",
)  # fmt: skip
@_TIMEOUT
@_JSON
@click.pass_context
def group(
    ctx: click.Context, directory: Path | None, keep: int | None, tool_timeout: float | None, as_json: bool
) -> None:
    """Back up the database: pg_dump (custom format, compressed) plus a manifest of every table's exact rows
    and checksum, taken from the same snapshot as the dump. Subcommands list, verify and take base backups.

    The file is <database>-<UTC time>.dump in DATALAYER_HOME's backups/ (or --dir), beside
    <file>.manifest.json. pg_dump must be the server's major version: the embedded wheel's, a
    /usr/lib/postgresql/<major>/bin, or one on PATH.

    Example: datalayer backup --keep 7
    """
    if ctx.invoked_subcommand is not None:
        if directory is not None or keep is not None or tool_timeout is not None or as_json:
            raise click.UsageError(
                "--dir, --keep, --timeout and --json before a subcommand belong to `datalayer backup` itself; "
                "give them after the subcommand (e.g. `datalayer backup list --dir D`)"
            )
        return
    app = ctx.find_object(AppContext)
    assert app is not None  # made by `datalayer` itself
    folder = _directory(app, directory)
    with progress_for(as_json) as bar:
        result = app.run(
            logical.backup(app.settings, app.url, folder, keep=keep, progress=bar, tool_timeout=tool_timeout)
        )
    if as_json:
        emit_json(result.as_dict())
        return
    m = result.manifest
    click.echo(
        f"backed up {m.database} to {result.file} ({_size(m.size)}, {len(m.tables)} tables, {m.rows:,} rows) "
        f"in {result.seconds:.1f} s"
    )
    click.echo(f"manifest: {logical.manifest_path(result.file)}")
    if result.deleted:
        click.echo(
            f"deleted {len(result.deleted)} older backup(s) beyond the newest {keep}: {', '.join(result.deleted)}"
        )


@group.command("list")
@_DIR
@_JSON
@pass_app
def list_(app: AppContext, directory: Path | None, as_json: bool) -> None:
    """The backups in the folder, newest first: file, database, created, size, tables, rows, manifest; and the
    base backups (for point-in-time recovery) when there are any.

    Example: datalayer backup list --json
    """
    folder = _directory(app, directory)
    backups = logical.list_backups(folder)
    bases = pitr.list_base_backups(_base_directory(app, directory))
    if as_json:
        emit_json({
            "dir": str(folder), "backups": [b.as_dict() for b in backups],
            "base_backups": [meta.as_dict(path) for path, meta in bases],
        })  # fmt: skip
        return
    if not backups:
        click.echo(f"no backups in {folder}")
    else:
        table = Table("file", "database", "created", "size", "tables", "rows", "manifest")
        for b in backups:
            m = b.manifest
            table.add_row(
                b.file.name, m.database if m else "?", _when(b.created_at), _size(b.size),
                str(len(m.tables)) if m else "-", f"{m.rows:,}" if m else "-", "yes" if m else "[red]missing[/red]",
            )  # fmt: skip
        show(table, 0, 2)
    if bases:
        table = Table("base backup", "consistent from", "size", "verified")
        for path, meta in bases:
            table.add_row(path.name, _when(meta.consistent_at), _size(meta.size), "yes" if meta.verified else "no")
        show(table, 0, 1)


@group.command("verify")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@_DIR
@_TIMEOUT
@_JSON
@pass_app
def verify(app: AppContext, file: Path, directory: Path | None, tool_timeout: float | None, as_json: bool) -> None:
    """Check a backup: its size and sha256 against the manifest, then a restore into a scratch database of
    the server (uniquely named, always dropped) whose every table must have the manifest's rows and checksum.

    Reports each table that differs; exits 1 when the backup fails. FILE may be a name from `backup list`.

    Example: datalayer backup verify mydb-20261201T120000Z.dump
    """
    path = logical.resolve_file(file, _directory(app, directory))
    with progress_for(as_json) as bar:
        result = app.run(logical.verify(app.settings, app.url, path, progress=bar, tool_timeout=tool_timeout))
    if as_json:
        emit_json(result.as_dict())
    elif result.ok:
        click.echo(
            f"✓ {path.name} is good: restored into a scratch database, its {len(result.restored)} tables and "
            f"{sum(t.rows for t in result.restored.values()):,} rows equal the manifest ({result.seconds:.1f} s)"
        )
    else:
        click.echo(f"✗ {path.name} fails verification:")
        for reason in result.reasons():
            click.echo(f"  {reason}")
    if not result.ok:
        raise SystemExit(1)


@group.command("base")
@_DIR
@click.option(
    "--keep", type=click.IntRange(1, 10_000),
    help="Then delete older base backups beyond the newest N, and the archived WAL only they needed.",
)  # fmt: skip
@_TIMEOUT
@_JSON
@pass_app
def base(app: AppContext, directory: Path | None, keep: int | None, tool_timeout: float | None, as_json: bool) -> None:
    """Take a base backup of the embedded cluster (pg_basebackup, tar + gzip, checked with pg_verifybackup):
    the starting point of a point-in-time recovery (`datalayer restore --to-time`), with the WAL the cluster
    archives into DATALAYER_HOME's wal-archive/.

    Not for DATABASE_URL's server: there, archiving and base backups are the server's own configuration.

    Example: datalayer backup base --keep 3
    """
    cluster = _embedded_only(app, "backup base")
    cluster.up()
    folder = _base_directory(app, directory)
    with progress_for(as_json) as bar:
        result = app.run(
            pitr.base_backup(app.settings, cluster, folder, keep=keep, progress=bar, tool_timeout=tool_timeout)
        )
    if as_json:
        emit_json(result.as_dict())
        return
    b = result.backup
    click.echo(
        f"base backup {result.folder} ({_size(b.size)}, {'verified' if b.verified else 'not verified'}) in "
        f"{result.seconds:.1f} s; recovery can reach any moment from {_when(b.consistent_at)} on"
    )
    if result.deleted:
        click.echo(
            f"deleted {len(result.deleted)} older base backup(s) ({', '.join(result.deleted)}) and "
            f"{result.wal_removed} archived WAL file(s) no kept backup needs"
        )


def _parse_time(value: str) -> datetime:
    try:
        at = datetime.fromisoformat(value.strip())
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 time (e.g. 2026-12-01T12:00:00+00:00)", param_hint="'--to-time'"
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


@click.command("restore")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path), required=False)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.option(
    "--to-time", "to_time", metavar="TS",
    help="Point-in-time recovery of the embedded cluster to TS (ISO 8601; UTC without an offset) into --target-dir.",
)  # fmt: skip
@click.option(
    "--target-dir", type=click.Path(file_okay=False, path_type=Path),
    help="With --to-time: a new (or empty) folder for the recovered cluster (its DATALAYER_HOME).",
)  # fmt: skip
@click.option(
    "--port", type=click.IntRange(1, 65535), help="With --to-time: the recovered cluster's port (default: a free one)."
)
@_DIR
@_TIMEOUT
@_JSON
@pass_app
def restore(
    app: AppContext,
    file: Path | None,
    yes: bool,
    to_time: str | None,
    target_dir: Path | None,
    port: int | None,
    directory: Path | None,
    tool_timeout: float | None,
    as_json: bool,
) -> None:
    """Replace the database with a backup (FILE), or recover the embedded cluster to a moment (--to-time).

    FILE is verified first (sha256, then a full restore compared with the manifest) and refused when it fails.
    After confirmation the verified, analysed copy takes the database's name in one step; the database as it
    was is kept as <name>_pre_restore_<time> (drop it when satisfied), and its sessions are disconnected.
    Nothing changes if anything fails before that step.

    --to-time builds a new cluster in --target-dir from the newest base backup taken before TS plus the
    archived WAL, starts it on its own port and prints its URL; the running cluster is left as it is.

    Example: datalayer restore mydb-20261201T120000Z.dump --yes
    """
    if (file is None) == (to_time is None):
        raise click.UsageError("give either FILE (a backup to restore) or --to-time TS (point-in-time recovery)")
    if to_time is None and (target_dir is not None or port is not None):
        raise click.UsageError("--target-dir and --port go with --to-time")
    if to_time is not None:
        if target_dir is None:
            raise click.UsageError("--to-time needs --target-dir DIR: the recovered cluster is a new one")
        _recover(app, _parse_time(to_time), target_dir, port, directory, as_json)
        return
    assert file is not None
    path = logical.resolve_file(file, _directory(app, directory))

    with progress_for(as_json) as bar:

        def confirm(plan: logical.RestorePlan) -> None:
            if yes:
                return
            bar.stop()  # the question must not be drawn over
            m = plan.manifest
            other = f", a backup of database {m.database}" if m.database != plan.database else ""
            what = (
                f"Replace database {plan.database} at {plan.url} with {plan.file.name}{other} (taken {_when(m.created_at)}, "
                f"{len(m.tables)} tables, {m.rows:,} rows)? Its sessions are disconnected and writes since the backup "
                "stay only in the kept copy"
                if plan.replaces
                else f"Create database {plan.database} at {plan.url} from {plan.file.name}{other}?"
            )
            click.confirm(what, abort=True, err=True)

        result = app.run(
            logical.restore(app.settings, app.url, path, confirm=confirm, progress=bar, tool_timeout=tool_timeout)
        )
    data = result.as_dict()
    if as_json:
        emit_json(data)
        return
    click.echo(
        f"restored {data['database']} from {path.name}: {data['tables']} tables, {data['rows']:,} rows, analysed "
        f"({result.seconds:.1f} s)"
    )
    if result.previous:
        click.echo(
            f"the database as it was is kept as {result.previous} (it accepts no connections); drop it when "
            f"satisfied: datalayer db psql -c 'DROP DATABASE \"{result.previous}\"'"
        )


def _recover(
    app: AppContext, at: datetime, target_dir: Path, port: int | None, directory: Path | None, as_json: bool
) -> None:
    cluster = _embedded_only(app, "restore --to-time")
    folder = _base_directory(app, directory)
    with progress_for(as_json) as bar:
        result = app.run(pitr.recover(app.settings, cluster, folder, at, target_dir.resolve(), port=port, progress=bar))
    data: dict[str, Any] = result.as_dict()
    if as_json:
        emit_json(data)
        return
    replayed = f"; last commit replayed: {_when(result.last_replayed_at)}" if result.last_replayed_at else ""
    click.echo(f"recovered to {_when(at)} from {result.base}{replayed} ({result.seconds:.1f} s)")
    click.echo(f"running in {result.home / 'pgdata'}; stop it with: {data['stop']}")
    click.echo(result.url)


commands = [restore]

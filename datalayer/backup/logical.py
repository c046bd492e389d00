"""Aggregate `logical` (queries/backup/logical.sql): pg_dump backups with a manifest, and their list,
verification, restore and retention.

A backup is one pg_dump custom-format file (compressed) plus `<file>.manifest.json`: the file's sha256 and size,
and per table of our schemas its exact rows and checksum (`fingerprint`). The manifest and the dump come from
one snapshot: a REPEATABLE READ transaction exports it, pg_dump reads it (`--snapshot`) while the same
transaction fingerprints the tables, so writes during a backup are in neither or in both.

Verification restores the file into a new scratch database of the same server and compares its fingerprints
with the manifest. A restore is that same verified scratch database, analysed, then swapped in under the
target's name in one transaction (the database as it was is kept under another name): if anything fails
before the swap, the target is untouched.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final, Literal, TypeVar
from urllib.parse import quote, unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from datalayer import queries as q
from datalayer.backup import fingerprint
from datalayer.backup.fingerprint import FingerprintRepository, Mismatch, TableEntry
from datalayer.backup.tools import (
    Progress,
    ServerInfo,
    ServerRepository,
    Tool,
    find_tool,
    libpq_target,
    no_progress,
    run_tool,
)
from datalayer.config import Settings, mask_url
from datalayer.db import Database, ident
from datalayer.errors import DatalayerError, InvalidData, NotFound
from datalayer.ops.catalog import CatalogRepository
from datalayer.repository import Repository, Row

FORMAT: Final = "datalayer-backup"
FORMAT_VERSION = 1
SUFFIX = ".dump"
MANIFEST_SUFFIX = ".manifest.json"
COMPRESSION = "6"  # gzip level: every pg_dump from 15 on reads `-Z 6`; the embedded build has no lz4 or zstd
EXTRA_SCHEMAS = ("public",)
A = TypeVar("A")
B = TypeVar("B")  # the migration bookkeeping (yoyo's tables) lives there: a restore needs it right


class DatabaseRow(Row):
    name: str
    owner: str
    encoding: str
    collation_name: str
    ctype: str
    allow_connections: bool
    sessions: int


_SET_SESSION = q.value("backup.set_backup_session", str)
_EXPORT_SNAPSHOT = q.value("backup.export_snapshot", str)
_COUNT_DUMPED = q.value("backup.count_dumped_tables", int)
_GET_DATABASE = q.one("backup.get_database", DatabaseRow, (str,))
_TERMINATE = q.value("backup.close_database_sessions", int, (str,), retry=True)


class LogicalRepository(Repository):
    async def prepare_session(self) -> None:
        """No statement or idle timeout for the rest of this transaction (a backup's snapshot stays open)."""
        await self._x.value(_SET_SESSION)

    async def export_snapshot(self) -> str:
        """This transaction's snapshot, for `pg_dump --snapshot`."""
        return await self._x.value(_EXPORT_SNAPSHOT)

    async def count_dumped_tables(self) -> int:
        return await self._x.value(_COUNT_DUMPED)

    async def database(self, name: str) -> DatabaseRow | None:
        return await self._x.one(_GET_DATABASE, name)

    async def terminate_sessions(self, database: str) -> int:
        """End every other session on `database`; how many were signalled. Retry-safe: a repeat ends the
        sessions that are left, none twice."""
        return await self._x.value(_TERMINATE, database)


# -- the manifest ------------------------------------------------------------------------------------------------
class Manifest(BaseModel):
    """`<file>.manifest.json`: what the backup holds, from the snapshot pg_dump read."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    format: Literal["datalayer-backup"] = FORMAT
    format_version: int = FORMAT_VERSION
    database: str
    server: str | None = None  # host:port the backup was taken from (no user, no password); older files: None
    server_version: str
    server_version_num: int
    pg_dump_version: str
    created_at: datetime  # the snapshot's moment, on the server's clock
    file: str
    size: int
    sha256: str
    compression: str
    dumped_tables: int  # every table whose rows pg_dump wrote (the progress total of a restore)
    schemas: list[str]
    checksum_method: str
    tables: dict[str, TableEntry]

    @field_validator("format_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value > FORMAT_VERSION:
            raise ValueError(f"format version {value} is newer than this code reads ({FORMAT_VERSION}): upgrade it")
        return value

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables.values())


def manifest_path(file: Path) -> Path:
    return file.with_name(file.name + MANIFEST_SUFFIX)


def read_manifest(file: Path) -> Manifest:
    """The manifest beside `file`; InvalidData when it is missing or not a manifest of ours."""
    path = manifest_path(file)
    if not path.is_file():
        raise InvalidData(
            f"{file.name} has no manifest ({path.name} is missing): it was not made by `datalayer backup` or its "
            "backup did not finish, so it cannot be verified or restored"
        )
    try:
        return Manifest.model_validate_json(path.read_bytes())
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'manifest'}: {e['msg']}"
            for e in exc.errors(include_input=False, include_url=False)[:5]
        )
        raise InvalidData(f"{path.name} is not a valid backup manifest: {problems}") from None


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def resolve_file(file: Path, directory: Path) -> Path:
    """The backup a user named: a path, a manifest's path (its dump is meant), or a bare name in `directory`."""
    if file.name.endswith(MANIFEST_SUFFIX):
        file = file.with_name(file.name.removesuffix(MANIFEST_SUFFIX))
    if not file.exists() and not file.is_absolute() and (directory / file).exists():
        file = directory / file
    if not file.is_file():
        raise NotFound(f"no backup file {file} (nor in {directory}); `datalayer backup list` shows them")
    return file


def sha256_of(file: Path, progress: Progress = no_progress) -> str:
    digest = hashlib.sha256()
    total = file.stat().st_size
    done = 0
    with file.open("rb") as handle:
        while chunk := handle.read(1 << 20):
            digest.update(chunk)
            done += len(chunk)
            progress("sha256", done, total, file.name)
    return digest.hexdigest()


def check_file(file: Path, manifest: Manifest, progress: Progress = no_progress) -> list[str]:
    """Problems of the file itself (size, sha256) against its manifest: none when it is what was written."""
    size = file.stat().st_size
    if size != manifest.size:
        return [
            f"{file.name} has {size} bytes, its manifest says {manifest.size}: the file is truncated or was changed"
        ]
    digest = sha256_of(file, progress)
    if digest != manifest.sha256:
        return [f"{file.name}'s sha256 is {digest}, its manifest says {manifest.sha256}: the file was changed"]
    return []


# -- settings, URLs and names ------------------------------------------------------------------------------------
def default_dir(settings: Settings) -> Path:
    return settings.home.resolve() / "backups"


def quiet_settings(settings: Settings) -> Settings:
    """The settings of a backup's own connections: no statement timeout (fingerprinting a big table takes its
    time), no schema check (a backup before `migrate` must work), and nothing written back: no query statistics
    flushed into the database being backed up, verified or restored, no read cache."""
    return settings.model_copy(
        update={"command_timeout": None, "slow_query_ms": 0.0, "check_schema": False, "query_stats": False, "cache": False,
                "pool_min_size": 1, "pool_max_size": 2}
    )  # fmt: skip


def database_of(url: str) -> str:
    return unquote(urlsplit(url).path.removeprefix("/"))


def url_for(url: str, database: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + quote(database, safe=""), parts.query, parts.fragment))


def _fit(name: str, suffix: str) -> str:
    """`name` + `suffix`, shortened to PostgreSQL's 63-byte identifiers."""
    head = name.encode()[: 63 - len(suffix.encode())].decode(errors="ignore")
    return head + suffix


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _stamp(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def _private_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)


def _reserve(directory: Path, database: str, at: datetime) -> tuple[Path, Path]:
    """A new file name `<database>-<UTC time>.dump` (a counter after it when one exists) and its partial twin,
    created empty and private (0600): a backup holds personal data."""
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", database)[:100] or "database"
    for n in range(1, 1000):
        final = directory / f"{safe}-{_stamp(at)}{'' if n == 1 else f'-{n}'}{SUFFIX}"
        partial = final.with_name(final.name + ".partial")
        if final.exists() or manifest_path(final).exists():
            continue
        try:
            os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:
            continue  # another backup of the same second is writing it
        return final, partial
    raise InvalidData(f"cannot find a free backup file name in {directory}")


# -- backup ------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BackupResult:
    file: Path
    manifest: Manifest
    seconds: float
    deleted: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "ok": True, "file": str(self.file), "manifest": str(manifest_path(self.file)), "database": m.database,
            "created_at": m.created_at.isoformat(), "server_version": m.server_version,
            "pg_dump_version": m.pg_dump_version, "size": m.size, "sha256": m.sha256, "tables": len(m.tables),
            "rows": m.rows, "seconds": round(self.seconds, 3), "deleted": self.deleted,
        }  # fmt: skip


_DUMPING = re.compile(r'dumping contents of table "?([^"]+)"?')
_RESTORING = re.compile(r'processing data for table "?([^"]+)"?')


async def backup(
    settings: Settings,
    url: str,
    directory: Path,
    *,
    keep: int | None = None,
    progress: Progress = no_progress,
    tool_timeout: float | None = None,
) -> BackupResult:
    """Dump the database at `url` into `directory` with its manifest; then, with `keep`, delete the backups of
    this database beyond the newest `keep`. `tool_timeout` bounds pg_dump (None: no limit)."""
    started = time.monotonic()
    cfg = quiet_settings(settings)
    async with Database.connect(cfg, url) as db:
        info = await ServerRepository(db).info()
        tool = find_tool("pg_dump", info.major, f"the server at {mask_url(url)}")
        schemas = sorted({*await CatalogRepository(db).our_schemas(), *EXTRA_SCHEMAS})
        async with db.transaction(isolation="repeatable_read") as tx:
            logical = LogicalRepository(tx)
            await logical.prepare_session()
            snapshot = await logical.export_snapshot()
            at = (await ServerRepository(tx).info()).server_time  # now(): the transaction's, the snapshot's
            dumped = await logical.count_dumped_tables()
            _private_dir(directory)
            final, partial = _reserve(directory, info.database, at)
            try:
                with libpq_target(
                    url,
                    application_name=f"{settings.application_name}-backup",
                    connect_timeout=settings.connect_timeout,
                ) as (bare, env):
                    count = 0

                    def on_line(line: str) -> None:
                        nonlocal count
                        match = _DUMPING.search(line)
                        if match:
                            count += 1
                            progress("dump", min(count, dumped), dumped, match.group(1))

                    progress("dump", 0, dumped, "")
                    args = [
                        f"--dbname={bare}", "--format=custom", f"--compress={COMPRESSION}", f"--snapshot={snapshot}",
                        "--no-password", "--verbose", "--lock-wait-timeout=60s", f"--file={partial}",
                    ]  # fmt: skip
                    # pg_dump and the fingerprints read the same snapshot at the same time; the first failure
                    # stops the other.
                    _, tables = await _together(
                        run_tool(tool, args, env, on_line=on_line, tool_timeout=tool_timeout, url=bare),
                        fingerprint.take(FingerprintRepository(tx), schemas, progress),
                    )
                    progress("dump", dumped, dumped, "")
                digest = await asyncio.to_thread(sha256_of, partial, progress)
                manifest = Manifest(
                    database=info.database, server=server_of(url), server_version=info.version, server_version_num=info.version_num,
                    pg_dump_version=tool.version, created_at=at, file=final.name, size=partial.stat().st_size,
                    sha256=digest, compression=f"gzip:{COMPRESSION}", dumped_tables=dumped, schemas=schemas,
                    checksum_method=fingerprint.METHOD, tables=tables,
                )  # fmt: skip
                os.replace(partial, final)
                _write_atomically(manifest_path(final), manifest.model_dump_json(indent=2) + "\n")
            finally:
                partial.unlink(missing_ok=True)
    deleted = prune(directory, info.database, keep, protect=final, server=server_of(url)) if keep else []
    return BackupResult(final, manifest, time.monotonic() - started, deleted)


async def _together(a: Coroutine[Any, Any, A], b: Coroutine[Any, Any, B]) -> tuple[A, B]:
    """Run both; when one fails, cancel the other (and wait for it) and raise that failure."""
    first, second = asyncio.ensure_future(a), asyncio.ensure_future(b)
    try:
        done, _ = await asyncio.wait({first, second}, return_when=asyncio.FIRST_EXCEPTION)
        for task in done:
            task.result()  # raises the failure, if any
        return await first, await second
    finally:
        for task in (first, second):
            if not task.done():
                task.cancel()
        # Wait until both have really stopped (pg_dump killed, the query cancelled) before leaving.
        await asyncio.gather(first, second, return_exceptions=True)


# -- list and retention ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class BackupInfo:
    file: Path
    size: int
    created_at: datetime  # the manifest's; without one, the file's modification time
    manifest: Manifest | None
    problem: str | None  # why the manifest is not usable

    def as_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "file": self.file.name, "path": str(self.file), "database": m.database if m else None,
            "created_at": self.created_at.isoformat(), "size": self.size, "tables": len(m.tables) if m else None,
            "rows": m.rows if m else None, "manifest": m is not None, "problem": self.problem,
        }  # fmt: skip


def list_backups(directory: Path) -> list[BackupInfo]:
    """Every `*.dump` in `directory`, the newest first."""
    found = []
    for file in directory.glob(f"*{SUFFIX}") if directory.is_dir() else ():
        if not file.is_file():
            continue
        stat = file.stat()
        manifest, problem = None, None
        try:
            manifest = read_manifest(file)
        except InvalidData as exc:
            problem = str(exc)
        created = manifest.created_at if manifest else datetime.fromtimestamp(stat.st_mtime, UTC)
        found.append(BackupInfo(file, stat.st_size, created, manifest, problem))
    return sorted(found, key=lambda b: (b.created_at, b.file.name), reverse=True)


def server_of(url: str) -> str:
    """The host:port part of a URL, without user or password: which server a backup came from."""
    from urllib.parse import urlsplit

    return urlsplit(url).netloc.rsplit("@", 1)[-1]


def prune(
    directory: Path, database: str, keep: int | None, *, protect: Path | None = None, server: str | None = None
) -> list[str]:
    """Delete the backups of `database` on `server` (dump and manifest) beyond the newest `keep`; the names
    deleted. A backup of a database of the same name on another server, and a file without a valid manifest or
    whose manifest does not say its server, are never deleted here: what they hold is not this database's."""
    if not keep:
        return []
    ours = [b for b in list_backups(directory) if b.manifest is not None and b.manifest.database == database
            and b.manifest.server is not None and b.manifest.server == server]  # fmt: skip
    deleted = []
    for old in ours[keep:]:
        if protect is not None and old.file == protect:
            continue
        manifest_path(old.file).unlink(missing_ok=True)
        old.file.unlink(missing_ok=True)
        deleted.append(old.file.name)
    return deleted


# -- verify and restore ------------------------------------------------------------------------------------------
@dataclass
class Verification:
    file: Path
    manifest: Manifest | None
    problems: list[str] = field(default_factory=list)
    mismatches: list[Mismatch] = field(default_factory=list)
    restored: dict[str, TableEntry] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems and not self.mismatches

    def reasons(self) -> list[str]:
        return [*self.problems, *(m.describe() for m in self.mismatches)]

    def as_dict(self) -> dict[str, Any]:
        m = self.manifest
        return {
            "ok": self.ok, "file": str(self.file), "database": m.database if m else None,
            "created_at": m.created_at.isoformat() if m else None, "tables": len(m.tables) if m else None,
            "rows": m.rows if m else None, "restored_tables": len(self.restored),
            "restored_rows": sum(t.rows for t in self.restored.values()), "problems": self.problems,
            "mismatches": [x.as_dict() for x in self.mismatches], "seconds": round(self.seconds, 3),
        }  # fmt: skip


@dataclass(frozen=True)
class RestorePlan:
    """What a restore is about to do: shown before it asks for confirmation."""

    file: Path
    manifest: Manifest
    database: str
    url: str  # masked
    replaces: bool  # False: the database does not exist yet


@dataclass(frozen=True)
class RestoreResult:
    plan: RestorePlan
    verification: Verification
    previous: str | None  # the name the replaced database is kept under
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        m = self.plan.manifest
        return {
            "ok": True, "file": str(self.plan.file), "database": self.plan.database, "url": self.plan.url,
            "created_at": m.created_at.isoformat(), "tables": len(self.verification.restored),
            "rows": sum(t.rows for t in self.verification.restored.values()), "previous_database": self.previous,
            "analyzed": True, "seconds": round(self.seconds, 3),
        }  # fmt: skip


def _maintenance_db(target: str) -> str:
    return "template1" if target == "postgres" else "postgres"


@asynccontextmanager
async def _server(settings: Settings, url: str) -> AsyncIterator[tuple[Database, ServerInfo]]:
    """A pool on a maintenance database of the server at `url` (never the target: it may be renamed)."""
    async with Database.connect(settings, url_for(url, _maintenance_db(database_of(url)))) as admin:
        yield admin, await ServerRepository(admin).info()


async def _create_database(admin: Database, name: str, like: DatabaseRow | None, *, owner: str | None) -> None:
    clauses = " TEMPLATE template0"
    if like is not None:
        clauses += (
            f" ENCODING {_literal(like.encoding)} LC_COLLATE {_literal(like.collation_name)}"
            f" LC_CTYPE {_literal(like.ctype)}"
        )
    if owner is not None:
        clauses += f" OWNER {ident(owner)}"
    await admin.executor.utility("backup.create_database", f"CREATE DATABASE {ident(name)}{clauses}")


async def _drop_database(admin: Database, name: str) -> None:
    """Drop a scratch database, also after a failure or a Ctrl-C (shielded: it must run to its end)."""

    task = asyncio.ensure_future(
        admin.executor.utility("backup.drop_database", f"DROP DATABASE IF EXISTS {ident(name)} WITH (FORCE)")
    )
    try:
        await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.shield(task)  # finish the drop first, then let the cancellation go on
        raise


async def _restore_and_compare(
    cfg: Settings,
    url: str,
    scratch: str,
    file: Path,
    manifest: Manifest,
    tool: Tool,
    progress: Progress,
    tool_timeout: float | None,
    verification: Verification,
) -> None:
    """pg_restore `file` into the empty database `scratch`, then fingerprint it and compare with the manifest."""
    scratch_url = url_for(url, scratch)
    with libpq_target(
        scratch_url, application_name=f"{cfg.application_name}-restore", connect_timeout=cfg.connect_timeout
    ) as (bare, env):
        count = 0

        def on_line(line: str) -> None:
            nonlocal count
            match = _RESTORING.search(line)
            if match:
                count += 1
                progress("restore", min(count, manifest.dumped_tables), manifest.dumped_tables, match.group(1))

        progress("restore", 0, manifest.dumped_tables, "")
        jobs = max(1, min(4, os.cpu_count() or 1))
        args = [f"--dbname={bare}", "--exit-on-error", "--no-password", "--verbose", f"--jobs={jobs}", str(file)]
        try:
            await run_tool(tool, args, env, on_line=on_line, tool_timeout=tool_timeout, url=bare)
        except DatalayerError as exc:
            verification.problems.append(f"pg_restore could not restore {file.name}: {exc}")
            return
        progress("restore", manifest.dumped_tables, manifest.dumped_tables, "")
    async with Database.connect(cfg, scratch_url) as db, db.transaction(isolation="repeatable_read") as tx:
        await LogicalRepository(tx).prepare_session()
        verification.restored = await fingerprint.take(FingerprintRepository(tx), manifest.schemas, progress)
    verification.mismatches = fingerprint.compare(manifest.tables, verification.restored)


def _scratch_name(kind: str) -> str:
    return f"datalayer_{kind}_{uuid.uuid4().hex[:12]}"


async def verify(
    settings: Settings, url: str, file: Path, *, progress: Progress = no_progress, tool_timeout: float | None = None
) -> Verification:
    """Check `file` against its manifest: size and sha256 first, then a restore into a scratch database of the
    server at `url` (uniquely named, always dropped) whose fingerprints must equal the manifest's."""
    started = time.monotonic()
    manifest = read_manifest(file)
    result = Verification(file, manifest, check_file(file, manifest, progress))
    if result.problems:
        result.seconds = time.monotonic() - started
        return result
    cfg = quiet_settings(settings)
    async with _server(cfg, url) as (admin, info):
        tool = find_tool("pg_restore", info.major, f"the server at {mask_url(url)}")
        like = await LogicalRepository(admin).database(database_of(url))
        scratch = _scratch_name("verify")
        await _create_database(admin, scratch, like, owner=None)
        try:
            await _restore_and_compare(cfg, url, scratch, file, manifest, tool, progress, tool_timeout, result)
        finally:
            await _drop_database(admin, scratch)
    result.seconds = time.monotonic() - started
    return result


async def restore(
    settings: Settings,
    url: str,
    file: Path,
    *,
    confirm: Callable[[RestorePlan], None],
    progress: Progress = no_progress,
    tool_timeout: float | None = None,
) -> RestoreResult:
    """Replace the database at `url` with the backup `file`, which must pass verification first.

    The file is restored into a new database and verified there; it is analysed (partitioned parents too,
    which autovacuum never analyses); `confirm(plan)` is called (it raises to stop); then, in one transaction,
    the target is renamed `<name>_pre_restore_<time>` and the new database takes its name. Until that moment the
    target is untouched; any failure drops the new database. Sessions on the target are ended for the swap."""
    started = time.monotonic()
    manifest = read_manifest(file)
    problems = check_file(file, manifest, progress)
    if problems:
        raise InvalidData(f"refusing to restore {file.name}: it fails verification: {'; '.join(problems)}")
    cfg = quiet_settings(settings)
    target = database_of(url)
    async with _server(cfg, url) as (admin, info):
        tool = find_tool("pg_restore", info.major, f"the server at {mask_url(url)}")
        current = await LogicalRepository(admin).database(target)
        scratch = _scratch_name("restore")
        await _create_database(admin, scratch, current, owner=current.owner if current else None)
        swapped = False
        try:
            verification = Verification(file, manifest)
            await _restore_and_compare(cfg, url, scratch, file, manifest, tool, progress, tool_timeout, verification)
            if not verification.ok:
                raise InvalidData(
                    f"refusing to restore {file.name}: it fails verification: {'; '.join(verification.reasons())}"
                )
            progress("analyze", 0, None, scratch)
            async with Database.connect(cfg, url_for(url, scratch)) as restored:
                await restored.executor.utility("backup.analyze", "ANALYZE")
            progress("analyze", 1, 1, "")
            plan = RestorePlan(file, manifest, target, mask_url(url), replaces=current is not None)
            confirm(plan)
            previous = await _swap(admin, target, scratch, current)
            swapped = True
        finally:
            if not swapped:
                await _drop_database(admin, scratch)
    return RestoreResult(plan, verification, previous, time.monotonic() - started)


async def _swap(admin: Database, target: str, scratch: str, current: DatabaseRow | None) -> str | None:
    """Put `scratch` in the place of `target` in one transaction; the name `target` is kept under (None when
    there was no `target`). Sessions on the target are ended, and new ones refused meanwhile."""
    utility = admin.executor.utility
    if current is None:
        await utility("backup.rename_database", f"ALTER DATABASE {ident(scratch)} RENAME TO {ident(target)}")
        return None
    previous = _fit(target, f"_pre_restore_{datetime.now(UTC):%Y%m%d%H%M%S}")
    await utility("backup.block_connections", f"ALTER DATABASE {ident(target)} WITH ALLOW_CONNECTIONS false")
    try:
        for attempt in range(10):
            await LogicalRepository(admin).terminate_sessions(target)
            try:
                async with admin.transaction() as tx:
                    await tx.executor.utility(
                        "backup.rename_database", f"ALTER DATABASE {ident(target)} RENAME TO {ident(previous)}"
                    )
                    await tx.executor.utility(
                        "backup.rename_database", f"ALTER DATABASE {ident(scratch)} RENAME TO {ident(target)}"
                    )
                return previous
            except DatalayerError as exc:
                if exc.sqlstate != "55006" or attempt == 9:  # 55006: still being accessed by other users
                    raise
                await asyncio.sleep(0.5)
    except BaseException:
        if current.allow_connections:  # as it was
            with contextlib.suppress(DatalayerError):
                await utility("backup.allow_connections", f"ALTER DATABASE {ident(target)} WITH ALLOW_CONNECTIONS true")
        raise
    raise AssertionError("unreachable")

"""Aggregate `pitr` (queries/backup/pitr.sql): base backups of the embedded cluster (pg_basebackup) and
point-in-time recovery from one of them plus the cluster's WAL archive.

The embedded cluster archives every finished WAL segment into `<home>/wal-archive/` (datalayer.embedded). A base
backup is a copy of the whole cluster that is consistent from the moment it ends; replaying the archived WAL
from there reaches any later moment. `recover` builds a new data directory from the newest base backup taken
before that moment, replays the archive up to it, promotes the copy and starts it on its own port: the running
cluster is never touched (it is only asked to archive its current WAL segment first).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from datalayer import queries as q
from datalayer.backup.logical import default_dir, quiet_settings
from datalayer.backup.tools import (
    Progress,
    ServerRepository,
    find_tool,
    libpq_target,
    no_progress,
    run_tool,
)
from datalayer.config import Settings
from datalayer.db import Database
from datalayer.embedded import EmbeddedCluster, bin_dir, free_port, port_is_free
from datalayer.errors import DatalayerError, InvalidData, NotFound, Unavailable
from datalayer.repository import Repository, Row

BASE_PREFIX = "base-"
META = "datalayer-base.json"


class ArchiveStatus(Row):
    archive_mode: str
    wal_level: str
    archived_count: int
    last_archived_wal: str | None
    last_archived_time: datetime | None
    failed_count: int
    last_failed_wal: str | None
    last_failed_time: datetime | None
    wal_segment_size: int
    in_recovery: bool
    server_time: datetime

    @property
    def archiving(self) -> bool:
        return self.archive_mode in ("on", "always")


class RecoveryState(Row):
    in_recovery: bool
    last_replayed_at: datetime | None
    server_time: datetime


_STATUS = q.one("backup.get_archive_status", ArchiveStatus)
_COMMIT_MARKER = q.value("backup.create_commit_marker", int, retry=True)
_SWITCH_WAL = q.value("backup.close_wal_segment", str, retry=True)
_RECOVERY_STATE = q.one("backup.get_recovery_state", RecoveryState)


class ArchiveRepository(Repository):
    async def status(self) -> ArchiveStatus:
        row = await self._x.one(_STATUS)
        assert row is not None  # pg_stat_archiver has one row
        return row

    async def commit_marker(self) -> int:
        """Commit a transaction holding an id (a commit record stamped now). Retry-safe: a repeat commits one
        more empty transaction, which changes no data."""
        return await self._x.value(_COMMIT_MARKER)

    async def switch_wal(self) -> str:
        """Close the current WAL segment so it is archived; its file name. Retry-safe: with no WAL written since,
        a repeat switches nothing."""
        return await self._x.value(_SWITCH_WAL)

    async def recovery_state(self) -> RecoveryState:
        row = await self._x.one(_RECOVERY_STATE)
        assert row is not None
        return row


# -- base backups ------------------------------------------------------------------------------------------------
class BaseBackup(BaseModel):
    """`datalayer-base.json` in a base backup's folder."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    label: str
    system_identifier: int  # of the cluster it copies (pg_controldata): a recovery uses only its own cluster's
    server_version: str
    started_at: datetime  # server clock, before pg_basebackup
    consistent_at: datetime  # server clock, after it returned: recovery can reach any moment from here on
    timeline: int
    start_lsn: str
    end_lsn: str
    start_wal: str  # the first archived segment a recovery from it needs
    size: int
    verified: bool  # pg_verifybackup checked it against its backup_manifest

    def as_dict(self, folder: Path) -> dict[str, Any]:
        return {"path": str(folder), **self.model_dump(mode="json")}


def default_base_dir(settings: Settings) -> Path:
    return default_dir(settings) / "base"


def list_base_backups(directory: Path) -> list[tuple[Path, BaseBackup]]:
    """The complete base backups in `directory` (a folder with its datalayer-base.json), the newest first."""
    found = []
    for folder in directory.glob(f"{BASE_PREFIX}*") if directory.is_dir() else ():
        meta = folder / META
        if not meta.is_file():
            continue  # unfinished, or not ours
        try:
            found.append((folder, BaseBackup.model_validate_json(meta.read_bytes())))
        except ValidationError:
            continue
    return sorted(found, key=lambda f: f[1].consistent_at, reverse=True)


def wal_file_name(timeline: int, lsn: str, segment_size: int) -> str:
    """The WAL segment file holding `lsn` ("0/5000028"), as PostgreSQL names it."""
    high, low = (int(part, 16) for part in lsn.split("/"))
    segment = ((high << 32) | low) // segment_size
    per_id = 0x1_0000_0000 // segment_size
    return f"{timeline:08X}{segment // per_id:08X}{segment % per_id:08X}"


@dataclass(frozen=True)
class BaseBackupResult:
    folder: Path
    backup: BaseBackup
    seconds: float
    deleted: list[str] = field(default_factory=list)
    wal_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": True, **self.backup.as_dict(self.folder), "seconds": round(self.seconds, 3),
            "deleted": self.deleted, "wal_files_removed": self.wal_removed,
        }  # fmt: skip


_KB = re.compile(r"(\d+)/(\d+) kB")


async def base_backup(
    settings: Settings,
    cluster: EmbeddedCluster,
    directory: Path,
    *,
    keep: int | None = None,
    progress: Progress = no_progress,
    tool_timeout: float | None = None,
) -> BaseBackupResult:
    """pg_basebackup of the running embedded `cluster` into `directory/base-<UTC time>/` (tar, gzip, with the WAL
    it needs), checked with pg_verifybackup; with `keep`, older base backups beyond the newest `keep` are deleted,
    and the archived WAL that only they needed."""
    started = time.monotonic()
    url = cluster.url()
    cfg = quiet_settings(settings)
    async with Database.connect(cfg, url) as db:
        status = await ArchiveRepository(db).status()
        info = await ServerRepository(db).info()
        if not status.archiving:
            raise Unavailable(
                f"the embedded cluster in {cluster.pgdata} does not archive its WAL yet (archive_mode = "
                f"{status.archive_mode}), so a base backup could not be rolled forward: restart it once "
                "(`datalayer db down && datalayer db up`), then take the base backup"
            )
    tool = find_tool("pg_basebackup", info.major, "the embedded cluster")
    cluster.start_archiving()  # from here on every finished segment is kept
    _private_dir(directory)
    label = f"{BASE_PREFIX}{info.server_time.astimezone(UTC):%Y%m%dT%H%M%SZ}"
    folder = directory / label
    if folder.exists():
        raise InvalidData(f"{folder} already exists: a base backup was taken this second; try again")
    partial = directory / f".{label}.partial"
    try:
        with libpq_target(
            url, application_name=f"{settings.application_name}-basebackup", connect_timeout=settings.connect_timeout
        ) as (bare, env):

            def on_line(line: str) -> None:
                match = _KB.search(line)
                if match:
                    progress("base backup", int(match.group(1)), int(match.group(2)), "kB")

            args = [
                f"--dbname={bare}", f"--pgdata={partial}", "--format=tar", "--gzip", "--wal-method=stream",
                "--checkpoint=fast", "--progress", "--verbose", "--no-password", f"--label=datalayer {label}",
            ]  # fmt: skip
            await run_tool(tool, args, env, on_line=on_line, tool_timeout=tool_timeout, url=bare)
        verified = await _verify_base(partial, info.major, tool_timeout)
        manifest = json.loads((partial / "backup_manifest").read_text())
        wal = manifest["WAL-Ranges"][0]
        async with Database.connect(cfg, url) as db:
            done_at = (await ServerRepository(db).info()).server_time
        backup = BaseBackup(
            label=label, system_identifier=int(manifest["System-Identifier"]), server_version=info.version,
            started_at=info.server_time, consistent_at=done_at,
            timeline=int(wal["Timeline"]), start_lsn=wal["Start-LSN"], end_lsn=wal["End-LSN"],
            start_wal=wal_file_name(int(wal["Timeline"]), wal["Start-LSN"], status.wal_segment_size),
            size=sum(p.stat().st_size for p in partial.iterdir()), verified=verified,
        )  # fmt: skip
        (partial / META).write_text(backup.model_dump_json(indent=2) + "\n")
        partial.rename(folder)
    finally:
        if partial.exists():
            shutil.rmtree(partial, ignore_errors=True)
    deleted: list[str] = []
    removed = 0
    if keep:
        deleted, removed = await prune_base(directory, keep, cluster.wal_archive, info.major, tool_timeout)
    return BaseBackupResult(folder, backup, time.monotonic() - started, deleted, removed)


def _private_dir(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)


async def _verify_base(folder: Path, major: int, tool_timeout: float | None) -> bool:
    """pg_verifybackup against the backup's own manifest (checksums of every file). Tar backups can be checked
    from PostgreSQL 18 on; older versions leave `verified` false."""
    if major < 18:
        return False
    tool = find_tool("pg_verifybackup", major, "the embedded cluster")
    try:
        await run_tool(tool, ["--no-parse-wal", str(folder)], dict(os.environ), tool_timeout=tool_timeout)
    except Unavailable as exc:
        raise Unavailable(f"the base backup failed its check: {exc}") from exc
    return True


async def prune_base(
    directory: Path, keep: int, archive: Path, major: int, tool_timeout: float | None
) -> tuple[list[str], int]:
    """Delete base backups beyond the newest `keep`, then the archived WAL older than the oldest one kept
    (pg_archivecleanup); the backups deleted and the number of WAL files removed."""
    deleted, oldest_wal = _drop_old_base(directory, keep)
    if oldest_wal is None or not _files_in(archive):
        return deleted, 0
    before = _files_in(archive)
    tool = find_tool("pg_archivecleanup", major, "the embedded cluster")
    await run_tool(tool, ["-x", ".gz", str(archive), oldest_wal], dict(os.environ), tool_timeout=tool_timeout)
    return deleted, before - _files_in(archive)


def _drop_old_base(directory: Path, keep: int) -> tuple[list[str], str | None]:
    """Delete the base backups beyond the newest `keep`; their names, and the first WAL segment the oldest
    backup kept needs (None when none is kept)."""
    backups = list_base_backups(directory)
    for folder, _meta in backups[keep:]:
        shutil.rmtree(folder)
    kept = backups[:keep]
    oldest = min(kept, key=lambda k: k[1].consistent_at)[1].start_wal if kept else None
    return [folder.name for folder, _meta in backups[keep:]], oldest


def _files_in(folder: Path) -> int:
    return sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0


def _is_empty(folder: Path) -> bool:
    return not folder.exists() or not any(folder.iterdir())


# -- point-in-time recovery ----------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RecoveryResult:
    source: Path  # the home of the cluster whose base backup and WAL archive it came from
    home: Path
    url: str
    port: int
    base: str
    target_time: datetime
    last_replayed_at: datetime | None
    switched_wal: str | None  # the running cluster's segment archived first (None: it was not running)
    seconds: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": True, "url": self.url, "port": self.port, "source": str(self.source), "home": str(self.home),
            "pgdata": str(self.home / "pgdata"), "base_backup": self.base, "target_time": self.target_time.isoformat(),
            "last_replayed_commit": self.last_replayed_at.isoformat() if self.last_replayed_at else None,
            "archived_first": self.switched_wal, "seconds": round(self.seconds, 3),
            "stop": f"DATALAYER_HOME={self.home} datalayer db down",
        }  # fmt: skip


def _unpack(folder: Path, pgdata: Path) -> None:
    """The base backup's tar files into a new data directory (the WAL it carries into pg_wal/)."""
    pgdata.mkdir(parents=True, mode=0o700)
    with tarfile.open(folder / "base.tar.gz") as base:
        base.extractall(pgdata, filter="tar")
    (pgdata / "pg_wal").mkdir(mode=0o700, exist_ok=True)
    with tarfile.open(folder / "pg_wal.tar.gz") as wal:
        wal.extractall(pgdata / "pg_wal", filter="tar")
    (pgdata / "server.log").unlink(missing_ok=True)  # the original's log: the copy starts its own


async def _archive_now(settings: Settings, cluster: EmbeddedCluster, wait: float) -> str | None:
    """On the running cluster: commit a marker transaction (so a commit follows any earlier moment), close the
    WAL segment and wait until it is archived; its name. None when the cluster is not running."""
    if not cluster.is_running():
        return None
    async with Database.connect(settings, cluster.url()) as db:
        archive = ArchiveRepository(db)
        if not (await archive.status()).archiving:
            return None
        await archive.commit_marker()
        segment = await archive.switch_wal()
        deadline = time.monotonic() + wait
        while True:
            status = await archive.status()
            if status.last_archived_wal is not None and status.last_archived_wal[:24] >= segment:
                return segment
            if time.monotonic() > deadline:
                raise Unavailable(
                    f"the running cluster did not archive WAL segment {segment} within {wait:g} s "
                    f"(failed attempts: {status.failed_count}, last failed: {status.last_failed_wal or '-'}); "
                    f"see {cluster.logfile}"
                )
            await asyncio.sleep(0.1)


async def recover(
    settings: Settings,
    cluster: EmbeddedCluster,
    directory: Path,
    target_time: datetime,
    target_home: Path,
    *,
    port: int | None = None,
    progress: Progress = no_progress,
    wait: float = 300.0,
) -> RecoveryResult:
    """A new cluster in `target_home` (its data directory `target_home/pgdata`), recovered from the newest base
    backup in `directory` taken before `target_time` and `cluster`'s WAL archive up to `target_time`, promoted
    and running on `port` (default: a free one). Every transaction committed by `target_time` is there, none
    committed after it. `cluster` is left running as it was. `wait` bounds the replay, in seconds."""
    started = time.monotonic()
    if target_time.tzinfo is None:
        raise InvalidData("the recovery time needs a time zone (an ISO 8601 time with an offset, e.g. …+00:00)")
    cfg = quiet_settings(settings)
    running = cluster.is_running()
    if running:
        async with Database.connect(cfg, cluster.url()) as db:
            now = (await ServerRepository(db).info()).server_time
    else:
        now = datetime.now(UTC)
    if target_time > now:
        raise InvalidData(
            f"{target_time.isoformat()} is in the future (the {'server' if running else 'local'} clock says "
            f"{now.isoformat()}): recovery can only go back in time"
        )
    backups = list_base_backups(directory)
    if not backups:
        raise NotFound(f"no base backup in {directory}: take one with `datalayer backup base`, regularly")
    system = await asyncio.to_thread(system_identifier, cluster)
    if system is not None:
        backups = [(folder, b) for folder, b in backups if b.system_identifier == system]
        if not backups:
            raise InvalidData(
                f"the base backups in {directory} are of another cluster, not of the embedded cluster in "
                f"{cluster.home} (system identifier {system}); give the --dir of its own backups"
            )
    if _files_in(cluster.wal_archive) == 0:
        raise NotFound(f"no archived WAL in {cluster.wal_archive}: is WAL archiving on (datalayer.conf)?")
    usable = [(folder, b) for folder, b in backups if b.consistent_at <= target_time]
    if not usable:
        folder, oldest = backups[-1]
        raise InvalidData(
            f"{target_time.isoformat()} is before the oldest base backup, {folder.name} (consistent from "
            f"{oldest.consistent_at.isoformat()}): recovery starts from a base backup, so it can only reach "
            "moments after one; choose a later time"
        )
    folder = usable[0][0]
    if not _is_empty(target_home):
        raise InvalidData(f"{target_home} is not empty: recovery builds a new cluster in a new or empty folder")
    if port is not None and not port_is_free(port):
        raise InvalidData(f"port {port} is in use: choose another, or leave --port out for a free one")
    progress("archive current WAL", 0, None, "")
    switched = await _archive_now(cfg, cluster, 60.0)
    progress("unpack base backup", 0, None, folder.name)
    target = EmbeddedCluster(target_home)
    await asyncio.to_thread(_unpack, folder, target.pgdata)
    target.prepare_recovery(
        port=port or free_port(), restore_from=cluster.wal_archive, target_time=target_time.isoformat()
    )
    try:
        progress("replay WAL", 0, None, f"up to {target_time.isoformat()}")
        try:
            await asyncio.to_thread(target.up)
        except Unavailable as exc:
            raise Unavailable(
                f"the recovered cluster did not start ({target_home} is left for a look at its server.log; remove "
                f"it before trying again): {_why(str(exc))}"
            ) from exc
        state = await _wait_for_promotion(cfg, target, wait)
    except BaseException:
        if await asyncio.to_thread(target.is_running):
            await asyncio.to_thread(target.down)
        raise
    url = target.url()
    return RecoveryResult(
        cluster.home, target_home, url, target.port() or 0, folder.name, target_time, state.last_replayed_at, switched,
        time.monotonic() - started,
    )  # fmt: skip


def system_identifier(cluster: EmbeddedCluster) -> int | None:
    """The cluster's system identifier (pg_controldata), which its base backups carry too; None when unknown."""
    try:
        done = subprocess.run(
            [str(bin_dir() / "pg_controldata"), "-D", str(cluster.pgdata)],
            capture_output=True, text=True, timeout=30, env={**os.environ, "LC_ALL": "C"}, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.search(r"^Database system identifier:\s+(\d+)$", done.stdout, re.MULTILINE)
    return int(match.group(1)) if done.returncode == 0 and match else None


def _why(text: str) -> str:
    if "recovery ended before configured recovery target was reached" in text:
        return (
            "the archived WAL ends before the recovery time (no commit after it has been archived yet); choose "
            f"an earlier time, or start the original cluster so its current WAL can be archived first. {text}"
        )
    return text


async def _wait_for_promotion(cfg: Settings, target: EmbeddedCluster, wait: float) -> RecoveryState:
    """Poll the recovering cluster until it has promoted itself; a clear error when it stopped instead."""
    deadline = time.monotonic() + wait
    last: DatalayerError | None = None
    while time.monotonic() < deadline:
        try:
            async with Database.connect(cfg, target.url()) as db:
                state = await ArchiveRepository(db).recovery_state()
            if not state.in_recovery:
                return state
        except DatalayerError as exc:
            last = exc
            if not await asyncio.to_thread(target.is_running):
                log = target.logfile.read_text()[-2000:] if target.logfile.exists() else ""
                raise Unavailable(f"the recovered cluster stopped during recovery: {_why(log)}") from exc
        await asyncio.sleep(0.2)
    raise Unavailable(
        f"recovery did not finish within {wait:g} s (still replaying WAL{f': {last}' if last else ''}); "
        f"see {target.logfile}"
    )

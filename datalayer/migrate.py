"""Schema migrations with yoyo (psycopg 3 driver), plus what yoyo lacks: a lock that survives crashes
(a session advisory lock) and drift detection by content checksum."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import psycopg
from yoyo import get_backend, read_migrations
from yoyo.migrations import get_migration_hash

from datalayer.config import Settings, mask_url, url_problem
from datalayer.db import Executor, init_connection
from datalayer.errors import DRIVER_ERRORS, MigrationError, Unavailable, connect_failed
from datalayer.ops.migrations import MigrationLedger


def migrations_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "migrations", here.parent / "migrations"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no migrations/ folder next to {here}")


def checksum(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class MigrationState:
    id: str
    applied: bool
    path: Path | None
    recorded_sha256: str | None
    current_sha256: str | None

    @property
    def drift(self) -> str | None:
        """Why an applied migration no longer matches its file, or None."""
        if not self.applied:
            return None
        if self.path is None:
            return "applied, but its file is gone"
        if self.recorded_sha256 is None:
            return None  # applied outside datalayer: nothing to compare with
        if self.recorded_sha256 != self.current_sha256:
            return "file edited after it was applied"
        return None

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "applied": self.applied, "drift": self.drift}


def _yoyo_url(url: str) -> str:
    scheme, _sep, rest = url.partition("://")
    if scheme in ("postgres", "postgresql"):
        return f"postgresql+psycopg://{rest}"
    return url


_NON_TRANSACTIONAL = re.compile(r"^--\s*transactional:\s*false\s*$", re.MULTILINE | re.IGNORECASE)
_CONCURRENTLY = re.compile(r"\s\bCONCURRENTLY\b\s", re.IGNORECASE)


def _rollback_and_close(conn: psycopg.Connection[Any]) -> None:
    with contextlib.suppress(psycopg.Error):
        conn.rollback()
    with contextlib.suppress(psycopg.Error):
        conn.close()


@dataclass
class PendingCheck:
    """What `Migrator.check_pending()` found: the pending migrations tried, and `check`'s report on them."""

    migrations: list[str]
    report: Any  # datalayer.check.Report

    @property
    def ok(self) -> bool:
        return bool(self.report.ok)

    def refusal(self) -> str:
        problems = "\n  ".join(self.report.problems)
        return (
            f"not applied: with {', '.join(self.migrations)} applied, {len(self.report.problems)} named "
            f"quer{'y' if len(self.report.problems) == 1 else 'ies'} or filters would break (nothing was changed; "
            f"`datalayer migrate --check-only` shows this again):\n  {problems}"
        )

    def as_dict(self) -> dict[str, Any]:
        return {"migrations": self.migrations, "checked": self.report.checked, "ok": self.ok,
                "problems": list(self.report.problems)}  # fmt: skip


class Migrator:
    """Use as `async with Migrator(url) as m:`; holds the migration lock for its lifetime."""

    def __init__(
        self, url: str, directory: Path | None = None, *, lock: bool = True, settings: Settings | None = None
    ) -> None:
        self.url = url
        self.lock = lock
        self.settings = settings or Settings()
        self.directory = directory or migrations_dir()
        self._conn: asyncpg.Connection | None = None
        self._x: Executor | None = None
        self._ledger: MigrationLedger | None = None
        self._backend: Any = None

    async def __aenter__(self) -> Migrator:
        problem = url_problem(self.url)
        if problem:
            raise Unavailable(f"cannot migrate: the database URL is not usable: {problem}")
        try:
            self._conn = await asyncpg.connect(self.url, timeout=10)
            await init_connection(self._conn)
        except DRIVER_ERRORS as exc:
            raise connect_failed(self.url, exc) from exc
        self._x = Executor(self._conn)
        self._ledger = MigrationLedger(self._x)
        try:
            if self.lock:
                await self._ledger.lock()
                await self._ledger.ensure()
                # yoyo's backend creates its bookkeeping tables on connect: only a migrator that may change
                # the database opens one; a read-only one (lock=False: --list, health) reads the tables.
                try:
                    self._backend = await asyncio.to_thread(get_backend, self._backend_url())
                except psycopg.Error as exc:
                    if "unsupported startup parameter" in str(exc):
                        raise MigrationError(
                            f"{mask_url(self.url)} leads to a connection pooler (PgBouncer?) that takes no "
                            "session options: migrations need a session of their own (their lock and timeouts "
                            "last the whole run), so run `datalayer migrate` with the server's own URL; the "
                            "application may use the pooler"
                        ) from exc
                    raise connect_failed(self.url, exc) from exc
        except BaseException:
            await self._close_quietly()
            raise
        return self

    def _backend_url(self) -> str:
        """yoyo's URL, with lock_timeout and statement_timeout for every session it opens (it opens one per
        migration): a migration waiting behind a long transaction fails after DATALAYER_MIGRATE_LOCK_TIMEOUT
        instead of queueing every query of the bots behind its lock request. A file may still SET its own."""
        from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

        parts = urlsplit(_yoyo_url(self.url))
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        limits = (f"-c lock_timeout={int(self.settings.migrate_lock_timeout * 1000)}ms "
                  f"-c statement_timeout={int(self.settings.migrate_statement_timeout * 1000)}ms")  # fmt: skip
        query["options"] = f"{query['options']} {limits}" if query.get("options") else limits
        encoded = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query.items())
        return urlunsplit((parts.scheme, parts.netloc, parts.path, encoded, parts.fragment))

    async def _close_quietly(self) -> None:
        if self._conn is not None:
            try:
                await self._conn.close(timeout=5)
            except DRIVER_ERRORS:
                self._conn.terminate()

    async def __aexit__(self, *exc: object) -> None:
        if self._backend is not None:
            with contextlib.suppress(psycopg.Error):
                await asyncio.to_thread(self._backend.connection.close)
        if self._conn is not None:
            try:
                if self.lock and self._ledger is not None:
                    await self._ledger.unlock()
            finally:
                await self._close_quietly()

    # -- reading -----------------------------------------------------------------------------------------------
    def _migrations(self) -> Any:
        return read_migrations(str(self.directory))

    async def status(self) -> list[MigrationState]:
        assert self._x is not None
        migrations = self._migrations()
        assert self._ledger is not None
        if self._backend is not None:
            applied_hashes = set(await self._yoyo(self._backend.get_applied_migration_hashes))
        else:
            applied_hashes = {get_migration_hash(mid) for mid in await self._ledger.applied_ids()}
        checksums = await self._ledger.checksums(missing_ok=not self.lock)
        recorded = {row.migration_id: row.sha256 for row in checksums}
        states = [
            MigrationState(
                id=m.id,
                applied=m.hash in applied_hashes,
                path=Path(m.path),
                recorded_sha256=recorded.get(m.id),
                current_sha256=checksum(Path(m.path)),
            )
            for m in migrations
        ]
        # Applied migrations whose files are gone: yoyo keeps only sha256(id), so the ledger names them.
        orphans = applied_hashes - {m.hash for m in migrations}
        id_of = {get_migration_hash(mid): mid for mid in recorded}
        for h in sorted(orphans, key=lambda h: id_of.get(h, "~")):
            mid = id_of.get(h)
            states.append(MigrationState(mid or f"(unknown, hash {h[:12]})", True, None, recorded.get(mid or ""), None))
        return states

    async def drift(self) -> list[MigrationState]:
        return [s for s in await self.status() if s.drift]

    def _refuse_on_drift(self, drifted: list[MigrationState]) -> None:
        if drifted:
            lines = "; ".join(f"{s.id}: {s.drift}" for s in drifted)
            raise MigrationError(
                f"refusing to migrate: applied migrations differ from their files ({lines}). "
                "Restore the original files and put changes in a new migration."
            )

    # -- changing ----------------------------------------------------------------------------------------------
    async def check_pending(self) -> PendingCheck:
        """Apply the pending migrations inside one transaction, run `datalayer check` on the schema as that
        transaction sees it, and roll back: whether every named query and filter still prepares and matches its
        model once they are applied. The DDL takes its locks for the second or two this runs (with the
        migration lock timeout, so it never queues behind a long transaction); nothing is committed.

        A migration that cannot run in a transaction (`-- transactional: false`) is tried with CONCURRENTLY
        left out, which builds the same schema."""
        from datalayer import check as checker

        assert self._x is not None and self.lock, "check_pending needs the migration lock"
        self._refuse_on_drift(await self.drift())
        pending = list(await self._yoyo(self._backend.to_apply, self._migrations()))
        if not pending:
            return PendingCheck([], checker.Report())
        ids = [m.id for m in pending]

        def open_transaction() -> psycopg.Connection[Any]:
            conn = psycopg.connect(self.url, autocommit=False)
            conn.execute(
                "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
                (f"{int(self.settings.migrate_lock_timeout * 1000)}ms",
                 f"{int(self.settings.migrate_statement_timeout * 1000)}ms"),
            )  # fmt: skip
            return conn

        try:
            conn = await asyncio.to_thread(open_transaction)
        except psycopg.Error as exc:
            raise connect_failed(self.url, exc) from exc
        try:
            for m in pending:
                sql = await asyncio.to_thread(Path(m.path).read_text)
                if _NON_TRANSACTIONAL.search(sql):
                    sql = _CONCURRENTLY.sub(" ", sql)
                try:
                    await asyncio.to_thread(conn.execute, sql.encode())
                except psycopg.Error as exc:
                    raise MigrationError(
                        f"migration {m.id} fails (tried in a transaction, nothing applied): {exc}".strip()
                    ) from exc
            report = await checker.run(self._x, self.url, conn=conn)
        finally:
            await asyncio.to_thread(_rollback_and_close, conn)
        return PendingCheck(ids, report)

    async def apply(self, dry_run: bool = False, *, check_queries: bool = False) -> list[str]:
        """Apply every pending migration in order; returns their ids. With `check_queries` (what `datalayer
        migrate` does), first `check_pending()`, and refuse with its report when a named query would break."""
        assert self._x is not None and self.lock, "apply needs the migration lock"
        self._refuse_on_drift(await self.drift())
        if check_queries:
            checked = await self.check_pending()
            if not checked.report.ok:
                raise MigrationError(checked.refusal())
        pending = await self._yoyo(self._backend.to_apply, self._migrations())
        done: list[str] = []
        for m in pending:
            if not dry_run:
                await self._run(self._backend.apply_one, m, "apply")
                assert self._ledger is not None
                await self._ledger.record(m.id, checksum(Path(m.path)))
            done.append(m.id)
        return done

    async def rollback(self, to: str | None = None, everything: bool = False, dry_run: bool = False) -> list[str]:
        """Roll back the newest migration, everything after `to`, or everything; returns their ids."""
        assert self._x is not None and self.lock, "rollback needs the migration lock"
        migrations = self._migrations()
        if to is not None and to not in {m.id for m in migrations}:
            raise MigrationError(f"no migration with id {to!r} in {self.directory}; see `datalayer migrate --list`")
        applied = list(await self._yoyo(self._backend.to_rollback, migrations))  # newest first
        if to is not None:
            ids = [m.id for m in applied]
            if to not in ids:
                raise MigrationError(f"migration {to} is not applied, so there is nothing to roll back to")
            applied = applied[: ids.index(to)]
        elif not everything:
            applied = applied[:1]
        done: list[str] = []
        for m in applied:
            if not dry_run:
                await self._run(self._backend.rollback_one, m, "rollback")
                assert self._ledger is not None
                await self._ledger.forget(m.id)
            done.append(m.id)
        return done

    async def _yoyo(self, fn: Any, *args: Any) -> Any:
        """A yoyo call on its psycopg connection: a driver error becomes ours."""
        try:
            return await asyncio.to_thread(fn, *args)
        except psycopg.OperationalError as exc:
            raise Unavailable(
                f"lost the migrator's connection to the database: {exc}; nothing more was applied, run it again",
                connection_lost=True,
            ) from exc
        except psycopg.Error as exc:
            raise MigrationError(f"the migration bookkeeping failed: {exc}") from exc

    async def _run(self, fn: Any, migration: Any, verb: str) -> None:
        try:
            await asyncio.to_thread(fn, migration)
        except Exception as exc:  # yoyo re-raises the driver's error; keep its message, drop the driver type
            raise MigrationError(f"could not {verb} migration {migration.id}: {exc}".strip()) from exc

    def sql_of(self, migration_id: str, rollback: bool = False) -> str:
        path = self.directory / (f"{migration_id}.rollback.sql" if rollback else f"{migration_id}.sql")
        return path.read_text()


async def pending_and_drift(url: str, directory: Path | None = None) -> tuple[list[str], list[MigrationState]]:
    """For health checks: ids not yet applied, and applied ones that drifted."""
    async with Migrator(url, directory, lock=False) as m:
        states = await m.status()
    return [s.id for s in states if not s.applied], [s for s in states if s.drift]


def _files(directory: Path) -> tuple[tuple[str, str], ...]:
    """(id, sha256) of every migration file (a few small files: read on each check, never stale)."""
    return tuple((p.stem, checksum(p)) for p in sorted(directory.glob("*.sql")) if not p.stem.endswith(".rollback"))


async def schema_state(ex: Executor, directory: Path | None = None) -> tuple[list[str], list[tuple[str, str]]]:
    """Pending migration ids, and (id, why) of applied ones that drifted — over the pool, without yoyo.

    What `Database.connect()` checks once; `Migrator.status()` is the full picture."""
    entries = await MigrationLedger(ex).entries()
    applied = {e.migration_id for e in entries}
    recorded = {e.migration_id: e.sha256 for e in entries}
    files = dict(_files((directory or migrations_dir()).resolve()))
    pending = [mid for mid in files if mid not in applied]
    drift = [(mid, "applied, but its file is gone") for mid in sorted(applied - set(files))]
    drift += [
        (mid, "file edited after it was applied")
        for mid, sha in files.items()
        if mid in applied and recorded.get(mid) not in (None, sha)
    ]
    return pending, drift

"""The migration ledger beside yoyo's tables (queries/ops/migrations.sql): lock, checksums, applied ids."""

from __future__ import annotations

import asyncio
from datetime import datetime

from datalayer import queries as q
from datalayer.errors import DatalayerError
from datalayer.repository import Repository, Row

_UNDEFINED_TABLE = "42P01"


class MigrationChecksum(Row):
    migration_id: str
    sha256: str
    recorded_at: datetime


class AppliedMigration(Row):
    migration_id: str | None  # nullable in yoyo's table


_ENSURE = q.execute("ops.ensure_migration_checksums", retry=True)  # CREATE TABLE IF NOT EXISTS
_LOCK = q.value("ops.lock_migrations", bool, retry=False)  # a session lock: only on the migrator's own connection
_UNLOCK = q.value("ops.unlock_migrations", bool, retry=False)


class LedgerEntry(Row):
    migration_id: str
    sha256: str | None


_LIST = q.many("ops.list_migration_checksums", MigrationChecksum)
_RECORD = q.execute("ops.record_migration_checksum", (str, str), retry=True)  # upsert by migration id
_DELETE = q.execute("ops.delete_migration_checksum", (str,), retry=True)  # deleting twice is harmless
_APPLIED = q.many("ops.list_applied_migrations", AppliedMigration)
_LEDGER = q.many("ops.list_migration_ledger", LedgerEntry, retry=True)  # a read-only function
_INSUFFICIENT_PRIVILEGE = "42501"


class MigrationLedger(Repository):
    async def lock(self, poll_seconds: float = 0.1) -> None:
        """Wait for the migration lock (held by this session until unlock or disconnect). Not retry-safe.

        Polls from the client: a session waiting inside pg_advisory_lock would keep a snapshot open, and the
        migrator holding the lock may be running CREATE INDEX CONCURRENTLY, which waits for every such snapshot."""
        while True:  # the lock lives in the server: nothing in this process could signal an Event
            if await self._x.value(_LOCK):
                return
            await asyncio.sleep(poll_seconds)

    async def unlock(self) -> None:
        """Release the migration lock. Not retry-safe (the lock belongs to the session)."""
        await self._x.value(_UNLOCK)

    async def ensure(self) -> None:
        """Create the checksum table unless it exists. Retry-safe."""
        await self._x.execute(_ENSURE)

    async def checksums(self, *, missing_ok: bool = False) -> list[MigrationChecksum]:
        try:
            return await self._x.many(_LIST)
        except DatalayerError as exc:
            if missing_ok and exc.sqlstate == _UNDEFINED_TABLE:
                return []  # nothing was ever applied through datalayer
            raise

    async def record(self, migration_id: str, sha256: str) -> None:
        """Remember the checksum of a migration just applied. Retry-safe (an upsert)."""
        await self._x.execute(_RECORD, migration_id, sha256)

    async def forget(self, migration_id: str) -> None:
        """Forget the checksum of a migration rolled back. Retry-safe."""
        await self._x.execute(_DELETE, migration_id)

    async def applied_ids(self) -> list[str]:
        """Ids yoyo has applied; empty when yoyo's table does not exist yet."""
        try:
            return [row.migration_id for row in await self._x.many(_APPLIED) if row.migration_id is not None]
        except DatalayerError as exc:
            if exc.sqlstate == _UNDEFINED_TABLE:
                return []
            raise

    async def entries(self) -> list[LedgerEntry]:
        """Applied ids with their recorded checksums (None: applied before checksums were kept). A role that
        may not read the bookkeeping tables (datalayer_app) reads them through ops.migration_ledger().
        Reads only. Retry-safe."""
        try:
            applied = await self.applied_ids()
        except DatalayerError as exc:
            if exc.sqlstate == _INSUFFICIENT_PRIVILEGE:
                return await self._x.many(_LEDGER)
            raise
        recorded = {row.migration_id: row.sha256 for row in await self.checksums(missing_ok=True)} if applied else {}
        return [LedgerEntry(migration_id=mid, sha256=recorded.get(mid)) for mid in applied]

"""Read-replica routing: reads bound with `replica=True` run on DATABASE_REPLICA_URL while the replica is close
enough behind the primary; everything else, and every read inside a transaction, runs on the primary.

How far behind the replica is comes from a measurement that needs no clock agreement between servers: read the
primary's WAL position P at time t, then ask the replica whether it has replayed up to P. If it has, every
transaction committed on the primary before t is visible on the replica, so its staleness is at most
`now - t`. The last such t is `caught_up_at`; `lag()` is the time since then. A measurement runs in the
background at most every DATALAYER_REPLICA_CHECK_INTERVAL seconds, started by the reads themselves, so a read
never waits for one. While `lag()` exceeds DATALAYER_REPLICA_MAX_LAG (the replica stopped replaying, or has not
been measured yet), lag-tolerant reads go to the primary. A replica that fails (down, unreachable, a query
cancelled by a recovery conflict) is left alone for DATALAYER_REPLICA_RETRY seconds; the read that saw the
failure runs again on the primary, so the caller sees no error.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from time import monotonic
from typing import TYPE_CHECKING

import asyncpg
from pydantic import BaseModel, ConfigDict

from datalayer import queries as q
from datalayer.config import Settings, mask_url
from datalayer.errors import DRIVER_ERRORS, DatalayerError, is_connection_lost

if TYPE_CHECKING:
    from datalayer.db import Executor

log = logging.getLogger("datalayer")


class ReplicaProgress(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    in_recovery: bool
    caught_up: bool
    last_replay_age_s: float


_PRIMARY_POSITION = q.value("ops.get_primary_wal_position", str, retry=True)
_REPLICA_PROGRESS = q.one("ops.get_replica_progress", ReplicaProgress, (str,))


@dataclass(frozen=True)
class ReplicaStatus:
    """What `db.replica_status()` and `datalayer health` report."""

    url: str  # masked
    routing: bool  # lag-tolerant reads go to the replica now
    lag_s: float | None  # upper bound of its staleness; None: never seen caught up
    max_lag_s: float
    reads: int  # reads the replica served
    fallbacks: int  # lag-tolerant reads that went to the primary instead (lagging, down, or failed)
    failures: int
    last_error: str | None


class Replica:
    """The replica's pool and what is known of its lag. Built by `Database.connect` when DATABASE_REPLICA_URL is
    set; its executor methods call `pool_for_read()` and `failed()`."""

    def __init__(self, pool: asyncpg.Pool, url: str, settings: Settings) -> None:
        self.pool = pool
        self.url = url
        self.max_lag = settings.replica_max_lag
        self.interval = settings.replica_check_interval
        self.retry_after = settings.replica_retry
        self.acquire_timeout = min(settings.acquire_timeout, settings.connect_timeout)
        self.caught_up_at: float | None = None
        self.measured_at = float("-inf")
        self.down_until = float("-inf")
        self.reads = 0
        self.fallbacks = 0
        self.failures = 0
        self.last_error: str | None = None
        self._primary: Executor | None = None
        self._replica: Executor | None = None
        self._probe: asyncio.Task[None] | None = None
        self._closed = False

    def bind(self, primary: Executor, replica: Executor) -> None:
        """The executors the lag measurement uses (the primary's, and one on this replica's pool)."""
        self._primary, self._replica = primary, replica

    def lag(self, now: float | None = None) -> float | None:
        """Seconds of staleness at most (None: never seen caught up)."""
        if self.caught_up_at is None:
            return None
        return (now if now is not None else monotonic()) - self.caught_up_at

    def pool_for_read(self) -> asyncpg.Pool | None:
        """The replica's pool when it may serve a lag-tolerant read now, else None (run it on the primary).
        Starts a lag measurement in the background when the last one is older than the check interval."""
        now = monotonic()
        if now < self.down_until or self._closed:
            self.fallbacks += 1
            return None
        if now - self.measured_at >= self.interval and self._probe is None:
            self._probe = asyncio.get_running_loop().create_task(self._measure())
        if self.caught_up_at is None or now - self.caught_up_at > self.max_lag:
            self.fallbacks += 1
            return None
        self.reads += 1
        return self.pool

    def failed(self, exc: BaseException) -> None:
        """A read on the replica failed: it runs again on the primary. A lost or refused connection sends every
        lag-tolerant read to the primary for DATALAYER_REPLICA_RETRY seconds."""
        self.reads -= 1
        self.fallbacks += 1
        self.failures += 1
        self.last_error = mask_url(f"{type(exc).__name__}: {exc}")
        if is_connection_lost(exc) or isinstance(exc, OSError | TimeoutError | asyncpg.InterfaceError):
            self.down_until = monotonic() + self.retry_after
            self.caught_up_at = None  # measured again before it serves reads
            log.warning("replica %s failed (%s): reads go to the primary", mask_url(self.url), self.last_error)

    async def measure(self) -> float | None:
        """Measure the lag now (health runs this); returns `lag()`."""
        await self._measure()
        return self.lag()

    async def _measure(self) -> None:
        try:
            assert self._primary is not None and self._replica is not None
            started = monotonic()
            position = await self._primary.value(_PRIMARY_POSITION)
            if position is None:
                raise DatalayerError("DATABASE_URL names a server in recovery: it is not a primary")
            progress = await self._replica.one(_REPLICA_PROGRESS, position)
            assert progress is not None
            if not progress.in_recovery:
                raise DatalayerError(
                    "DATABASE_REPLICA_URL names a server that is not in recovery (a primary, or a promoted "
                    "replica): its data may differ from the primary's, so no read goes there"
                )
            if progress.caught_up:
                self.caught_up_at = started
                if self.last_error is not None:
                    log.info("replica %s is caught up and serves reads again", mask_url(self.url))
                    self.last_error = None
        except DatalayerError as exc:  # the executors raise only ours
            self.failures += 1
            error = mask_url(str(exc))
            if error != self.last_error:  # once per cause, not once per measurement
                log.warning("replica %s is not used: %s", mask_url(self.url), error)
            self.last_error = error
            self.caught_up_at = None
            self.down_until = monotonic() + self.retry_after
        finally:
            self.measured_at = monotonic()
            self._probe = None

    def status(self) -> ReplicaStatus:
        lag = self.lag()
        routing = monotonic() >= self.down_until and lag is not None and lag <= self.max_lag
        return ReplicaStatus(
            mask_url(self.url), routing, lag, self.max_lag, self.reads, self.fallbacks, self.failures, self.last_error
        )

    async def close(self, seconds: float) -> None:
        self._closed = True
        probe = self._probe
        if probe is not None:
            probe.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await probe
        try:
            await asyncio.wait_for(self.pool.close(), timeout=seconds)
        except DRIVER_ERRORS:
            self.pool.terminate()
        except asyncio.CancelledError:
            self.pool.terminate()
            raise

"""Read-replica routing against a real streaming replica: a primary this module starts in a temporary folder, and
a standby made from it with pg_basebackup (never the shared system server, never the project's own cluster).

Lag-tolerant reads (bound with replica=True) go to the replica while it is within DATALAYER_REPLICA_MAX_LAG;
reads inside a transaction and every other query go to the primary; a replica that stops replaying, or is down,
sends those reads to the primary without an error, and gets them back once it has caught up again."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from datalayer import Database, DatalayerError, Settings
from datalayer import queries as q
from datalayer.embedded import EmbeddedCluster, free_port
from datalayer.health import report as health_report
from datalayer.migrate import Migrator
from datalayer.twitter_bot import ApiUsage, ApiUsageRepository, LogApiCallParams


@dataclass
class Pair:
    primary: EmbeddedCluster
    standby: EmbeddedCluster

    @property
    def primary_url(self) -> str:
        return self.primary.url("app")

    @property
    def standby_url(self) -> str:
        return self.standby.url("app")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pair]:
    root: Path = tmp_path_factory.mktemp("replica")
    primary = EmbeddedCluster(root / "primary")
    primary.up()
    standby = EmbeddedCluster(root / "standby")
    try:
        asyncio.run(_create_and_migrate(primary.url(), primary.url("app")))
        standby.make_standby(primary.url(), port=free_port())
        standby.up()
        yield Pair(primary, standby)
    finally:
        standby.down()
        primary.down()


async def _create_and_migrate(admin_url: str, url: str) -> None:
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute("CREATE DATABASE app")
    finally:
        await admin.close()
    async with Migrator(url) as m:
        await m.apply()


def settings(pair: Pair, **extra: object) -> Settings:
    return Settings.model_validate(
        {"DATABASE_REPLICA_URL": pair.standby_url, "replica_max_lag": 0.6, "replica_check_interval": 0.1,
         "replica_retry": 0.5, "connect_timeout": 2.0, "application_name": f"dl-replica-{uuid.uuid4().hex[:6]}",
         **extra}
    )  # fmt: skip


async def served_by_replica(db: Database, within: float = 20.0) -> None:
    """Wait until the replica has been measured caught up and serves lag-tolerant reads."""
    deadline = time.monotonic() + within
    usage = ApiUsageRepository(db)
    while True:
        await usage.success_rate(datetime.now(UTC) - timedelta(hours=1))  # starts a measurement when due
        status = db.replica_status()
        assert status is not None
        if status.routing:
            return
        assert time.monotonic() < deadline, f"the replica never caught up: {status}"
        await asyncio.sleep(0.05)


async def committed(url: str, service: str) -> int:
    conn = await asyncpg.connect(url)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM twitter_bot.api_usage WHERE service = $1", service))
    finally:
        await conn.close()


async def replica_health(db: Database) -> dict[str, str]:
    report = await health_report(db, quick=True, samples=1)
    found: dict[str, str] = next(c for c in report["checks"] if c["name"] == "replica")
    return found


def calls(service: str, n: int) -> list[LogApiCallParams]:
    return [LogApiCallParams(service=service, endpoint="replica", success=True) for _ in range(n)]


@pytest.fixture
async def replay_paused(pair: Pair) -> AsyncIterator[asyncpg.Connection]:
    conn = await asyncpg.connect(pair.standby_url)
    try:
        yield conn
    finally:
        await conn.execute("SELECT pg_wal_replay_resume()")
        await conn.close()


async def test_lag_tolerant_reads_go_to_the_replica_and_see_what_was_committed(pair: Pair) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    async with Database.connect(settings(pair), pair.primary_url) as db:
        usage = ApiUsageRepository(db)
        for call in calls(service, 3):
            await usage.log(call)  # writes go to the primary (the replica refuses writes)
        await served_by_replica(db)
        before = db.replica_status()
        assert before is not None
        rates = {r.service: r for r in await usage.success_rate(datetime.now(UTC) - timedelta(hours=1))}
        after = db.replica_status()
        assert after is not None and after.reads == before.reads + 1  # this read ran on the replica ...
        assert rates[service].calls == 3  # ... and saw the three calls committed before it caught up
        assert await committed(pair.standby_url, service) == 3  # replicated for real


async def test_reads_inside_a_transaction_and_other_reads_use_the_primary(pair: Pair) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    async with Database.connect(settings(pair), pair.primary_url) as db:
        await served_by_replica(db)
        reads = db.replica_status().reads  # type: ignore[union-attr]
        async with db.transaction() as tx:
            usage = ApiUsageRepository(tx)
            await usage.log(calls(service, 1)[0])
            rates = {r.service: r for r in await usage.success_rate(datetime.now(UTC) - timedelta(hours=1))}
            assert rates[service].calls == 1  # the transaction sees its own uncommitted write
        await ApiUsageRepository(db).today()  # not bound replica=True
        assert db.replica_status().reads == reads  # type: ignore[union-attr]


async def test_a_replica_that_stops_replaying_loses_its_reads_to_the_primary_until_it_catches_up(
    pair: Pair, replay_paused: asyncpg.Connection
) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    async with Database.connect(settings(pair), pair.primary_url) as db:
        usage = ApiUsageRepository(db)
        await served_by_replica(db)
        await replay_paused.execute("SELECT pg_wal_replay_pause()")
        for call in calls(service, 2):
            await usage.log(call)
        since = datetime.now(UTC) - timedelta(hours=1)
        # Within the bound the replica may still answer (stale: that is what replica=True accepts); past it,
        # every lag-tolerant read runs on the primary and sees both calls.
        deadline = time.monotonic() + 10
        while True:
            rates = {r.service: r for r in await usage.success_rate(since)}
            status = db.replica_status()
            assert status is not None
            if not status.routing:
                break
            assert time.monotonic() < deadline, "the paused replica kept serving reads past its lag bound"
            await asyncio.sleep(0.05)
        fallbacks = status.fallbacks
        rates = {r.service: r for r in await usage.success_rate(since)}
        assert rates[service].calls == 2  # from the primary: nothing stale past the bound
        status = db.replica_status()
        assert status is not None and status.fallbacks == fallbacks + 1 and status.lag_s and status.lag_s > 0.6
        await replay_paused.execute("SELECT pg_wal_replay_resume()")
        await served_by_replica(db)  # caught up again: it serves reads again
        assert await committed(pair.standby_url, service) == 2


async def test_a_replica_that_is_down_sends_reads_to_the_primary_and_is_used_again_when_back(pair: Pair) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    async with Database.connect(settings(pair), pair.primary_url) as db:
        usage = ApiUsageRepository(db)
        await usage.log(calls(service, 1)[0])
        await served_by_replica(db)
        await asyncio.to_thread(pair.standby.down)
        try:
            since = datetime.now(UTC) - timedelta(hours=1)
            for _ in range(5):  # the first finds its pooled connection dead, the rest skip the replica at once
                rates = {r.service: r for r in await usage.success_rate(since)}
                assert rates[service].calls == 1
            status = db.replica_status()
            assert status is not None and not status.routing and status.failures >= 1
            assert status.last_error is not None
            replica_check = await replica_health(db)
            assert replica_check["verdict"] == "warning" and "primary" in replica_check["advice"]
        finally:
            await asyncio.to_thread(pair.standby.up)
        await served_by_replica(db)


async def test_health_shows_the_replica_lag_measured_by_the_layer(pair: Pair) -> None:
    async with Database.connect(settings(pair), pair.primary_url) as db:
        await served_by_replica(db)
        replica_check = await replica_health(db)
        assert replica_check["verdict"] == "ok", replica_check
        assert "behind at most" in replica_check["value"]


async def test_a_replica_url_naming_a_primary_is_never_used(pair: Pair) -> None:
    async with Database.connect(
        settings(pair, DATABASE_REPLICA_URL=pair.primary_url), pair.primary_url
    ) as db:  # fmt: skip
        usage = ApiUsageRepository(db)
        for _ in range(5):
            await usage.success_rate(datetime.now(UTC))
            await asyncio.sleep(0.1)
        status = db.replica_status()
        assert status is not None and status.reads == 0 and not status.routing
        assert status.last_error is not None and "not in recovery" in status.last_error


def test_only_a_plain_read_may_be_bound_to_the_replica() -> None:
    with pytest.raises(TypeError, match="only a plain read may run on a replica"):
        q.one("twitter_bot.log_api_call", ApiUsage, LogApiCallParams, retry=True, replica=True)


def test_the_check_interval_must_be_shorter_than_the_lag_bound() -> None:
    with pytest.raises(DatalayerError, match="DATALAYER_REPLICA_CHECK_INTERVAL"):
        Settings.model_validate({"replica_max_lag": 1.0, "replica_check_interval": 1.0})

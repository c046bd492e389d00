"""A server stopped and started under an open pool, on an embedded cluster this module starts itself in a
temporary folder (never the shared system server, never the project's own cluster)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator

import asyncpg
import pytest

from datalayer import Database, DatalayerError, Settings, Unavailable
from datalayer.embedded import EmbeddedCluster
from datalayer.migrate import Migrator
from datalayer.twitter_bot import ApiUsageRepository, LogApiCallParams


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedCluster]:
    home = tmp_path_factory.mktemp("restart") / "home"
    c = EmbeddedCluster(home)
    c.up()
    try:
        yield c
    finally:
        c.down()


async def migrated(cluster: EmbeddedCluster) -> str:
    admin = await asyncpg.connect(cluster.url())
    try:
        exists = await admin.fetchval("SELECT 1 FROM pg_database WHERE datname = 'restart'")
        if not exists:
            await admin.execute("CREATE DATABASE restart")
    finally:
        await admin.close()
    url = cluster.url("restart")
    async with Migrator(url) as m:
        await m.apply()
    return url


def test_port_is_kept_across_down_and_up(cluster: EmbeddedCluster) -> None:
    port = cluster.port()
    first = cluster.url()
    asyncio.run(_touch(first))  # a client connection leaves the port's sockets in TIME_WAIT after down
    assert cluster.down()
    assert cluster.up() == first and cluster.port() == port


async def _touch(url: str) -> None:
    conn = await asyncpg.connect(url)
    await conn.fetchval("SELECT 1")
    await conn.close()


async def test_pool_recovers_after_a_stop_and_start_and_keeps_every_write(cluster: EmbeddedCluster) -> None:
    url = await migrated(cluster)
    service = f"restart-{uuid.uuid4().hex[:8]}"
    settings = Settings.model_validate(
        {"pool_max_size": 4, "retry_deadline": 2.0, "retry_backoff": 0.05, "retry_backoff_max": 0.5,
         "connect_timeout": 2.0, "application_name": "dl-restart"}
    )  # fmt: skip
    stored: list[uuid.UUID] = []
    failures: list[BaseException] = []
    foreign: list[BaseException] = []
    stop = asyncio.Event()

    async with Database.connect(settings, url) as db:
        usage = ApiUsageRepository(db)

        async def writer() -> None:
            while not stop.is_set():
                p = LogApiCallParams(service=service, endpoint="restart", success=True)
                try:
                    await usage.log(p)
                    stored.append(p.call_id)
                except DatalayerError as exc:
                    failures.append(exc)
                    await asyncio.sleep(0.05)
                except BaseException as exc:
                    foreign.append(exc)
                    return

        tasks = [asyncio.create_task(writer()) for _ in range(3)]
        await asyncio.sleep(0.5)

        await asyncio.to_thread(cluster.down)
        await asyncio.sleep(1.0)  # down for a while: calls fail with Unavailable after their retry deadline
        during = len(failures)
        mark = len(stored)
        starting = time.perf_counter()
        await asyncio.to_thread(cluster.up)  # returns once the server accepts connections
        accepting = time.perf_counter()
        recovered_after = None
        while time.perf_counter() - accepting < 30:  # a liveness bound, not a timing target
            if len(stored) > mark:
                recovered_after = max(0.0, time.perf_counter() - accepting)
                break
            await asyncio.sleep(0.01)
        stop.set()
        await asyncio.gather(*tasks)

    assert foreign == []
    assert during > 0 and all(isinstance(f, Unavailable) for f in failures)
    assert recovered_after is not None, "the pool did not serve again"
    print(
        f"server start took {accepting - starting:.2f} s; the pool served again {recovered_after:.2f} s after it "
        f"accepted connections; {len(failures)} calls failed while it was down"
    )
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch(
            "SELECT call_id, count(*) AS n FROM twitter_bot.api_usage WHERE service = $1 GROUP BY 1", service
        )
    finally:
        await conn.close()
    counts = {r["call_id"]: r["n"] for r in rows}
    assert set(stored) <= set(counts)  # every call that returned is there
    assert set(counts.values()) == {1}  # and none twice

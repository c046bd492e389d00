"""The repository read cache: in-process and Redis tiers, invalidation after COMMIT (never for a rollback),
cross-process invalidation, Redis stopped mid-run, concurrent misses collapsed, shapes that changed."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
from click.testing import CliRunner

from datalayer import Database, Settings
from datalayer import queries as q
from datalayer.cache import Cached
from datalayer.twitter_bot import SystemState, SystemStateRepository
from datalayer.twitter_bot.system_state import key_tag
from tests.redis_helpers import RedisServer, free_port, redis_available

pytestmark = pytest.mark.filterwarnings("ignore::ResourceWarning")

# Test-only bindings with a short TTL (the repository's own are 60 s).
_SHORT = q.one(
    "twitter_bot.get_system_state", SystemState, (str,), cache=Cached(ttl=0.3, tags=lambda a: (key_tag(a[0]),))
)
_UNCACHED = q.one("twitter_bot.get_system_state", SystemState, (str,))


def settings(**extra: object) -> Settings:
    return Settings.model_validate({"application_name": f"dl-cache-{uuid.uuid4().hex[:6]}", **extra})


@pytest.fixture
async def key(database_url: str) -> AsyncIterator[str]:
    name = f"cache-test-{uuid.uuid4().hex[:8]}"
    yield name
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM twitter_bot.system_state WHERE key LIKE 'cache-test-%'")
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def redis_server() -> Iterator[RedisServer]:
    why = redis_available()
    if why:
        pytest.skip(why)
    server = RedisServer(free_port()).start()
    yield server
    server.stop()


def calls(name: str = "twitter_bot.get_system_state") -> int:
    return q.all_stats()[name].calls


async def test_hit_miss_and_ttl_in_process(database_url: str, key: str) -> None:
    async with Database.connect(settings(), database_url) as db:
        await SystemStateRepository(db).set(key, 1)
        before = calls()
        first = await db.executor.one(_SHORT, key)
        assert first is not None and first.value == 1
        for _ in range(5):
            assert await db.executor.one(_SHORT, key) == first  # hits: no statement
        assert calls() == before + 1
        assert _SHORT.stats.cache_hits >= 5 and _SHORT.stats.cache_misses >= 1
        await asyncio.sleep(0.35)  # past the TTL
        await db.executor.one(_SHORT, key)
        assert calls() == before + 2


async def test_lru_evicts_the_least_recently_used(database_url: str, key: str) -> None:
    async with Database.connect(settings(cache_size=3), database_url) as db:
        repo = SystemStateRepository(db)
        for n in range(4):
            await repo.set(f"{key}-{n}", n)
        evicted = q.all_stats()["twitter_bot.get_system_state"].cache_evictions
        for n in range(3):
            await repo.get(f"{key}-{n}")
        await repo.get(f"{key}-0")  # 0 is now the most recently used
        await repo.get(f"{key}-3")  # evicts 1, the least recently used
        assert q.all_stats()["twitter_bot.get_system_state"].cache_evictions == evicted + 1
        assert db.executor.cache is not None and len(db.executor.cache) == 3
        before = calls()
        await repo.get(f"{key}-0")
        assert calls() == before  # still cached
        await repo.get(f"{key}-1")
        assert calls() == before + 1  # evicted: read again


async def test_a_write_invalidates_after_commit_never_on_rollback(database_url: str, key: str) -> None:
    async with Database.connect(settings(), database_url) as db:
        repo = SystemStateRepository(db)
        await repo.set(key, "v1")
        assert (await repo.get(key)).value == "v1"  # type: ignore[union-attr]
        assert (await repo.get(key)).value == "v1"  # type: ignore[union-attr]  # cached
        # a plain write on the pool: no stale read right after it
        await repo.set(key, "v2")
        assert (await repo.get(key)).value == "v2"  # type: ignore[union-attr]
        # inside a transaction: invalidated at COMMIT, not before
        async with db.transaction() as tx:
            await SystemStateRepository(tx).set(key, "v3")
            assert (await SystemStateRepository(tx).get(key)).value == "v3"  # type: ignore[union-attr]  # the tx sees its write
            assert (await repo.get(key)).value == "v2"  # type: ignore[union-attr]  # others still see the committed value
        assert (await repo.get(key)).value == "v3"  # type: ignore[union-attr]
        # a rolled-back write invalidates nothing: the entry stays and is right
        before = calls()
        with pytest.raises(RuntimeError):
            async with db.transaction() as tx:
                await SystemStateRepository(tx).set(key, "never")
                raise RuntimeError("roll back")
        assert (await repo.get(key)).value == "v3"  # type: ignore[union-attr]
        assert calls() == before  # served from the cache: the rollback invalidated nothing
        # another key's write leaves this entry alone (tags per key)
        await repo.set(key + "-other", 1)
        assert (await repo.get(key)).value == "v3"  # type: ignore[union-attr]
        assert calls() == before
        assert q.all_stats()["twitter_bot.set_system_state"].cache_invalidations > 0


async def test_concurrent_misses_run_the_query_once(database_url: str, key: str) -> None:
    async with Database.connect(settings(pool_max_size=8), database_url) as db:
        repo = SystemStateRepository(db)
        await repo.set(key, 42)
        before = calls()
        rows = await asyncio.gather(*(repo.get(key) for _ in range(30)))
        assert {r.value for r in rows if r} == {42}
        assert calls() == before + 1


async def test_cached_reads_are_counted_and_shown_by_stats_queries(database_url: str, key: str) -> None:
    async with Database.connect(settings(), database_url) as db:
        repo = SystemStateRepository(db)
        await repo.set(key, 1)
        for _ in range(3):
            await repo.get(key)
        row = next(s for s in db.query_stats() if s.name == "twitter_bot.get_system_state")
        assert row.cache_hits >= 2 and row.cache_misses >= 1
    from datalayer.cli import main

    result = await asyncio.to_thread(
        CliRunner().invoke, main, ["--database-url", database_url, "stats", "queries", "--json"]
    )
    assert result.exit_code == 0, result.output
    ours = next(r for r in json.loads(result.output)["queries"] if r["name"] == "twitter_bot.get_system_state")
    assert ours["cache_hits"] >= 2


# -- Redis ----------------------------------------------------------------------------------------------------------
async def test_two_processes_see_each_others_invalidations_through_redis(
    database_url: str, key: str, redis_server: RedisServer
) -> None:
    s = settings(redis_url=redis_server.url, cache_local_ttl=2.0)
    async with Database.connect(s, database_url) as a, Database.connect(s, database_url) as b:
        ra, rb = SystemStateRepository(a), SystemStateRepository(b)
        await ra.set(key, "one")
        assert a.executor.cache is not None
        await a.executor.cache.settle()  # its invalidation has reached Redis: a's reads may use (and fill) it again
        assert (await ra.get(key)).value == "one"  # type: ignore[union-attr]
        before = calls()
        assert (await rb.get(key)).value == "one"  # type: ignore[union-attr]  # b: a Redis hit, no statement
        assert calls() == before
        await rb.set(key, "two")  # b writes: a must stop serving "one"
        assert (await rb.get(key)).value == "two"  # type: ignore[union-attr]  # never stale in the writing process
        started = time.monotonic()
        while (await ra.get(key)).value != "two":  # type: ignore[union-attr]
            assert time.monotonic() - started < 2.5, "a served the old value past the documented bound"
            await asyncio.sleep(0.01)
        # pub/sub normally carries it within milliseconds; the bound is the local TTL
        assert time.monotonic() - started < 2.5


async def test_an_entry_of_another_model_shape_is_a_miss(
    database_url: str, key: str, redis_server: RedisServer
) -> None:
    import redis.asyncio as aioredis

    s = settings(redis_url=redis_server.url)
    async with Database.connect(s, database_url) as db:
        repo = SystemStateRepository(db)
        await repo.set(key, 7)
        assert db.executor.cache is not None
        await db.executor.cache.settle()
        await repo.get(key)
        client = aioredis.from_url(redis_server.url)
        try:
            for k in await client.keys("dl:*:e:*"):
                raw = json.loads(await client.get(k))
                raw["shape"] = "an-older-shape"
                await client.set(k, json.dumps(raw))
        finally:
            await client.aclose()
        assert db.executor.cache is not None
        db.executor.cache.clear()  # force the Redis tier
        before = calls()
        assert (await repo.get(key)).value == 7  # type: ignore[union-attr]
        assert calls() == before + 1  # a miss, never a crash


async def test_redis_stopped_mid_run_reads_fall_through_and_writes_succeed(database_url: str, key: str) -> None:
    if redis_available():
        pytest.skip(redis_available())
    server = RedisServer(free_port()).start()
    s = settings(redis_url=server.url, cache_redis_timeout=0.2, cache_redis_retry=0.5)
    try:
        async with Database.connect(s, database_url) as db:
            repo = SystemStateRepository(db)
            await repo.set(key, "up")
            assert (await repo.get(key)).value == "up"  # type: ignore[union-attr]
            server.stop()

            def redis_errors() -> int:
                st = q.all_stats()
                return sum(
                    st[n].cache_redis_errors for n in ("twitter_bot.get_system_state", "twitter_bot.set_system_state")
                )

            errors_before = redis_errors()
            started = time.monotonic()
            for n in range(5):
                await asyncio.wait_for(repo.set(key, f"down-{n}"), 5)  # writes still succeed
                assert (await asyncio.wait_for(repo.get(key), 5)).value == f"down-{n}"  # type: ignore[union-attr]
            assert time.monotonic() - started < 10  # nothing hung
            assert db.executor.cache is not None
            await asyncio.wait_for(db.executor.cache.settle(), 5)  # the background flush has tried (and failed)
            assert redis_errors() > errors_before  # counted (and logged once), then Redis left alone for a while
            server.start()  # the same port: Redis is back
            await asyncio.sleep(0.6)  # past the retry pause
            await repo.set(key, "back")
            assert (await repo.get(key)).value == "back"  # type: ignore[union-attr]
    finally:
        server.stop()


def test_bind_time_rules() -> None:
    with pytest.raises(TypeError, match="only a plain read can be cached"):
        q.one("twitter_bot.set_system_state", SystemState, (str, object), retry=True, cache=Cached(ttl=1))
    with pytest.raises(TypeError, match="nothing to invalidate"):
        q.one("twitter_bot.get_system_state", SystemState, (str,), invalidates=("x",))
    with pytest.raises(ValueError, match="positive ttl"):
        Cached(ttl=0)


async def test_a_failing_load_fails_every_waiter_and_is_not_cached(database_url: str, key: str) -> None:
    from datalayer import InvalidData

    async with Database.connect(settings(), database_url) as db:
        results = await asyncio.gather(*(db.executor.one(_SHORT, "x" * 300) for _ in range(5)), return_exceptions=True)
        assert all(isinstance(r, InvalidData) or r is None for r in results), results


# -- from an adversarial review: the failures it found, each now a test --------------------------------------------
async def direct(database_url: str, key: str) -> object:
    conn = await asyncpg.connect(database_url)
    try:
        return json.loads(await conn.fetchval("SELECT value::text FROM twitter_bot.system_state WHERE key = $1", key))
    finally:
        await conn.close()


async def test_cancelled_writes_never_leave_a_stale_entry(database_url: str, key: str) -> None:
    """A write cancelled after its statement committed (say, during the connection's release) still invalidates."""
    import random

    async with Database.connect(settings(), database_url) as db:
        repo = SystemStateRepository(db)
        await repo.set(key, -1)
        rng = random.Random(7)
        for n in range(60):
            await repo.get(key)  # cached
            task = asyncio.create_task(repo.set(key, n))
            await asyncio.sleep(rng.random() * 0.004)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            got = await repo.get(key)
            assert got is not None and got.value == await direct(database_url, key), n


async def test_a_cancelled_leader_does_not_cancel_its_followers(database_url: str, key: str) -> None:
    async with Database.connect(settings(pool_max_size=4), database_url) as db:
        repo = SystemStateRepository(db)
        await repo.set(key, 5)
        leader = asyncio.create_task(repo.get(key))
        await asyncio.sleep(0)  # the leader starts its load
        followers = [asyncio.create_task(repo.get(key)) for _ in range(5)]
        await asyncio.sleep(0)
        leader.cancel()
        results = await asyncio.gather(*followers)
        assert [r.value for r in results if r] == [5] * 5


@pytest.mark.parametrize("poison", ["null", "[]", "5", '"s"', "[" * 5000 + "]" * 5000, "not json"])
async def test_a_corrupt_redis_entry_is_a_miss(
    database_url: str, key: str, redis_server: RedisServer, poison: str
) -> None:
    import redis.asyncio as aioredis

    async with Database.connect(settings(redis_url=redis_server.url), database_url) as db:
        repo = SystemStateRepository(db)
        await repo.set(key, 3)
        assert db.executor.cache is not None
        await db.executor.cache.settle()
        await repo.get(key)
        client = aioredis.from_url(redis_server.url)
        try:
            for k in await client.keys(f"{db.executor.cache._ns}:e:*"):
                await client.set(k, poison)
            for k in await client.keys(f"{db.executor.cache._ns}:tag:*"):
                await client.set(k, "abc")  # a tag key that is not a number
        finally:
            await client.aclose()
        db.executor.cache.clear()
        assert (await repo.get(key)).value == 3  # type: ignore[union-attr]  # a miss, never a crash


async def test_redis_hung_and_back_no_stale_read_in_the_writing_process(database_url: str, key: str) -> None:
    """SIGSTOP Redis (it hangs rather than refuses): writes and a 20-write transaction do not wait on it, reads
    fall through; SIGCONT: every process converges, and a process's reads never go back behind its own writes."""
    import signal

    if redis_available():
        pytest.skip(redis_available())
    server = RedisServer(free_port()).start()
    s = settings(redis_url=server.url, cache_redis_timeout=0.2, cache_redis_retry=0.3, cache_local_ttl=1.0)
    try:
        async with Database.connect(s, database_url) as a, Database.connect(s, database_url) as b:
            ra, rb = SystemStateRepository(a), SystemStateRepository(b)
            await ra.set(key, "a1")
            assert a.executor.cache is not None and b.executor.cache is not None
            await a.executor.cache.settle()
            assert (await ra.get(key)).value == "a1" and (await rb.get(key)).value == "a1"  # type: ignore[union-attr]
            assert server.proc is not None
            server.proc.send_signal(signal.SIGSTOP)
            try:
                started = time.monotonic()
                async with a.transaction() as tx:
                    for n in range(20):
                        await SystemStateRepository(tx).set(f"{key}-{n}", n)
                await ra.set(key, "a2")
                assert time.monotonic() - started < 2.0  # the writes never waited on the hung Redis
                assert (await ra.get(key)).value == "a2"  # type: ignore[union-attr]  # its own write, at once
            finally:
                server.proc.send_signal(signal.SIGCONT)
            await asyncio.sleep(0.4)  # past the retry pause
            await rb.set(key, "b3")
            await b.executor.cache.settle()
            assert (await rb.get(key)).value == "b3"  # type: ignore[union-attr]
            deadline = time.monotonic() + 3
            while (await ra.get(key)).value != "b3":  # type: ignore[union-attr]
                assert time.monotonic() < deadline, "a kept the value b replaced"
                await asyncio.sleep(0.05)
            await ra.set(key, "a4")
            assert (await ra.get(key)).value == "a4"  # type: ignore[union-attr]
    finally:
        with contextlib.suppress(Exception):
            server.proc.send_signal(signal.SIGCONT)  # type: ignore[union-attr]
        server.stop()


async def test_a_redis_that_restarted_empty_is_a_new_epoch(database_url: str, key: str) -> None:
    if redis_available():
        pytest.skip(redis_available())
    port = free_port()
    server = RedisServer(port).start()
    s = settings(redis_url=server.url, cache_redis_retry=0.2, cache_local_ttl=1.0)
    try:
        async with Database.connect(s, database_url) as a:
            ra = SystemStateRepository(a)
            for n in range(3):  # versions climb to 3 in this epoch
                await ra.set(key, f"a{n}")
                assert a.executor.cache is not None
                await a.executor.cache.settle()
            assert (await ra.get(key)).value == "a2"  # type: ignore[union-attr]
            server.stop()
            server.start()  # empty: its counters start again at 0
            async with Database.connect(s, database_url) as b:
                await SystemStateRepository(b).set(key, "b1")
                assert b.executor.cache is not None
                await b.executor.cache.settle()
                deadline = time.monotonic() + 3
                while (await ra.get(key)).value != "b1":  # type: ignore[union-attr]
                    assert time.monotonic() < deadline, "a served the old epoch's entry"
                    await asyncio.sleep(0.05)
    finally:
        server.stop()

"""The write contract under connection loss, each case caused for real, then rows counted.

Deterministic cases go through a TCP proxy that cuts the connection at an exact protocol moment; the soak
tests terminate every backend of the pool with pg_terminate_backend every 150 ms while workers run.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from datalayer import Database, DatalayerError, Settings, StateConflict, Unavailable
from datalayer import queries as q
from datalayer.twitter_bot import (
    ApiUsageRepository,
    LogApiCallParams,
    SystemStateRepository,
    TranslationRepository,
    TweetRepository,
    UpsertTweetParams,
)
from tests.faults import killing, proxy_to, terminate_backends

pytestmark = pytest.mark.direct(
    reason="cuts and kills the server's own backends under the pool; behind PgBouncer the client connection survives them"
)

_ids = itertools.count(int(datetime.now(UTC).timestamp()) * 1000)


def settings(app: str, **extra: object) -> Settings:
    values: dict[str, object] = {
        "application_name": app,
        "pool_min_size": 1,
        "pool_max_size": 4,
        "retry_backoff": 0.02,
        "retry_backoff_max": 0.2,
        "retry_deadline": 10.0,
        "retry_attempts": 8,
        "connect_timeout": 5.0,
        **extra,
    }
    return Settings.model_validate(values)


def app_name() -> str:
    return f"dl-fault-{uuid.uuid4().hex[:8]}"


async def fetchval(url: str, sql: str, *args: object) -> object:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


@pytest.fixture(autouse=True)
async def remove_committed_calls(database_url: str) -> AsyncIterator[None]:
    """These tests commit (several connections must see the rows); remove their API calls afterwards."""
    yield
    await fetchval(database_url, "DELETE FROM twitter_bot.api_usage WHERE endpoint IN ('fault', 'post')")


@pytest.fixture
async def tweet_id(database_url: str) -> AsyncIterator[int]:
    """A committed tweet (other connections see it), deleted with everything hanging off it afterwards."""
    tid = next(_ids)
    async with Database.connect(settings("dl-setup"), database_url) as db:
        await TweetRepository(db).upsert(
            UpsertTweetParams(
                id=tid, author_id=1, author_username="faults", text="fault test", created_at=datetime.now(UTC)
            )
        )
    yield tid
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM twitter_bot.tweets WHERE id = $1", tid)
    finally:
        await conn.close()


def call(service: str) -> LogApiCallParams:
    return LogApiCallParams(service=service, endpoint="fault", success=True, response_time_ms=1.0)


async def stored_calls(url: str, service: str) -> Counter[uuid.UUID]:
    conn = await asyncpg.connect(url)
    try:
        rows = await conn.fetch("SELECT call_id FROM twitter_bot.api_usage WHERE service = $1", service)
    finally:
        await conn.close()
    return Counter(r["call_id"] for r in rows)


# -- deterministic cuts through the proxy ------------------------------------------------------------------------
async def test_a_statement_that_returned_is_a_success_even_when_the_connection_dies_after_it(
    database_url: str, tweet_id: int
) -> None:
    async with proxy_to(database_url) as proxy:
        s = settings(app_name(), statement_cache_size=0)
        async with Database.connect(s, proxy.url(database_url)) as db:
            service = f"svc-{uuid.uuid4().hex[:8]}"
            proxy.cut_after_reply_to(b"twitter_bot.log_api_call")
            row = await ApiUsageRepository(db).log(call(service))  # the release afterwards fails: not our problem
            assert proxy.cuts == 1
            # An unsafe write too: it returned, so it succeeded, whatever happened to the connection next.
            proxy.cut_after_reply_to(b"twitter_bot.create_translation")
            created = await TranslationRepository(db).create(tweet_id, "es")
            assert proxy.cuts == 2
            assert await TranslationRepository(db).get(created.id) == created  # the pool serves on
    assert await stored_calls(database_url, service) == Counter({row.call_id: 1})


async def test_lost_reply_of_a_retry_safe_write_is_retried_and_stored_once(database_url: str) -> None:
    service = f"svc-{uuid.uuid4().hex[:8]}"
    binding = next(b for b in q.REGISTRY["twitter_bot.log_api_call"] if b.owner == "datalayer.twitter_bot.api_usage")
    retries_before = binding.stats.retries
    async with proxy_to(database_url) as proxy:
        async with Database.connect(settings(app_name(), statement_cache_size=0), proxy.url(database_url)) as db:
            p = call(service)
            proxy.cut_before_reply_to(b"twitter_bot.log_api_call")  # the server inserts; the reply is lost
            row = await ApiUsageRepository(db).log(p)
            assert proxy.cuts == 1 and row.call_id == p.call_id
    assert binding.stats.retries == retries_before + 1
    assert await stored_calls(database_url, service) == Counter({p.call_id: 1})


async def test_lost_reply_of_an_unsafe_write_is_unavailable_at_once(database_url: str, tweet_id: int) -> None:
    async with proxy_to(database_url) as proxy:
        async with Database.connect(settings(app_name(), statement_cache_size=0), proxy.url(database_url)) as db:
            proxy.cut_before_reply_to(b"twitter_bot.create_translation")
            with pytest.raises(Unavailable) as info:
                await TranslationRepository(db).create(tweet_id, "fr")
            assert info.value.connection_lost and not info.value.commit_unknown
            # Not retried: the server did insert it, and a blind repeat would have raised Conflict.
            assert (await TranslationRepository(db).ensure(tweet_id, "fr")).target_language == "fr"
    assert (
        await fetchval(database_url, "SELECT count(*) FROM twitter_bot.translations WHERE tweet_id = $1", tweet_id) == 1
    )


async def test_lost_reply_of_a_read_is_retried(database_url: str, tweet_id: int) -> None:
    async with proxy_to(database_url) as proxy:
        async with Database.connect(settings(app_name(), statement_cache_size=0), proxy.url(database_url)) as db:
            proxy.cut_before_reply_to(b"twitter_bot.get_tweet")
            tweet = await TweetRepository(db).get(tweet_id)
            assert proxy.cuts == 1 and tweet is not None and tweet.id == tweet_id


async def test_acknowledged_commit_is_a_success_even_when_the_release_fails(database_url: str) -> None:
    key = f"fault-{uuid.uuid4().hex}"
    async with proxy_to(database_url) as proxy:
        async with Database.connect(settings(app_name(), statement_cache_size=0), proxy.url(database_url)) as db:
            proxy.cut_after_reply_to(b"COMMIT;")
            async with db.transaction() as tx:
                await SystemStateRepository(tx).set(key, 1)
            assert proxy.cuts == 1
    assert await fetchval(database_url, "SELECT count(*) FROM twitter_bot.system_state WHERE key = $1", key) == 1
    await fetchval(database_url, "DELETE FROM twitter_bot.system_state WHERE key = $1", key)


async def test_connection_lost_during_commit_is_commit_unknown_and_not_repeated(database_url: str) -> None:
    key = f"fault-{uuid.uuid4().hex}"
    runs = 0

    async def body(tx: object) -> None:
        nonlocal runs
        runs += 1
        await SystemStateRepository(tx).increment(key)  # type: ignore[arg-type]

    async with proxy_to(database_url) as proxy:
        async with Database.connect(settings(app_name(), statement_cache_size=0), proxy.url(database_url)) as db:
            proxy.cut_before_reply_to(b"COMMIT;")
            with pytest.raises(Unavailable) as info:
                await db.run_in_transaction(body)
            assert info.value.commit_unknown and "may or may not have been committed" in str(info.value)
    assert runs == 1  # never repeated blindly
    # Here the server did commit: the unknown outcome was a success, counted once.
    assert await fetchval(database_url, "SELECT value::int FROM twitter_bot.system_state WHERE key = $1", key) == 1
    await fetchval(database_url, "DELETE FROM twitter_bot.system_state WHERE key = $1", key)


async def test_run_in_transaction_reruns_the_whole_function_after_a_lost_connection(database_url: str) -> None:
    key = f"fault-{uuid.uuid4().hex}"
    runs = 0

    async def body(tx: object) -> int:
        nonlocal runs
        runs += 1
        state = SystemStateRepository(tx)  # type: ignore[arg-type]
        await state.increment(key)
        return await state.increment(key)

    async with proxy_to(database_url) as proxy:
        async with Database.connect(settings(app_name(), statement_cache_size=0), proxy.url(database_url)) as db:
            proxy.cut_before_reply_to(b"twitter_bot.increment_counter")  # the first statement of the first run
            assert await db.run_in_transaction(body) == 2
    assert runs == 2
    assert await fetchval(database_url, "SELECT value::int FROM twitter_bot.system_state WHERE key = $1", key) == 2
    await fetchval(database_url, "DELETE FROM twitter_bot.system_state WHERE key = $1", key)


async def test_serialization_failure_reruns_the_whole_transaction(database_url: str) -> None:
    key = f"fault-{uuid.uuid4().hex}"
    async with Database.connect(settings(app_name()), database_url) as db:
        await SystemStateRepository(db).set(key, 0)
        both_read = asyncio.Barrier(2)
        runs = Counter[str]()

        async def add_one(name: str) -> None:
            async def body(tx: object) -> None:
                runs[name] += 1
                state = SystemStateRepository(tx)  # type: ignore[arg-type]
                current = await state.get(key)
                assert current is not None
                if runs[name] == 1:
                    await asyncio.wait_for(both_read.wait(), 10)  # both read the same value first
                await state.set(key, int(current.value) + 1)  # type: ignore[arg-type]

            await db.run_in_transaction(body, isolation="serializable")

        await asyncio.gather(add_one("a"), add_one("b"))
        final = await SystemStateRepository(db).get(key)
        assert final is not None and final.value == 2  # no lost update
        assert sum(runs.values()) >= 3  # one of them ran again
        await SystemStateRepository(db).delete(key)


async def test_idle_pooled_connections_killed_then_used(database_url: str, tweet_id: int) -> None:
    app = app_name()
    async with Database.connect(settings(app, pool_min_size=4), database_url) as db:
        admin = await asyncpg.connect(database_url)
        try:
            for _ in range(3):
                assert await terminate_backends(admin, app) >= 1
                await asyncio.sleep(0.05)
                assert (await TweetRepository(db).get(tweet_id)) is not None  # read
                await ApiUsageRepository(db).log(call("idle-kill"))  # retry-safe write
                await TranslationRepository(db).create(tweet_id, f"es-a{_}")  # unsafe: never sent on a dead one
        finally:
            await admin.close()


async def test_concurrent_ensure_of_one_row_returns_it_to_everyone(database_url: str, tweet_id: int) -> None:
    """ON CONFLICT DO NOTHING waits for a concurrent insert of the same key, and the statement's read-back
    (its snapshot is older) cannot see it: without a second read, no row came back (found by a fault run)."""
    async with Database.connect(settings(app_name(), pool_max_size=8), database_url) as db:
        repo = TranslationRepository(db)
        for n in range(40):
            rows = await asyncio.gather(*(repo.ensure(tweet_id, f"pt-e{n}") for _ in range(6)))
            assert len({r.id for r in rows}) == 1, rows


async def test_two_statements_at_once_on_one_transaction_is_a_usage_error(database_url: str) -> None:
    from datalayer.errors import UsageError

    runs = 0
    async with Database.connect(settings(app_name()), database_url) as db:

        async def body(tx: object) -> None:
            nonlocal runs
            runs += 1
            state = SystemStateRepository(tx)  # type: ignore[arg-type]
            await asyncio.gather(state.get("a"), state.get("b"))

        with pytest.raises(UsageError, match="await each statement before starting the next"):
            await db.run_in_transaction(body)
        assert runs == 1  # a programming error is not retried
        assert await SystemStateRepository(db).get("a") is None  # the pool is fine


def test_a_statement_refused_before_sending_is_known_not_sent() -> None:
    from datalayer.errors import is_connection_lost, never_sent

    refused = asyncpg.InternalClientError("cannot switch to state 12; another operation (2) is in progress")
    assert never_sent(refused) and is_connection_lost(refused)
    assert not never_sent(asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"))
    busy = asyncpg.InterfaceError("cannot perform operation: another operation is in progress")
    assert not is_connection_lost(busy)


async def test_transaction_keeps_the_original_error_when_rollback_fails(database_url: str) -> None:
    app = app_name()
    async with Database.connect(settings(app), database_url) as db:
        admin = await asyncpg.connect(database_url)
        try:
            with pytest.raises(Unavailable) as info:
                async with db.transaction() as tx:
                    await SystemStateRepository(tx).get("anything")
                    await terminate_backends(admin, app)
                    await asyncio.sleep(0.05)
                    await SystemStateRepository(tx).get("anything")
            assert info.value.connection_lost and not info.value.commit_unknown
            assert info.value.query == "twitter_bot.get_system_state"  # not the rollback's error
            assert await SystemStateRepository(db).get("anything") is None  # and the pool serves on
        finally:
            await admin.close()


# -- soak: every backend terminated every 150 ms -----------------------------------------------------------------
async def test_workers_claim_post_and_log_under_repeated_kills(database_url: str, tweet_id: int) -> None:
    """Four workers claim, post and log while every backend of their pool is terminated every 150 ms.
    Afterwards: every translation posted exactly once (in the database and 'on Twitter'), every usage call
    stored exactly once, and nothing but datalayer.errors ever raised."""
    app = app_name()
    languages = [f"es-{i:03d}" for i in range(400)]
    service = f"svc-{uuid.uuid4().hex[:8]}"
    posted_on_twitter: Counter[int] = Counter()
    logged: list[uuid.UUID] = []
    foreign: list[BaseException] = []
    unavailable = 0
    conflicts = 0

    async with Database.connect(settings(app, pool_max_size=6), database_url) as db:
        repo = TranslationRepository(db)
        ids = [(await repo.ensure(tweet_id, lang)).id for lang in languages]

        async def until_done(fn: object) -> object:
            nonlocal unavailable
            while True:
                try:
                    return await fn()  # type: ignore[operator]
                except Unavailable:
                    unavailable += 1
                    await asyncio.sleep(0.05)

        async def worker(name: str, stop_at: float) -> None:
            nonlocal conflicts
            loop = asyncio.get_running_loop()
            try:
                while loop.time() < stop_at:
                    claimed = await until_done(lambda: repo.claim_pending(name, limit=3, lease_seconds=120))
                    if not claimed:
                        if await repo.count_by_status() == {
                            "abandoned": 0,
                            "draft": 0,
                            "failed": 0,
                            "pending": 0,
                            "posted": len(ids),
                        }:
                            return
                        await asyncio.sleep(0.05)
                        continue
                    for t in claimed:  # type: ignore[attr-defined]
                        p = LogApiCallParams(service=service, endpoint="post", success=True, response_time_ms=2.0)
                        await until_done(lambda p=p: ApiUsageRepository(db).log(p))
                        logged.append(p.call_id)
                        await asyncio.sleep(0.02)  # posting to Twitter takes a while
                        posted_on_twitter[t.id] += 1  # the external side effect, once per claim held
                        try:
                            await until_done(
                                lambda t=t: repo.mark_posted(
                                    t.id, name, f"text {t.id}", 10**15 + t.id, claim_id=t.claim_id
                                )
                            )
                        except StateConflict:
                            conflicts += 1
            except DatalayerError:
                raise
            except BaseException as exc:  # anything else is a contract breach
                foreign.append(exc)

        loop = asyncio.get_running_loop()
        async with killing(database_url, app, every=0.15) as kills:
            await asyncio.gather(*(worker(f"w{i}", loop.time() + 6) for i in range(4)))
        # The kills stop; the workers finish what is left.
        await asyncio.gather(*(worker(f"w{i}", loop.time() + 30) for i in range(4)))

    assert foreign == []
    assert conflicts == 0
    assert sum(kills) > 10 and len(kills) > 10, kills  # the storm really happened, over many rounds
    conn = await asyncpg.connect(database_url)
    try:
        statuses = await conn.fetch(
            "SELECT status, count(*) FROM twitter_bot.translations WHERE tweet_id = $1 GROUP BY 1", tweet_id
        )
        posted_attempts = await conn.fetch(
            "SELECT translation_id, count(*) AS n FROM twitter_bot.translation_attempts "
            "WHERE tweet_id = $1 AND status = 'posted' GROUP BY 1", tweet_id)  # fmt: skip
    finally:
        await conn.close()
    assert {r["status"]: r["count"] for r in statuses} == {"posted": len(ids)}  # none lost
    assert {r["translation_id"]: r["n"] for r in posted_attempts} == dict.fromkeys(ids, 1)  # none twice
    assert posted_on_twitter == Counter(dict.fromkeys(ids, 1))
    assert await stored_calls(database_url, service) == Counter(dict.fromkeys(logged, 1))
    print(f"kills={sum(kills)} unavailable={unavailable} calls={len(logged)}")


async def test_transactions_under_repeated_kills_are_all_or_nothing(database_url: str) -> None:
    """Transactions that each write a marker row and bump a counter, while backends die every 150 ms: every
    transaction that returned is there once; one that raised (other than commit_unknown) is absent; the counter
    equals the markers present; nothing but datalayer.errors is raised."""
    app = app_name()
    prefix = f"tx-{uuid.uuid4().hex[:8]}"
    counter = f"{prefix}-counter"
    outcome: dict[str, str] = {}
    foreign: list[BaseException] = []

    async with Database.connect(settings(app, transaction_attempts=6), database_url) as db:

        async def one(n: int) -> None:
            key = f"{prefix}-{n:06d}"

            async def body(tx: object) -> None:
                state = SystemStateRepository(tx)  # type: ignore[arg-type]
                await state.set(key, n)
                await state.increment(counter)

            try:
                await db.run_in_transaction(body)
                outcome[key] = "ok"
            except Unavailable as exc:
                outcome[key] = "unknown" if exc.commit_unknown else "failed"
            except DatalayerError:
                outcome[key] = "failed"
            except BaseException as exc:
                foreign.append(exc)

        async def task(start: int, stop_at: float) -> None:
            n = start
            while asyncio.get_running_loop().time() < stop_at:
                await one(n)
                n += 1

        stop_at = asyncio.get_running_loop().time() + 5
        async with killing(database_url, app, every=0.15) as kills:
            await asyncio.gather(*(task(i * 100_000, stop_at) for i in range(4)))

    assert foreign == []
    assert sum(kills) > 5
    conn = await asyncpg.connect(database_url)
    try:
        present = {
            r["key"]
            for r in await conn.fetch("SELECT key FROM twitter_bot.system_state WHERE key LIKE $1", f"{prefix}-%")
        }
        count = await conn.fetchval("SELECT value::int FROM twitter_bot.system_state WHERE key = $1", counter)
        await conn.execute("DELETE FROM twitter_bot.system_state WHERE key LIKE $1", f"{prefix}%")
    finally:
        await conn.close()
    present.discard(counter)
    assert {k for k, v in outcome.items() if v == "ok"} <= present
    assert not {k for k, v in outcome.items() if v == "failed"} & present
    assert (count or 0) == len(present)  # atomic: marker and counter together or neither
    assert len(outcome) > 100
    print(f"kills={sum(kills)} outcomes={Counter(outcome.values())}")


async def test_deadlock_reruns_the_loser_and_both_updates_land(database_url: str) -> None:
    """Two transactions update the same two rows in opposite orders: PostgreSQL aborts one (40P01), the runner
    runs it again, and both increments are there."""
    a, b = f"fault-{uuid.uuid4().hex}", f"fault-{uuid.uuid4().hex}"
    async with Database.connect(settings(app_name()), database_url) as db:
        state = SystemStateRepository(db)
        await state.set(a, 0)
        await state.set(b, 0)
        first_done = asyncio.Barrier(2)
        runs = Counter[str]()

        async def bump(name: str, order: tuple[str, str]) -> None:
            async def body(tx: object) -> None:
                runs[name] += 1
                repo = SystemStateRepository(tx)  # type: ignore[arg-type]
                for n, key in enumerate(order):
                    row = await repo.get(key)
                    assert row is not None
                    await repo.set(key, int(row.value) + 1)  # type: ignore[arg-type]
                    if n == 0 and runs[name] == 1:
                        await asyncio.wait_for(first_done.wait(), 10)  # each holds its first row's lock

            await db.run_in_transaction(body)

        await asyncio.gather(bump("x", (a, b)), bump("y", (b, a)))
        values = [(await state.get(k)).value for k in (a, b)]  # type: ignore[union-attr]
        assert values == [2, 2] and sum(runs.values()) == 3  # the deadlock's loser ran once more
        for k in (a, b):
            await state.delete(k)


async def test_pool_exhausted_waits_its_timeout_then_unavailable(database_url: str) -> None:
    import time

    async with Database.connect(settings(app_name(), pool_max_size=1, acquire_timeout=0.5), database_url) as db:
        async with db.transaction() as tx:
            await SystemStateRepository(tx).get("anything")  # the only connection is held
            started = time.perf_counter()
            with pytest.raises(
                Unavailable, match=r"no database connection within 0.5 s \(query twitter_bot.get_system_state\)"
            ):
                await SystemStateRepository(db).get("anything")
            waited = time.perf_counter() - started
        assert 0.4 < waited < 5  # the configured wait, not the 60 s of a statement
        assert await SystemStateRepository(db).get("anything") is None  # usable again once released


async def test_cancelled_transaction_leaves_nothing_open_and_nothing_unretrieved(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A task cancelled inside `db.transaction()` while a statement runs: its connection goes back to the pool
    usable, no transaction stays open on the server, asyncpg does not have to reset an active transaction, and
    no future exception is left unretrieved."""
    import logging

    app = app_name()
    unretrieved: list[object] = []
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: unretrieved.append(context))
    caplog.set_level(logging.WARNING)
    try:
        async with Database.connect(settings(app, pool_max_size=1), database_url) as db:
            conn_pid: list[int] = []

            async def work() -> None:
                async with db.transaction() as tx:
                    await SystemStateRepository(tx).set(f"fault-{uuid.uuid4().hex}", 1)
                    conn_pid.append(await tx.connection.fetchval("SELECT pg_backend_pid()"))
                    await tx.connection.execute("SELECT pg_sleep(30)")

            for _ in range(3):
                task = asyncio.create_task(work())
                await asyncio.sleep(0.3)
                task.cancel()
                with pytest.raises(asyncio.CancelledError):
                    await task
                assert await SystemStateRepository(db).get("missing") is None  # the one connection is usable
            open_tx = await fetchval(database_url, "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 "
                                     "AND state LIKE 'idle in transaction%'", app)  # fmt: skip
            assert open_tx == 0
        await asyncio.sleep(0.1)
        import gc

        gc.collect()
    finally:
        loop.set_exception_handler(previous)
    assert not [r for r in caplog.records if "active transaction" in r.getMessage()]
    assert unretrieved == []

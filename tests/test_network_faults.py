"""Network faults between the pool and the server: a slow link, a closed port, a black hole, a cut.

Each fault goes through the proxy of tests/faults.py (a black hole the kernel sees goes through a private
network namespace). Under each, a call fails within the configured timeouts (command_timeout, connect_timeout,
TCP keepalive) with a `datalayer.errors` class, nothing hangs, and after `heal()` the same Database serves
again. Every bound below is generous on purpose: it only catches a hang, never a slow machine.
After each scenario: no task it started is left pending, no unretrieved exception was reported to the loop,
and each write that returned success is stored exactly once.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Iterator
from contextlib import asynccontextmanager, contextmanager
from time import perf_counter
from typing import Any, TypeVar

import asyncpg
import pytest

from datalayer import Database, DatalayerError, Settings, Unavailable
from datalayer.twitter_bot import ApiUsage, ApiUsageRepository, LogApiCallParams, SystemStateRepository
from tests.faults import NetNamespace, Proxy, private_netns, proxy_to

pytestmark = pytest.mark.direct(reason="puts a proxy and a black-holed network between the pool and the server itself")

T = TypeVar("T")

COMMAND_TIMEOUT = 1.0
CONNECT_TIMEOUT = 1.0
RETRY_DEADLINE = 2.0
SLACK = 3.0  # on top of every bound: only a hang exceeds it
ENDPOINT = "netfault"


def settings(**extra: object) -> Settings:
    values: dict[str, object] = {
        "application_name": f"dl-net-{uuid.uuid4().hex[:8]}",
        "pool_min_size": 1,
        "pool_max_size": 2,
        "command_timeout": COMMAND_TIMEOUT,
        "connect_timeout": CONNECT_TIMEOUT,
        "acquire_timeout": CONNECT_TIMEOUT + 0.5,
        "retry_attempts": 5,
        "retry_backoff": 0.05,
        "retry_backoff_max": 0.2,
        "retry_deadline": RETRY_DEADLINE,
        "statement_cache_size": 0,  # every call sends its SQL text through the proxy
        "cache": False,  # every read goes to the server
        **extra,
    }
    return Settings.model_validate(values)


def call(service: str) -> LogApiCallParams:
    return LogApiCallParams(service=service, endpoint=ENDPOINT, success=True, response_time_ms=1.0)


async def fetchval(url: str, sql: str, *args: object) -> Any:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(sql, *args)
    finally:
        await conn.close()


async def stored(url: str, p: LogApiCallParams) -> int:
    return int(await fetchval(url, "SELECT count(*) FROM twitter_bot.api_usage WHERE call_id = $1", p.call_id))


@pytest.fixture(autouse=True)
async def clean(database_url: str) -> AsyncIterator[None]:
    yield
    await fetchval(database_url, "DELETE FROM twitter_bot.api_usage WHERE endpoint = $1", ENDPOINT)
    await fetchval(database_url, "DELETE FROM twitter_bot.system_state WHERE key LIKE 'netfault-%'")


@pytest.fixture(autouse=True)
async def nothing_left_behind() -> AsyncIterator[None]:
    """No task started by the scenario is pending after it, and no exception went unretrieved."""
    loop = asyncio.get_running_loop()
    before = asyncio.all_tasks()
    reported: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        yield
        deadline = perf_counter() + 5.0
        while perf_counter() < deadline:
            left = [t for t in asyncio.all_tasks() - before if t is not asyncio.current_task() and not t.done()]
            if not left:
                break
            await asyncio.sleep(0.05)
        assert left == [], f"tasks left pending: {left}"
        import gc

        gc.collect()
        await asyncio.sleep(0)
        assert reported == [], f"exceptions reported to the loop: {reported}"
    finally:
        loop.set_exception_handler(previous)


async def within(seconds: float, aw: Awaitable[T]) -> tuple[T | DatalayerError, float]:
    """Await `aw`; its result or the DatalayerError it raised, and how long it took. It must end within
    `seconds` + SLACK (else it hung), and raise nothing but a DatalayerError (else a driver error leaked)."""
    started = perf_counter()
    try:
        result: T | DatalayerError = await asyncio.wait_for(aw, seconds + SLACK)
    except DatalayerError as exc:
        result = exc
    except TimeoutError:
        pytest.fail(f"hung: still running after {seconds + SLACK:.1f} s")
    except BaseException as exc:
        pytest.fail(f"a driver exception reached the caller: {type(exc).__module__}.{type(exc).__name__}: {exc}")
    took = perf_counter() - started
    if os.environ.get("NET_FAULTS_TIMES"):
        print(f"\n  {took:6.2f} s  {type(result).__name__}: {str(result)[:150]}")
    return result, took


def unavailable(result: object) -> Unavailable:
    assert isinstance(result, Unavailable), f"expected Unavailable, got {result!r}"
    return result


@asynccontextmanager
async def through(proxy: Proxy, database_url: str, s: Settings) -> AsyncIterator[Database]:
    """A Database on the proxy whose exit (statistics flush and pool close, maybe on dead connections) is
    bounded too."""
    cm = Database.connect(s, proxy.url(database_url))
    db = await cm.__aenter__()
    try:
        yield db
    except BaseException as exc:
        await cm.__aexit__(type(exc), exc, exc.__traceback__)
        raise
    await within(2 * COMMAND_TIMEOUT + CONNECT_TIMEOUT + RETRY_DEADLINE, cm.__aexit__(None, None, None))


async def logged(db: Database, service: str) -> tuple[LogApiCallParams, ApiUsage]:
    p = call(service)
    return p, await ApiUsageRepository(db).log(p)


# -- delay ---------------------------------------------------------------------------------------------------
async def test_a_delay_below_command_timeout_is_slow_but_succeeds(database_url: str) -> None:
    async with proxy_to(database_url) as proxy, through(proxy, database_url, settings()) as db:
        proxy.delay(0.1)  # each statement: two round trips (parse, then bind/execute), 0.4 s in all
        p = call("delay-below")
        row, took = await within(COMMAND_TIMEOUT, ApiUsageRepository(db).log(p))
        assert isinstance(row, ApiUsage) and took >= 0.2  # it did go through the slow link
        got, _ = await within(COMMAND_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at))
        assert got == row
    assert await stored(database_url, p) == 1


async def test_a_delay_above_command_timeout_fails_as_a_timeout_then_recovers(database_url: str) -> None:
    async with proxy_to(database_url) as proxy, through(proxy, database_url, settings()) as db:
        p, row = await logged(db, "delay-above")
        proxy.delay(1.5)
        # The timeout fires after command_timeout; asyncpg then sends a cancel request (through the slow link
        # too, bounded by command_timeout) before the connection can go back to the pool.
        failed, took = await within(2 * COMMAND_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at))
        err = unavailable(failed)
        assert "timed out" in str(err) and "twitter_bot.get_api_call" in str(err) and err.query is not None
        assert "DATALAYER_COMMAND_TIMEOUT" in str(err)
        assert took >= COMMAND_TIMEOUT * 0.9
        # A retry-safe write timing out is not retried (it may have run); the caller repeats it with the same
        # params, and it is stored once.
        q = call("delay-above")
        failed, _ = await within(2 * COMMAND_TIMEOUT, ApiUsageRepository(db).log(q))
        unavailable(failed)
        proxy.heal()
        got, _ = await within(COMMAND_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at))
        assert got == row
        again, _ = await within(COMMAND_TIMEOUT, ApiUsageRepository(db).log(q))
        assert isinstance(again, ApiUsage) and again.call_id == q.call_id
    assert await stored(database_url, p) == 1
    assert await stored(database_url, q) == 1


# -- drop (a closed port) ------------------------------------------------------------------------------------
async def test_a_closed_port_fails_connecting_fast_and_the_pool_recovers_by_itself(database_url: str) -> None:
    async with proxy_to(database_url) as proxy:
        async with through(proxy, database_url, settings()) as db:
            p, row = await logged(db, "drop")
            proxy.drop()
            proxy.cut_all()  # the open connections die with the port; every call needs a new one
            failed, _ = await within(
                RETRY_DEADLINE + CONNECT_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at)
            )
            assert unavailable(failed).connection_lost
            q = call("drop")  # any write may be retried when no connection could be had: nothing was sent
            failed, _ = await within(RETRY_DEADLINE + CONNECT_TIMEOUT, ApiUsageRepository(db).log(q))
            unavailable(failed)
            assert proxy.refused >= 2
            # A new Database cannot connect either, and says so at once.
            refused, _ = await within(
                CONNECT_TIMEOUT, Database.connect(settings(), proxy.url(database_url)).__aenter__()
            )
            assert "cannot connect" in str(unavailable(refused))
            proxy.heal()
            got, _ = await within(COMMAND_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at))
            assert got == row  # the same pool: no restart
            again, _ = await within(COMMAND_TIMEOUT, ApiUsageRepository(db).log(q))
            assert isinstance(again, ApiUsage)
    assert await stored(database_url, p) == 1
    assert await stored(database_url, q) == 1


# -- black hole (the packets just stop: no RST) ----------------------------------------------------------------
async def test_a_black_hole_during_a_query_fails_within_command_timeout_then_recovers(database_url: str) -> None:
    async with proxy_to(database_url) as proxy, through(proxy, database_url, settings()) as db:
        p, row = await logged(db, "hole")
        proxy.black_hole()
        failed, took = await within(2 * COMMAND_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at))
        err = unavailable(failed)
        assert "timed out" in str(err) and "twitter_bot.get_api_call" in str(err)
        assert took >= COMMAND_TIMEOUT * 0.9
        key = f"netfault-{uuid.uuid4().hex}"
        failed, _ = await within(2 * COMMAND_TIMEOUT, SystemStateRepository(db).increment(key))  # unsafe write
        unavailable(failed)
        proxy.heal()
        got, _ = await within(COMMAND_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at))
        assert got == row
    assert await stored(database_url, p) == 1
    # The increment was held in the hole, and its connection was terminated before the hole healed: it never
    # reached the server.
    assert await fetchval(database_url, "SELECT value FROM twitter_bot.system_state WHERE key = $1", key) is None


async def test_a_black_holed_idle_connection_and_new_connections_fail_within_bounds(database_url: str) -> None:
    async with proxy_to(database_url) as proxy, through(proxy, database_url, settings(pool_max_size=1)) as db:
        p, row = await logged(db, "hole-idle")
        assert db.pool is not None and db.pool.get_idle_size() == 1
        proxy.black_hole()
        await asyncio.sleep(0.5)  # the pooled connection sits idle in the hole
        failed, _ = await within(2 * COMMAND_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at))
        unavailable(failed)
        # That connection was terminated; the next call must connect, into the hole: connect_timeout bounds it.
        accepted = proxy.accepted
        failed, _ = await within(CONNECT_TIMEOUT + RETRY_DEADLINE, ApiUsageRepository(db).get(p.call_id, p.called_at))
        unavailable(failed)
        assert proxy.accepted > accepted  # it was a new connection the hole accepted and never answered
        # So does a new Database.
        hung, _ = await within(CONNECT_TIMEOUT, Database.connect(settings(), proxy.url(database_url)).__aenter__())
        assert "timed out" in str(unavailable(hung))
        proxy.heal()
        got, _ = await within(COMMAND_TIMEOUT + CONNECT_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at))
        assert got == row


async def test_leaving_a_database_whose_connections_are_black_holed_is_bounded(database_url: str) -> None:
    async with proxy_to(database_url) as proxy:
        async with through(proxy, database_url, settings(pool_min_size=2)) as db:
            await logged(db, "hole-exit")
            proxy.black_hole()  # `through` asserts the exit (a stats flush, then pool.close()) ends in bounds


# -- cut (RST) mid-statement -------------------------------------------------------------------------------------
async def test_a_cut_mid_statement_retries_a_read_and_reports_an_unsafe_write_lost(database_url: str) -> None:
    async with proxy_to(database_url) as proxy, through(proxy, database_url, settings()) as db:
        p, row = await logged(db, "cut")
        proxy.black_hole()  # hold the statement in flight ...
        read = asyncio.create_task(within(COMMAND_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at)))
        await asyncio.sleep(0.3)
        proxy.cut_all()  # ... then reset the connection under it, and let new connections through
        proxy.heal()
        got, _ = await read
        assert got == row  # retried on a fresh connection

        key = f"netfault-{uuid.uuid4().hex}"
        proxy.black_hole()
        write = asyncio.create_task(within(COMMAND_TIMEOUT, SystemStateRepository(db).increment(key)))
        await asyncio.sleep(0.3)
        proxy.cut_all()
        proxy.heal()
        failed, _ = await write
        assert unavailable(failed).connection_lost and not unavailable(failed).commit_unknown  # not retried
        assert await within(COMMAND_TIMEOUT, SystemStateRepository(db).increment(key)) is not None
    assert await stored(database_url, p) == 1
    # The cut statement never reached the server (the hole held it); the acknowledged increment counted once.
    assert await fetchval(database_url, "SELECT value::int FROM twitter_bot.system_state WHERE key = $1", key) == 1


# -- a black hole the kernel sees: TCP keepalive and TCP_USER_TIMEOUT -------------------------------------------
KEEPALIVE = {"tcp_keepalives_idle": 1, "tcp_keepalives_interval": 1, "tcp_keepalives_count": 2}
KEEPALIVE_BOUND = 1 + 1 * 2  # idle + interval x count: also the derived TCP_USER_TIMEOUT


@pytest.fixture
def netns() -> Iterator[NetNamespace]:
    if not NetNamespace.available():
        pytest.skip("a kernel black hole needs root, unshare and ip (a private network namespace)")
    with private_netns() as ns:
        yield ns


@contextmanager
def inside(ns: NetNamespace) -> Iterator[None]:
    """This thread's new sockets (the pool's connections) are made in the namespace, behind its black hole."""
    with ns.entered():
        yield


def test_the_keepalive_settings_reach_the_socket() -> None:
    import socket
    from types import SimpleNamespace

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        conn = SimpleNamespace(_transport=SimpleNamespace(get_extra_info=lambda _name: sock))
        from datalayer.db import tcp_keepalive

        tcp_keepalive(conn, settings(**KEEPALIVE))  # type: ignore[arg-type]
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT) == 2
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT) == KEEPALIVE_BOUND * 1000
        defaults = Settings.model_validate({})
        assert (defaults.tcp_keepalives_idle, defaults.tcp_keepalives_interval, defaults.tcp_keepalives_count) == (
            30,
            10,
            3,
        )
    finally:
        sock.close()


async def test_with_no_command_timeout_tcp_keepalive_ends_a_black_holed_connection(
    database_url: str, netns: NetNamespace
) -> None:
    s = settings(command_timeout=None, pool_max_size=1, **KEEPALIVE)
    with inside(netns):
        async with proxy_to(database_url, netns=netns) as proxy, through(proxy, database_url, s) as db:
            assert db.pool is not None
            p, row = await logged(db, "keepalive")
            # Idle in the hole: keepalive probes go unanswered and the kernel ends the connection.
            netns.black_hole()
            started = perf_counter()
            for _ in range(int((KEEPALIVE_BOUND + SLACK) / 0.1)):
                if not db.pool.get_idle_size():
                    break
                await asyncio.sleep(0.1)
            if os.environ.get("NET_FAULTS_TIMES"):
                print(f"\n  {perf_counter() - started:6.2f} s  the idle connection was ended by keepalive")
            assert db.pool.get_idle_size() == 0, "the idle connection outlived the keepalive bound"
            netns.heal()
            got, _ = await within(CONNECT_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at))
            assert got == row

            # A statement sent into the hole (unacknowledged data: keepalive does not probe, TCP_USER_TIMEOUT
            # ends it), with no command_timeout to end it otherwise.
            netns.black_hole()
            failed, took = await within(
                KEEPALIVE_BOUND + RETRY_DEADLINE, ApiUsageRepository(db).get(p.call_id, p.called_at)
            )
            assert unavailable(failed).connection_lost
            assert took >= KEEPALIVE_BOUND * 0.8
            netns.heal()
            got, _ = await within(CONNECT_TIMEOUT, ApiUsageRepository(db).get(p.call_id, p.called_at))
            assert got == row
    assert await stored(database_url, p) == 1


async def test_without_keepalive_a_black_holed_connection_with_no_command_timeout_hangs(
    database_url: str, netns: NetNamespace
) -> None:
    """The control: what the keepalive settings prevent."""
    s = settings(command_timeout=None, pool_max_size=1, tcp_keepalives_idle=0)
    with inside(netns):
        async with proxy_to(database_url, netns=netns) as proxy, through(proxy, database_url, s) as db:
            p, _ = await logged(db, "no-keepalive")
            netns.black_hole()
            read = asyncio.create_task(ApiUsageRepository(db).get(p.call_id, p.called_at))
            done, _ = await asyncio.wait([read], timeout=KEEPALIVE_BOUND + RETRY_DEADLINE + 1)
            assert not done, "expected a hang without keepalive"
            read.cancel()
            with pytest.raises(asyncio.CancelledError):
                await read
            netns.heal()

"""One fresh, migrated database per test session; every test runs inside a transaction that is rolled back.

The database lives on DATABASE_URL's server when it is set, else on the embedded cluster. With
DATALAYER_TEST_PGBOUNCER=1 (`make test-pgbouncer`) the session's database is reached through a PgBouncer of the
suite's own in transaction pooling mode, with `statement_cache_size=0`: every repository test then runs through it.
Tests marked `direct` need the server itself (they kill its backends, restart it, or test session state) and are
skipped in that mode, each with its reason.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest

from datalayer import queries
from datalayer.check import import_repositories
from datalayer.config import Settings
from datalayer.db import Database, init_connection, observers, resolve_url
from datalayer.migrate import Migrator

EXECUTED: set[str] = set()
THROUGH_PGBOUNCER = os.environ.get("DATALAYER_TEST_PGBOUNCER", "") == "1"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "direct(reason): needs the server itself, not PgBouncer in transaction mode")
    if THROUGH_PGBOUNCER:
        # Every Settings() of the suite (and of the CLI it runs) then uses no named prepared statements; so do
        # the tests' own `Settings.model_validate({...})` (which reads no environment), unless they say otherwise.
        os.environ["DATALAYER_STATEMENT_CACHE_SIZE"] = "0"
        validate = Settings.model_validate.__func__  # type: ignore[attr-defined]

        def without_statement_cache(cls: type[Settings], obj: object, **kwargs: object) -> Settings:
            if isinstance(obj, dict) and "statement_cache_size" not in obj:
                obj = {**obj, "statement_cache_size": 0}
            result: Settings = validate(cls, obj, **kwargs)
            return result

        Settings.model_validate = classmethod(without_statement_cache)  # type: ignore[method-assign,assignment]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not THROUGH_PGBOUNCER:
        return
    for item in items:
        marker = item.get_closest_marker("direct")
        if marker is not None:
            why = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "needs the server itself")
            item.add_marker(pytest.mark.skip(reason=f"not through PgBouncer: {why}"))


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{name}", parts.query, parts.fragment))


@pytest.fixture(scope="session")
def server_url() -> str:
    """The server under test: DATABASE_URL, or the embedded cluster (started if needed)."""
    return resolve_url(Settings())


async def create_database(server_url: str, prefix: str = "datalayer_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    return with_database(server_url, name)


async def drop_database(server_url: str, url: str) -> None:
    name = urlsplit(url).path.lstrip("/")
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


@asynccontextmanager
async def migrated_database(server_url: str, prefix: str) -> AsyncIterator[str]:
    """A fresh database with every migration applied, of one module or test's own, dropped afterwards."""
    url = await create_database(server_url, prefix)
    try:
        async with Migrator(url) as m:
            await m.apply()
        yield url
    finally:
        await drop_database(server_url, url)


@pytest.fixture(scope="session")
def pgbouncer(server_url: str) -> Iterator[str | None]:
    """With DATALAYER_TEST_PGBOUNCER=1: the suite's PgBouncer (transaction mode) in front of the server."""
    if not THROUGH_PGBOUNCER:
        yield None
        return
    from tests.pgbouncer_helpers import PgBouncer

    bouncer = PgBouncer(server_url, pool_size=40).start()
    try:
        yield bouncer.url(server_url)
    finally:
        bouncer.stop()


@pytest.fixture(scope="session")
async def database_url(server_url: str, pgbouncer: str | None) -> AsyncIterator[str]:
    """A fresh database with every migration applied, dropped at the end of the session (reached through the
    suite's PgBouncer in that mode; migrated on the server itself)."""
    url = await create_database(server_url)
    async with Migrator(url) as m:
        await m.apply()
    try:
        yield url if pgbouncer is None else with_database(pgbouncer, urlsplit(url).path.lstrip("/"))
    finally:
        await drop_database(server_url, url)


@pytest.fixture(scope="session")
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    p = await asyncpg.create_pool(
        database_url, min_size=1, max_size=4, init=init_connection,
        statement_cache_size=0 if THROUGH_PGBOUNCER else 100,
    )  # fmt: skip
    assert p is not None
    yield p
    await p.close()


@pytest.fixture
async def conn(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A connection inside BEGIN … ROLLBACK: tests never see each other's rows."""
    async with pool.acquire() as connection:
        tx = connection.transaction()
        await tx.start()
        try:
            yield connection
        finally:
            await tx.rollback()


@pytest.fixture
def db(conn: asyncpg.Connection) -> Database:
    """A Database bound to the test's rolled-back connection; `db.transaction()` becomes a savepoint."""
    return Database.on_connection(conn)


@pytest.fixture(scope="session", autouse=True)
def track_executed_queries() -> Iterator[None]:
    observers.append(EXECUTED.add)
    yield
    observers.remove(EXECUTED.add)


def _whole_suite(config: pytest.Config) -> bool:
    opts = config.option
    explicit = [a for a in config.args if a not in ("tests", "tests/", str(config.rootpath / "tests"))]
    return not (opts.keyword or opts.markexpr or explicit or getattr(opts, "lf", False))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The whole suite fails when some named query was never executed by any test."""
    if not _whole_suite(session.config) or exitstatus != 0:
        return
    import_repositories()
    never = sorted(set(queries.load()) - EXECUTED)
    if never:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        message = "named queries never executed by any test:\n  " + "\n  ".join(never)
        if reporter is not None:
            reporter.write_line(message, red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

"""SQLSTATE → error class, in one place; messages name the constraint and table."""

from __future__ import annotations

import asyncpg
import pytest

from datalayer import Conflict, Database, InvalidData, ReferenceMissing, Settings, Unavailable
from datalayer.errors import from_postgres


async def _raise(conn: asyncpg.Connection, sql: str) -> Exception:
    try:
        async with conn.transaction():  # savepoint, so the test's transaction stays usable
            await conn.execute(sql)
    except asyncpg.PostgresError as exc:
        return from_postgres(exc, "test")
    raise AssertionError("statement did not fail")


async def test_sqlstate_mapping(conn: asyncpg.Connection) -> None:
    await conn.execute(
        "CREATE TEMP TABLE parent (id int PRIMARY KEY);"
        "CREATE TEMP TABLE child (id int PRIMARY KEY, parent_id int NOT NULL "
        "  CONSTRAINT child_parent_fk REFERENCES parent(id), n int CONSTRAINT child_n_positive CHECK (n > 0));"
        "INSERT INTO parent VALUES (1);"
    )
    dup = await _raise(conn, "INSERT INTO parent VALUES (1)")
    assert isinstance(dup, Conflict) and dup.constraint == "parent_pkey" and "parent_pkey" in str(dup)
    fk = await _raise(conn, "INSERT INTO child VALUES (1, 99, 1)")
    assert isinstance(fk, ReferenceMissing) and fk.constraint == "child_parent_fk"
    chk = await _raise(conn, "INSERT INTO child VALUES (1, 1, -1)")
    assert isinstance(chk, InvalidData) and "child_n_positive" in str(chk)
    nn = await _raise(conn, "INSERT INTO child VALUES (2, NULL, 1)")
    assert isinstance(nn, InvalidData) and "parent_id" in str(nn)
    bad = await _raise(conn, "SELECT 'x'::int")
    assert isinstance(bad, InvalidData) and bad.sqlstate == "22P02"


async def test_unreachable_server_is_unavailable_and_masks_password() -> None:
    settings = Settings(pool_min_size=1)
    url = "postgresql://someone:hunter2@127.0.0.1:1/nope"
    with pytest.raises(Unavailable) as info:
        async with Database.connect(settings, url):
            pass
    assert "hunter2" not in str(info.value)
    assert "***" in str(info.value)


async def test_wrong_python_type_is_invalid_data_not_a_lost_connection(db: Database) -> None:
    from datalayer.twitter_bot import TweetRepository

    with pytest.raises(InvalidData, match=r"twitter_bot.get_tweet.*invalid input for query argument \$1") as info:
        await TweetRepository(db).get("5")  # type: ignore[arg-type]
    assert not isinstance(info.value, Unavailable)


async def test_a_closed_database_fails_at_once(database_url: str) -> None:
    import time

    from datalayer.twitter_bot import TweetRepository

    async with Database.connect(Settings(), database_url) as db:
        repo = TweetRepository(db)
    started = time.perf_counter()
    with pytest.raises(Unavailable, match="after its Database was closed"):
        await repo.get(1)
    assert time.perf_counter() - started < Settings().retry_deadline  # no retrying into a closed pool

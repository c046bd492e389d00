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

"""SQLSTATE → error class, in one place; messages name the constraint and table."""

from __future__ import annotations

import os
from pathlib import Path

import asyncpg
import pytest

from datalayer import Conflict, Database, InvalidData, ReferenceMissing, Settings, Unavailable
from datalayer.embedded import EmbeddedCluster
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


async def test_a_refused_row_is_never_repeated_in_errors_or_the_server_log(conn: asyncpg.Connection) -> None:
    """PostgreSQL's DETAIL for CHECK and NOT NULL violations is `Failing row contains (…)`: every column, a
    password hash or personal data among them. Neither our errors nor the embedded server's log keep it."""
    secret = "s3cret-personal-value-4711"
    await conn.execute(
        "CREATE TEMP TABLE person (id int PRIMARY KEY, phone text, n int CONSTRAINT person_n_positive CHECK (n > 0),"
        " m int NOT NULL)"
    )
    log = EmbeddedCluster(Settings().home).logfile
    offset = log.stat().st_size if log.exists() else 0
    errors = []
    # Bind parameters, as every named query sends its values: the logged STATEMENT then holds `$1`, not the value.
    for sql in ("INSERT INTO person VALUES (1, $1, -1, 1)", "INSERT INTO person VALUES (1, $1, 1, NULL)"):
        try:
            async with conn.transaction():
                await conn.execute(sql, secret)
        except asyncpg.PostgresError as exc:
            assert secret in (exc.detail or ""), "the server no longer sends the row: this test proves nothing"
            errors.append(from_postgres(exc, "test"))
    assert len(errors) == 2 and isinstance(errors[0], InvalidData) and "person_n_positive" in str(errors[0])
    for err in errors:
        assert secret not in str(err) and secret not in repr(err) and secret not in (err.detail or "")
    bad_json = await _raise(conn, "SELECT 'NaN'::json")
    assert isinstance(bad_json, InvalidData) and "\n" not in str(bad_json) and "NaN" in str(bad_json)
    if not os.environ.get("DATABASE_URL"):
        assert await conn.fetchval("SHOW log_error_verbosity") == "terse"
        await conn.execute("SELECT pg_sleep(0.2)")
        with log.open("rb") as handle:
            handle.seek(offset)
            written = handle.read().decode(errors="replace")
        assert "person_n_positive" in written, "the failures were not logged: this test proves nothing"
        assert secret not in written


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

    with pytest.raises(InvalidData, match=r"twitter_bot.get_tweet.*invalid input for parameter 'id'") as info:
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


async def test_a_refused_argument_names_the_parameter_not_its_placeholder(db: Database) -> None:
    """asyncpg says `invalid input for query argument $1`; the caller wrote `telegram_id`."""
    from datalayer.chat_bot import UserRepository

    with pytest.raises(InvalidData) as info:
        await UserRepository(db).get_by_telegram_id(10**23)
    message = str(info.value)
    assert "parameter 'telegram_id'" in message and "$1" not in message and "int64" in message
    assert "chat_bot.get_user_by_telegram_id" in message and "\n" not in message


def test_a_cluster_made_before_the_log_settings_gets_them_once(tmp_path: Path) -> None:
    """`db up` on an older `.datalayer` adds the private-log settings, unless the file already names them."""
    cluster = EmbeddedCluster(tmp_path)
    cluster.pgdata.mkdir()
    cluster.conf.write_text("port = 5999\nmax_connections = 200\n")
    assert cluster._add_private_log() is True
    text = cluster.conf.read_text()
    assert "port = 5999" in text and "log_error_verbosity = terse" in text
    assert cluster._add_private_log() is False and cluster.conf.read_text() == text
    cluster.conf.write_text("port = 5999\nlog_error_verbosity = verbose\n")  # the user's own choice stays
    assert cluster._add_private_log() is False and "verbose" in cluster.conf.read_text()

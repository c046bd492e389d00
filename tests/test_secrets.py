"""No password, API key or credential in plain text anywhere it could be read back: the CLI's output, exception
messages, log records, reprs, any column of any table of ours, pg_stat_statements. (The error API's keys and
passwords: tests/test_error_api_secrets.py.) Every URL shown is masked."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import pytest
from click.testing import CliRunner

from datalayer.cli import main
from datalayer.config import Settings, mask_url
from datalayer.db import Database
from datalayer.errors import DatalayerError
from datalayer.secrets import Cipher
from datalayer.twitter_bot import UserRepository

PASSWORD = f"Pw-{uuid.uuid4().hex}"  # unique: found only if it leaked
ROLE = f"dl_secret_{uuid.uuid4().hex[:8]}"
SCHEMAS = ["ops", "twitter_bot", "chat_bot", "error_api", "reddit_bot", "discord_bot"]


def with_user(url: str, user: str, password: str, port: int | None = None) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    return urlunsplit(
        (parts.scheme, f"{user}:{password}@{host}:{port or parts.port}", parts.path, parts.query, parts.fragment)
    )


@pytest.fixture(scope="module")
async def secret_url(database_url: str) -> AsyncIterator[str]:
    """The test database as a role with a password (a superuser: `check` and `health` read the catalog).
    The servers here trust local TCP connections, so the password is sent in the URL but not checked."""
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute(f"CREATE ROLE {ROLE} LOGIN SUPERUSER PASSWORD '{PASSWORD}'")
        yield with_user(database_url, ROLE, PASSWORD)
    finally:
        await conn.execute(f"DROP ROLE IF EXISTS {ROLE}")
        await conn.close()


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    yield caplog


def assert_hidden(text: str, what: str) -> None:
    assert PASSWORD not in text, f"the password appears in {what}"


def run(url: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--database-url", url, *args], catch_exceptions=True)
    text = result.output + (result.stderr if result.stderr_bytes is not None else "")
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        text += f"\n{type(result.exception).__name__}: {result.exception!r} {result.exception}"
    return text


@pytest.mark.parametrize(
    "args",
    [("db", "url"), ("health", "--quick", "--json"), ("stats",), ("check",), ("migrate", "--list")],
    ids=" ".join,
)
def test_cli_output_never_shows_the_password(
    secret_url: str, logs: pytest.LogCaptureFixture, args: tuple[str, ...]
) -> None:
    out = run(secret_url, *args)
    assert out.strip(), "the command printed nothing"
    assert_hidden(out, f"`datalayer {' '.join(args)}`")
    assert_hidden("\n".join(r.getMessage() for r in logs.records), "the log")


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://someone:{PASSWORD}@127.0.0.1:1/nowhere",  # connection refused: a dead port
        f"postgresql://someone:{PASSWORD}@/nowhere?host=/nonexistent",
        f"postgresql://someone:{PASSWORD}@127.0.0.1:99999/x",  # not a port
        f"postgres ql://someone:{PASSWORD}@@host/x",  # not a URL at all
        f"postgresql://127.0.0.1:1/x?password={PASSWORD}",
    ],
    ids=["refused", "no-socket", "bad-port", "garbage", "query-password"],
)
def test_connection_errors_never_show_the_password(url: str, logs: pytest.LogCaptureFixture) -> None:
    for args in (("health", "--quick"), ("stats",), ("check",), ("db", "url")):
        out = run(url, *args)
        assert_hidden(out, f"`datalayer {' '.join(args)}` with a bad URL")
    assert_hidden("\n".join(r.getMessage() for r in logs.records), "the log")


@pytest.mark.direct(reason="logs in as a role of its own, which the suite's PgBouncer does not know")
async def test_database_errors_and_reprs_never_show_the_password(
    secret_url: str, logs: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", secret_url)
    monkeypatch.setenv("REDIS_URL", f"redis://:{PASSWORD}@127.0.0.1:1/0")
    settings = Settings()
    assert_hidden(repr(settings), "repr(Settings())")
    assert_hidden(str(settings.model_dump()), "Settings().model_dump()")
    async with Database.connect(settings, secret_url) as db:
        assert_hidden(repr(db), "repr(Database)")
    dead = with_user(secret_url, ROLE, PASSWORD, port=1)
    with pytest.raises(DatalayerError) as raised:
        async with Database.connect(settings, dead):
            pass
    assert_hidden(f"{raised.value} {raised.value!r} {raised.value.__cause__!r}", "the connect error")
    assert "***" in str(raised.value) or ROLE not in str(raised.value)
    assert_hidden("\n".join(r.getMessage() + str(r.args) for r in logs.records), "the log")


def test_mask_url_hides_every_form_of_password() -> None:
    for url in (
        f"postgresql://u:{PASSWORD}@h:5432/d",
        f"postgresql://u:{PASSWORD}@h/d?sslmode=require",
        f"postgresql://h/d?password={PASSWORD}&sslmode=require",
        f"redis://:{PASSWORD}@h:6379/0",
        f"rediss://default:{PASSWORD}@h:6380",
        f"postgresql://u:{PASSWORD}@@h/d",  # malformed
    ):
        assert_hidden(mask_url(url), f"mask_url({url!r})")


async def test_twitter_credentials_are_never_stored_in_plain_text(db: Database, database_url: str) -> None:
    """The bot's API credentials: ciphertext in the table, plaintext nowhere — no column of any table of ours, no
    statement text in pg_stat_statements."""
    token, api_secret = f"tok-{uuid.uuid4().hex}", f"sec-{uuid.uuid4().hex}"
    cipher = Cipher(Cipher.generate_key())
    users = UserRepository(db)
    user = await users.create(f"cred_{uuid.uuid4().hex[:8]}")
    await users.set_credentials(user.id, {"access_token": token, "api_secret": api_secret}, cipher)
    assert await users.credentials(user.id, cipher) == {"access_token": token, "api_secret": api_secret}
    conn = db.executor.connection
    assert conn is not None
    columns = await conn.fetch(
        """SELECT format('%I.%I', c.table_schema, c.table_name) AS t, quote_ident(c.column_name) AS c, c.data_type
             FROM information_schema.columns c JOIN information_schema.tables t USING (table_schema, table_name)
            WHERE c.table_schema = ANY ($1::text[]) AND t.table_type = 'BASE TABLE'
              AND c.data_type IN ('text', 'character varying', 'jsonb', 'json', 'bytea', 'ARRAY')""",
        SCHEMAS,
    )
    assert len(columns) > 50
    for col in columns:
        as_text = f"convert_from({col['c']}, 'SQL_ASCII')" if col["data_type"] == "bytea" else f"{col['c']}::text"
        hits = await conn.fetchval(
            f"SELECT count(*) FROM {col['t']} WHERE strpos({as_text}, $1) > 0 OR strpos({as_text}, $2) > 0",
            token,
            api_secret,
        )
        assert hits == 0, f"a credential in plain text in {col['t']}.{col['c']}"
    if await conn.fetchval("SELECT to_regclass('ops.pg_stat_statements') IS NOT NULL"):
        try:
            statements = await conn.fetch("SELECT query FROM ops.pg_stat_statements")
        except asyncpg.PostgresError:
            statements = []  # installed but not preloaded (the PostgreSQL 15 server here)
        for s in statements:
            assert token not in s["query"] and api_secret not in s["query"]

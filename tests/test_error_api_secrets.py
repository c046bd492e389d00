"""No password and no API key is ever stored or shown: not in the database, the logs, pg_stat_statements or
CLI output, except the one display of a new key by `accounts create-key`. Also the accounts CLI end to end."""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator

import asyncpg
import pytest
from click.testing import CliRunner

from datalayer import Database, Settings
from datalayer.cli import main
from datalayer.error_api import ApiKeyRepository, KeyDigester, LogRequestParams, UsageRepository, UserRepository

SECRET = "server-secret-for-tests-" + "s" * 32
PASSWORD = f"pw-{uuid.uuid4().hex}"  # unique, so a find anywhere is this test's


@pytest.fixture
async def committed(database_url: str) -> AsyncIterator[str]:
    yield database_url
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM error_api.users WHERE email LIKE '%@secrets.example.com'")
    finally:
        await conn.close()


async def everything_stored(url: str) -> str:
    """Every value of every row of every error_api table (and the query stats), as text."""
    conn = await asyncpg.connect(url)
    try:
        tables = await conn.fetch(
            "SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname IN ('error_api', 'ops')"
        )
        parts = []
        for row in tables:
            for r in await conn.fetch(f"SELECT to_jsonb(x)::text AS j FROM {row['t']} AS x"):
                parts.append(r["j"])
        for name in ("pg_stat_statements",):
            if await conn.fetchval("SELECT to_regclass('ops.pg_stat_statements') IS NOT NULL"):
                try:
                    parts += [r["query"] for r in await conn.fetch(f"SELECT query FROM ops.{name}")]
                except asyncpg.PostgresError:
                    pass  # installed but not preloaded (the PostgreSQL 15 server here)
        return "\n".join(parts)
    finally:
        await conn.close()


async def test_no_password_or_key_in_database_logs_or_statement_stats(
    committed: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    settings = Settings.model_validate({"application_name": "dl-secrets", "slow_query_ms": 0.001})  # log every query
    async with Database.connect(settings, committed) as db:
        users = UserRepository(db)
        user = await users.create("ada@secrets.example.com", PASSWORD, "Ada")
        assert await users.verify_password("ada@secrets.example.com", PASSWORD) is not None
        await users.change_password(user.id, PASSWORD, PASSWORD + "-new")
        keys = ApiKeyRepository(db, KeyDigester(SECRET))
        _row, key = await keys.create(user.id, "ci")
        assert await keys.authenticate(key) is not None
        await UsageRepository(db).log(
            LogRequestParams(user_id=user.id, endpoint="/v1/translate", method="POST", status_code=200)
        )
        with pytest.raises(Exception) as info:
            await users.create("bad email", PASSWORD)
        assert PASSWORD not in str(info.value)
    stored = await everything_stored(committed)
    assert "ada@secrets.example.com" in stored  # the scan does see this test's rows
    for secret in (PASSWORD, PASSWORD + "-new", key, key[12:], SECRET):
        assert secret not in stored
        assert secret not in caplog.text
    assert "slow query" in caplog.text  # the log was on and saw the queries


def test_accounts_cli_end_to_end_shows_the_key_once(committed: str) -> None:
    env = {"DATABASE_URL": committed, "DATALAYER_API_KEY_SECRET": SECRET}
    run = CliRunner().invoke
    email = "grace@secrets.example.com"
    created = run(main, ["accounts", "create-user", email, "--full-name", "Grace", "--password-stdin", "--json"],
                  input=PASSWORD + "\n", env=env)  # fmt: skip
    assert created.exit_code == 0, created.output
    assert json.loads(created.output)["email"] == email
    again = run(main, ["accounts", "create-user", email.upper(), "--password-stdin"], input=PASSWORD + "\n", env=env)
    assert again.exit_code == 1 and "users_email_lower_unique" in again.output
    prompted = run(
        main, ["accounts", "create-user", "linus@secrets.example.com"], input=f"{PASSWORD}\n{PASSWORD}\n", env=env
    )
    assert prompted.exit_code == 0, prompted.output
    key_out = run(main, ["accounts", "create-key", email, "--name", "ci", "--expires-days", "30", "--json"], env=env)
    assert key_out.exit_code == 0, key_out.output
    made = json.loads(key_out.output)
    key = made["key"]
    info = run(main, ["accounts", "user-info", email, "--json"], env=env)
    assert info.exit_code == 0 and key not in info.output and made["prefix"] in info.output
    human = run(main, ["accounts", "user-info", email], env=env)  # 80 columns: the key id is still whole
    assert human.exit_code == 0 and made["id"] in human.output and key not in human.output

    async def use_key() -> None:
        async with Database.connect(Settings.model_validate({"application_name": "dl-cli"}), committed) as db:
            auth = await ApiKeyRepository(db, KeyDigester(SECRET)).authenticate(key)
            assert auth is not None
            await UsageRepository(db).log_many([
                LogRequestParams(user_id=auth.user_id, api_key_id=auth.api_key_id, endpoint="/v1/translate",
                                 method="POST", status_code=200 if i % 4 else 500, response_time_ms=100 + i)
                for i in range(20)
            ])  # fmt: skip

    asyncio.run(use_key())
    usage = run(main, ["accounts", "usage", email, "--days", "7", "--json"], env=env)
    assert usage.exit_code == 0, usage.output
    board = json.loads(usage.output)
    assert board["summary"]["requests"] == 20 and board["summary"]["errors"] == 5
    assert "20 requests in 30 days, 5 errors (25.0%)" in run(main, ["accounts", "usage", email], env=env).output
    revoked = run(main, ["accounts", "revoke-key", email, made["id"]], env=env)
    assert revoked.exit_code == 0 and made["prefix"] in revoked.output
    missing = run(main, ["accounts", "revoke-key", email, str(uuid.uuid4())], env=env)
    assert missing.exit_code == 1 and "has no key" in missing.output
    assert run(main, ["accounts", "revoke-key", email, "not-a-uuid"], env=env).exit_code == 2
    no_secret = run(main, ["accounts", "create-key", email, "--name", "x"], env={"DATABASE_URL": committed})
    assert no_secret.exit_code == 1 and "DATALAYER_API_KEY_SECRET is not set" in no_secret.output
    unknown = run(main, ["accounts", "user-info", "nobody@secrets.example.com"], env=env)
    assert unknown.exit_code == 1 and "no account with e-mail" in unknown.output
    maintained = run(main, ["accounts", "maintain", "--json"], env=env)
    assert maintained.exit_code == 0 and "partitions_created" in json.loads(maintained.output)
    everything = "".join(r.output for r in (created, again, prompted, info, usage, revoked, missing, maintained))
    assert PASSWORD not in everything and key not in everything and SECRET not in everything
    assert key_out.output.count(key) == 1  # the one display


def test_seed_error_api_twice_adds_no_rows(committed: str) -> None:
    env = {"DATABASE_URL": committed, "DATALAYER_API_KEY_SECRET": SECRET}

    async def counts() -> tuple[int, ...]:
        conn = await asyncpg.connect(committed)
        try:
            return tuple(await conn.fetchrow(
                "SELECT (SELECT count(*) FROM error_api.users WHERE email LIKE '%.seed7@example.com'),"
                "       (SELECT count(*) FROM error_api.api_keys),"
                "       (SELECT count(*) FROM error_api.subscriptions WHERE stripe_subscription_id LIKE 'sub_seed7u%'),"
                "       (SELECT count(*) FROM error_api.usage_logs)"
            ))  # fmt: skip
        finally:
            await conn.close()

    args = ["seed", "error-api", "--users", "3", "--requests", "20", "--seed", "7", "--json"]
    first = CliRunner().invoke(main, args, env=env)
    after_first = asyncio.run(counts())
    # More users the second time: users 0-2 exist, and what they are given must not shift what users 3-11 get.
    more = CliRunner().invoke(main, [*args[:3], "12", *args[4:]], env=env)
    after_more = asyncio.run(counts())
    second = CliRunner().invoke(main, [*args[:3], "12", *args[4:]], env=env)
    assert first.exit_code == 0 and more.exit_code == 0 and second.exit_code == 0, first.output + second.output
    assert json.loads(first.output)["requests"] == 60 and json.loads(second.output)["requests"] == 0
    assert json.loads(second.output)["api_keys"] == 0
    assert json.loads(more.output)["subscriptions"] == json.loads(second.output)["subscriptions"] > 0
    assert asyncio.run(counts()) == after_more and after_more[0] == 12 and after_first[0] == 3
    assert after_more[3] - after_first[3] == 9 * 20

    async def clean() -> None:
        conn = await asyncpg.connect(committed)
        try:
            await conn.execute("DELETE FROM error_api.users WHERE email LIKE '%.seed7@example.com'")
        finally:
            await conn.close()

    asyncio.run(clean())

"""GDPR: a user's data exported as one document; erased so that no personal field is left anywhere."""

from __future__ import annotations

import json
from ipaddress import IPv4Address

import asyncpg
import pytest
from click.testing import CliRunner

from datalayer import Database, UsageError
from datalayer.chat_bot import (
    ActivityRepository,
    AddMessageParams,
    AppendAuditParams,
    AuditRepository,
    ConversationRepository,
    CreateUserParams,
    GdprRepository,
    MessageRepository,
    PersonalityRepository,
    RecordRiskAssessmentParams,
    RecordSecurityEventParams,
    RiskRepository,
    SecurityEventRepository,
    UpsertPersonalityProfileParams,
    UserRepository,
)
from datalayer.cli import main

SECRET_WORDS = ["Zanzibarette", "Quixotella", "mysecretpassphrase", "203.0.113.77", "zanzi_bar_77", "7123456789"]


async def make_user(db: Database) -> int:
    user = await UserRepository(db).create(CreateUserParams(
        telegram_id=7123456789, username="zanzi_bar_77", first_name="Zanzibarette", last_name="Quixotella",
        language_code="fr", preferences={"nickname": "Zanzibarette"},
    ))  # fmt: skip
    c = await ConversationRepository(db).create(user.id, title="Zanzibarette's trip")
    await MessageRepository(db).add(AddMessageParams(conversation_id=c.id, role="user", sentiment=0.4, intent="smalltalk",
                                                     content="my secret is mysecretpassphrase, call me Zanzibarette"))  # fmt: skip
    await MessageRepository(db).add(AddMessageParams(conversation_id=c.id, role="assistant", token_count=7,
                                                     content="Nice to meet you, Zanzibarette Quixotella!"))  # fmt: skip
    await ActivityRepository(db).record(user.id, "message", {"from": "Zanzibarette"})
    await SecurityEventRepository(db).record(RecordSecurityEventParams(
        user_id=user.id, event_type="login.failed", severity="medium", source_ip=IPv4Address("203.0.113.77"),
        details={"username": "zanzi_bar_77"}))  # fmt: skip
    profile = await PersonalityRepository(db).upsert_profile(UpsertPersonalityProfileParams(name="gdpr-test"))
    await PersonalityRepository(db).set_for_user(user.id, profile.id, {"calls_me": "Zanzibarette"})
    await RiskRepository(db).record(RecordRiskAssessmentParams(conversation_id=c.id, risk_score=0.3))
    await AuditRepository(db).append(AppendAuditParams(actor=f"user:{user.id}", action="user.update", entity_type="user",
                                                       entity_id=str(user.id), after={"first_name": "Zanzibarette"}))  # fmt: skip
    return user.id


async def everything(conn: asyncpg.Connection) -> str:
    tables = await conn.fetch(
        "SELECT format('%I.%I', schemaname, tablename) AS t FROM pg_tables WHERE schemaname = 'chat_bot'"
    )
    parts = []
    for t in tables:
        parts += [r["j"] for r in await conn.fetch(f"SELECT to_jsonb(x)::text AS j FROM {t['t']} AS x")]
    return "\n".join(parts)


async def test_export_holds_every_row_about_the_user(db: Database) -> None:
    user_id = await make_user(db)
    doc = await GdprRepository(db).export(user_id)
    assert doc["user"]["first_name"] == "Zanzibarette"
    (conv,) = doc["conversations"]
    assert len(conv["messages"]) == 2 and conv["risk"]["assessments"] == 1
    assert len(doc["activities"]) == 1 and len(doc["security_events"]) == 1 and len(doc["personalities"]) == 1
    assert len(doc["risk_assessments"]) == 1 and len(doc["audit"]) == 1
    assert "search" not in conv["messages"][0]
    json.dumps(doc)  # one JSON document


async def test_erase_leaves_no_personal_field_anywhere_and_keeps_aggregates(
    db: Database, conn: asyncpg.Connection
) -> None:
    user_id = await make_user(db)
    before = await everything(conn)
    assert all(w in before for w in SECRET_WORDS)  # the check below can see them
    with pytest.raises(UsageError, match="inside a transaction"):
        from datalayer.db import Database as _D  # noqa: F401

        await GdprRepository(_pool_like(db)).erase(user_id, actor="admin:test")
    async with db.transaction() as tx:
        result = await GdprRepository(tx).erase(user_id, actor="admin:test")
    assert (result.messages, result.conversations, result.activities, result.security_events, result.audit_entries) == (
        2,
        1,
        1,
        1,
        1,
    )
    after = await everything(conn)
    for word in SECRET_WORDS:
        assert word not in after, word
    stats = await conn.fetchrow("SELECT message_count, erased_at FROM chat_bot.users WHERE id = $1", user_id)
    assert stats["message_count"] == 2 and stats["erased_at"] is not None  # the aggregates stay
    assert await conn.fetchval("SELECT sum(token_count) FROM chat_bot.messages WHERE user_id = $1", user_id) == 7
    assert await UserRepository(db).get(user_id) is not None  # soft data gone, the row (and its counts) kept
    erased = await AuditRepository(db).by_entity("user", str(user_id))
    assert erased[0].action == "user.erase" and erased[0].actor == "admin:test"  # recorded in the audit log
    async with db.transaction() as tx:  # again: nothing more to do, no error
        again = await GdprRepository(tx).erase(user_id, actor="admin:test")
    assert (again.messages, again.audit_entries) == (0, 0)


def _pool_like(db: Database) -> object:
    """An executor source that is not a transaction (erase must refuse it)."""

    class NotATransaction:
        executor = type("X", (), {"connection": None})()

    return NotATransaction()


def test_gdpr_and_chat_cli(database_url: str, tmp_path: object) -> None:
    import asyncio

    async def setup() -> int:
        async with Database.connect(url=database_url) as db:
            async with db.transaction() as tx:
                return await make_user(tx)  # type: ignore[arg-type]

    user_id = asyncio.run(setup())
    base = ["--database-url", database_url]
    run = CliRunner().invoke
    try:
        shown = run(main, [*base, "chat", "users", "show", "7123456789", "--json"])
        assert shown.exit_code == 0 and json.loads(shown.output)["statistics"]["messages"] == 2, shown.output
        exported = run(main, [*base, "chat", "gdpr", "export", "7123456789"])
        assert exported.exit_code == 0 and json.loads(exported.output)["user"]["id"] == user_id
        refused = run(main, [*base, "chat", "gdpr", "erase", "7123456789"], input="n\n")
        assert refused.exit_code == 1 and "Aborted" in refused.output
        erased = run(main, [*base, "chat", "gdpr", "erase", "7123456789", "--yes", "--json"])
        assert erased.exit_code == 0 and json.loads(erased.output)["messages"] == 2, erased.output
        gone = run(main, [*base, "chat", "users", "show", "7123456789"])
        assert gone.exit_code == 1 and "no live user with Telegram id 7123456789" in gone.output
        assert (
            run(
                main, [*base, "chat", "config", "set", "ai.default_personality", '"friendly"', "--reason", "cli test"]
            ).exit_code
            == 0
        )
        got = run(main, [*base, "chat", "config", "get", "ai.default_personality"])
        assert got.output.strip() == '"friendly"'
        hist = run(main, [*base, "chat", "config", "history", "ai.default_personality", "--json"])
        assert json.loads(hist.output)[0]["change_reason"] == "cli test"
        bad = run(main, [*base, "chat", "config", "set", "ai.default_personality", "friendly", "--reason", "x"])
        assert bad.exit_code == 2 and "is not JSON" in bad.output
        assert run(main, [*base, "chat", "config", "get", "no.such_key"]).exit_code == 1
        never = run(main, [*base, "chat", "config", "history", "no.such_key"])
        assert never.exit_code == 1 and "no.such_key is not set and has no history" in never.output
        assert run(main, [*base, "chat", "flags", "set", "cli_flag", "--enabled", "--rollout", "100"]).exit_code == 0
        check = run(
            main, [*base, "chat", "flags", "check", "cli_flag", "--user", "42", "--attr", "premium=true", "--json"]
        )
        assert json.loads(check.output)["enabled"] is True, check.output
        listed = run(main, [*base, "chat", "flags", "list", "--json"])
        assert "cli_flag" in [f["key"] for f in json.loads(listed.output)]
        assert run(main, [*base, "chat", "flags", "check", "cli_flag", "--user", "1", "--attr", "oops"]).exit_code == 2
        # A rule on a text attribute, checked with a plain --attr country=DE (no JSON quoting needed for text).
        de_rule = '[{"attribute": "country", "operator": "eq", "value": "DE"}]'
        assert run(main, [*base, "chat", "flags", "set", "cli_flag", "--rules", de_rule]).exit_code == 0
        for attr, on in (("country=DE", True), ('country="DE"', True), ("country=FR", False)):
            got_flag = run(main, [*base, "chat", "flags", "check", "cli_flag", "--user", "7", "--attr", attr, "--json"])
            assert json.loads(got_flag.output)["enabled"] is on, (attr, got_flag.output)
        for rules, complaint in (
            (
                '[{"attribute": "x", "operator": "regex", "value": "a"}]',
                "targeting rule 0: field 'operator': Input should be",
            ),
            ('[{"attribute": "x", "operator": "eq"}]', "targeting rule 0: field 'value': Field required"),
            ("[1]", "targeting rule 0: must be an object"),
            ("{not json", "--rules is a JSON array such as"),
        ):
            refused = run(main, [*base, "chat", "flags", "set", "cli_flag", "--rules", rules])
            assert refused.exit_code in (1, 2) and complaint in refused.output, (rules, refused.output)
    finally:

        async def clean() -> None:
            c = await asyncpg.connect(database_url)
            try:
                await c.execute("DELETE FROM chat_bot.security_events WHERE user_id = $1", user_id)
                await c.execute("DELETE FROM chat_bot.users WHERE id = $1", user_id)
                await c.execute("DELETE FROM chat_bot.feature_flags WHERE key = 'cli_flag'")
                await c.execute("DELETE FROM chat_bot.system_configurations WHERE key = 'ai.default_personality'")
                await c.execute("DELETE FROM chat_bot.personality_profiles WHERE name = 'gdpr-test'")
            finally:
                await c.close()

        asyncio.run(clean())


def test_seed_chat_bot_twice_adds_nothing_the_second_time(database_url: str) -> None:
    import asyncio

    base = ["--database-url", database_url]
    first = CliRunner().invoke(main, [*base, "seed", "chat-bot", "--users", "4", "--seed", "9", "--json"])
    # An operator changes a setting and a flag between the runs: the second run must leave both alone.
    changed = CliRunner().invoke(main, [*base, "chat", "config", "set", "rate_limiting.messages_per_minute", "40",
                                        "--reason", "busier"])  # fmt: skip
    assert changed.exit_code == 0, changed.output

    async def operator_flag_and_history(change: bool = False) -> tuple[object, ...]:
        c = await asyncpg.connect(database_url)
        try:
            if change:
                await c.execute(
                    "UPDATE chat_bot.feature_flags SET rollout_percentage = 75 WHERE key = 'voice_messages'"
                )
            return tuple(await c.fetchrow(
                "SELECT (SELECT rollout_percentage FROM chat_bot.feature_flags WHERE key = 'voice_messages'),"
                "       (SELECT value FROM chat_bot.system_configurations WHERE key = 'rate_limiting.messages_per_minute'),"
                "       (SELECT count(*) FROM chat_bot.configuration_history)"
            ))  # fmt: skip
        finally:
            await c.close()

    before = asyncio.run(operator_flag_and_history(change=True))
    second = CliRunner().invoke(main, [*base, "seed", "chat-bot", "--users", "4", "--seed", "9", "--json"])
    try:
        assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
        one, two = json.loads(first.output), json.loads(second.output)
        assert one["created"] == 4 and one["messages"] > 0 and (two["created"], two["messages"]) == (0, 0)
        assert asyncio.run(operator_flag_and_history()) == before and before[:2] == (75, "40")

        async def partitions() -> list[object]:
            async with Database.connect(url=database_url) as db:
                return await AuditRepository(db).ensure_partitions_ahead(3)  # made at migration: nothing to do

        assert asyncio.run(partitions()) == []
    finally:

        async def clean() -> None:
            c = await asyncpg.connect(database_url)
            try:
                await c.execute("DELETE FROM chat_bot.users WHERE telegram_id BETWEEN 7000900000 AND 7000999999")
                # the definitions the seed made, so the rolled-back tests see an empty configuration
                for table in ("feature_flags", "system_configurations", "rate_limit_configs", "risk_factors",
                              "personality_profiles", "personality_traits"):  # fmt: skip
                    await c.execute(f"DELETE FROM chat_bot.{table}")
            finally:
                await c.close()

        asyncio.run(clean())

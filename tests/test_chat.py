"""AI conversation bot (schema chat_bot): users, sessions, conversations and messages, risk, personalities,
configuration, feature flags, rate limits, audit and security, metrics."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import asyncpg
import pytest

from datalayer import Conflict, Database, InvalidData, NotFound, Retryable, StateConflict
from datalayer.chat_bot import (
    ActivityRepository,
    AddMessageParams,
    AppendAuditParams,
    AuditRepository,
    ConfigRepository,
    ConversationRepository,
    CreateUserParams,
    FeatureFlagRepository,
    Measurement,
    MessageRepository,
    MetricsRepository,
    PersonalityRepository,
    RateLimitRepository,
    RecordRiskAssessmentParams,
    RecordSecurityEventParams,
    RiskRepository,
    SecurityEventRepository,
    SessionRepository,
    UpsertFeatureFlagParams,
    UpsertPersonalityProfileParams,
    UpsertPersonalityTraitParams,
    UpsertRateLimitParams,
    UpsertRiskFactorParams,
    UserRepository,
    UserUpdate,
    register_user,
    rollout_bucket,
)

NOW = datetime.now(UTC).replace(microsecond=0)


def new_user(n: int = 1, **extra: object) -> CreateUserParams:
    return CreateUserParams(**{"telegram_id": 100_000 + n, "username": f"user_{n}x", "first_name": "Ada", **extra})  # type: ignore[arg-type]


async def test_users_create_conflict_preferences_soft_delete_and_batches(db: Database) -> None:
    users = UserRepository(db)
    u = await users.create(new_user(1, preferences={"theme": "dark", "lang": "en"}))
    assert (u.telegram_id, u.preferences, u.message_count) == (100_001, {"theme": "dark", "lang": "en"}, 0)
    with pytest.raises(Conflict, match="users_telegram_id_unique"):
        async with db.transaction() as tx:
            await UserRepository(tx).create(new_user(1))
    assert await users.get_by_telegram_id(100_001) == u
    merged = await users.update_preferences(u.id, {"lang": "de", "notifications": True, "theme": None})
    assert merged.preferences == {"lang": "de", "notifications": True}  # merged, not replaced; null removes
    with pytest.raises(InvalidData, match="username"):
        new_user(2, username="x")
    with pytest.raises(InvalidData, match="telegram_id"):
        CreateUserParams(telegram_id="5")  # type: ignore[arg-type]
    assert await users.delete(u.id) and not await users.delete(u.id)
    assert await users.get(u.id) is None and await users.get_by_telegram_id(100_001) is None
    with pytest.raises(NotFound):
        await users.statistics(u.id)
    assert (await users.restore(u.id)).id == u.id and (await users.restore(u.id)).id == u.id

    many = await users.create_many([new_user(n) for n in range(10, 20)])
    assert [m.telegram_id for m in many] == [100_000 + n for n in range(10, 20)]
    with pytest.raises(Conflict):
        async with db.transaction() as tx:
            await UserRepository(tx).create_many([new_user(30), new_user(10)])  # one exists: none stored
    assert await users.get_by_telegram_id(100_030) is None
    changed = await users.update_many(
        [UserUpdate(id=m.id, is_premium=True) for m in many[:5]] + [UserUpdate(id=many[5].id, first_name="Grace")]
    )
    assert changed == 6
    assert await users.update_many([UserUpdate(id=m.id, is_premium=True) for m in many[:5]]) == 0  # nothing to change
    assert (await users.get(many[5].id)).first_name == "Grace"  # type: ignore[union-attr]
    assert (await users.get(many[0].id)).is_premium  # type: ignore[union-attr]
    with pytest.raises(InvalidData, match="appears twice"):
        await users.update_many([UserUpdate(id=1), UserUpdate(id=1)])


async def test_sessions_start_touch_expire(db: Database) -> None:
    u = await UserRepository(db).create(new_user())
    sessions = SessionRepository(db)
    s = await sessions.start(u.id, 60, at=NOW)
    assert (s.status, s.expires_at) == ("active", NOW + timedelta(seconds=60))
    touched = await sessions.touch(s.id, NOW + timedelta(seconds=50))
    assert touched.expires_at == NOW + timedelta(seconds=110)
    other = await sessions.start(u.id, 10, at=NOW)
    assert await sessions.expire_idle(NOW + timedelta(seconds=100)) == 1  # only the idle one, in one statement
    with pytest.raises(StateConflict, match="expired"):
        await sessions.touch(other.id, NOW + timedelta(seconds=101))
    assert (await sessions.active(u.id, NOW + timedelta(seconds=100))).id == s.id  # type: ignore[union-attr]
    closed = await sessions.close(s.id, NOW + timedelta(seconds=105))
    assert closed.status == "closed" and (await sessions.close(s.id)).status == "closed"
    assert await sessions.active(u.id, NOW) is None


async def test_messages_keep_counts_in_step_analytics_and_search(db: Database) -> None:
    u = await UserRepository(db).create(new_user())
    c = await ConversationRepository(db).create(u.id, title="Databases")
    messages = MessageRepository(db)
    first = AddMessageParams(conversation_id=c.id, role="user", content="How do transactions work in PostgreSQL?",
                             token_count=8, sentiment=0.2, intent="question")  # fmt: skip
    m = await messages.add(first)
    assert await messages.add(first) == m  # a repeat: the same message, counted once
    await messages.add(AddMessageParams(conversation_id=c.id, role="assistant", token_count=20,
                                        content="A transaction is all or nothing: COMMIT makes it stick."))  # fmt: skip
    await messages.add(
        AddMessageParams(
            conversation_id=c.id, role="user", content="Thanks! And savepoints?", token_count=4, sentiment=0.8
        )
    )
    conv = await ConversationRepository(db).get(c.id)
    assert conv is not None and (conv.message_count, conv.total_tokens) == (3, 32)
    assert (await UserRepository(db).get(u.id)).message_count == 3  # type: ignore[union-attr]
    stats = await messages.get_message_analytics(c.id)
    assert (stats.messages, stats.user_messages, stats.assistant_messages, stats.total_tokens) == (3, 2, 1, 32)
    assert stats.avg_sentiment == pytest.approx(0.5)
    hits = await messages.search(u.id, "transactions")
    assert len(hits) == 2 and m.id in [h.id for h in hits]  # "transaction" matches too (English stemming)
    assert "<<transactions>>" in next(h for h in hits if h.id == m.id).snippet
    assert [h.id for h in await messages.search(u.id, '"savepoints"')] != []
    other = await UserRepository(db).create(new_user(2))
    assert await messages.search(other.id, "transactions") == []  # only the user's own messages
    analytics = await messages.refresh_analytics(c.id)
    assert (analytics.user_messages, analytics.assistant_messages, analytics.top_intents) == (
        2,
        1,
        [{"intent": "question", "messages": 1}],
    )
    user_stats = await UserRepository(db).statistics(u.id)
    assert (
        user_stats.messages,
        user_stats.conversations,
        user_stats.active_conversations,
        user_stats.total_tokens,
    ) == (3, 1, 1, 32)
    assert [x.id for x in await ConversationRepository(db).get_user_conversations(u.id, "active")] == [c.id]
    await ConversationRepository(db).set_status(c.id, "closed")
    assert await ConversationRepository(db).get_user_conversations(u.id, "active") == []
    assert len(await ConversationRepository(db).get_user_conversations(u.id)) == 1
    assert [x.role for x in await messages.list_for_conversation(c.id)] == ["user", "assistant", "user"]
    with pytest.raises(InvalidData, match="sentiment"):
        AddMessageParams(conversation_id=c.id, role="user", content="x", sentiment=2.0)
    with pytest.raises(InvalidData, match="role"):
        AddMessageParams(conversation_id=c.id, role="bot", content="x")  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        await messages.add(AddMessageParams(conversation_id=999_999, role="user", content="x"))


async def test_risk_rises_with_assessments(db: Database) -> None:
    u = await UserRepository(db).create(new_user())
    c = await ConversationRepository(db).create(u.id)
    risk = RiskRepository(db)
    await risk.upsert_factor(UpsertRiskFactorParams(name="spam", category="behaviour", weight=0.3))
    assert [f.name for f in await risk.factors()] == ["spam"]
    a1 = await risk.record(RecordRiskAssessmentParams(conversation_id=c.id, risk_score=0.5, factors=["spam"]))
    assert (a1.risk_level, a1.user_id) == ("medium", u.id)
    r1 = await risk.conversation_risk(c.id)
    await risk.record(RecordRiskAssessmentParams(conversation_id=c.id, risk_score=0.8))
    r2 = await risk.conversation_risk(c.id)
    assert r1 is not None and r2 is not None
    assert r1.risk_score == pytest.approx(0.5) and r2.risk_score == pytest.approx(1 - 0.5 * 0.2)  # rises
    assert (r2.max_score, r2.assessments) == (0.8, 2)
    high = await risk.get_high_risk_assessments(hours=1, min_risk_score=0.7)
    assert [h.risk_score for h in high] == [0.8]
    assert len(await risk.get_high_risk_assessments(hours=1, min_risk_score=0.1)) == 2
    stats = await risk.get_assessment_statistics(days=1)
    assert (stats.assessments, stats.medium, stats.high, stats.max_score) == (2, 1, 1, 0.8)
    with pytest.raises(InvalidData, match="risk_score"):
        RecordRiskAssessmentParams(conversation_id=c.id, risk_score=1.5)


async def test_personalities(db: Database) -> None:
    p = PersonalityRepository(db)
    await p.upsert_trait(UpsertPersonalityTraitParams(name="warmth", description="How warm"))
    with pytest.raises(InvalidData, match="min_value < max_value"):
        UpsertPersonalityTraitParams(name="odd", description="x", min_value=1, max_value=0)
    prof = await p.upsert_profile(UpsertPersonalityProfileParams(name="friendly", traits={"warmth": 0.9}))
    with pytest.raises(InvalidData, match="unknown trait 'humor'"):
        await p.upsert_profile(UpsertPersonalityProfileParams(name="x", traits={"humor": 0.5}))
    with pytest.raises(InvalidData, match="outside"):
        await p.upsert_profile(UpsertPersonalityProfileParams(name="x", traits={"warmth": 5}))
    u = await UserRepository(db).create(new_user())
    await p.set_for_user(u.id, prof.id, {"warmth": -0.1}, 0.7)
    (mine,) = await p.for_user(u.id)
    assert (mine.profile_name, mine.effectiveness, mine.adaptations) == ("friendly", 0.7, {"warmth": -0.1})
    assert [x.name for x in await p.profiles()] == ["friendly"] and [t.name for t in await p.traits()] == ["warmth"]


async def test_config_set_writes_history_in_the_same_statement_and_rolls_back(db: Database) -> None:
    config = ConfigRepository(db)
    assert await config.get_config_value("rate_limiting.messages_per_minute", 20) == 20
    await config.set_config_value("rate_limiting.messages_per_minute", 20, "initial", changed_by="ops")
    e = await config.set_config_value("rate_limiting.messages_per_minute", 30, "premium launch", changed_by="ops")
    assert e.value == 30 and await config.get_config_value("rate_limiting.messages_per_minute") == 30
    await config.set_config_value("rate_limiting.messages_per_minute", 30, "again")  # unchanged: no history row
    history = await config.history("rate_limiting.messages_per_minute")
    assert [(h.old_value, h.new_value, h.change_reason) for h in history] == [
        (20, 30, "premium launch"),
        (None, 20, "initial"),
    ]
    back = await config.rollback_to(history[1].id, "too generous")
    assert (
        back.value == 20
        and (await config.history("rate_limiting.messages_per_minute"))[0].change_reason == "too generous"
    )
    with pytest.raises(InvalidData, match="key"):
        await config.set_config_value("NoDots", 1, "x")
    with pytest.raises(InvalidData, match="change_reason"):
        await config.set_config_value("a.b", 1, "  ")
    assert [c.key for c in await config.all()] == ["rate_limiting.messages_per_minute"]


async def test_feature_flags_rules_and_a_deterministic_rollout(db: Database, conn: asyncpg.Connection) -> None:
    flags = FeatureFlagRepository(db)
    assert not await flags.is_flag_enabled("nope", "u1")
    await flags.set(UpsertFeatureFlagParams(key="adaptation", is_enabled=True, rollout_percentage=30, targeting_rules=[
        {"attribute": "premium", "operator": "eq", "value": True},
        {"attribute": "age", "operator": "ge", "value": 18},
        {"attribute": "country", "operator": "in", "value": ["DE", "FR"]},
    ]))  # fmt: skip
    fit = {"premium": True, "age": 30, "country": "DE"}
    on = {u for u in range(1000) if await flags.is_flag_enabled("adaptation", u, fit)}
    assert 200 < len(on) < 400  # about 30 %
    assert on == {u for u in range(1000) if await flags.is_flag_enabled("adaptation", u, fit)}  # never flips
    assert not any([await flags.is_flag_enabled("adaptation", u, {**fit, "premium": False}) for u in on])
    assert not any(
        [await flags.is_flag_enabled("adaptation", u, {**fit, "age": "30"}) for u in on]
    )  # a string is not a number
    assert not any(
        [await flags.is_flag_enabled("adaptation", u, {"premium": True, "age": 30}) for u in on]
    )  # missing country
    await flags.set(UpsertFeatureFlagParams(key="adaptation", is_enabled=True, rollout_percentage=60,
                                            targeting_rules=(await flags.get("adaptation")).targeting_rules))  # type: ignore[union-attr]  # fmt: skip
    wider = {u for u in range(1000) if await flags.is_flag_enabled("adaptation", u, fit)}
    assert on < wider  # raising the percentage only adds users
    await flags.set(UpsertFeatureFlagParams(key="adaptation", is_enabled=False, rollout_percentage=100))
    assert not await flags.is_flag_enabled("adaptation", 1, fit)
    sql_buckets = await conn.fetch(
        "SELECT u::text AS u, chat_bot.rollout_bucket('adaptation', u::text) AS b FROM generate_series(1, 500) AS u"
    )
    assert all(rollout_bucket("adaptation", r["u"]) == r["b"] for r in sql_buckets)  # Python and SQL agree
    with pytest.raises(InvalidData, match="targeting rule 0"):
        await flags.set(
            UpsertFeatureFlagParams(key="bad", targeting_rules=[{"attribute": "x", "operator": "regex", "value": "."}])
        )
    with pytest.raises(InvalidData, match="needs a list"):
        await flags.set(
            UpsertFeatureFlagParams(key="bad", targeting_rules=[{"attribute": "x", "operator": "in", "value": "DE"}])
        )
    for u in range(20):
        await UserRepository(db).create(new_user(u + 100))
    await flags.set(UpsertFeatureFlagParams(key="everyone", is_enabled=True, rollout_percentage=100))
    stats = {s.key: s for s in await flags.get_flag_statistics()}
    assert (stats["everyone"].users_in_rollout, stats["everyone"].active_users) == (20, 20)
    assert stats["adaptation"].users_in_rollout == 0  # disabled
    assert [f.key for f in await flags.all()] == ["adaptation", "everyone"]


async def test_rate_limit_picks_the_applicable_limit_in_one_query(db: Database) -> None:
    users, activities, limits = UserRepository(db), ActivityRepository(db), RateLimitRepository(db)
    plain = await users.create(new_user(1))
    premium = await users.create(new_user(2, is_premium=True))
    await limits.upsert(
        UpsertRateLimitParams(name="messages.default", activity_type="message", max_events=3, window_seconds=60)
    )
    await limits.upsert(
        UpsertRateLimitParams(
            name="messages.premium", activity_type="message", applies_to="premium", max_events=5, window_seconds=60
        )
    )
    for user in (plain, premium):
        for i in range(4):
            await activities.record(user.id, "message", at=NOW - timedelta(seconds=50 - i))
    p = await limits.check(plain.id, "message", NOW)
    assert p is not None and (p.limit_name, p.used, p.allowed) == ("messages.default", 3, False)
    assert 0 < p.retry_after_seconds <= 60
    q = await limits.check(premium.id, "message", NOW)
    assert q is not None and (q.limit_name, q.used, q.allowed) == ("messages.premium", 4, True)
    assert (await limits.check(plain.id, "message", NOW + timedelta(seconds=61))).allowed  # type: ignore[union-attr]
    assert await limits.check(plain.id, "login", NOW) is None  # no limit for that activity
    assert [a.activity_type for a in await activities.list_for_user(plain.id)] == ["message"] * 4


async def test_audit_is_append_only_and_security_events(db: Database, conn: asyncpg.Connection) -> None:
    audit = AuditRepository(db)
    entry = AppendAuditParams(
        actor="admin:ops", action="config.set", entity_type="config", entity_id="a.b", before={"v": 1}, after={"v": 2}
    )
    a = await audit.append(entry)
    assert await audit.append(entry) == a  # a repeat: stored once
    assert [x.id for x in await audit.by_entity("config", "a.b")] == [a.id]
    assert [x.id for x in await audit.by_actor("admin:ops")] == [a.id]
    assert a.id in [x.id for x in await audit.between(NOW - timedelta(hours=1), NOW + timedelta(hours=1))]
    for sql in ("UPDATE chat_bot.audit_logs SET actor = 'me'", "DELETE FROM chat_bot.audit_logs"):
        with pytest.raises(asyncpg.InsufficientPrivilegeError, match="append-only"):
            async with conn.transaction():
                await conn.execute(sql)
    with pytest.raises(
        InvalidData, match=r"RecordSecurityEventParams: source_ip: Input should be an instance of IPv4Address or"
    ):
        RecordSecurityEventParams(event_type="x.y", severity="low", source_ip="10.0.0.9")  # type: ignore[arg-type]
    sec = SecurityEventRepository(db)
    e = await sec.record(
        RecordSecurityEventParams(
            event_type="prompt_injection", severity="high", source_ip=IPv4Address("10.0.0.9"), details={"len": 300}
        )
    )  # type: ignore[arg-type]
    low = await sec.record(RecordSecurityEventParams(event_type="spam", severity="low"))
    mine = {e.id, low.id}
    assert [x.id for x in await sec.open() if x.id in mine] == [e.id, low.id]  # most severe first
    resolved = await sec.resolve(e.id)
    assert resolved.resolved_at is not None and (await sec.resolve(e.id)).resolved_at == resolved.resolved_at
    assert [x.id for x in await sec.open() if x.id in mine] == [low.id]
    between = {x.id for x in await sec.between(NOW - timedelta(hours=1), NOW + timedelta(hours=1))}
    assert {e.id, low.id} <= between
    metrics = MetricsRepository(db)
    assert (
        await metrics.record([Measurement(metric_name="reply.latency_ms", value=v) for v in (100, 200, 300, 400)]) == 4
    )
    summary = await metrics.summary("reply.latency_ms", NOW - timedelta(hours=1))
    assert (summary.measurements, summary.mean, summary.max) == (4, 250, 400)


async def test_register_user_is_one_transaction_retried_whole(database_url: str) -> None:
    from datalayer import Settings

    calls = 0

    async with Database.connect(Settings.model_validate({"application_name": "dl-chat"}), database_url) as db:
        telegram_id = 900_000 + uuid.uuid4().int % 100_000

        async def flaky(tx: object) -> object:
            nonlocal calls
            calls += 1
            result = await register_user(tx, new_user(telegram_id=telegram_id))
            if calls == 1:
                raise Retryable("a serialization failure, as PostgreSQL would report it")
            return result

        try:
            reg = await db.run_in_transaction(flaky)
            assert calls == 2 and reg.user.telegram_id == telegram_id
            conn = await asyncpg.connect(database_url)
            try:  # the first run left nothing behind: one user, one session, one audit entry
                assert (
                    await conn.fetchval("SELECT count(*) FROM chat_bot.users WHERE telegram_id = $1", telegram_id) == 1
                )
                assert (
                    await conn.fetchval(
                        "SELECT count(*) FROM chat_bot.conversation_sessions WHERE user_id = $1", reg.user.id
                    )
                    == 1
                )
                assert (
                    await conn.fetchval(
                        "SELECT count(*) FROM chat_bot.audit_logs WHERE entity_type = 'user' AND entity_id = $1",
                        str(reg.user.id),
                    )
                    == 1
                )
            finally:
                await conn.close()
        finally:
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("DELETE FROM chat_bot.users WHERE telegram_id = $1", telegram_id)
            finally:
                await conn.close()


async def test_concurrent_adds_never_lose_a_count(database_url: str) -> None:
    """Fifty messages added at once to one conversation, through eight connections: every count is there."""
    import asyncio

    from datalayer import Settings

    async with Database.connect(
        Settings.model_validate({"application_name": "dl-chat", "pool_max_size": 8}), database_url
    ) as db:
        telegram_id = 800_000 + uuid.uuid4().int % 100_000
        user = await UserRepository(db).create(new_user(telegram_id=telegram_id))
        try:
            c = await ConversationRepository(db).create(user.id)
            adds = [
                AddMessageParams(conversation_id=c.id, role="user", content=f"message {i}", token_count=2)
                for i in range(50)
            ]
            await asyncio.gather(*(MessageRepository(db).add(p) for p in adds))
            await asyncio.gather(*(MessageRepository(db).add(p) for p in adds[:10]))  # repeats: counted once
            conv = await ConversationRepository(db).get(c.id)
            assert conv is not None and (conv.message_count, conv.total_tokens) == (50, 100)
            assert (await UserRepository(db).get(user.id)).message_count == 50  # type: ignore[union-attr]
        finally:
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("DELETE FROM chat_bot.users WHERE id = $1", user.id)
            finally:
                await conn.close()

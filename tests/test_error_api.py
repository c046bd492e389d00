"""AI error-translator API (schema error_api): accounts, keys, subscriptions, usage, revoked tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

import asyncpg
import pytest
from argon2 import PasswordHasher

from datalayer import Conflict, Database, InvalidData, NotFound, ReferenceMissing, StateConflict
from datalayer.error_api import (
    ApiKeyRepository,
    KeyDigester,
    LogRequestParams,
    SubscriptionRepository,
    TokenBlacklistRepository,
    UpsertSubscriptionParams,
    UsageRepository,
    UserRepository,
)

DIGESTER = KeyDigester("test-secret-" + "x" * 40)
NOW = datetime.now(UTC).replace(microsecond=0)
PASSWORD = "correct horse battery staple"


async def test_users_create_conflict_in_any_case_and_profile(db: Database) -> None:
    users = UserRepository(db)
    u = await users.create("Ada@Example.com", PASSWORD, "Ada Lovelace")
    assert (u.email, u.subscription_tier, u.is_active, u.is_verified) == ("Ada@Example.com", "free", True, False)
    assert await users.get(u.id) == u
    assert await users.get_by_email("ada@EXAMPLE.com") == u
    with pytest.raises(Conflict, match="users_email_lower_unique"):
        async with db.transaction() as tx:
            await UserRepository(tx).create("ADA@example.COM", "another password", None)
    for email in ("not-an-email", "a@b", "x" * 250 + "@example.com"):
        with pytest.raises(InvalidData, match="email"):
            await users.create(email, PASSWORD)
    with pytest.raises(InvalidData, match="a password has 10 to 1024 characters"):
        await users.create("short@example.com", "short")
    verified = await users.mark_verified(u.id)
    assert verified.is_verified
    renamed = await users.update_profile(u.id, full_name="Countess of Lovelace")
    assert renamed.full_name == "Countess of Lovelace" and renamed.is_verified and renamed.email == u.email
    moved = await users.update_profile(u.id, email="ada@lovelace.org")
    assert moved.email == "ada@lovelace.org" and not moved.is_verified  # a new address is unverified again
    other = await users.create("grace@example.com", PASSWORD)
    with pytest.raises(Conflict, match="users_email_lower_unique"):
        async with db.transaction() as tx:
            await UserRepository(tx).update_profile(other.id, email="ADA@lovelace.org")
    assert (await users.set_tier(u.id, "pro")).subscription_tier == "pro"
    with pytest.raises(ReferenceMissing, match="users_tier_fk"):
        async with db.transaction() as tx:
            await UserRepository(tx).set_tier(u.id, "platinum")
    assert (await users.set_stripe_customer(u.id, "cus_Ada1")).stripe_customer_id == "cus_Ada1"
    with pytest.raises(Conflict, match="users_stripe_customer_id_unique"):
        async with db.transaction() as tx:
            await UserRepository(tx).set_stripe_customer(other.id, "cus_Ada1")
    login = await users.record_login(u.id, NOW)
    assert (await users.record_login(u.id, NOW - timedelta(days=1))).last_login == login.last_login == NOW
    assert await users.count_active() == 2
    assert not (await users.deactivate(other.id)).is_active
    assert await users.count_active() == 1
    with pytest.raises(NotFound):
        await users.deactivate(uuid.uuid4())


async def test_passwords_are_argon2id_verified_in_constant_time_and_rehashed(
    conn: asyncpg.Connection, db: Database
) -> None:
    users = UserRepository(db)
    u = await users.create("ada@example.com", PASSWORD)
    stored = await conn.fetchval("SELECT password_hash FROM error_api.users WHERE id = $1", u.id)
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert (await users.verify_password("ADA@example.com", PASSWORD)) == u
    assert await users.verify_password("ada@example.com", "wrong password!") is None
    assert await users.verify_password("nobody@example.com", PASSWORD) is None  # a dummy verification ran
    # The database itself refuses anything but an argon2id hash: a plain password cannot be stored.
    with pytest.raises(asyncpg.CheckViolationError, match="users_password_hash_is_argon2id"):
        async with conn.transaction():
            await conn.execute("UPDATE error_api.users SET password_hash = $1 WHERE id = $2", PASSWORD, u.id)
    # A hash made with weaker parameters is replaced on the next successful login.
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await conn.execute("UPDATE error_api.users SET password_hash = $1 WHERE id = $2", weak, u.id)
    assert await users.verify_password("ada@example.com", PASSWORD) == await users.get(u.id)
    rehashed = await conn.fetchval("SELECT password_hash FROM error_api.users WHERE id = $1", u.id)
    assert rehashed != weak and not PasswordHasher().check_needs_rehash(rehashed)
    # Change: the current password must verify; a repeat (a lost reply) is a success.
    with pytest.raises(InvalidData, match="current password is not right"):
        await users.change_password(u.id, "wrong password!", "a brand new passphrase")
    await users.change_password(u.id, PASSWORD, "a brand new passphrase")
    await users.change_password(u.id, PASSWORD, "a brand new passphrase")
    assert await users.verify_password("ada@example.com", PASSWORD) is None
    assert await users.verify_password("ada@example.com", "a brand new passphrase") is not None
    await users.deactivate(u.id)
    assert await users.verify_password("ada@example.com", "a brand new passphrase") is None
    with pytest.raises(NotFound):
        await users.change_password(uuid.uuid4(), PASSWORD, "a brand new passphrase")


async def test_a_password_changed_meanwhile_is_a_state_conflict(conn: asyncpg.Connection, db: Database) -> None:
    users = UserRepository(db)
    u = await users.create("ada@example.com", PASSWORD)
    real = users._x.value  # type: ignore[attr-defined]

    async def someone_else_first(q: object, *args: object) -> object:
        if getattr(q, "name", "") == "error_api.update_password_hash":
            other = PasswordHasher().hash("changed by someone else")
            await conn.execute("UPDATE error_api.users SET password_hash = $1 WHERE id = $2", other, u.id)
        return await real(q, *args)

    object.__setattr__(users, "_x", type("X", (), {"value": staticmethod(someone_else_first), "one": users._x.one})())  # type: ignore[attr-defined]
    with pytest.raises(StateConflict, match="changed meanwhile"):
        await users.change_password(u.id, PASSWORD, "a brand new passphrase")


async def test_api_keys_shown_once_stored_as_digest_and_authenticated(conn: asyncpg.Connection, db: Database) -> None:
    u = await UserRepository(db).create("ada@example.com", PASSWORD)
    keys = ApiKeyRepository(db, DIGESTER)
    row, key = await keys.create(u.id, "ci", expires_at=NOW + timedelta(days=30))
    assert key.startswith("eak_") and len(key) == 47 and row.prefix == key[:12]
    stored = await conn.fetchrow("SELECT * FROM error_api.api_keys WHERE id = $1", row.id)
    assert key not in str(dict(stored)) and stored["key_digest"] == DIGESTER.digest(key)
    auth = await keys.authenticate(key, NOW)
    assert auth is not None and (auth.user_id, auth.api_key_id, auth.subscription_tier) == (u.id, row.id, "free")
    first_use = (await keys.list_for_user(u.id))[0].last_used
    assert first_use == NOW
    await keys.authenticate(key, NOW + timedelta(seconds=30))  # within the minute: no write
    assert (await keys.list_for_user(u.id))[0].last_used == NOW
    await keys.authenticate(key, NOW + timedelta(seconds=61))
    assert (await keys.list_for_user(u.id))[0].last_used == NOW + timedelta(seconds=61)
    assert await keys.authenticate(key[:-1] + ("A" if key[-1] != "A" else "B"), NOW) is None  # another key
    assert await keys.authenticate("eak_short", NOW) is None  # malformed: no query
    assert await ApiKeyRepository(db, KeyDigester("another-secret-" + "y" * 40)).authenticate(key, NOW) is None
    assert await keys.authenticate(key, NOW + timedelta(days=31)) is None  # expired
    other_user = await UserRepository(db).create("grace@example.com", PASSWORD)
    assert await keys.deactivate(other_user.id, row.id) is None  # not theirs
    assert (await keys.deactivate(u.id, row.id)).is_active is False  # type: ignore[union-attr]
    assert await keys.authenticate(key, NOW) is None
    _row2, key2 = await keys.create(u.id, "second")
    assert await keys.authenticate(key2, NOW) is not None
    await UserRepository(db).deactivate(u.id)
    assert await keys.authenticate(key2, NOW) is None  # the owner is deactivated
    assert sorted(k.name for k in await keys.list_for_user(u.id)) == ["ci", "second"]
    assert await keys.cleanup_expired_keys(NOW + timedelta(days=31)) == 1
    assert [k.name for k in await keys.list_for_user(u.id)] == ["second"]
    with pytest.raises(InvalidData, match="needs the server secret"):
        await ApiKeyRepository(db).create(u.id, "x")
    with pytest.raises(InvalidData, match="at least 32 bytes"):
        KeyDigester("short")


async def test_subscription_events_idempotent_and_out_of_order(db: Database) -> None:
    u = await UserRepository(db).create("ada@example.com", PASSWORD)
    subs = SubscriptionRepository(db)

    def event(status: str, at: datetime, tier: str = "pro") -> UpsertSubscriptionParams:
        return UpsertSubscriptionParams(
            user_id=u.id, stripe_subscription_id="sub_A1", stripe_price_id="price_P1", tier=tier, status=status,  # type: ignore[arg-type]
            current_period_start=NOW, current_period_end=NOW + timedelta(days=30), stripe_event_at=at,
        )  # fmt: skip

    created = await subs.apply_event(event("active", NOW))
    assert created.applied and created.status == "active"
    assert (await UserRepository(db).get(u.id)).subscription_tier == "pro"  # type: ignore[union-attr]
    again = await subs.apply_event(event("active", NOW))
    assert not again.applied and again.id == created.id
    canceled = await subs.apply_event(event("canceled", NOW + timedelta(hours=2)))
    assert canceled.applied and canceled.status == "canceled"
    late = await subs.apply_event(event("past_due", NOW + timedelta(hours=1)))  # older, arrives after
    assert not late.applied and late.status == "canceled"
    assert (await UserRepository(db).get(u.id)).subscription_tier == "free"  # type: ignore[union-attr]
    assert (await subs.current_for_user(u.id)).status == "canceled"  # type: ignore[union-attr]
    with pytest.raises(InvalidData, match="current_period_end must be after"):  # InvalidData, not pydantic
        UpsertSubscriptionParams(user_id=u.id, stripe_subscription_id="sub_B", tier="pro", status="active",
                                 current_period_start=NOW, current_period_end=NOW, stripe_event_at=NOW)  # fmt: skip
    with pytest.raises(InvalidData):
        await subs.apply_event(event("lapsed", NOW))  # type: ignore[arg-type]


async def test_usage_logged_once_dashboard_monitoring_and_rate_limit(db: Database) -> None:
    u = await UserRepository(db).create("ada@example.com", PASSWORD)
    usage = UsageRepository(db)
    one = LogRequestParams(user_id=u.id, endpoint="/v1/translate", method="POST", status_code=200,
                           ip_address=IPv4Address("10.0.0.1"), response_time_ms=120, created_at=NOW - timedelta(seconds=5))  # fmt: skip
    assert await usage.log(one) is True
    assert await usage.log(one) is False  # a retried log is stored once
    batch = [
        LogRequestParams(user_id=u.id, endpoint="/v1/translate" if i % 3 else "/v1/explain", method="POST",
                         status_code=500 if i % 5 == 0 else 200, response_time_ms=100 + i,
                         error_type="UpstreamError" if i % 5 == 0 else None, created_at=NOW - timedelta(hours=i))
        for i in range(1, 31)
    ]  # fmt: skip
    assert await usage.log_many(batch) == 30
    assert await usage.log_many(batch) == 0
    board = await usage.dashboard(u.id, 1, now=NOW)
    assert board.summary.requests == 25 and board.summary.errors == 4  # since = 24 h ago, inclusive: one + i = 1..24
    assert board.summary.error_rate == pytest.approx(4 / 25)
    assert board.summary.p95_response_ms is not None and board.top_endpoints[0].endpoint == "/v1/translate"
    assert sum(d.requests for d in board.by_day) == 25
    mon = await usage.monitoring(NOW)
    assert mon.active_users >= 1 and mon.requests_24h >= 24
    with pytest.raises(InvalidData, match="days is a whole number"):
        await usage.dashboard(u.id, 0)
    with pytest.raises(InvalidData, match="method"):
        LogRequestParams(endpoint="/x", method="FETCH", status_code=200)  # type: ignore[arg-type]
    with pytest.raises(InvalidData, match="status_code"):
        LogRequestParams(endpoint="/x", method="GET", status_code="200")  # type: ignore[arg-type]

    # free tier: 10 a minute
    limit = await usage.check_rate_limit(u.id, NOW)
    assert (limit.tier, limit.minute_limit, limit.minute_used, limit.allowed) == ("free", 10, 1, True)
    await usage.log_many([LogRequestParams(user_id=u.id, endpoint="/v1/translate", method="POST", status_code=200,
                                           created_at=NOW - timedelta(seconds=50 - i)) for i in range(12)])  # fmt: skip
    full = await usage.check_rate_limit(u.id, NOW)
    assert (full.minute_used, full.allowed) == (10, False)  # the count stops at the limit
    assert 0 < full.retry_after_seconds <= 60
    later = await usage.check_rate_limit(u.id, NOW + timedelta(seconds=61))
    assert later.allowed
    with pytest.raises(NotFound):
        await usage.check_rate_limit(uuid.uuid4(), NOW)


async def test_the_daily_limit_counts_exactly_what_the_log_holds(conn: asyncpg.Connection, db: Database) -> None:
    """The day is summed from per-minute counters plus the part-minutes at both ends: it must equal a plain
    count of the log, wherever `now` falls inside a minute."""
    u = await UserRepository(db).create("busy@example.com", PASSWORD)
    usage = UsageRepository(db)
    base = datetime(2026, 11, 30, 12, 0, 30, tzinfo=UTC)
    rows = [LogRequestParams(user_id=u.id, endpoint="/v1/translate", method="POST", status_code=200,
                             created_at=base - timedelta(seconds=37 * i)) for i in range(1100)]  # fmt: skip
    assert await usage.log_many(rows) == 1100
    assert await usage.log_many(rows) == 0  # not counted twice either
    for now in (base, base + timedelta(seconds=17), base - timedelta(hours=3, seconds=41), base + timedelta(hours=11)):
        expected = await conn.fetchval(
            "SELECT count(*) FROM error_api.usage_logs WHERE user_id = $1 AND created_at > $2::timestamptz - interval '1 day' AND created_at <= $2",
            u.id, now,
        )  # fmt: skip
        limit = await usage.check_rate_limit(u.id, now)
        assert limit.day_used == expected, now
        assert limit.allowed == (expected < 1000 and limit.minute_used < 10)
        if expected >= 1000:
            assert 0 < limit.retry_after_seconds <= 86_400 + 60
    assert await usage.cleanup_rate_counters(base + timedelta(days=3)) > 0


async def test_usage_partitions_made_on_demand_and_retention(database_url: str) -> None:
    """Committed: partitions are DDL. A month without one gets it when a request of that month is logged."""
    from datalayer import Settings

    async with Database.connect(Settings.model_validate({"application_name": "dl-usage"}), database_url) as db:
        usage = UsageRepository(db)
        far = datetime(2031, 7, 14, 12, 0, tzinfo=UTC)
        p = LogRequestParams(endpoint="/v1/translate", method="GET", status_code=200, created_at=far)
        try:
            assert await usage.log(p) is True
            assert "usage_logs_y2031m07" in [x.name for x in await usage.partitions()]
            assert await usage.log(p) is False
            assert await usage.ensure_partitions_ahead(0, now=far) == []
            created = await usage.ensure_partitions_ahead(1, now=far)
            assert [str(m) for m in created] == ["2031-08-01"]
        finally:
            conn = await asyncpg.connect(database_url)
            try:
                for name in ("usage_logs_y2031m07", "usage_logs_y2031m08"):
                    await conn.execute(f"DROP TABLE IF EXISTS error_api.{name}")
            finally:
                await conn.close()


async def test_retention_drops_old_partitions_and_deletes_the_rest(database_url: str) -> None:
    from datalayer import Settings

    old = datetime.now(UTC) - timedelta(days=400)
    async with Database.connect(Settings.model_validate({"application_name": "dl-usage"}), database_url) as db:
        usage = UsageRepository(db)
        await usage.log(LogRequestParams(endpoint="/v1/old", method="GET", status_code=200, created_at=old))
        month = f"usage_logs_y{old.year}m{old.month:02d}"
        dropped, deleted = await usage.cleanup_old_logs(365)
        assert month in [d.split(".")[-1] for d in dropped]
        assert month not in [x.name for x in await usage.partitions()]
        assert deleted >= 0
        with pytest.raises(InvalidData):
            await usage.cleanup_old_logs(0)


async def test_token_blacklist(db: Database) -> None:
    tokens = TokenBlacklistRepository(db)
    assert await tokens.revoke("jti-1", "access", NOW + timedelta(hours=1), revoked_by="admin", reason="logout")
    assert not await tokens.revoke("jti-1", "access", NOW + timedelta(hours=1))  # idempotent
    assert await tokens.is_revoked("jti-1") and not await tokens.is_revoked("jti-2")
    await tokens.revoke("jti-old", "refresh", NOW - timedelta(hours=1))
    assert await tokens.cleanup_expired_tokens(NOW) == 1
    assert not await tokens.is_revoked("jti-old")
    with pytest.raises(InvalidData, match="token_type"):
        await tokens.revoke("jti-3", "id", NOW)  # type: ignore[arg-type]

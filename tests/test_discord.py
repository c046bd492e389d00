"""Discord reminder bot (schema discord_bot): guilds, members, events, reactions, reminders, integrity."""

from __future__ import annotations

from datetime import timedelta

import asyncpg
import pytest

from datalayer import Conflict, Database, InvalidData, NotFound, ReferenceMissing, StateConflict
from datalayer.discord_bot import (
    EventRepository,
    GuildRepository,
    IntegrityRepository,
    MemberRepository,
    ReactionRepository,
    ReminderRepository,
)
from tests.discord_helpers import GUILD, T0, make_due_event, make_guild

MSG = 1_180_000_000_000_000_001


async def test_guild_upsert_settings_merge_and_delete(db: Database) -> None:
    guilds = GuildRepository(db)
    g = await guilds.upsert(GUILD, "Pixel")
    assert (g.name, g.settings) == ("Pixel", {})
    assert await guilds.upsert(GUILD, "Pixel") == g  # unchanged: not rewritten
    renamed = await guilds.upsert(GUILD, "Pixel 2")
    assert renamed.name == "Pixel 2" and renamed.created_at == g.created_at
    s1 = await guilds.update_settings(GUILD, {"prefix": "!", "nested": {"a": 1}, "lang": "en"})
    s2 = await guilds.update_settings(GUILD, {"lang": "fr", "prefix": None})
    assert s1.settings == {"prefix": "!", "nested": {"a": 1}, "lang": "en"}
    assert s2.settings == {"nested": {"a": 1}, "lang": "fr"}  # merged; a key set to None removed
    assert (await guilds.update_settings(GUILD, {"lang": "fr", "prefix": None})).settings == s2.settings
    assert await guilds.get(GUILD) is not None
    with pytest.raises(NotFound, match=f"no guild {GUILD + 1}"):
        await guilds.update_settings(GUILD + 1, {"x": 1})
    with pytest.raises(InvalidData, match="UpsertGuildParams: name"):
        await guilds.upsert(GUILD, "   ")
    with pytest.raises(InvalidData, match="guild_id"):
        await guilds.upsert("123", "x")  # type: ignore[arg-type]
    await make_due_event(db, MSG)
    assert await guilds.delete(GUILD) is True
    assert await guilds.delete(GUILD) is False
    assert await EventRepository(db).get_by_message_id(MSG) is None  # deleted with its guild


async def test_members_upsert_bulk_and_touch(db: Database) -> None:
    await GuildRepository(db).upsert(GUILD, "g")
    members = MemberRepository(db)
    m = await members.upsert(GUILD, 11, "ada")
    assert (m.username, m.is_bot, m.last_seen) == ("ada", False, None)
    assert await members.upsert_many(GUILD, [(11, "ada", False), (12, "bob", False), (13, "robot", True)]) == 2
    assert await members.upsert_many(GUILD, [(11, "ada", False), (12, "bob", False), (13, "robot", True)]) == 0
    assert await members.upsert_many(GUILD, [(12, "bobby", False)]) == 1
    assert (await members.get(GUILD, 12)).username == "bobby"  # type: ignore[union-attr]
    assert await members.count(GUILD) == 2  # bots are not counted
    seen = await members.touch(GUILD, 11, T0)
    assert seen.last_seen == T0
    assert (await members.touch(GUILD, 11, T0 - timedelta(hours=1))).last_seen == T0  # never backwards
    with pytest.raises(NotFound):
        await members.touch(GUILD, 99, T0)
    with pytest.raises(InvalidData, match="a user id appears twice"):
        await members.upsert_many(GUILD, [(11, "a", False), (11, "b", False)])
    with pytest.raises(ReferenceMissing, match="members_guild_fk"):
        async with db.transaction() as tx:
            await MemberRepository(tx).upsert(GUILD + 1, 11, "ada")


async def test_event_create_pause_interval_delete(db: Database) -> None:
    await make_guild(db)
    events = EventRepository(db)
    e = await events.create(MSG, GUILD + 1, GUILD, "Weekly meeting", interval_minutes=30, required_reactions=["✅"])
    assert e.next_reminder_at == e.last_reminder + timedelta(minutes=30)
    assert (e.is_paused, e.required_reactions, e.claimed_by) == (False, ["✅"], None)
    assert await events.get_by_message_id(MSG) == e
    with pytest.raises(Conflict, match="events_message_id_unique"):
        async with db.transaction() as tx:
            await EventRepository(tx).create(MSG, GUILD + 1, GUILD, "again")
    with pytest.raises(ReferenceMissing, match="events_guild_fk"):
        async with db.transaction() as tx:
            await EventRepository(tx).create(MSG + 1, GUILD + 1, GUILD + 5, "no guild")
    for bad, where in [({"interval_minutes": 0}, "interval_minutes"), ({"required_reactions": ["✅", "✅"]}, "twice"),
                       ({"required_reactions": [""]}, "required_reactions")]:  # fmt: skip
        with pytest.raises(InvalidData, match=where):
            await events.create(MSG + 2, GUILD + 1, GUILD, "x", **bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidData, match="title"):
        await events.create(MSG + 2, GUILD + 1, GUILD, " ")
    assert (await events.pause(MSG)).is_paused is True
    assert (await events.pause(MSG)).is_paused is True  # a repeat is harmless
    assert (await events.resume(MSG)).is_paused is False
    longer = await events.set_interval(MSG, 120)
    assert longer.next_reminder_at == longer.last_reminder + timedelta(minutes=120)
    assert [x.id for x in await events.list_for_guild(GUILD)] == [e.id]
    with pytest.raises(NotFound, match=f"no event watches message {MSG + 9}"):
        await events.pause(MSG + 9)
    assert await events.delete(MSG) is True and await events.delete(MSG) is False


async def test_the_check_constraints_hold_against_sql_too(conn: asyncpg.Connection, db: Database) -> None:
    """A writer that bypasses the repository still cannot store what the rules forbid."""
    await make_guild(db)
    e = await make_due_event(db, MSG)
    for sql, constraint in [
        ("UPDATE discord_bot.events SET required_reactions = '[1, 2]' WHERE id = $1", "events_required_reactions_emoji_list"),
        ("UPDATE discord_bot.events SET required_reactions = '{\"a\": 1}' WHERE id = $1", "events_required_reactions_emoji_list"),
        ("UPDATE discord_bot.events SET interval_minutes = -5 WHERE id = $1", "events_interval_range"),
        ("UPDATE discord_bot.events SET claimed_by = 'w' WHERE id = $1", "events_claim_complete"),
        ("INSERT INTO discord_bot.reminder_logs (event_id, scheduled_at, worker, status) VALUES ($1, now(), 'w', 'sent')", "reminder_logs_sent_has_sent_at"),
        ("INSERT INTO discord_bot.reminder_logs (event_id, scheduled_at, worker, status) VALUES ($1, now(), 'w', 'lost')", "reminder_logs_status_valid"),
    ]:  # fmt: skip
        with pytest.raises(asyncpg.CheckViolationError, match=constraint):
            async with conn.transaction():
                await conn.execute(sql, e.id)


async def test_reactions_are_idempotent_and_decide_who_is_reminded(db: Database) -> None:
    await make_guild(db, members=3, bots=1)
    a, b, c = GUILD + 1000, GUILD + 1001, GUILD + 1002
    e = await make_due_event(db, MSG, required=["✅", "❌"])
    reactions = ReactionRepository(db)
    assert [m.user_id for m in await reactions.members_to_remind(e.id)] == [a, b, c]  # never the bot
    assert await reactions.add(MSG, a, "✅", T0) is True
    assert await reactions.add(MSG, a, "✅", T0) is False  # idempotent
    assert await reactions.add(MSG, a, "❌", T0) is True
    assert await reactions.add(MSG, b, "✅", T0) is True
    assert await reactions.add(MSG + 5, a, "✅", T0) is False  # no event watches that message
    remind = await reactions.members_to_remind(e.id)
    assert [(m.user_id, m.missing_reactions) for m in remind] == [(b, ["❌"]), (c, ["✅", "❌"])]
    assert await reactions.remove(MSG, a, "❌") is True
    assert await reactions.remove(MSG, a, "❌") is False
    assert [m.user_id for m in await reactions.members_to_remind(e.id)] == [a, b, c]
    assert [(r.user_id, r.emoji) for r in await reactions.list_for_event(e.id)] == [(a, "✅"), (b, "✅")]
    # with no required emoji, any reaction counts
    free = await make_due_event(db, MSG + 1)
    await reactions.add(MSG + 1, c, "🎉", T0)
    assert [m.user_id for m in await reactions.members_to_remind(free.id)] == [a, b]
    changed = await reactions.replace_for_event(e.id, [(c, "✅"), (c, "❌"), (c, "✅")], T0)
    assert (changed.added, changed.removed) == (2, 2)
    assert [m.user_id for m in await reactions.members_to_remind(e.id)] == [a, b]
    again = await reactions.replace_for_event(e.id, [(c, "✅"), (c, "❌")], T0)
    assert (again.added, again.removed) == (0, 0)


async def test_claim_send_record_once_per_interval(db: Database) -> None:
    await make_guild(db)
    e1 = await make_due_event(db, MSG, interval=60, overdue=timedelta(minutes=5))
    e2 = await make_due_event(db, MSG + 1, interval=60, overdue=timedelta(minutes=1))
    await make_due_event(db, MSG + 2, interval=60, overdue=timedelta(minutes=-10))  # not due yet
    paused = await make_due_event(db, MSG + 3)
    await EventRepository(db).pause(paused.message_id)
    reminders = ReminderRepository(db)
    assert [x.id for x in await EventRepository(db).list_due(T0)] == [e1.id, e2.id]
    assert await EventRepository(db).count_due(T0) == 2

    claimed = await reminders.claim_due("w1", limit=10, now=T0, lease_seconds=60)
    assert [c.event_id for c in claimed] == [e1.id, e2.id]  # the most overdue first; not the paused one
    assert claimed[0].scheduled_at == e1.next_reminder_at and claimed[0].claimed_until == T0 + timedelta(seconds=60)
    assert await reminders.claim_due("w2", limit=10, now=T0) == []  # leased to w1
    again = await reminders.claim_due("w1", limit=10, now=T0 + timedelta(seconds=1))
    assert [c.reminder_id for c in again] == [c.reminder_id for c in claimed]  # a repeat hands back the same

    log = await reminders.record_sent(claimed[0].reminder_id, "w1", 3, now=T0 + timedelta(seconds=2))
    assert (log.status, log.users_notified, log.worker) == ("sent", 3, "w1")
    assert await reminders.record_sent(claimed[0].reminder_id, "w1", 3, now=T0 + timedelta(seconds=3)) == log
    with pytest.raises(StateConflict, match="already sent by worker w1"):
        await reminders.record_sent(claimed[0].reminder_id, "w2", 3, now=T0 + timedelta(seconds=3))
    with pytest.raises(StateConflict, match="already sent"):
        await reminders.record_failed(claimed[0].reminder_id, "w1", "boom", now=T0 + timedelta(seconds=3))
    after = await EventRepository(db).get(e1.id)
    assert after is not None and after.last_reminder == T0 + timedelta(seconds=2) and after.claimed_by is None
    # the next reminder is one interval later, not before
    assert e1.id not in [x.id for x in await EventRepository(db).list_due(T0 + timedelta(minutes=59))]
    nxt = [c for c in await reminders.claim_due("w2", now=T0 + timedelta(minutes=60, seconds=3)) if c.event_id == e1.id]
    assert len(nxt) == 1 and nxt[0].reminder_id != claimed[0].reminder_id
    assert [h.status for h in await reminders.history(e1.id)] == ["pending", "sent"]

    # (w2's claim above took e2 too, its w1 lease having expired: w1 is refused, w2 records the failure)
    with pytest.raises(StateConflict, match="worker w2 holds it now"):
        await reminders.record_failed(
            claimed[1].reminder_id, "w1", "Missing Access", now=T0 + timedelta(minutes=60, seconds=4)
        )
    failed = await reminders.record_failed(
        claimed[1].reminder_id, "w2", "Missing Access", now=T0 + timedelta(minutes=60, seconds=5)
    )
    assert (failed.status, failed.error_message) == ("failed", "Missing Access")
    assert [f.event_id for f in await reminders.recent_failures()] == [e2.id]
    (stats,) = await reminders.stats(T0 - timedelta(days=1))
    assert (stats.guild_id, stats.sent, stats.failed, stats.users_notified, stats.failure_rate) == (GUILD, 1, 1, 3, 0.5)
    assert stats.last_error == "Missing Access"
    assert (await reminders.get(failed.id)) == failed
    with pytest.raises(NotFound, match="no reminder with id 0"):
        await reminders.record_sent(0, "w1", 1)


async def test_an_expired_lease_is_claimed_again_and_the_late_worker_is_refused(db: Database) -> None:
    """A worker that dies (or stalls) after claiming: after its lease another worker takes the same interval."""
    await make_guild(db)
    e = await make_due_event(db, MSG)
    reminders = ReminderRepository(db)
    (first,) = await reminders.claim_due("w1", now=T0, lease_seconds=30)
    assert await reminders.claim_due("w2", now=T0 + timedelta(seconds=29)) == []
    (second,) = await reminders.claim_due("w2", now=T0 + timedelta(seconds=31), lease_seconds=30)
    assert second.reminder_id == first.reminder_id and second.scheduled_at == first.scheduled_at  # same interval
    with pytest.raises(StateConflict, match="worker w2 holds it now"):
        await reminders.record_sent(first.reminder_id, "w1", 2, now=T0 + timedelta(seconds=32))
    sent = await reminders.record_sent(second.reminder_id, "w2", 2, now=T0 + timedelta(seconds=33))
    assert (sent.status, sent.worker) == ("sent", "w2")
    assert [h.status for h in await reminders.history(e.id)] == ["sent"]  # one log for the interval
    # a worker whose own lease expired is told so
    e2 = await make_due_event(db, MSG + 1)
    (c,) = await reminders.claim_due("w3", now=T0, lease_seconds=10)
    assert c.event_id == e2.id
    with pytest.raises(StateConflict, match="claim of worker w3 has expired"):
        await reminders.record_sent(c.reminder_id, "w3", 1, now=T0 + timedelta(seconds=11))


async def test_release_gives_back_unsent_claims(db: Database) -> None:
    await make_guild(db)
    await make_due_event(db, MSG)
    await make_due_event(db, MSG + 1)
    reminders = ReminderRepository(db)
    assert len(await reminders.claim_due("w1", now=T0)) == 2
    assert await reminders.release("w1") == 2
    assert await reminders.release("w1") == 0
    assert len(await reminders.claim_due("w2", now=T0)) == 2  # the same intervals, for another worker


async def test_integrity_check_is_clean_then_finds_what_was_broken(conn: asyncpg.Connection, db: Database) -> None:
    await make_guild(db)
    e = await make_due_event(db, MSG)
    await ReactionRepository(db).add(MSG, GUILD + 1000, "✅", T0)
    integrity = IntegrityRepository(db)
    checks = await integrity.check(T0)
    assert len(checks) == 12 and all(c.rows == 0 and c.examples == [] for c in checks), checks
    # Break it on purpose: drop the guards inside this test's transaction (rolled back at the end).
    await conn.execute("ALTER TABLE discord_bot.reactions DROP CONSTRAINT reactions_event_fk")
    await conn.execute("ALTER TABLE discord_bot.reminder_logs DROP CONSTRAINT reminder_logs_event_fk")
    other = await make_due_event(db, MSG + 1)
    await conn.execute("ALTER TABLE discord_bot.events DISABLE TRIGGER events_set_next_reminder_at")
    await conn.execute("UPDATE discord_bot.events SET interval_minutes = 5 WHERE id = $1", other.id)
    await conn.execute(
        "UPDATE discord_bot.events SET last_reminder = $2 WHERE id = $1", other.id, T0 + timedelta(days=2)
    )
    await conn.execute(
        "INSERT INTO discord_bot.reminder_logs (event_id, scheduled_at, worker, status, sent_at) VALUES ($1, $2, 'w', 'sent', $3)",
        other.id, T0, T0 + timedelta(days=3),
    )  # fmt: skip
    await conn.execute("DELETE FROM discord_bot.events WHERE id = $1", e.id)  # its reaction and logs stay behind
    await conn.execute(
        "INSERT INTO discord_bot.reminder_logs (event_id, scheduled_at, worker) VALUES ($1, $2, 'w')", e.id, T0
    )
    found = {c.problem: c for c in await integrity.check(T0) if c.rows}
    assert set(found) == {"reactions_without_event", "reminders_without_event", "next_reminder_wrong",
                          "last_reminder_in_future", "event_behind_its_log"}, found  # fmt: skip
    assert found["reactions_without_event"].examples == [f"{e.id}/{GUILD + 1000}/✅"]
    assert found["next_reminder_wrong"].examples == [str(MSG + 1)]

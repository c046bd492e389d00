from __future__ import annotations

from datetime import UTC, datetime, timedelta

from datalayer import Database
from datalayer.discord_bot import Event, EventRepository, GuildRepository, MemberRepository

GUILD = 1_170_000_000_000_000_001
T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


async def make_guild(db: Database, guild_id: int = GUILD, members: int = 3, bots: int = 1) -> None:
    await GuildRepository(db).upsert(guild_id, "Test guild")
    people = [(guild_id + 1000 + i, f"member{i}", False) for i in range(members)]
    people += [(guild_id + 9000 + i, f"bot{i}", True) for i in range(bots)]
    await MemberRepository(db).upsert_many(guild_id, people)


async def make_due_event(
    db: Database, message_id: int, *, guild_id: int = GUILD, interval: int = 60, overdue: timedelta = timedelta(minutes=1),
    required: list[str] | None = None, now: datetime = T0,
) -> Event:  # fmt: skip
    """An event whose reminder is due at `now` (it was last reminded one interval + `overdue` earlier)."""
    from datalayer.discord_bot import UpsertEventParams

    last = now - timedelta(minutes=interval) - overdue
    written = await EventRepository(db).upsert(
        UpsertEventParams(
            message_id=message_id, channel_id=guild_id + 1, guild_id=guild_id, title=f"event {message_id}",
            interval_minutes=interval, last_reminder=last, required_reactions=required or [], created_at=last,
        )
    )  # fmt: skip
    event = await EventRepository(db).get(written.id)
    assert event is not None
    return event

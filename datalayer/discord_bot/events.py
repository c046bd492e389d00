"""Aggregate `events` (queries/discord_bot/events.sql): messages whose reactions the bot watches.

An event is due when it is not paused and `next_reminder_at` (last reminder + interval, kept by a trigger)
has come; `reminders.ReminderRepository.claim_due` hands due events to workers.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from pydantic import Field, field_validator

from datalayer import queries as q
from datalayer.discord_bot.guilds import SNOWFLAKE
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment

TITLE = Field(min_length=1, max_length=256, pattern=r"\S")
DESCRIPTION = Field(default=None, max_length=4096)
INTERVAL = Field(default=1440, gt=0, le=525_600)
EMOJI_LIST: Any = Field(default_factory=list, max_length=20)


def check_emoji(value: list[str]) -> list[str]:
    if any(not e or len(e) > 100 for e in value):
        raise ValueError("each required reaction is an emoji of 1-100 characters")
    if len(set(value)) != len(value):
        raise ValueError("an emoji appears twice in required_reactions")
    return value


class Event(Row):
    id: int
    message_id: int
    channel_id: int
    guild_id: int
    title: str
    description: str | None
    interval_minutes: int
    is_paused: bool
    last_reminder: datetime
    next_reminder_at: datetime
    required_reactions: list[str]
    claimed_by: str | None
    claimed_until: datetime | None
    created_at: datetime
    updated_at: datetime


class CreateEventParams(Params):
    message_id: int = SNOWFLAKE
    channel_id: int = SNOWFLAKE
    guild_id: int = SNOWFLAKE
    title: str = TITLE
    description: str | None = DESCRIPTION
    interval_minutes: int = INTERVAL
    required_reactions: list[str] = EMOJI_LIST

    _emoji = field_validator("required_reactions")(check_emoji)


class UpsertEventParams(Params):
    message_id: int = SNOWFLAKE
    channel_id: int = SNOWFLAKE
    guild_id: int = SNOWFLAKE
    title: str = TITLE
    description: str | None = DESCRIPTION
    interval_minutes: int = INTERVAL
    is_paused: bool = False
    last_reminder: Moment | None  # None: the source does not say (new: created_at; existing: kept)
    required_reactions: list[str] = EMOJI_LIST
    created_at: Moment | None  # None: the source does not say (new: first_seen; existing: kept)
    first_seen: Moment | None = None  # a new event's created_at when the source gives none (None: now)

    _emoji = field_validator("required_reactions")(check_emoji)


class UpsertEventRow(Row):
    id: int
    inserted: bool
    changed: bool


class ListGuildEventsParams(Params):
    guild_id: int = SNOWFLAKE
    limit: int = Field(default=100, ge=1, le=10_000)


class SetEventPausedParams(Params):
    message_id: int = SNOWFLAKE
    is_paused: bool


class SetEventIntervalParams(Params):
    message_id: int = SNOWFLAKE
    interval_minutes: int = INTERVAL


class ListDueEventsParams(Params):
    now: Moment
    limit: int = Field(ge=1, le=10_000)


_CREATE_EVENT = q.one("discord_bot.create_event", Event, CreateEventParams, retry=False)
_UPSERT_EVENT = q.one("discord_bot.upsert_event", UpsertEventRow, UpsertEventParams, retry=True)
_GET_EVENT = q.one("discord_bot.get_event", Event, (int,))
_GET_BY_MESSAGE = q.one("discord_bot.get_event_by_message_id", Event, (int,))
_LIST_GUILD_EVENTS = q.many("discord_bot.list_guild_events", Event, ListGuildEventsParams)
_SET_PAUSED = q.one("discord_bot.set_event_paused", Event, SetEventPausedParams, retry=True)
_SET_INTERVAL = q.one("discord_bot.set_event_interval", Event, SetEventIntervalParams, retry=True)
_DELETE_EVENT = q.value("discord_bot.delete_event", bool, (int,), retry=True)
_LIST_DUE = q.many("discord_bot.list_due_events", Event, ListDueEventsParams)
_COUNT_DUE = q.value("discord_bot.count_due_events", int, (datetime,))


def now_or(now: datetime | None) -> datetime:
    return datetime.now(UTC) if now is None else now


class EventRepository(Repository):
    async def create(
        self,
        message_id: int,
        channel_id: int,
        guild_id: int,
        title: str,
        *,
        description: str | None = None,
        interval_minutes: int = 1440,
        required_reactions: list[str] | None = None,
    ) -> Event:
        """Start watching a message; the first reminder is due one interval from now. Conflict when the
        message is already watched; ReferenceMissing when the guild is not stored. Not retry-safe (a repeat
        raises Conflict): after `Unavailable`, look it up with `get_by_message_id`."""
        p = params(
            CreateEventParams, message_id=message_id, channel_id=channel_id, guild_id=guild_id, title=title,
            description=description, interval_minutes=interval_minutes, required_reactions=required_reactions or [],
        )  # fmt: skip
        row = await self._x.one(_CREATE_EVENT, p)
        assert row is not None
        return row

    async def upsert(self, p: UpsertEventParams) -> UpsertEventRow:
        """Store an event with every field given (import, seed): inserted when new, else set to these
        values, except that `last_reminder` never moves back (an older snapshot must not make an event due
        again after a reminder was sent) and a `created_at` or `last_reminder` of None keeps what is stored
        (a new event takes `first_seen`); `changed` is False when it already had them. Retry-safe."""
        return await self._settled(_UPSERT_EVENT, p)

    async def get(self, event_id: int) -> Event | None:
        return await self._x.one(_GET_EVENT, event_id)

    async def get_by_message_id(self, message_id: int) -> Event | None:
        return await self._x.one(_GET_BY_MESSAGE, message_id)

    async def list_for_guild(self, guild_id: int, limit: int = 100) -> list[Event]:
        return await self._x.many(_LIST_GUILD_EVENTS, params(ListGuildEventsParams, guild_id=guild_id, limit=limit))

    async def pause(self, message_id: int) -> Event:
        """Pause: the event is not due until resumed. Retry-safe."""
        p = params(SetEventPausedParams, message_id=message_id, is_paused=True)
        return found(await self._x.one(_SET_PAUSED, p), f"no event watches message {message_id}")

    async def resume(self, message_id: int) -> Event:
        """Resume: due again one interval after its last reminder (at once if that has passed). Retry-safe."""
        p = params(SetEventPausedParams, message_id=message_id, is_paused=False)
        return found(await self._x.one(_SET_PAUSED, p), f"no event watches message {message_id}")

    async def set_interval(self, message_id: int, interval_minutes: int) -> Event:
        """Change the interval; the next reminder becomes last reminder + the new interval. Retry-safe."""
        p = params(SetEventIntervalParams, message_id=message_id, interval_minutes=interval_minutes)
        return found(await self._x.one(_SET_INTERVAL, p), f"no event watches message {message_id}")

    async def delete(self, message_id: int) -> bool:
        """Stop watching a message; its reactions and reminder log go with it. False when it was not watched.
        Retry-safe."""
        return await self._x.value(_DELETE_EVENT, message_id)

    async def list_due(self, now: datetime | None = None, limit: int = 100) -> list[Event]:
        """Events due at `now` (default: this machine's clock), claimed or not; a read, not a claim."""
        return await self._x.many(_LIST_DUE, params(ListDueEventsParams, now=now_or(now), limit=limit))

    async def count_due(self, now: datetime | None = None) -> int:
        return await self._x.value(_COUNT_DUE, now_or(now))

"""Aggregate `system_state` (queries/twitter_bot/system_state.sql): named JSON values that replace the bot's
state files — last_tweet_id, counters."""

from __future__ import annotations

from datetime import datetime

from pydantic import JsonValue

from datalayer import queries as q
from datalayer.cache import Cached
from datalayer.repository import Repository, Row


class SystemState(Row):
    key: str
    value: JsonValue
    updated_at: datetime


# The bot reads these on every poll and they change rarely: cached for 60 s. Tags: one per key, plus one for
# the whole table (the list); every statement that writes system_state invalidates the key it writes and the
# table (here; a translation-cache miss no longer writes system_state: migration 0021).
ALL = "twitter_bot.system_state"


def key_tag(key: object) -> str:
    return f"{ALL}:{key}"


def written(args: tuple[object, ...]) -> tuple[str, ...]:
    """The tags a write of key `args[0]` invalidates."""
    return (key_tag(args[0]), ALL)


_LAST_TWEET = (key_tag("last_tweet_id"), ALL)
_GET_STATE = q.one(
    "twitter_bot.get_system_state", SystemState, (str,), cache=Cached(ttl=60, tags=lambda a: (key_tag(a[0]),))
)
_SET_STATE = q.one("twitter_bot.set_system_state", SystemState, (str, JsonValue), retry=True, invalidates=written)
_DELETE_STATE = q.value("twitter_bot.delete_system_state", str, (str,), retry=True, invalidates=written)
_LIST_STATE = q.many("twitter_bot.list_system_state", SystemState, cache=Cached(ttl=60, tags=(ALL,)))
_ADVANCE_LAST_TWEET_ID = q.value("twitter_bot.advance_last_tweet_id", int, (int,), retry=True, invalidates=_LAST_TWEET)
_GET_LAST_TWEET_ID = q.value("twitter_bot.get_last_tweet_id", int, cache=Cached(ttl=60, tags=_LAST_TWEET[:1]))
_INCREMENT_COUNTER = q.value("twitter_bot.increment_counter", int, (str, int), retry=False, invalidates=written)


class SystemStateRepository(Repository):
    """Reads are cached (60 s; invalidated by every write through this layer, after it commits)."""

    async def get(self, key: str) -> SystemState | None:
        return await self._x.one(_GET_STATE, key)

    async def set(self, key: str, value: JsonValue) -> SystemState:
        """Insert or replace a value. Retry-safe: setting the same value twice leaves the same row."""
        row = await self._x.one(_SET_STATE, key, value)
        assert row is not None  # INSERT … RETURNING always returns the row
        return row

    async def delete(self, key: str) -> bool:
        """Delete a value; False when there was none. Retry-safe (a repeat deletes nothing more)."""
        return await self._x.value(_DELETE_STATE, key) is not None

    async def list(self) -> list[SystemState]:
        return await self._x.many(_LIST_STATE)

    async def advance_last_tweet_id(self, tweet_id: int) -> int:
        """Store tweet_id unless a larger one is stored; returns the id now stored. Retry-safe (monotonic)."""
        return await self._x.value(_ADVANCE_LAST_TWEET_ID, tweet_id)

    async def last_tweet_id(self) -> int | None:
        return await self._x.value(_GET_LAST_TWEET_ID)

    async def increment(self, key: str, amount: int = 1) -> int:
        """Add `amount` to a counter; returns the new value. Not retry-safe: a repeat adds again."""
        return await self._x.value(_INCREMENT_COUNTER, key, amount)

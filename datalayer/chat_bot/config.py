"""Aggregate `config` (queries/chat_bot/config.sql): runtime configuration with its history.

`get` is a hot read (the bot asks on every message): cached for 30 s per key and invalidated by `set` and
`rollback_to`, after their transaction commits. `set` writes the value and its history row in one statement,
and only when the value changes (a repeat writes nothing)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, JsonValue

from datalayer import queries as q
from datalayer.cache import Cached
from datalayer.errors import InvalidData
from datalayer.repository import Params, Repository, Row, found, params

KEY = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=200)


def key_tag(key: object) -> str:
    return f"chat_bot.config:{key}"


class ConfigEntry(Row):
    key: str
    value: JsonValue
    description: str | None
    updated_by: str | None
    updated_at: datetime


class ConfigChange(Row):
    id: int
    key: str
    old_value: JsonValue | None
    new_value: JsonValue
    change_reason: str
    changed_by: str | None
    changed_at: datetime


class SetConfigValueParams(Params):
    key: str = KEY
    value: JsonValue
    description: str | None = None
    change_reason: str = Field(min_length=1, max_length=500, pattern=r"\S")
    changed_by: str | None = Field(default=None, max_length=200)


class ListConfigHistoryParams(Params):
    key: str = KEY
    limit: int = Field(default=50, ge=1, le=10_000)


def _written(args: tuple[object, ...]) -> tuple[str, ...]:
    (p,) = args
    assert isinstance(p, SetConfigValueParams)
    return (key_tag(p.key), "chat_bot.config")


_GET = q.one("chat_bot.get_config_value", ConfigEntry, (str,), cache=Cached(ttl=30, tags=lambda a: (key_tag(a[0]),)))
_LIST = q.many("chat_bot.list_config_values", ConfigEntry, cache=Cached(ttl=30, tags=("chat_bot.config",)))
_SET = q.one("chat_bot.set_config_value", ConfigEntry, SetConfigValueParams, retry=True, invalidates=_written)
_HISTORY = q.many("chat_bot.list_config_history", ConfigChange, ListConfigHistoryParams)
_ENTRY = q.one("chat_bot.get_config_history_entry", ConfigChange, (int,))


class ConfigRepository(Repository):
    async def get(self, key: str) -> ConfigEntry | None:
        """One entry (cached 30 s; every set invalidates it)."""
        return await self._x.one(_GET, key)

    async def get_config_value(self, key: str, default: JsonValue = None) -> JsonValue:
        """The seed's call: the value of `key`, or `default` when it is not set."""
        entry = await self.get(key)
        return default if entry is None else entry.value

    async def all(self) -> list[ConfigEntry]:
        return await self._x.many(_LIST)

    async def set_config_value(
        self, key: str, value: JsonValue, change_reason: str, *, changed_by: str | None = None,
        description: str | None = None,
    ) -> ConfigEntry:  # fmt: skip
        """The seed's call: set a value, writing its history row in the same statement. Retry-safe: setting the
        value it already has writes nothing."""
        p = params(SetConfigValueParams, key=key, value=value, description=description, change_reason=change_reason,
                   changed_by=changed_by)  # fmt: skip
        row = await self._x.one(_SET, p)
        assert row is not None
        return row

    async def history(self, key: str, limit: int = 50) -> list[ConfigChange]:
        """A key's changes, newest first."""
        return await self._x.many(_HISTORY, params(ListConfigHistoryParams, key=key, limit=limit))

    async def rollback_to(self, change_id: int, change_reason: str, *, changed_by: str | None = None) -> ConfigEntry:
        """Set a key back to the value an earlier change gave it (itself a change, with its history row).
        Retry-safe."""
        change = found(await self._x.one(_ENTRY, change_id), f"no configuration change {change_id}")
        if change.new_value is None and change.old_value is None:
            raise InvalidData(f"change {change_id} has no value to roll back to")
        return await self.set_config_value(change.key, change.new_value, change_reason, changed_by=changed_by)

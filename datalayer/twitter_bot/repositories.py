"""Repositories of schema `twitter_bot`, one per aggregate; SQL lives in queries/twitter_bot/."""

from __future__ import annotations

from pydantic import JsonValue

from datalayer import queries as q
from datalayer.repository import Repository
from datalayer.twitter_bot.models import SystemState

_GET_STATE = q.one("twitter_bot.get_system_state", SystemState)
_SET_STATE = q.one("twitter_bot.set_system_state", SystemState)
_DELETE_STATE = q.value("twitter_bot.delete_system_state", str)
_LIST_STATE = q.many("twitter_bot.list_system_state", SystemState)


class SystemStateRepository(Repository):
    """Named JSON values that replace the bot's state files."""

    async def get(self, key: str) -> SystemState | None:
        return await self._x.one(_GET_STATE, key)

    async def set(self, key: str, value: JsonValue) -> SystemState:
        row = await self._x.one(_SET_STATE, key, value)
        assert row is not None  # INSERT … RETURNING always returns the row
        return row

    async def delete(self, key: str) -> bool:
        return await self._x.value(_DELETE_STATE, key) is not None

    async def list(self) -> list[SystemState]:
        return await self._x.many(_LIST_STATE)

"""Aggregate `guilds` (queries/discord_bot/guilds.sql): the Discord servers the bot is in, and their settings."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, JsonValue

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, found, params

SNOWFLAKE = Field(gt=0, lt=2**63)
NAME = Field(min_length=1, max_length=100, pattern=r"\S")


class Guild(Row):
    guild_id: int
    name: str
    settings: dict[str, JsonValue]
    created_at: datetime
    updated_at: datetime


class UpsertGuildParams(Params):
    guild_id: int = SNOWFLAKE
    name: str = NAME


class UpdateGuildSettingsParams(Params):
    guild_id: int = SNOWFLAKE
    patch: dict[str, JsonValue]


_UPSERT_GUILD = q.one("discord_bot.upsert_guild", Guild, UpsertGuildParams, retry=True)
_GET_GUILD = q.one("discord_bot.get_guild", Guild, (int,))
_UPDATE_SETTINGS = q.one("discord_bot.update_guild_settings", Guild, UpdateGuildSettingsParams, retry=True)
_DELETE_GUILD = q.value("discord_bot.delete_guild", bool, (int,), retry=True)


class GuildRepository(Repository):
    async def upsert(self, guild_id: int, name: str) -> Guild:
        """Store a guild, or rename it; its settings are kept. Retry-safe."""
        return await self._settled(_UPSERT_GUILD, params(UpsertGuildParams, guild_id=guild_id, name=name))

    async def get(self, guild_id: int) -> Guild | None:
        return await self._x.one(_GET_GUILD, guild_id)

    async def update_settings(self, guild_id: int, patch: dict[str, JsonValue]) -> Guild:
        """Merge `patch` into the guild's settings key by key (a key set to None is removed). Retry-safe:
        merging the same patch again changes nothing."""
        p = params(UpdateGuildSettingsParams, guild_id=guild_id, patch=patch)
        return found(await self._x.one(_UPDATE_SETTINGS, p), f"no guild {guild_id}")

    async def delete(self, guild_id: int) -> bool:
        """Delete a guild with its members, events, reactions and reminder log; False when it was not stored.
        Retry-safe."""
        return await self._x.value(_DELETE_GUILD, guild_id)

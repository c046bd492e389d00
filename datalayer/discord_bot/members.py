"""Aggregate `members` (queries/discord_bot/members.sql): users as members of one guild."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from datalayer import queries as q
from datalayer.discord_bot.guilds import NAME, SNOWFLAKE
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment


class Member(Row):
    guild_id: int
    user_id: int
    username: str
    is_bot: bool
    last_seen: datetime | None
    created_at: datetime
    updated_at: datetime


class UpsertMemberParams(Params):
    guild_id: int = SNOWFLAKE
    user_id: int = SNOWFLAKE
    username: str = NAME
    is_bot: bool = False


class UpsertMembersParams(Params):
    """One guild's members, as three parallel lists of equal length."""

    guild_id: int = SNOWFLAKE
    user_ids: list[int] = Field(max_length=100_000)
    usernames: list[str]
    is_bots: list[bool]

    @model_validator(mode="after")
    def _same_lengths(self) -> UpsertMembersParams:
        if not len(self.user_ids) == len(self.usernames) == len(self.is_bots):
            raise ValueError("user_ids, usernames and is_bots must have the same length")
        if any(not 0 < u < 2**63 for u in self.user_ids):
            raise ValueError("user ids are positive 64-bit integers")
        if any(not n.strip() or len(n) > 100 for n in self.usernames):
            raise ValueError("usernames are 1-100 characters and not only spaces")
        if len(set(self.user_ids)) != len(self.user_ids):
            raise ValueError("a user id appears twice")
        return self


class TouchMemberParams(Params):
    guild_id: int = SNOWFLAKE
    user_id: int = SNOWFLAKE
    seen_at: Moment


_UPSERT_MEMBER = q.one("discord_bot.upsert_member", Member, UpsertMemberParams, retry=True)
_UPSERT_MEMBERS = q.value("discord_bot.upsert_members", int, UpsertMembersParams, retry=True)
_GET_MEMBER = q.one("discord_bot.get_member", Member, (int, int))
_TOUCH_MEMBER = q.one("discord_bot.touch_member", Member, TouchMemberParams, retry=True)
_COUNT_MEMBERS = q.value("discord_bot.count_members", int, (int,))


class MemberRepository(Repository):
    async def upsert(self, guild_id: int, user_id: int, username: str, is_bot: bool = False) -> Member:
        """Store a member, or update its username and bot flag. Retry-safe."""
        p = params(UpsertMemberParams, guild_id=guild_id, user_id=user_id, username=username, is_bot=is_bot)
        return await self._settled(_UPSERT_MEMBER, p)

    async def upsert_many(self, guild_id: int, members: list[tuple[int, str, bool]]) -> int:
        """Store (user_id, username, is_bot) members of one guild in one statement, e.g. a guild sync on
        startup; returns the rows written (unchanged rows are left alone). Retry-safe."""
        p = params(
            UpsertMembersParams,
            guild_id=guild_id,
            user_ids=[m[0] for m in members],
            usernames=[m[1] for m in members],
            is_bots=[m[2] for m in members],
        )
        return await self._x.value(_UPSERT_MEMBERS, p)

    async def get(self, guild_id: int, user_id: int) -> Member | None:
        return await self._x.one(_GET_MEMBER, guild_id, user_id)

    async def touch(self, guild_id: int, user_id: int, seen_at: datetime) -> Member:
        """Record activity; last_seen never moves backwards. Retry-safe."""
        p = params(TouchMemberParams, guild_id=guild_id, user_id=user_id, seen_at=seen_at)
        return found(await self._x.one(_TOUCH_MEMBER, p), f"no member {user_id} in guild {guild_id}")

    async def count(self, guild_id: int) -> int:
        """Members of the guild that are not bots."""
        return await self._x.value(_COUNT_MEMBERS, guild_id)

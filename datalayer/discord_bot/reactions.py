"""Aggregate `reactions` (queries/discord_bot/reactions.sql): who reacted to an event with which emoji, and
who still has to be reminded."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, model_validator

from datalayer import queries as q
from datalayer.discord_bot.events import now_or
from datalayer.discord_bot.guilds import SNOWFLAKE
from datalayer.repository import Params, Repository, Row, params
from datalayer.validation import Moment

EMOJI = Field(min_length=1, max_length=100)


class Reaction(Row):
    event_id: int
    user_id: int
    emoji: str
    reacted_at: datetime


class ReactionChangeRow(Row):
    """`watched`: an event watches the message; `changed`: the call added (or removed) the reaction."""

    watched: bool
    changed: bool


class AddReactionParams(Params):
    message_id: int = SNOWFLAKE
    user_id: int = SNOWFLAKE
    emoji: str = EMOJI
    reacted_at: Moment


class RemoveReactionParams(Params):
    message_id: int = SNOWFLAKE
    user_id: int = SNOWFLAKE
    emoji: str = EMOJI


class ReplaceEventReactionsParams(Params):
    event_id: int
    user_ids: list[int]
    emojis: list[str]
    reacted_at: Moment

    @model_validator(mode="after")
    def _pairs(self) -> ReplaceEventReactionsParams:
        if len(self.user_ids) != len(self.emojis):
            raise ValueError("user_ids and emojis must have the same length")
        if any(not 0 < u < 2**63 for u in self.user_ids) or any(not e or len(e) > 100 for e in self.emojis):
            raise ValueError("user ids are positive 64-bit integers and emoji 1-100 characters")
        return self


class ReplaceEventReactionsRow(Row):
    added: int
    removed: int


class MemberToRemindRow(Row):
    user_id: int
    username: str
    missing_reactions: list[str]


_ADD_REACTION = q.one("discord_bot.add_reaction", ReactionChangeRow, AddReactionParams, retry=True)
_REMOVE_REACTION = q.one("discord_bot.remove_reaction", ReactionChangeRow, RemoveReactionParams, retry=True)
_REPLACE_REACTIONS = q.one(
    "discord_bot.replace_event_reactions", ReplaceEventReactionsRow, ReplaceEventReactionsParams, retry=True
)
_LIST_REACTIONS = q.many("discord_bot.list_reactions", Reaction, (int,))
_LIST_TO_REMIND = q.many("discord_bot.list_members_to_remind", MemberToRemindRow, (int,))


class ReactionRepository(Repository):
    async def add(self, message_id: int, user_id: int, emoji: str, reacted_at: datetime | None = None) -> bool:
        """Record a reaction to a watched message; True when it was new, False when it was already there or
        no event watches the message. Retry-safe (idempotent)."""
        p = params(
            AddReactionParams, message_id=message_id, user_id=user_id, emoji=emoji, reacted_at=now_or(reacted_at)
        )
        row = await self._x.one(_ADD_REACTION, p)
        assert row is not None
        return row.changed

    async def remove(self, message_id: int, user_id: int, emoji: str) -> bool:
        """Forget a removed reaction; True when there was one. Retry-safe (idempotent)."""
        row = await self._x.one(
            _REMOVE_REACTION, params(RemoveReactionParams, message_id=message_id, user_id=user_id, emoji=emoji)
        )
        assert row is not None
        return row.changed

    async def replace_for_event(
        self, event_id: int, pairs: list[tuple[int, str]], reacted_at: datetime | None = None
    ) -> ReplaceEventReactionsRow:
        """Make an event's reactions exactly these (user_id, emoji) pairs: missing ones added (at
        `reacted_at`), others removed. Retry-safe: a repeat finds nothing to change."""
        p = params(
            ReplaceEventReactionsParams, event_id=event_id, user_ids=[u for u, _ in pairs],
            emojis=[e for _, e in pairs], reacted_at=now_or(reacted_at),
        )  # fmt: skip
        row = await self._x.one(_REPLACE_REACTIONS, p)
        assert row is not None
        return row

    async def list_for_event(self, event_id: int) -> list[Reaction]:
        return await self._x.many(_LIST_REACTIONS, event_id)

    async def members_to_remind(self, event_id: int) -> list[MemberToRemindRow]:
        """The guild's non-bot members who have not reacted with every required emoji (with none required:
        who have not reacted at all), each with the emoji it still lacks."""
        return await self._x.many(_LIST_TO_REMIND, event_id)

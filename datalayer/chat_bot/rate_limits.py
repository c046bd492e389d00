"""Aggregate `rate_limits` (queries/chat_bot/rate_limits.sql): limits per activity type, for everyone and
(optionally stricter or looser) for premium users, and the one-query check."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from datalayer import queries as q
from datalayer.chat_bot.activities import ACTIVITY
from datalayer.repository import Params, Repository, Row, params
from datalayer.validation import Moment


class RateLimitConfig(Row):
    name: str
    activity_type: str
    applies_to: str
    max_events: int
    window_seconds: int
    is_active: bool


class UpsertRateLimitParams(Params):
    name: str = Field(pattern=r"^[a-z][a-z0-9_.]{1,63}$")
    activity_type: str = ACTIVITY
    applies_to: Literal["everyone", "premium"] = "everyone"
    max_events: int = Field(ge=1, lt=2**31)
    window_seconds: int = Field(ge=1, le=86_400)
    is_active: bool = True


class CheckChatRateLimitParams(Params):
    user_id: int
    activity_type: str = ACTIVITY
    now: Moment


class ChatRateLimitRow(Row):
    """The limit that applies and whether one more event fits; `retry_after_seconds` when it does not."""

    limit_name: str
    max_events: int
    window_seconds: int
    used: int
    allowed: bool
    retry_after_seconds: float


_UPSERT = q.one("chat_bot.upsert_rate_limit", RateLimitConfig, UpsertRateLimitParams, retry=True)
_CHECK = q.one("chat_bot.check_chat_rate_limit", ChatRateLimitRow, CheckChatRateLimitParams)


class RateLimitRepository(Repository):
    async def upsert(self, p: UpsertRateLimitParams) -> RateLimitConfig:
        """Define or change a limit. Retry-safe."""
        row = await self._x.one(_UPSERT, p)
        assert row is not None
        return row

    async def check(self, user_id: int, activity_type: str, now: datetime | None = None) -> ChatRateLimitRow | None:
        """Which limit applies to the user for `activity_type` and whether one more event fits; None when no
        limit applies (or the user is unknown). One query, whose count stops at the limit."""
        p = params(CheckChatRateLimitParams, user_id=user_id, activity_type=activity_type, now=now or datetime.now(UTC))
        return await self._x.one(_CHECK, p)

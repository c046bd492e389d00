"""Aggregate `activities` (queries/chat_bot/activities.sql): what users did; rate limits count these."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field, JsonValue

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment

ACTIVITY = Field(pattern=r"^[a-z][a-z0-9_.]{1,63}$")


class UserActivity(Row):
    id: int
    user_id: int
    activity_type: str
    details: dict[str, JsonValue]
    occurred_at: datetime


class RecordActivityParams(Params):
    user_id: int
    activity_type: str = ACTIVITY
    details: dict[str, JsonValue] = Field(default_factory=dict)
    occurred_at: Moment


class ListUserActivitiesParams(Params):
    user_id: int
    limit: int = Field(ge=1, le=10_000)


_RECORD = q.one("chat_bot.record_activity", UserActivity, RecordActivityParams, retry=False)
_LIST = q.many("chat_bot.list_user_activities", UserActivity, ListUserActivitiesParams)


class ActivityRepository(Repository):
    async def record(
        self, user_id: int, activity_type: str, details: dict[str, JsonValue] | None = None, at: datetime | None = None
    ) -> UserActivity:
        """Record an activity and touch the user's last activity. Not retry-safe (a repeat records it twice)."""
        p = params(RecordActivityParams, user_id=user_id, activity_type=activity_type, details=details or {},
                   occurred_at=at or datetime.now(UTC))  # fmt: skip
        return found(await self._x.one(_RECORD, p), f"no user {user_id}")

    async def list_for_user(self, user_id: int, limit: int = 100) -> list[UserActivity]:
        return await self._x.many(_LIST, params(ListUserActivitiesParams, user_id=user_id, limit=limit))

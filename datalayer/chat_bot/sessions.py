"""Aggregate `sessions` (queries/chat_bot/sessions.sql): a user's sessions, which expire when idle."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from datalayer import queries as q
from datalayer.errors import StateConflict
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment


def _now() -> datetime:
    return datetime.now(UTC)


class ConversationSession(Row):
    id: int
    user_id: int
    status: str
    started_at: datetime
    last_activity_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    idle_timeout_seconds: int


class StartSessionParams(Params):
    user_id: int
    idle_timeout_seconds: int = Field(ge=1, le=30 * 86_400)
    at: Moment


class SessionAtParams(Params):
    id: int
    at: Moment


class ActiveSessionParams(Params):
    user_id: int
    now: Moment


_START = q.one("chat_bot.start_session", ConversationSession, StartSessionParams, retry=False)
_TOUCH = q.one("chat_bot.touch_session", ConversationSession, SessionAtParams, retry=True)
_EXPIRE = q.value("chat_bot.expire_idle_sessions", int, (datetime,), retry=True)
_CLOSE = q.one("chat_bot.close_session", ConversationSession, SessionAtParams, retry=True)
_ACTIVE = q.one("chat_bot.get_active_session", ConversationSession, ActiveSessionParams)


class SessionRepository(Repository):
    async def start(
        self, user_id: int, idle_timeout_seconds: int = 1800, *, at: datetime | None = None
    ) -> ConversationSession:
        """Start a session. Not retry-safe (a repeat starts a second one): after `Unavailable`, use `active`."""
        p = params(StartSessionParams, user_id=user_id, idle_timeout_seconds=idle_timeout_seconds, at=at or _now())
        row = await self._x.one(_START, p)
        assert row is not None
        return row

    async def touch(self, session_id: int, at: datetime | None = None) -> ConversationSession:
        """Record activity: the session's expiry moves on. StateConflict when it has expired or closed (start a
        new one). Retry-safe."""
        row = found(
            await self._x.one(_TOUCH, params(SessionAtParams, id=session_id, at=at or _now())),
            f"no session {session_id}",
        )
        if row.status != "active" or (row.expires_at <= (at or _now())):
            raise StateConflict(
                f"session {session_id} is {row.status if row.status != 'active' else 'expired'}; start a new one"
            )
        return row

    async def expire_idle(self, now: datetime | None = None) -> int:
        """Expire every active session idle longer than its timeout, in one statement. Retry-safe."""
        return await self._x.value(_EXPIRE, now or _now())

    async def close(self, session_id: int, at: datetime | None = None) -> ConversationSession:
        """Close an active session. Retry-safe (a repeat returns it closed)."""
        return found(
            await self._x.one(_CLOSE, params(SessionAtParams, id=session_id, at=at or _now())),
            f"no session {session_id}",
        )

    async def active(self, user_id: int, now: datetime | None = None) -> ConversationSession | None:
        """The user's newest active, unexpired session."""
        return await self._x.one(_ACTIVE, params(ActiveSessionParams, user_id=user_id, now=now or _now()))

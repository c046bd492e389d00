"""Aggregate `security` (queries/chat_bot/security.sql): security incidents, open until resolved."""

from __future__ import annotations

from datetime import UTC, datetime
from ipaddress import IPv4Address, IPv6Address
from typing import Literal

from pydantic import Field, JsonValue

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment


class SecurityEvent(Row):
    id: int
    user_id: int | None
    event_type: str
    severity: str
    source_ip: IPv4Address | IPv6Address | None
    details: dict[str, JsonValue]
    occurred_at: datetime
    resolved_at: datetime | None


class RecordSecurityEventParams(Params):
    user_id: int | None = None
    event_type: str = Field(pattern=r"^[a-z][a-z0-9_.]{1,99}$")
    severity: Literal["low", "medium", "high", "critical"]
    source_ip: IPv4Address | IPv6Address | None = None
    details: dict[str, JsonValue] = Field(default_factory=dict)
    occurred_at: Moment = Field(default_factory=lambda: datetime.now(UTC))


class ListSecurityEventsParams(Params):
    since: Moment
    until: Moment
    limit: int = Field(default=100, ge=1, le=10_000)


class ResolveSecurityEventParams(Params):
    id: int
    at: Moment


_RECORD = q.one("chat_bot.record_security_event", SecurityEvent, RecordSecurityEventParams, retry=False)
_BETWEEN = q.many("chat_bot.list_security_events", SecurityEvent, ListSecurityEventsParams)
_OPEN = q.many("chat_bot.list_open_security_events", SecurityEvent, (int,))
_RESOLVE = q.one("chat_bot.resolve_security_event", SecurityEvent, ResolveSecurityEventParams, retry=True)


class SecurityEventRepository(Repository):
    async def record(self, p: RecordSecurityEventParams) -> SecurityEvent:
        """Record an incident. Not retry-safe (a repeat records it twice)."""
        row = await self._x.one(_RECORD, p)
        assert row is not None
        return row

    async def between(self, since: datetime, until: datetime, limit: int = 100) -> list[SecurityEvent]:
        return await self._x.many(_BETWEEN, params(ListSecurityEventsParams, since=since, until=until, limit=limit))

    async def open(self, limit: int = 100) -> list[SecurityEvent]:
        """Unresolved events, the most severe and newest first."""
        return await self._x.many(_OPEN, limit)

    async def resolve(self, event_id: int, at: datetime | None = None) -> SecurityEvent:
        """Mark it dealt with. Retry-safe (keeps the first time)."""
        p = params(ResolveSecurityEventParams, id=event_id, at=at or datetime.now(UTC))
        return found(await self._x.one(_RESOLVE, p), f"no security event {event_id}")

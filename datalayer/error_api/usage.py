"""Aggregate `usage` (queries/error_api/usage.sql): one row per API request, partitioned by month, and what
is read from it: a user's dashboard, the monitoring figures, the rate-limit check, retention.

`usage_logs` has no DEFAULT partition (an ATTACH would have to scan it): partitions are made ahead by
`ensure_partitions_ahead` (run daily, `datalayer accounts maintain`, or `datalayer partitions ensure`), and a
request logged into a month that has none gets its partition made on the spot, then is logged. Partition
changes go through `datalayer.partitions`, which never stalls request logging or the rate-limit read."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from ipaddress import IPv4Address, IPv6Address
from typing import Literal
from uuid import UUID, uuid4

from pydantic import Field

from datalayer import queries as q
from datalayer.db import Executor
from datalayer.errors import InvalidData, NotFound
from datalayer.partitions.partitions import (
    PartitionRepository,
    in_transaction,
    is_missing_partition,
    month_of,
    parse_duration,
)
from datalayer.repository import Params, Repository, Row, params
from datalayer.validation import Moment, ago

Method = Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
TABLE = "error_api.usage_logs"


def _now() -> datetime:
    return datetime.now(UTC)


class LogRequestParams(Params):
    """One served request. Build it once and pass the same object to every retry: `request_id` and
    `created_at` are fixed when it is built, so a retried log is stored once."""

    request_id: UUID = Field(default_factory=uuid4)
    user_id: UUID | None = None
    api_key_id: UUID | None = None
    endpoint: str = Field(min_length=1, max_length=255, pattern=r"^/")
    method: Method
    status_code: int = Field(ge=100, le=599)
    ip_address: IPv4Address | IPv6Address | None = None
    user_agent: str | None = Field(default=None, max_length=1000)
    response_time_ms: int | None = Field(default=None, ge=0, le=2**31 - 1)
    error_type: str | None = Field(default=None, max_length=255)
    error_message: str | None = Field(default=None, max_length=2000)
    created_at: Moment = Field(default_factory=_now)


class LogRequestsParams(Params):
    request_ids: list[UUID]
    user_ids: list[UUID | None]
    api_key_ids: list[UUID | None]
    endpoints: list[str]
    methods: list[str]
    status_codes: list[int]
    ip_addresses: list[IPv4Address | IPv6Address | None]
    user_agents: list[str | None]
    response_times_ms: list[int | None]
    error_types: list[str | None]
    error_messages: list[str | None]
    created_ats: list[datetime]

    @classmethod
    def of(cls, rows: Sequence[LogRequestParams]) -> LogRequestsParams:
        return cls(
            request_ids=[r.request_id for r in rows], user_ids=[r.user_id for r in rows],
            api_key_ids=[r.api_key_id for r in rows], endpoints=[r.endpoint for r in rows],
            methods=[r.method for r in rows], status_codes=[r.status_code for r in rows],
            ip_addresses=[r.ip_address for r in rows], user_agents=[r.user_agent for r in rows],
            response_times_ms=[r.response_time_ms for r in rows], error_types=[r.error_type for r in rows],
            error_messages=[r.error_message for r in rows], created_ats=[r.created_at for r in rows],
        )  # fmt: skip


class UsageSummaryRow(Row):
    requests: int
    errors: int
    error_rate: float
    avg_response_ms: float | None
    p95_response_ms: float | None


class TopEndpointRow(Row):
    endpoint: str
    requests: int
    errors: int
    avg_response_ms: float | None


class UsageByDayRow(Row):
    day: date
    requests: int
    errors: int


class MonitoringSummaryRow(Row):
    active_users: int
    requests_24h: int
    error_rate_percent_24h: float


class RateLimitRow(Row):
    """`allowed`: one more request fits both limits; otherwise `retry_after_seconds` says when it will."""

    tier: str
    minute_limit: int
    minute_used: int
    day_limit: int
    day_used: int
    allowed: bool
    retry_after_seconds: float


class UsagePartitionRow(Row):
    name: str
    bounds: str
    estimated_rows: int


class UsageRollupStateRow(Row):
    rolled_until: datetime | None
    first_request_at: datetime | None


class Dashboard(Row):
    """GET /users/me/usage?days=N and /users/me/dashboard: everything of one user's usage over N days."""

    days: int
    summary: UsageSummaryRow
    top_endpoints: list[TopEndpointRow]
    by_day: list[UsageByDayRow]


class UserSinceParams(Params):
    user_id: UUID
    since: Moment


class ListTopEndpointsParams(Params):
    user_id: UUID
    since: Moment
    limit: int = Field(ge=1, le=1000)


class CheckRateLimitParams(Params):
    user_id: UUID
    now: Moment


_LOG = q.value("error_api.log_request", bool, LogRequestParams, retry=True)
_LOG_MANY = q.value("error_api.log_requests", int, LogRequestsParams, retry=True)
# Range reports: planned for their values every run (a generic plan cannot know how many raw rows a range holds).
_SUMMARY = q.one("error_api.get_usage_summary", UsageSummaryRow, UserSinceParams, replica=True, custom_plan=True)
_TOP = q.many("error_api.list_top_endpoints", TopEndpointRow, ListTopEndpointsParams, replica=True, custom_plan=True)
_BY_DAY = q.many("error_api.list_usage_by_day", UsageByDayRow, UserSinceParams, replica=True, custom_plan=True)
_ROLLUP = q.value("error_api.rollup_usage_days", int, (datetime, datetime), retry=True)
_ROLLUP_STATE = q.one("error_api.get_usage_rollup_state", UsageRollupStateRow)
_DELETE_OLD_DAILY = q.value("error_api.delete_usage_daily_before", int, (date,), retry=True)
_MONITORING = q.one("error_api.get_monitoring_summary", MonitoringSummaryRow, (datetime,), replica=True)
_RATE_LIMIT = q.one("error_api.check_rate_limit", RateLimitRow, CheckRateLimitParams)
_PARTITIONS = q.many("error_api.list_usage_partitions", UsagePartitionRow)
_DELETE_OLDER = q.value("error_api.delete_usage_older_than", int, (datetime,), retry=True)
_DELETE_MINUTES = q.value("error_api.delete_old_usage_minutes", int, (datetime,), retry=True)


_month = month_of
# The first run backfills in steps of this; each run recomputes this much before the watermark too, so requests
# logged late into a day rolled up already are counted there.
ROLLUP_STEP = timedelta(days=7)
ROLLUP_LOOKBACK = timedelta(days=1)


def _midnight(t: datetime) -> datetime:
    return t.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)


def _missing_partition(exc: InvalidData, x: Executor) -> bool:
    """A month without a partition. Inside a transaction the failed statement has aborted it, so the
    partition cannot be made there: the caller gets the error (partitions are made ahead; this is rare)."""
    return is_missing_partition(exc) and not in_transaction(x)


class UsageRepository(Repository):
    async def log(self, p: LogRequestParams) -> bool:
        """Record one request; True when stored, False when that request_id was stored already.
        Retry-safe: build `p` once and pass it again."""
        try:
            return await self._x.value(_LOG, p)
        except InvalidData as exc:
            if not _missing_partition(exc, self._x):
                raise
        await PartitionRepository(self._x).ensure_month(TABLE, _month(p.created_at))
        return await self._x.value(_LOG, p)

    async def log_many(self, rows: Sequence[LogRequestParams]) -> int:
        """Record many requests in one statement; returns how many were new. Retry-safe (by request_id)."""
        if not rows:
            return 0
        p = LogRequestsParams.of(rows)
        try:
            return await self._x.value(_LOG_MANY, p)
        except InvalidData as exc:
            if not _missing_partition(exc, self._x):
                raise
        partitions = PartitionRepository(self._x)
        for month in sorted({_month(r.created_at) for r in rows}):
            await partitions.ensure_month(TABLE, month)
        return await self._x.value(_LOG_MANY, p)

    async def dashboard(self, user_id: UUID, days: int = 30, *, now: datetime | None = None) -> Dashboard:
        """A user's usage over the last `days`: requests, errors, error rate, mean and p95 latency (p95 from the
        latency histogram: off by at most one bucket's width, 18.9% of the value), top endpoints, and requests per
        day; whole rolled-up days are read from `usage_daily`, the rest (the first, ragged day and everything
        after the last `rollup`) from the log."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 3660:
            raise InvalidData("days is a whole number from 1 to 3660")
        since = ago(now or _now(), "days", days=days)
        p = params(UserSinceParams, user_id=user_id, since=since)
        summary = await self._x.one(_SUMMARY, p)
        assert summary is not None  # an aggregate: always one row
        top = await self._x.many(_TOP, params(ListTopEndpointsParams, user_id=user_id, since=since, limit=10))
        return Dashboard(days=days, summary=summary, top_endpoints=top, by_day=await self._x.many(_BY_DAY, p))

    async def rollup(
        self, *, now: datetime | None = None, since: datetime | None = None, lookback: timedelta = ROLLUP_LOOKBACK
    ) -> int:
        """Bring `usage_daily` up to the last whole UTC day before `now`: every day from `lookback` before the
        watermark (or from `since`, or on the first run from the oldest request) is recomputed whole, in steps of a
        week, each moving the watermark. Returns the rollup rows written or removed. Retry-safe: whole days are
        recomputed, so a repeat (or two runs at once) writes the same."""
        state = await self._x.one(_ROLLUP_STATE)
        assert state is not None
        until = _midnight(now or _now())
        starts = [until]
        if state.rolled_until is not None:
            starts.append(state.rolled_until - lookback)
        elif state.first_request_at is not None:
            starts.append(_midnight(state.first_request_at))
        if since is not None:
            starts.append(_midnight(since))
        start, written = min(starts), 0
        while start < until:
            end = min(start + ROLLUP_STEP, until)
            written += await self._x.value(_ROLLUP, start, end)
            start = end
        return written

    async def monitoring(self, now: datetime | None = None) -> MonitoringSummaryRow:
        """Active accounts, requests in the last 24 hours and their error rate in percent."""
        row = await self._x.one(_MONITORING, now or _now())
        assert row is not None  # an aggregate: always one row
        return row

    async def check_rate_limit(self, user_id: UUID, now: datetime | None = None) -> RateLimitRow:
        """Whether one more request fits the user's tier limits (per minute and per day), and if not when it
        will; one statement: the minute counted from the log (stopping at the limit), the day from per-minute
        counters kept by `log` (at most 1,440 rows). NotFound for an unknown account."""
        row = await self._x.one(_RATE_LIMIT, params(CheckRateLimitParams, user_id=user_id, now=now or _now()))
        if row is None:
            raise NotFound(f"no account {user_id}")
        return row

    async def ensure_partitions_ahead(self, months: int = 3, now: datetime | None = None) -> list[date]:
        """Make the partitions of this month and the next `months`; returns the months created (request logging
        goes on meanwhile; see datalayer.partitions). Retry-safe."""
        return await PartitionRepository(self._x).ensure(TABLE, months, now=now or _now())

    async def cleanup_rate_counters(self, now: datetime | None = None) -> int:
        """Forget the per-minute request counters older than two days (the rate limit looks back one).
        Returns how many. Retry-safe."""
        return await self._x.value(_DELETE_MINUTES, (now or _now()) - timedelta(days=2))

    async def partitions(self) -> list[UsagePartitionRow]:
        return await self._x.many(_PARTITIONS)

    async def cleanup_old_logs(self, days: int = 90, *, max_lock_wait: str = "2s") -> tuple[list[str], int]:
        """Retention: drop the monthly partitions that are wholly older than `days`, then delete the older rows
        left in the partition that straddles the cutoff. Each partition is detached CONCURRENTLY, then dropped
        (datalayer.partitions), every lock waited for at most `max_lock_wait` and a refused one tried again, so
        request logging and the rate-limit read go on (then `Retryable`: run it later).
        Returns the dropped partitions and the rows deleted. Retry-safe."""
        if isinstance(days, bool) or not isinstance(days, int) or days < 1:
            raise InvalidData("days is a whole number of at least 1")
        cutoff = ago(_now(), "days", days=days)
        partitions = PartitionRepository(self._x, lock_timeout=parse_duration(max_lock_wait))
        dropped = await partitions.drop_older_than(TABLE, cutoff)
        deleted = await self._x.value(_DELETE_OLDER, cutoff)
        # The rollup keeps what the log keeps: the days before the cutoff's day go, and that day is recomputed
        # (its requests before the cutoff were just deleted) when it was rolled up.
        day = _midnight(cutoff)
        await self._x.value(_DELETE_OLD_DAILY, day.date())
        state = await self._x.one(_ROLLUP_STATE)
        if state is not None and state.rolled_until is not None and day < state.rolled_until:
            await self._x.value(_ROLLUP, day, day + timedelta(days=1))
        return dropped, deleted

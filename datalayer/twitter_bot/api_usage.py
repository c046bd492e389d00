"""Aggregate `api_usage` (queries/twitter_bot/api_usage.sql): every external API call — logging (one, or
many at once), reports, rate limits, monthly partitions.

Each call carries a client-generated `call_id` (made when its `LogApiCallParams` is built, together with
`called_at`), so logging the same call again — a retry after a lost connection — stores it once.

`api_usage` has no DEFAULT partition (migration 0018): months are made ahead (`ensure_partitions_ahead`, run by
`datalayer twitter maintain`, or `datalayer partitions ensure`), `log_many` and `import_calls` make the months
their calls need first, and `log` makes a missing month on the spot (on the pool; inside a transaction the error
says to make partitions ahead). Partition changes go through `datalayer.partitions`, which never stalls logging.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

from pydantic import Field

from datalayer import queries as q
from datalayer.errors import InvalidData
from datalayer.partitions.partitions import PartitionRepository, in_transaction, is_missing_partition, month_of
from datalayer.repository import Params, Repository, Row, params
from datalayer.validation import Moment


def _now() -> datetime:
    return datetime.now(UTC)


class ApiUsage(Row):
    id: int
    call_id: UUID
    service: str
    endpoint: str
    called_at: datetime
    success: bool
    status_code: int | None
    response_time_ms: float | None
    error_type: str | None
    error_message: str | None


class LogApiCallParams(Params):
    """One call. Build it once per call and pass the same object to every retry: its `call_id` and
    `called_at` are fixed when it is built."""

    call_id: UUID = Field(default_factory=uuid4)
    service: str = Field(min_length=1, max_length=100)
    endpoint: str = Field(min_length=1, max_length=500)
    called_at: Moment = Field(default_factory=_now)
    success: bool
    status_code: int | None = Field(default=None, ge=100, le=599)
    response_time_ms: float | None = Field(default=None, ge=0)
    error_type: str | None = None
    error_message: str | None = None


class LogApiCallsParams(Params):
    """The same fields as LogApiCallParams, one array per field, for the bulk insert."""

    call_ids: list[UUID]
    services: list[str]
    endpoints: list[str]
    called_ats: list[datetime]
    successes: list[bool]
    status_codes: list[int | None]
    response_times_ms: list[float | None]
    error_types: list[str | None]
    error_messages: list[str | None]

    @classmethod
    def of(cls, calls: Sequence[LogApiCallParams]) -> LogApiCallsParams:
        # The calls are validated models already: no second validation of every element.
        return cls.model_construct(
            call_ids=[c.call_id for c in calls],
            services=[c.service for c in calls],
            endpoints=[c.endpoint for c in calls],
            called_ats=[c.called_at for c in calls],
            successes=[c.success for c in calls],
            status_codes=[c.status_code for c in calls],
            response_times_ms=[c.response_time_ms for c in calls],
            error_types=[c.error_type for c in calls],
            error_messages=[c.error_message for c in calls],
        )


class ImportApiCallsRow(Row):
    inserted: int
    replaced: int


class ApiUsagePartitionRow(Row):
    name: str
    bounds: str
    estimated_rows: int


class ApiUsageByPeriodParams(Params):
    period: str = Field(pattern="^(day|month)$")
    since: datetime
    until: datetime


class ApiUsageByPeriodRow(Row):
    period_start: date
    service: str
    endpoint: str
    calls: int
    failures: int
    avg_response_time_ms: float | None
    p95_response_time_ms: float | None


class SinceUntilParams(Params):
    since: datetime
    until: datetime


class ApiUsageRollupStateRow(Row):
    rolled_until: datetime | None
    first_call_at: datetime | None


class ApiSuccessRateRow(Row):
    service: str
    calls: int
    successes: int
    success_rate: float


class ApiResponseTimePercentilesRow(Row):
    service: str
    endpoint: str
    calls: int
    p50_ms: float
    p95_ms: float
    p99_ms: float


class TopApiErrorsRow(Row):
    service: str
    error_type: str
    occurrences: int
    last_seen: datetime
    last_message: str | None


class CheckRateLimitParams(Params):
    service: str = Field(min_length=1, max_length=100)
    endpoint: str | None = Field(max_length=500)
    window_seconds: float = Field(gt=0)
    max_calls: int = Field(gt=0)


class CheckRateLimitRow(Row):
    calls_in_window: int
    max_calls: int
    allowed: bool
    retry_after_seconds: float


class ApiUsageTodayRow(Row):
    calls: int
    failures: int
    error_rate: float


_LOG_API_CALL = q.one("twitter_bot.log_api_call", ApiUsage, LogApiCallParams, retry=True)
_GET_API_CALL = q.one("twitter_bot.get_api_call", ApiUsage, (UUID, datetime))
_LOG_API_CALLS = q.value("twitter_bot.log_api_calls", int, LogApiCallsParams, retry=True)
_IMPORT_API_CALLS = q.one("twitter_bot.import_api_calls", ImportApiCallsRow, LogApiCallsParams, retry=True)
_LIST_PARTITIONS = q.many("twitter_bot.list_api_usage_partitions", ApiUsagePartitionRow)
_DELETE_OLD_USAGE = q.value("twitter_bot.delete_api_usage_older_than", int, (datetime,), retry=True)
# Range reports: a generic plan (which a prepared statement switches to after five runs) cannot know how many raw
# rows a range holds, and read whole partitions; these are planned for their values every time.
_USAGE_BY_PERIOD = q.many(
    "twitter_bot.api_usage_by_period", ApiUsageByPeriodRow, ApiUsageByPeriodParams, replica=True, custom_plan=True
)
_SUCCESS_RATE = q.many(
    "twitter_bot.api_success_rate", ApiSuccessRateRow, SinceUntilParams, replica=True, custom_plan=True
)
_PERCENTILES = q.many(
    "twitter_bot.api_response_time_percentiles", ApiResponseTimePercentilesRow, SinceUntilParams, replica=True,
    custom_plan=True,
)  # fmt: skip
_ROLLUP = q.value("twitter_bot.rollup_api_usage_hours", int, SinceUntilParams, retry=True)
_ROLLUP_STATE = q.one("twitter_bot.get_api_usage_rollup_state", ApiUsageRollupStateRow)
_DELETE_OLD_HOURLY = q.value("twitter_bot.delete_api_usage_hourly_before", int, (datetime,), retry=True)
_TOP_ERRORS = q.many("twitter_bot.top_api_errors", TopApiErrorsRow, (datetime, int), replica=True)
_RATE_LIMIT = q.one("twitter_bot.check_rate_limit", CheckRateLimitRow, CheckRateLimitParams)
_USAGE_TODAY = q.one("twitter_bot.api_usage_today", ApiUsageTodayRow)


TABLE = "twitter_bot.api_usage"
_month = month_of
# A rollup statement covers at most this much (the first run backfills in steps of it).
ROLLUP_STEP = timedelta(days=7)
# Each run recomputes this much before the watermark too: calls logged late (a retried or buffered log, a client
# clock behind) into an hour rolled up already are counted there by the next run.
ROLLUP_LOOKBACK = timedelta(hours=24)
_FAR = datetime(9999, 1, 1, tzinfo=UTC)


def _hour(t: datetime) -> datetime:
    t = t.astimezone(UTC)
    return t.replace(minute=0, second=0, microsecond=0)


class ApiUsageRepository(Repository):
    async def log(self, p: LogApiCallParams) -> ApiUsage:
        """Record one call. Retry-safe: the same `p` (same call_id) is stored once; a repeat returns it. A month
        without a partition gets it on the spot (not inside a transaction: there it is `InvalidData`)."""
        try:
            row = await self._x.one(_LOG_API_CALL, p)
        except InvalidData as exc:
            if not is_missing_partition(exc) or in_transaction(self._x):
                raise
            await self.ensure_partition(_month(p.called_at))
            row = await self._x.one(_LOG_API_CALL, p)
        if row is None:  # a concurrent log of the same call committed after this statement's snapshot
            row = await self._x.one(_GET_API_CALL, p.call_id, p.called_at)
        assert row is not None
        return row

    async def get(self, call_id: UUID, called_at: datetime) -> ApiUsage | None:
        """One logged call by its call id and time."""
        return await self._x.one(_GET_API_CALL, call_id, called_at)

    async def log_many(self, calls: Sequence[LogApiCallParams]) -> int:
        """Record many calls in one statement (creating missing monthly partitions first); returns how many
        were new. Retry-safe: calls already stored (same call_id) are skipped."""
        if not calls:
            return 0
        for month in sorted({_month(c.called_at) for c in calls}):
            await self.ensure_partition(month)
        return await self._x.value(_LOG_API_CALLS, LogApiCallsParams.of(calls))

    async def import_calls(self, calls: Sequence[LogApiCallParams]) -> ImportApiCallsRow:
        """Store calls read from the old JSON log, each under the call_id of its identity; a call imported
        before is replaced when its fields changed. Retry-safe."""
        if not calls:
            return ImportApiCallsRow(inserted=0, replaced=0)
        for month in sorted({_month(c.called_at) for c in calls}):
            await self.ensure_partition(month)
        row = await self._x.one(_IMPORT_API_CALLS, LogApiCallsParams.of(calls))
        assert row is not None  # an aggregate always returns one row
        await self._reroll(min(c.called_at for c in calls), max(c.called_at for c in calls))
        return row

    async def _reroll(self, first: datetime, last: datetime) -> None:
        """Recompute the rolled-up hours in [first, last] after old calls were written or replaced. Retry-safe: whole
        hours are recomputed."""
        state = await self._x.one(_ROLLUP_STATE)
        if state is None or state.rolled_until is None or _hour(first) >= state.rolled_until:
            return
        start, until = _hour(first), min(state.rolled_until, _hour(last) + timedelta(hours=1))
        while start < until:
            end = min(start + ROLLUP_STEP, until)
            await self._x.value(_ROLLUP, params(SinceUntilParams, since=start, until=end))
            start = end

    async def ensure_partition(self, month: date) -> bool:
        """Create the partition for the month of `month` unless it exists; True when created (inserts and reads
        go on meanwhile; see datalayer.partitions). Retry-safe, and safe to call from several sessions at once."""
        return await PartitionRepository(self._x).ensure_month(TABLE, month)

    async def ensure_partitions_ahead(self, months: int = 2, today: date | None = None) -> list[date]:
        """Create this month's partition and the next `months` ones; returns the months created. Retry-safe."""
        return await PartitionRepository(self._x).ensure(TABLE, months, now=today)

    async def partitions(self) -> list[ApiUsagePartitionRow]:
        return await self._x.many(_LIST_PARTITIONS)

    async def drop_partitions_before(self, cutoff: datetime) -> list[str]:
        """Drop whole monthly partitions ending at or before cutoff, each detached CONCURRENTLY first so logging
        and the rate-limit read go on (see datalayer.partitions); returns their names. Retry-safe (a repeat drops
        nothing)."""
        return await PartitionRepository(self._x).drop_older_than(TABLE, cutoff)

    async def delete_older_than(self, cutoff: datetime) -> int:
        """Retention: delete calls older than cutoff. Retry-safe (a repeat deletes nothing)."""
        return await self._x.value(_DELETE_OLD_USAGE, cutoff)

    async def daily(self, since: datetime, until: datetime) -> list[ApiUsageByPeriodRow]:
        """Calls per UTC day, service and endpoint in [since, until), with mean and p95 latency."""
        p = params(ApiUsageByPeriodParams, period="day", since=since, until=until)
        return await self._x.many(_USAGE_BY_PERIOD, p)

    async def monthly(self, since: datetime, until: datetime) -> list[ApiUsageByPeriodRow]:
        """Calls per UTC month, service and endpoint in [since, until), with mean and p95 latency."""
        p = params(ApiUsageByPeriodParams, period="month", since=since, until=until)
        return await self._x.many(_USAGE_BY_PERIOD, p)

    async def success_rate(self, since: datetime, until: datetime | None = None) -> list[ApiSuccessRateRow]:
        """Share of successful calls per service in [since, until) (until: no end)."""
        return await self._x.many(_SUCCESS_RATE, params(SinceUntilParams, since=since, until=until or _FAR))

    async def response_time_percentiles(
        self, since: datetime, until: datetime | None = None
    ) -> list[ApiResponseTimePercentilesRow]:
        """p50 / p95 / p99 per service and endpoint in [since, until), from the latency histogram: each lies in
        the bucket of the exact percentile_cont, so it is off by at most that bucket's width (18.9% of the
        value; 1 ms below 1 ms)."""
        return await self._x.many(_PERCENTILES, params(SinceUntilParams, since=since, until=until or _FAR))

    async def rollup(
        self, *, now: datetime | None = None, since: datetime | None = None, lookback: timedelta = ROLLUP_LOOKBACK
    ) -> int:
        """Bring `api_usage_hourly` up to the last whole hour before `now`: every hour from `lookback` before the
        watermark (or from `since`, or on the first run from the oldest call) is recomputed whole from the raw
        calls, in steps of a week, each step moving the watermark. Returns the rollup rows written or removed.
        Retry-safe: whole hours are recomputed, so a repeat (or two runs at once) writes the same."""
        state = await self._x.one(_ROLLUP_STATE)
        assert state is not None
        until = _hour(now or _now())
        starts = [until]
        if state.rolled_until is not None:
            starts.append(state.rolled_until - lookback)
        elif state.first_call_at is not None:
            starts.append(_hour(state.first_call_at))
        if since is not None:
            starts.append(_hour(since))
        start, written = min(starts), 0
        while start < until:
            end = min(start + ROLLUP_STEP, until)
            written += await self._x.value(_ROLLUP, params(SinceUntilParams, since=start, until=end))
            start = end
        return written

    async def delete_rollup_before(self, cutoff: datetime) -> int:
        """Retention of the rollup, matching the raw calls': delete the hours before `cutoff`'s hour and recompute
        that hour (its calls before `cutoff` were deleted) when it was rolled up. Retry-safe."""
        hour = _hour(cutoff)
        deleted = await self._x.value(_DELETE_OLD_HOURLY, hour)
        state = await self._x.one(_ROLLUP_STATE)
        if hour < cutoff and state is not None and state.rolled_until is not None and hour < state.rolled_until:
            deleted += await self._x.value(
                _ROLLUP, params(SinceUntilParams, since=hour, until=hour + timedelta(hours=1))
            )
        return deleted

    async def top_errors(self, since: datetime, limit: int = 10) -> list[TopApiErrorsRow]:
        return await self._x.many(_TOP_ERRORS, since, limit)

    async def check_rate_limit(
        self, service: str, max_calls: int, window: timedelta, endpoint: str | None = None
    ) -> CheckRateLimitRow:
        p = params(
            CheckRateLimitParams, service=service, endpoint=endpoint, window_seconds=window.total_seconds(),
            max_calls=max_calls,
        )  # fmt: skip
        row = await self._x.one(_RATE_LIMIT, p)
        assert row is not None  # an aggregate always returns one row
        return row

    async def today(self) -> ApiUsageTodayRow:
        row = await self._x.one(_USAGE_TODAY)
        assert row is not None
        return row

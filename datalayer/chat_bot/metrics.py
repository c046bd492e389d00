"""Aggregate `metrics` (queries/chat_bot/metrics.sql): the bot's performance measurements."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import Field, JsonValue

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, params
from datalayer.validation import Moment


class Measurement(Params):
    """One measurement to record."""

    metric_name: str = Field(pattern=r"^[a-z][a-z0-9_.]{1,99}$")
    value: float
    tags: dict[str, JsonValue] = Field(default_factory=dict)
    recorded_at: Moment = Field(default_factory=lambda: datetime.now(UTC))


class RecordMetricsParams(Params):
    names: list[str]
    metric_values: list[float]
    tags: list[dict[str, JsonValue]]
    recorded_ats: list[datetime]


class MetricSummaryParams(Params):
    metric_name: str
    since: Moment


class MetricSummaryRow(Row):
    metric_name: str
    measurements: int
    mean: float | None
    p50: float | None
    p95: float | None
    max: float | None


_RECORD = q.value("chat_bot.record_metrics", int, RecordMetricsParams, retry=False)
_SUMMARY = q.one("chat_bot.get_metric_summary", MetricSummaryRow, MetricSummaryParams, replica=True)


class MetricsRepository(Repository):
    async def record(self, measurements: Sequence[Measurement]) -> int:
        """Record many measurements in one statement. Not retry-safe (a repeat records them twice; a lost
        batch of measurements is usually better dropped than doubled)."""
        if not measurements:
            return 0
        p = RecordMetricsParams(
            names=[m.metric_name for m in measurements], metric_values=[m.value for m in measurements],
            tags=[m.tags for m in measurements], recorded_ats=[m.recorded_at for m in measurements],
        )  # fmt: skip
        return await self._x.value(_RECORD, p)

    async def summary(self, metric_name: str, since: datetime) -> MetricSummaryRow:
        row = await self._x.one(_SUMMARY, params(MetricSummaryParams, metric_name=metric_name, since=since))
        assert row is not None  # an aggregate: always one row
        return row

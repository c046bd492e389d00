"""Aggregate `risk` (queries/chat_bot/risk.sql): risk assessments of messages, and conversation-level risk
that rises with every assessment: 1 - (1 - risk)(1 - score)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment, ago

SCORE = Field(ge=0, le=1)


class RiskAssessment(Row):
    id: int
    conversation_id: int
    message_id: int | None
    user_id: int
    risk_score: float
    risk_level: str
    factors: list[str]
    assessed_at: datetime


class RecordRiskAssessmentParams(Params):
    conversation_id: int
    message_id: int | None = None
    risk_score: float = SCORE
    factors: list[str] = Field(default_factory=list, max_length=100)
    assessed_at: Moment = Field(default_factory=lambda: datetime.now(UTC))


class ListHighRiskAssessmentsParams(Params):
    since: Moment
    min_risk_score: float = SCORE
    limit: int = Field(default=100, ge=1, le=10_000)


class AssessmentStatisticsRow(Row):
    assessments: int
    avg_score: float | None
    max_score: float | None
    low: int
    medium: int
    high: int
    critical: int
    conversations: int


class ConversationRisk(Row):
    conversation_id: int
    risk_score: float
    max_score: float
    assessments: int
    last_assessed_at: datetime


class RiskFactor(Row):
    name: str
    category: str
    weight: float
    pattern: str | None
    is_active: bool


class UpsertRiskFactorParams(Params):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    category: Literal["content", "behaviour", "security", "wellbeing"]
    weight: float = SCORE
    pattern: str | None = None
    is_active: bool = True


_RECORD = q.one("chat_bot.record_risk_assessment", RiskAssessment, RecordRiskAssessmentParams, retry=False)
_HIGH = q.many("chat_bot.list_high_risk_assessments", RiskAssessment, ListHighRiskAssessmentsParams)
_STATS = q.one("chat_bot.get_assessment_statistics", AssessmentStatisticsRow, (datetime,))
_CONVERSATION = q.one("chat_bot.get_conversation_risk", ConversationRisk, (int,))
_UPSERT_FACTOR = q.one("chat_bot.upsert_risk_factor", RiskFactor, UpsertRiskFactorParams, retry=True)
_FACTORS = q.many("chat_bot.list_risk_factors", RiskFactor)


class RiskRepository(Repository):
    async def record(self, p: RecordRiskAssessmentParams) -> RiskAssessment:
        """Record an assessment and raise the conversation's risk in the same statement. Not retry-safe (a
        repeat counts as a second assessment and raises the risk again)."""
        return found(await self._x.one(_RECORD, p), f"no conversation {p.conversation_id}")

    async def get_high_risk_assessments(
        self, hours: int = 24, min_risk_score: float = 0.7, limit: int = 100
    ) -> list[RiskAssessment]:
        """The seed's call: assessments of the last `hours` with at least `min_risk_score`, newest first."""
        since = ago(datetime.now(UTC), "hours", hours=hours)
        return await self._x.many(
            _HIGH, params(ListHighRiskAssessmentsParams, since=since, min_risk_score=min_risk_score, limit=limit)
        )

    async def get_assessment_statistics(self, days: int = 7) -> AssessmentStatisticsRow:
        """The seed's call: assessments of the last `days`: count, mean and max score, per level."""
        row = await self._x.one(_STATS, ago(datetime.now(UTC), "days", days=days))
        assert row is not None  # an aggregate: always one row
        return row

    async def conversation_risk(self, conversation_id: int) -> ConversationRisk | None:
        return await self._x.one(_CONVERSATION, conversation_id)

    async def upsert_factor(self, p: UpsertRiskFactorParams) -> RiskFactor:
        """Define or change a risk factor. Retry-safe."""
        row = await self._x.one(_UPSERT_FACTOR, p)
        assert row is not None
        return row

    async def factors(self) -> list[RiskFactor]:
        return await self._x.many(_FACTORS)

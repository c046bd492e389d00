"""Result and input models of schema `twitter_bot`; field names equal column names.

Whole rows are named after their table, projections `<Query>Row`, multi-field inputs `<Query>Params`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from datalayer.repository import Row

LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
TranslationStatus = Literal["pending", "posted", "failed", "draft"]


class Params(BaseModel):
    """Base of input models: validated before anything reaches the database."""

    model_config = ConfigDict(frozen=True, extra="forbid", str_strip_whitespace=False)


# -- system state ------------------------------------------------------------------------------------------------
class SystemState(Row):
    key: str
    value: JsonValue
    updated_at: datetime


# -- tweets ------------------------------------------------------------------------------------------------------
class Tweet(Row):
    id: int
    author_id: int
    author_username: str
    text: str
    created_at: datetime
    character_count: int
    language: str | None
    processed_at: datetime | None
    metadata: dict[str, JsonValue]
    fetched_at: datetime


class UpsertTweetParams(Params):
    id: int = Field(gt=0)
    author_id: int = Field(ge=0)
    author_username: str = Field(pattern=r"^[A-Za-z0-9_]{1,50}$")
    text: str = Field(min_length=1)
    created_at: datetime
    language: str | None = Field(default=None, pattern=LANGUAGE)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class SearchTweetsRow(Row):
    id: int
    author_username: str
    created_at: datetime
    rank: float
    snippet: str


# -- translations ------------------------------------------------------------------------------------------------
class Translation(Row):
    id: int
    tweet_id: int
    target_language: str
    status: str
    translated_text: str | None
    confidence: float | None
    posted_tweet_id: int | None
    retry_count: int
    last_error: str | None
    claimed_by: str | None
    claimed_until: datetime | None
    created_at: datetime
    updated_at: datetime


class TranslationAttempt(Row):
    id: int
    translation_id: int
    tweet_id: int
    target_language: str
    status: str
    translated_text: str | None
    error: str | None
    confidence: float | None
    attempted_at: datetime


class ListDraftsRow(Row):
    id: int
    tweet_id: int
    target_language: str
    translated_text: str | None
    confidence: float | None
    created_at: datetime
    author_username: str
    original_text: str


class TranslationStatsRow(Row):
    target_language: str
    status: str
    translations: int
    avg_confidence: float | None


class CountTranslationsByStatusRow(Row):
    status: str
    translations: int


class ImportDraftParams(Params):
    tweet_id: int = Field(gt=0)
    author_id: int = Field(default=0, ge=0)
    author_username: str = Field(default="unknown", pattern=r"^[A-Za-z0-9_]{1,50}$")
    original_text: str = Field(min_length=1)
    tweet_created_at: datetime
    target_language: str = Field(pattern=LANGUAGE)
    translated_text: str = Field(min_length=1)
    confidence: float | None = Field(default=None, ge=0, le=1)
    created_at: datetime


# -- api usage ---------------------------------------------------------------------------------------------------
class ApiUsage(Row):
    id: int
    service: str
    endpoint: str
    called_at: datetime
    success: bool
    status_code: int | None
    response_time_ms: float | None
    error_type: str | None
    error_message: str | None


class LogApiCallParams(Params):
    service: str = Field(min_length=1)
    endpoint: str = Field(min_length=1)
    success: bool
    called_at: datetime | None = None
    status_code: int | None = Field(default=None, ge=100, le=599)
    response_time_ms: float | None = Field(default=None, ge=0)
    error_type: str | None = None
    error_message: str | None = None


class ApiUsagePartitionRow(Row):
    name: str
    bounds: str
    estimated_rows: int


class DroppedPartitionRow(Row):
    name: str


class ApiUsageByPeriodRow(Row):
    period_start: date
    service: str
    endpoint: str
    calls: int
    failures: int
    avg_response_time_ms: float | None


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


class CheckRateLimitRow(Row):
    calls_in_window: int
    max_calls: int
    allowed: bool
    retry_after_seconds: float


class ApiUsageTodayRow(Row):
    calls: int
    failures: int
    error_rate: float


# -- cache -------------------------------------------------------------------------------------------------------
class TranslationCache(Row):
    cache_key: str
    source_language: str
    target_language: str
    original_text: str
    translated_text: str
    confidence: float | None
    hit_count: int
    created_at: datetime
    last_accessed_at: datetime | None
    expires_at: datetime


class PutCachedTranslationParams(Params):
    source_language: str = Field(pattern=LANGUAGE + "|^auto$")
    target_language: str = Field(pattern=LANGUAGE)
    original_text: str = Field(min_length=1)
    translated_text: str = Field(min_length=1)
    confidence: float | None = Field(default=None, ge=0, le=1)
    ttl_seconds: float = Field(default=7 * 24 * 3600, gt=0)


class CacheStatsRow(Row):
    live_entries: int
    expired_entries: int
    hits: int
    misses: int
    hit_rate: float


# -- users -------------------------------------------------------------------------------------------------------
class User(Row):
    id: int
    username: str
    display_name: str | None
    settings: dict[str, JsonValue]
    is_active: bool
    has_credentials: bool
    last_active_at: datetime | None
    created_at: datetime
    updated_at: datetime

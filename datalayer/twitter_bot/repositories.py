"""Repositories of schema `twitter_bot`, one per aggregate; the SQL lives in queries/twitter_bot/."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from operator import attrgetter
from typing import TypeVar

from pydantic import JsonValue

from datalayer import queries as q
from datalayer.errors import NotFound
from datalayer.repository import Repository
from datalayer.secrets import Cipher
from datalayer.twitter_bot.models import (
    ApiResponseTimePercentilesRow,
    ApiSuccessRateRow,
    ApiUsage,
    ApiUsageByPeriodRow,
    ApiUsagePartitionRow,
    ApiUsageTodayRow,
    CacheStatsRow,
    CheckRateLimitRow,
    CountTranslationsByStatusRow,
    DroppedPartitionRow,
    ImportDraftParams,
    ListDraftsRow,
    LogApiCallParams,
    PutCachedTranslationParams,
    SearchTweetsRow,
    SystemState,
    TopApiErrorsRow,
    Translation,
    TranslationAttempt,
    TranslationCache,
    TranslationStatsRow,
    Tweet,
    UpsertTweetParams,
    User,
)

_T = TypeVar("_T")

# -- system state ------------------------------------------------------------------------------------------------
_GET_STATE = q.one("twitter_bot.get_system_state", SystemState)
_SET_STATE = q.one("twitter_bot.set_system_state", SystemState)
_DELETE_STATE = q.value("twitter_bot.delete_system_state", str)
_LIST_STATE = q.many("twitter_bot.list_system_state", SystemState)
_ADVANCE_LAST_TWEET_ID = q.value("twitter_bot.advance_last_tweet_id", int)
_GET_LAST_TWEET_ID = q.value("twitter_bot.get_last_tweet_id", int)
_INCREMENT_COUNTER = q.value("twitter_bot.increment_counter", int)


class SystemStateRepository(Repository):
    """Named JSON values that replace the bot's state files: last_tweet_id, counters."""

    async def get(self, key: str) -> SystemState | None:
        return await self._x.one(_GET_STATE, key)

    async def set(self, key: str, value: JsonValue) -> SystemState:
        row = await self._x.one(_SET_STATE, key, value)
        assert row is not None  # INSERT … RETURNING always returns the row
        return row

    async def delete(self, key: str) -> bool:
        return await self._x.value(_DELETE_STATE, key) is not None

    async def list(self) -> list[SystemState]:
        return await self._x.many(_LIST_STATE)

    async def advance_last_tweet_id(self, tweet_id: int) -> int:
        """Store tweet_id unless a larger one is stored; returns the id now stored."""
        return await self._x.value(_ADVANCE_LAST_TWEET_ID, tweet_id)

    async def last_tweet_id(self) -> int | None:
        return await self._x.value(_GET_LAST_TWEET_ID)

    async def increment(self, key: str, amount: int = 1) -> int:
        return await self._x.value(_INCREMENT_COUNTER, key, amount)


# -- tweets ------------------------------------------------------------------------------------------------------
_UPSERT_TWEET = q.one("twitter_bot.upsert_tweet", Tweet)
_GET_TWEET = q.one("twitter_bot.get_tweet", Tweet)
_LIST_RECENT_TWEETS = q.many("twitter_bot.list_recent_tweets", Tweet)
_LIST_UNPROCESSED_TWEETS = q.many("twitter_bot.list_unprocessed_tweets", Tweet)
_MARK_TWEET_PROCESSED = q.one("twitter_bot.mark_tweet_processed", Tweet)
_SEARCH_TWEETS = q.many("twitter_bot.search_tweets", SearchTweetsRow)


class TweetRepository(Repository):
    async def upsert(self, p: UpsertTweetParams) -> Tweet:
        row = await self._x.one(
            _UPSERT_TWEET, p.id, p.author_id, p.author_username, p.text, p.created_at, p.language, p.metadata
        )
        assert row is not None
        return row

    async def get(self, tweet_id: int) -> Tweet | None:
        return await self._x.one(_GET_TWEET, tweet_id)

    async def list_recent(self, limit: int = 20) -> list[Tweet]:
        return await self._x.many(_LIST_RECENT_TWEETS, limit)

    async def list_unprocessed(self, limit: int = 100) -> list[Tweet]:
        return await self._x.many(_LIST_UNPROCESSED_TWEETS, limit)

    async def mark_processed(self, tweet_id: int) -> Tweet:
        return _found(await self._x.one(_MARK_TWEET_PROCESSED, tweet_id), f"no tweet with id {tweet_id}")

    async def search(self, query: str, limit: int = 20) -> list[SearchTweetsRow]:
        """Web-search syntax (`word "a phrase" -not or`); snippets mark matches with << >>."""
        return await self._x.many(_SEARCH_TWEETS, query, limit)


# -- translations ------------------------------------------------------------------------------------------------
_CREATE_TRANSLATION = q.one("twitter_bot.create_translation", Translation)
_GET_TRANSLATION = q.one("twitter_bot.get_translation", Translation)
_CLAIM_PENDING = q.many("twitter_bot.claim_pending_translations", Translation)
_MARK_POSTED = q.one("twitter_bot.mark_translation_posted", Translation)
_MARK_FAILED = q.one("twitter_bot.mark_translation_failed", Translation)
_SAVE_DRAFT = q.one("twitter_bot.save_translation_draft", Translation)
_LIST_DRAFTS = q.many("twitter_bot.list_drafts", ListDraftsRow)
_APPROVE_DRAFT = q.one("twitter_bot.approve_draft", Translation)
_HISTORY = q.many("twitter_bot.list_translation_history", TranslationAttempt)
_ROLLBACK_TO_ATTEMPT = q.one("twitter_bot.rollback_translation_to_attempt", Translation)
_RETRY_FAILED = q.many("twitter_bot.retry_failed_translations", Translation)
_TRANSLATION_STATS = q.many("twitter_bot.translation_stats", TranslationStatsRow)
_COUNT_BY_STATUS = q.many("twitter_bot.count_translations_by_status", CountTranslationsByStatusRow)
_IMPORT_DRAFT = q.value("twitter_bot.import_draft", bool)
_DELETE_OLD_ATTEMPTS = q.value("twitter_bot.delete_attempts_older_than", int)


class TranslationRepository(Repository):
    """Translations, their life cycle (pending → posted / failed / draft) and the audit trail of attempts."""

    async def create(self, tweet_id: int, target_language: str) -> Translation:
        row = await self._x.one(_CREATE_TRANSLATION, tweet_id, target_language)
        assert row is not None
        return row

    async def get(self, translation_id: int) -> Translation | None:
        return await self._x.one(_GET_TRANSLATION, translation_id)

    async def claim_pending(self, worker: str, limit: int = 10, lease_seconds: float = 300) -> list[Translation]:
        """Up to `limit` pending translations leased to `worker`; concurrent workers never get the same one."""
        return await self._x.many(_CLAIM_PENDING, worker, limit, lease_seconds)

    async def mark_posted(
        self, translation_id: int, translated_text: str, posted_tweet_id: int, confidence: float | None = None
    ) -> Translation:
        row = await self._x.one(_MARK_POSTED, translation_id, translated_text, confidence, posted_tweet_id)
        return _found(row, f"no translation with id {translation_id}")

    async def mark_failed(self, translation_id: int, error: str) -> Translation:
        row = await self._x.one(_MARK_FAILED, translation_id, error)
        return _found(row, f"no translation with id {translation_id}")

    async def save_draft(
        self, translation_id: int, translated_text: str, confidence: float | None = None
    ) -> Translation:
        row = await self._x.one(_SAVE_DRAFT, translation_id, translated_text, confidence)
        return _found(row, f"no translation with id {translation_id}")

    async def list_drafts(self, limit: int = 50) -> list[ListDraftsRow]:
        return await self._x.many(_LIST_DRAFTS, limit)

    async def approve_draft(self, translation_id: int) -> Translation:
        row = await self._x.one(_APPROVE_DRAFT, translation_id)
        return _found(row, f"translation {translation_id} does not exist or is not a draft")

    async def history(self, tweet_id: int) -> list[TranslationAttempt]:
        return await self._x.many(_HISTORY, tweet_id)

    async def rollback_to_attempt(self, attempt_id: int) -> Translation:
        """Restore an earlier attempt's text; the translation becomes a draft to approve again."""
        row = await self._x.one(_ROLLBACK_TO_ATTEMPT, attempt_id)
        return _found(row, f"attempt {attempt_id} does not exist or produced no text to roll back to")

    async def retry_failed(self, max_retries: int = 3, limit: int = 100) -> list[Translation]:
        return await self._x.many(_RETRY_FAILED, max_retries, limit)

    async def stats(self) -> list[TranslationStatsRow]:
        return await self._x.many(_TRANSLATION_STATS)

    async def count_by_status(self) -> dict[str, int]:
        return {row.status: row.translations for row in await self._x.many(_COUNT_BY_STATUS)}

    async def import_draft(self, p: ImportDraftParams) -> bool:
        """True when the draft was new; False when that tweet already had a translation into the language."""
        return await self._x.value(
            _IMPORT_DRAFT,
            p.tweet_id,
            p.author_id,
            p.author_username,
            p.original_text,
            p.tweet_created_at,
            p.target_language,
            p.translated_text,
            p.confidence,
            p.created_at,
        )

    async def delete_attempts_older_than(self, cutoff: datetime) -> int:
        return await self._x.value(_DELETE_OLD_ATTEMPTS, cutoff)


# -- api usage ---------------------------------------------------------------------------------------------------
_LOG_API_CALL = q.one("twitter_bot.log_api_call", ApiUsage)
_IMPORT_API_CALLS = q.value("twitter_bot.import_api_calls", int)
_ENSURE_PARTITION = q.value("twitter_bot.ensure_api_usage_partition", bool)
_LIST_PARTITIONS = q.many("twitter_bot.list_api_usage_partitions", ApiUsagePartitionRow)
_DROP_PARTITIONS = q.many("twitter_bot.drop_api_usage_partitions_before", DroppedPartitionRow)
_DELETE_OLD_USAGE = q.value("twitter_bot.delete_api_usage_older_than", int)
_USAGE_BY_PERIOD = q.many("twitter_bot.api_usage_by_period", ApiUsageByPeriodRow)
_SUCCESS_RATE = q.many("twitter_bot.api_success_rate", ApiSuccessRateRow)
_PERCENTILES = q.many("twitter_bot.api_response_time_percentiles", ApiResponseTimePercentilesRow)
_TOP_ERRORS = q.many("twitter_bot.top_api_errors", TopApiErrorsRow)
_RATE_LIMIT = q.one("twitter_bot.check_rate_limit", CheckRateLimitRow)
_USAGE_TODAY = q.one("twitter_bot.api_usage_today", ApiUsageTodayRow)

# Column order of the COPY bulk path; equal to LogApiCallParams' fields.
_COPY_COLUMNS = (
    "service",
    "endpoint",
    "called_at",
    "success",
    "status_code",
    "response_time_ms",
    "error_type",
    "error_message",
)
_as_copy_record = attrgetter(*_COPY_COLUMNS)


def _month(moment: datetime) -> date:
    utc = moment.astimezone(UTC) if moment.tzinfo else moment
    return date(utc.year, utc.month, 1)


class ApiUsageRepository(Repository):
    """Every external API call: logging (one, or many through COPY), reports, rate limits, partitions."""

    async def log(self, p: LogApiCallParams) -> ApiUsage:
        row = await self._x.one(
            _LOG_API_CALL,
            p.service,
            p.endpoint,
            p.called_at,
            p.success,
            p.status_code,
            p.response_time_ms,
            p.error_type,
            p.error_message,
        )
        assert row is not None
        return row

    async def log_many(self, calls: Sequence[LogApiCallParams]) -> int:
        """Bulk insert with COPY (calls without called_at get now()); creates missing monthly partitions first."""
        now = datetime.now(UTC)
        records = [
            _as_copy_record(c) if c.called_at is not None else _as_copy_record(c.model_copy(update={"called_at": now}))
            for c in calls
        ]
        for month in sorted({_month(r[2]) for r in records}):
            await self.ensure_partition(month)
        return await self._x.copy_records("twitter_bot", "api_usage", _COPY_COLUMNS, records)

    async def import_calls(self, keys: Sequence[str], calls: Sequence[LogApiCallParams]) -> int:
        """Insert calls read from the old JSON log, each under its import key; returns how many were new."""
        for month in sorted({_month(c.called_at) for c in calls if c.called_at is not None}):
            await self.ensure_partition(month)
        columns = list(zip(*(_as_copy_record(c) for c in calls), strict=True)) if calls else [()] * 8
        return await self._x.value(_IMPORT_API_CALLS, list(keys), *(list(col) for col in columns))

    async def ensure_partition(self, month: date) -> bool:
        """Create the partition for the month of `month` unless it exists; True when created."""
        return await self._x.value(_ENSURE_PARTITION, month)

    async def ensure_partitions_ahead(self, months: int = 2, today: date | None = None) -> list[date]:
        """Create this month's partition and the next `months` ones; returns the months created."""
        start = _month(datetime.combine(today or datetime.now(UTC).date(), datetime.min.time()))
        created = []
        for i in range(months + 1):
            month = date(start.year + (start.month - 1 + i) // 12, (start.month - 1 + i) % 12 + 1, 1)
            if await self.ensure_partition(month):
                created.append(month)
        return created

    async def partitions(self) -> list[ApiUsagePartitionRow]:
        return await self._x.many(_LIST_PARTITIONS)

    async def drop_partitions_before(self, cutoff: datetime) -> list[str]:
        return [row.name for row in await self._x.many(_DROP_PARTITIONS, cutoff)]

    async def delete_older_than(self, cutoff: datetime) -> int:
        return await self._x.value(_DELETE_OLD_USAGE, cutoff)

    async def daily(self, since: datetime, until: datetime) -> list[ApiUsageByPeriodRow]:
        """Calls per UTC day, service and endpoint in [since, until)."""
        return await self._x.many(_USAGE_BY_PERIOD, "day", since, until)

    async def monthly(self, since: datetime, until: datetime) -> list[ApiUsageByPeriodRow]:
        """Calls per UTC month, service and endpoint in [since, until)."""
        return await self._x.many(_USAGE_BY_PERIOD, "month", since, until)

    async def success_rate(self, since: datetime) -> list[ApiSuccessRateRow]:
        return await self._x.many(_SUCCESS_RATE, since)

    async def response_time_percentiles(self, since: datetime) -> list[ApiResponseTimePercentilesRow]:
        return await self._x.many(_PERCENTILES, since)

    async def top_errors(self, since: datetime, limit: int = 10) -> list[TopApiErrorsRow]:
        return await self._x.many(_TOP_ERRORS, since, limit)

    async def check_rate_limit(
        self, service: str, max_calls: int, window: timedelta, endpoint: str | None = None
    ) -> CheckRateLimitRow:
        row = await self._x.one(_RATE_LIMIT, service, endpoint, window.total_seconds(), max_calls)
        assert row is not None  # an aggregate always returns one row
        return row

    async def today(self) -> ApiUsageTodayRow:
        row = await self._x.one(_USAGE_TODAY)
        assert row is not None
        return row


# -- cache -------------------------------------------------------------------------------------------------------
_GET_CACHED = q.one("twitter_bot.get_cached_translation", TranslationCache)
_PUT_CACHED = q.one("twitter_bot.put_cached_translation", TranslationCache)
_PURGE_CACHE = q.value("twitter_bot.purge_expired_cache", int)
_CACHE_STATS = q.one("twitter_bot.cache_stats", CacheStatsRow)


class TranslationCacheRepository(Repository):
    async def get(self, source_language: str, target_language: str, original_text: str) -> TranslationCache | None:
        """The unexpired entry, counting the hit (or the miss) in the same statement."""
        return await self._x.one(_GET_CACHED, source_language, target_language, original_text)

    async def put(self, p: PutCachedTranslationParams) -> TranslationCache:
        row = await self._x.one(
            _PUT_CACHED, p.source_language, p.target_language, p.original_text, p.translated_text, p.confidence,
            p.ttl_seconds,
        )  # fmt: skip
        assert row is not None
        return row

    async def purge_expired(self) -> int:
        return await self._x.value(_PURGE_CACHE)

    async def stats(self) -> CacheStatsRow:
        row = await self._x.one(_CACHE_STATS)
        assert row is not None
        return row


# -- users -------------------------------------------------------------------------------------------------------
_CREATE_USER = q.one("twitter_bot.create_user", User)
_GET_USER = q.one("twitter_bot.get_user", User)
_GET_USER_BY_USERNAME = q.one("twitter_bot.get_user_by_username", User)
_LIST_USERS = q.many("twitter_bot.list_users", User)
_UPDATE_USER_SETTINGS = q.one("twitter_bot.update_user_settings", User)
_TOUCH_USER = q.one("twitter_bot.touch_user_activity", User)
_SET_CREDENTIALS = q.one("twitter_bot.set_user_credentials", User)
_GET_CREDENTIALS = q.value("twitter_bot.get_user_credentials", bytes)


class UserRepository(Repository):
    """Bot operators. Credentials are encrypted with a `Cipher` before they leave the process."""

    async def create(
        self, username: str, display_name: str | None = None, settings: dict[str, JsonValue] | None = None
    ) -> User:
        row = await self._x.one(_CREATE_USER, username, display_name, settings)
        assert row is not None
        return row

    async def get(self, user_id: int) -> User | None:
        return await self._x.one(_GET_USER, user_id)

    async def get_by_username(self, username: str) -> User | None:
        return await self._x.one(_GET_USER_BY_USERNAME, username)

    async def list(self) -> list[User]:
        return await self._x.many(_LIST_USERS)

    async def update_settings(self, user_id: int, changes: dict[str, JsonValue]) -> User:
        """Merge `changes` into the settings; a key set to None is removed."""
        return _found(await self._x.one(_UPDATE_USER_SETTINGS, user_id, changes), f"no user with id {user_id}")

    async def touch(self, user_id: int) -> User:
        return _found(await self._x.one(_TOUCH_USER, user_id), f"no user with id {user_id}")

    async def set_credentials(self, user_id: int, credentials: dict[str, str] | None, cipher: Cipher) -> User:
        token = None if credentials is None else cipher.encrypt_json(credentials)
        return _found(await self._x.one(_SET_CREDENTIALS, user_id, token), f"no user with id {user_id}")

    async def credentials(self, user_id: int, cipher: Cipher) -> dict[str, str] | None:
        token = await self._x.value(_GET_CREDENTIALS, user_id)
        return None if token is None else cipher.decrypt_json(token)


def _found(row: _T | None, message: str) -> _T:
    if row is None:
        raise NotFound(message)
    return row


def import_key(position: int, record: object) -> str:
    """Identity of record number `position` of an imported file: stable across re-imports of the same file."""
    canonical = json.dumps(record, sort_keys=True, default=str)
    return hashlib.sha256(f"{position}:{canonical}".encode()).hexdigest()


__all__ = [
    "ApiUsageRepository",
    "SystemStateRepository",
    "TranslationCacheRepository",
    "TranslationRepository",
    "TweetRepository",
    "UserRepository",
    "import_key",
]

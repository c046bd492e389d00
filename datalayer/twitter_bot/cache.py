"""Aggregate `cache` (queries/twitter_bot/cache.sql): translations already paid for, reused until they expire."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, params
from datalayer.twitter_bot.tweets import LANGUAGE


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


class GetCachedTranslationParams(Params):
    source_language: str
    target_language: str
    original_text: str


class PutCachedTranslationParams(Params):
    source_language: str = Field(pattern=LANGUAGE + "|^auto$", max_length=35)
    target_language: str = Field(pattern=LANGUAGE, max_length=35)
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


# A repeated lookup counts one more hit or miss: a statistic, harmless to repeat. A miss counts into
# translation_cache_misses (migration 0021), not system_state: it invalidates no cached system_state read.
_GET_CACHED = q.one("twitter_bot.get_cached_translation", TranslationCache, GetCachedTranslationParams, retry=True)
_PUT_CACHED = q.one("twitter_bot.put_cached_translation", TranslationCache, PutCachedTranslationParams, retry=True)
_PURGE_CACHE = q.value("twitter_bot.purge_expired_cache", int, retry=True)
_CACHE_STATS = q.one("twitter_bot.cache_stats", CacheStatsRow, replica=True)


class TranslationCacheRepository(Repository):
    async def get(self, source_language: str, target_language: str, original_text: str) -> TranslationCache | None:
        """The unexpired entry, counting the hit (or the miss) in the same statement. Retry-safe: a repeat
        after a lost connection may count one lookup twice."""
        p = params(
            GetCachedTranslationParams, source_language=source_language, target_language=target_language,
            original_text=original_text,
        )  # fmt: skip
        return await self._x.one(_GET_CACHED, p)

    async def put(self, p: PutCachedTranslationParams) -> TranslationCache:
        """Store or refresh an entry. Retry-safe (an upsert on the generated cache key)."""
        row = await self._x.one(_PUT_CACHED, p)
        assert row is not None
        return row

    async def purge_expired(self) -> int:
        """Delete expired entries; returns how many. Retry-safe."""
        return await self._x.value(_PURGE_CACHE)

    async def stats(self) -> CacheStatsRow:
        row = await self._x.one(_CACHE_STATS)
        assert row is not None
        return row

"""Retention rules of the Twitter bot, run by `datalayer cleanup`."""

from __future__ import annotations

from datetime import UTC, datetime, time

from datalayer.maintenance import CleanupContext, rule
from datalayer.partitions.partitions import month_of
from datalayer.twitter_bot.api_usage import ApiUsageRepository
from datalayer.twitter_bot.cache import TranslationCacheRepository
from datalayer.twitter_bot.translations import TranslationRepository


@rule("twitter_bot.expired_cache", "translation-cache entries past their expiry")
async def expired_cache(c: CleanupContext) -> int:
    return await TranslationCacheRepository(c.db).purge_expired()


@rule("twitter_bot.old_attempts", "translation attempts (the audit trail) older than the retention")
async def old_attempts(c: CleanupContext) -> int:
    return await TranslationRepository(c.db).delete_attempts_older_than(c.cutoff)


@rule("twitter_bot.old_api_usage", "monthly api_usage partitions entirely older than the retention")
async def old_api_usage(c: CleanupContext) -> int:
    return len(await ApiUsageRepository(c.db).drop_partitions_before(c.cutoff))


@rule("twitter_bot.api_usage_rollup", "roll api_usage up into api_usage_hourly (whole hours; the last day again)")
async def api_usage_rollup(c: CleanupContext) -> int:
    return await ApiUsageRepository(c.db).rollup(now=c.now)


@rule("twitter_bot.old_api_usage_rollup", "api_usage_hourly hours of the months whose partitions were dropped")
async def old_api_usage_rollup(c: CleanupContext) -> int:
    # old_api_usage drops whole months ending at or before the cutoff: the rollup keeps what those kept.
    return await ApiUsageRepository(c.db).delete_rollup_before(datetime.combine(month_of(c.cutoff), time(), UTC))

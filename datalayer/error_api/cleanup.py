"""Retention rules of the error-translator API, run by `datalayer cleanup`."""

from __future__ import annotations

from datalayer.error_api.api_keys import ApiKeyRepository
from datalayer.error_api.tokens import TokenBlacklistRepository
from datalayer.error_api.usage import UsageRepository
from datalayer.maintenance import CleanupContext, rule


@rule("error_api.expired_keys", "API keys past their expiry")
async def expired_keys(c: CleanupContext) -> int:
    return await ApiKeyRepository(c.db).cleanup_expired_keys(c.now)


@rule("error_api.expired_tokens", "revoked tokens past their own expiry (they can no longer be presented)")
async def expired_tokens(c: CleanupContext) -> int:
    return await TokenBlacklistRepository(c.db).cleanup_expired_tokens(c.now)


@rule("error_api.rate_counters", "per-minute rate-limit counters of past windows")
async def rate_counters(c: CleanupContext) -> int:
    return await UsageRepository(c.db).cleanup_rate_counters(c.now)


@rule("error_api.old_usage_logs", "usage logs older than the retention (whole monthly partitions, then rows)")
async def old_usage_logs(c: CleanupContext) -> int:
    dropped, deleted = await UsageRepository(c.db).cleanup_old_logs(c.keep_days)
    return len(dropped) + deleted


@rule("error_api.usage_rollup", "roll the usage logs up into usage_daily (whole UTC days; the last day again)")
async def usage_rollup(c: CleanupContext) -> int:
    return await UsageRepository(c.db).rollup(now=c.now)

-- transactional: false
DROP INDEX CONCURRENTLY IF EXISTS twitter_bot.translations_pending_claims_idx;

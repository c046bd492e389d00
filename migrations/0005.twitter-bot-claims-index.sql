-- transactional: false
-- claim_pending_translations first hands a worker back the pending rows it already holds; without this index
-- that part scanned every pending row (16k buffers, 70 ms at 300k pending). CONCURRENTLY: the table may be live.
SET lock_timeout = '5s';
CREATE INDEX CONCURRENTLY IF NOT EXISTS translations_pending_claims_idx
    ON twitter_bot.translations (claimed_by, created_at)
 WHERE status = 'pending';
COMMENT ON INDEX twitter_bot.translations_pending_claims_idx IS 'claim_pending_translations: the pending rows a worker already holds, oldest first.';

-- transactional: false
CREATE INDEX CONCURRENTLY IF NOT EXISTS tweets_author_id_idx ON twitter_bot.tweets (author_id);
COMMENT ON INDEX twitter_bot.tweets_author_id_idx IS 'Tweets by author.';

-- the misses go back into the one system_state counter
WITH moved AS (
    DELETE FROM twitter_bot.translation_cache_misses RETURNING misses
), total AS (
    SELECT sum(misses)::bigint AS misses FROM moved HAVING count(*) > 0
)
INSERT INTO twitter_bot.system_state AS s (key, value)
SELECT 'cache_misses', to_jsonb(misses) FROM total
    ON CONFLICT (key) DO UPDATE SET value = to_jsonb((s.value #>> '{}')::bigint + (EXCLUDED.value #>> '{}')::bigint);
DROP TABLE IF EXISTS twitter_bot.translation_cache_misses;

CREATE INDEX CONCURRENTLY IF NOT EXISTS translation_cache_language_pair_idx
    ON twitter_bot.translation_cache (source_language, target_language);
COMMENT ON INDEX twitter_bot.translation_cache_language_pair_idx IS 'Statistics per language pair.';
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS translation_cache_key_unique ON twitter_bot.translation_cache (cache_key);
ALTER TABLE twitter_bot.translation_cache ADD CONSTRAINT translation_cache_key_unique UNIQUE USING INDEX translation_cache_key_unique;
COMMENT ON CONSTRAINT translation_cache_key_unique ON twitter_bot.translation_cache IS 'One entry per text and language pair.';
ALTER TABLE twitter_bot.translation_cache DROP CONSTRAINT translation_cache_pkey;
ALTER TABLE twitter_bot.translation_cache RESET (fillfactor);

DROP INDEX CONCURRENTLY IF EXISTS twitter_bot.translations_draft_idx;
DROP INDEX CONCURRENTLY IF EXISTS twitter_bot.translations_failed_idx;
-- abandoned was failed before; the old rule does not know it
UPDATE twitter_bot.translations SET status = 'failed' WHERE status = 'abandoned';
ALTER TABLE twitter_bot.translations ADD CONSTRAINT translations_status_old
    CHECK (status IN ('pending', 'posted', 'failed', 'draft')) NOT VALID;
ALTER TABLE twitter_bot.translations VALIDATE CONSTRAINT translations_status_old;
ALTER TABLE twitter_bot.translations DROP CONSTRAINT translations_status_valid;
ALTER TABLE twitter_bot.translations RENAME CONSTRAINT translations_status_old TO translations_status_valid;
COMMENT ON CONSTRAINT translations_status_valid ON twitter_bot.translations IS 'Status is pending, posted, failed or draft.';
COMMENT ON COLUMN twitter_bot.translations.status IS 'pending (to translate or to post), posted, failed, or draft (waiting for approval).';

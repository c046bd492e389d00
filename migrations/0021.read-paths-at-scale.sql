-- transactional: false
-- Read paths at scale, from a plan review at 1M tweets, 200k translations and 100k cache rows. Not transactional:
-- the indexes are built and dropped CONCURRENTLY, since these tables may be live; the migrator sets lock_timeout.

-- == translations: a terminal state, and partial indexes for the queue reads ===================================
-- A translation that failed max_retries times was left `failed` for ever, so retry_failed_translations read every
-- one of them to find the few it could retry (15,944 rows for 100). retry_failed_translations now moves them to
-- `abandoned`. The wider rule goes in NOT VALID, is validated without blocking writes, then replaces the old one.
ALTER TABLE twitter_bot.translations ADD CONSTRAINT translations_status_known
    CHECK (status IN ('pending', 'posted', 'failed', 'draft', 'abandoned')) NOT VALID;
ALTER TABLE twitter_bot.translations VALIDATE CONSTRAINT translations_status_known;
ALTER TABLE twitter_bot.translations DROP CONSTRAINT translations_status_valid;
ALTER TABLE twitter_bot.translations RENAME CONSTRAINT translations_status_known TO translations_status_valid;
COMMENT ON CONSTRAINT translations_status_valid ON twitter_bot.translations IS
    'Status is pending, posted, failed (to retry), draft, or abandoned (failed max_retries times: never retried).';
COMMENT ON COLUMN twitter_bot.translations.status IS
    'pending (to do or being done), posted, failed (retry_failed puts it back), draft (to review), abandoned (failed too often; final).';

CREATE INDEX CONCURRENTLY IF NOT EXISTS translations_failed_idx
    ON twitter_bot.translations (updated_at, id) WHERE status = 'failed';
COMMENT ON INDEX twitter_bot.translations_failed_idx IS 'retry_failed_translations: failed rows only, oldest first.';
CREATE INDEX CONCURRENTLY IF NOT EXISTS translations_draft_idx
    ON twitter_bot.translations (created_at, id) WHERE status = 'draft';
COMMENT ON INDEX twitter_bot.translations_draft_idx IS 'list_drafts: drafts only, oldest first, without a sort.';

-- == translation_cache: a primary key, room for HOT updates, one index less ======================================
-- A hit updates hit_count and last_accessed_at, neither indexed; with free space in the page that update is HOT
-- (no index entry written). The fillfactor applies to pages written from now on: existing pages get the space
-- when they are rewritten (VACUUM FULL or pg_repack in a quiet hour), or as entries expire and are purged.
ALTER TABLE twitter_bot.translation_cache SET (fillfactor = 80);
CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS translation_cache_pkey ON twitter_bot.translation_cache (cache_key);
ALTER TABLE twitter_bot.translation_cache ADD CONSTRAINT translation_cache_pkey PRIMARY KEY USING INDEX translation_cache_pkey;
COMMENT ON CONSTRAINT translation_cache_pkey ON twitter_bot.translation_cache IS
    'One entry per text and language pair (the generated cache_key); the key every lookup and upsert uses.';
ALTER TABLE twitter_bot.translation_cache DROP CONSTRAINT translation_cache_key_unique;
-- No named query reads the cache by language pair (every lookup is by cache_key).
DROP INDEX CONCURRENTLY IF EXISTS twitter_bot.translation_cache_language_pair_idx;

-- Misses were counted in one system_state row that every miss updated (all misses queued on its row lock, and each
-- invalidated the cached system_state reads). Now each backend adds to one of 16 slots (pg_backend_pid() % 16).
CREATE TABLE IF NOT EXISTS twitter_bot.translation_cache_misses (
    slot   smallint PRIMARY KEY CONSTRAINT translation_cache_misses_slot_range CHECK (slot BETWEEN 0 AND 15),
    misses bigint   NOT NULL CONSTRAINT translation_cache_misses_not_negative CHECK (misses >= 0)
) WITH (fillfactor = 50);
COMMENT ON TABLE twitter_bot.translation_cache_misses IS
    'Translation-cache misses, counted in 16 slots so concurrent misses rarely update the same row; cache_stats sums them.';
COMMENT ON COLUMN twitter_bot.translation_cache_misses.slot IS 'pg_backend_pid() % 16 of the backends that counted here.';
COMMENT ON COLUMN twitter_bot.translation_cache_misses.misses IS 'Misses counted in this slot.';
COMMENT ON CONSTRAINT translation_cache_misses_pkey ON twitter_bot.translation_cache_misses IS 'One row per slot.';
COMMENT ON CONSTRAINT translation_cache_misses_slot_range ON twitter_bot.translation_cache_misses IS 'Slots 0-15.';
COMMENT ON CONSTRAINT translation_cache_misses_not_negative ON twitter_bot.translation_cache_misses IS
    'A count is never negative.';
WITH moved AS (
    DELETE FROM twitter_bot.system_state WHERE key = 'cache_misses' RETURNING value
)
INSERT INTO twitter_bot.translation_cache_misses AS m (slot, misses)
SELECT 0, (value #>> '{}')::bigint FROM moved
    ON CONFLICT (slot) DO UPDATE SET misses = m.misses + EXCLUDED.misses;

-- == tweets ======================================================================================================
-- No named query reads tweets by author.
DROP INDEX CONCURRENTLY IF EXISTS twitter_bot.tweets_author_id_idx;

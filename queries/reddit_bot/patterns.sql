-- name: save_patterns(subreddits, pattern_texts, scores, extracted_ats)$
-- Save many patterns in one statement; a pattern already stored for its subreddit keeps the better score and the later extraction time (a deleted one stays deleted); returns how many rows were written.
WITH incoming AS (
    SELECT DISTINCT ON (subreddit, ops.sha256_hex(pattern_text)) subreddit, pattern_text, score, extracted_at
      FROM unnest(:subreddits::text[], :pattern_texts::text[], :scores::integer[], :extracted_ats::timestamptz[])
           AS u(subreddit, pattern_text, score, extracted_at)
     ORDER BY subreddit, ops.sha256_hex(pattern_text), score DESC
), written AS (
    INSERT INTO reddit_bot.successful_patterns AS s (subreddit, pattern_text, score, extracted_at)
    SELECT subreddit, pattern_text, score, extracted_at FROM incoming
        ON CONFLICT ON CONSTRAINT successful_patterns_one_per_subreddit DO UPDATE
       SET score = greatest(s.score, EXCLUDED.score), extracted_at = greatest(s.extracted_at, EXCLUDED.extracted_at)
     WHERE s.deleted_at IS NULL
       AND (s.score < EXCLUDED.score OR s.extracted_at < EXCLUDED.extracted_at)
    RETURNING 1
)
SELECT count(*)::bigint FROM written;

-- name: list_top_patterns(subreddit, limit)
-- A subreddit's best live patterns.
SELECT id, subreddit, pattern_text, score, extracted_at, created_at, updated_at, deleted_at
  FROM reddit_bot.successful_patterns
 WHERE subreddit = :subreddit AND deleted_at IS NULL
 ORDER BY score DESC, id
 LIMIT :limit;

-- name: get_pattern(id)^
-- One live pattern.
SELECT id, subreddit, pattern_text, score, extracted_at, created_at, updated_at, deleted_at
  FROM reddit_bot.successful_patterns
 WHERE id = :id AND deleted_at IS NULL;

-- name: delete_pattern(id, at)^
-- Soft-delete a live pattern; returns its subreddit (nothing when it was not live).
UPDATE reddit_bot.successful_patterns
   SET deleted_at = :at
 WHERE id = :id AND deleted_at IS NULL
RETURNING id, subreddit, pattern_text, score, extracted_at, created_at, updated_at, deleted_at;

-- name: restore_pattern(id)^
-- Undo a pattern's soft delete.
UPDATE reddit_bot.successful_patterns
   SET deleted_at = NULL
 WHERE id = :id AND deleted_at IS NOT NULL
RETURNING id, subreddit, pattern_text, score, extracted_at, created_at, updated_at, deleted_at;

-- name: purge_deleted_patterns(before)$
-- Remove for good the patterns soft-deleted before a time; returns how many.
WITH purged AS (
    DELETE FROM reddit_bot.successful_patterns WHERE deleted_at < :before RETURNING 1
)
SELECT count(*)::bigint FROM purged;

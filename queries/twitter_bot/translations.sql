-- name: create_translation(tweet_id, target_language)^
-- A new pending translation of a tweet into a language (Conflict if that pair exists).
INSERT INTO twitter_bot.translations (tweet_id, target_language)
VALUES (:tweet_id, :target_language)
RETURNING id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
          last_error, claimed_by, claimed_until, claim_id, created_at, updated_at;

-- name: get_translation(id)^
-- One translation by id.
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM twitter_bot.translations
 WHERE id = :id;

-- name: ensure_translation(tweet_id, target_language)^
-- The translation of a tweet into a language, created pending when missing (a repeat returns the same row).
WITH created AS (
    INSERT INTO twitter_bot.translations (tweet_id, target_language)
    VALUES (:tweet_id, :target_language)
        ON CONFLICT ON CONSTRAINT translations_one_per_language DO NOTHING
    RETURNING id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
              last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
)
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM created
 UNION ALL
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM twitter_bot.translations
 WHERE tweet_id = :tweet_id AND target_language = :target_language
   AND NOT EXISTS (SELECT 1 FROM created);

-- name: claim_pending_translations(worker, limit, lease_seconds)
-- Lease up to limit pending translations to a worker: first those it already holds (same claim_id), then free ones (a new claim_id), oldest first (SKIP LOCKED, so two workers never get the same row).
WITH held AS (
    SELECT id
      FROM twitter_bot.translations
     WHERE status = 'pending' AND claimed_by = :worker AND claimed_until >= now()
     ORDER BY created_at, id
     LIMIT :limit
       FOR UPDATE SKIP LOCKED
), free AS (
    SELECT id
      FROM twitter_bot.translations
     WHERE status = 'pending' AND (claimed_until IS NULL OR claimed_until < now())
     ORDER BY created_at, id
     LIMIT greatest(:limit - (SELECT count(*) FROM held), 0)  -- none when the held ones fill the limit
       FOR UPDATE SKIP LOCKED
), chosen AS (
    SELECT id FROM (SELECT id, 0 AS rank FROM held UNION ALL SELECT id, 1 FROM free) AS both_kinds
     ORDER BY rank
     LIMIT :limit
), leased AS (
    UPDATE twitter_bot.translations AS t
       SET claimed_by = :worker,
           claimed_until = now() + make_interval(secs => :lease_seconds::double precision),
           -- a new lease token for a free row; a row the worker already holds keeps its token (the same lease)
           claim_id = CASE WHEN t.claimed_by = :worker AND t.claimed_until >= now() AND t.claim_id IS NOT NULL
                           THEN t.claim_id ELSE gen_random_uuid() END
      FROM chosen
     WHERE t.id = chosen.id
    RETURNING t.id, t.tweet_id, t.target_language, t.status, t.translated_text, t.confidence, t.posted_tweet_id,
              t.retry_count, t.last_error, t.claimed_by, t.claimed_until, t.claim_id, t.created_at, t.updated_at
)
-- RETURNING has no order of its own (it follows the join's plan): oldest first.
SELECT * FROM leased ORDER BY created_at, id;

-- name: mark_translation_posted(id, worker, translated_text, confidence, posted_tweet_id, claim_id)^
-- Record a published translation and its attempt (under the lease's claim_id), only for the worker holding an unexpired claim on a pending row (that claim, when claim_id is given); otherwise (and on a repeat) the row as it is.
WITH updated AS (
    UPDATE twitter_bot.translations
       SET status = 'posted', translated_text = :translated_text, confidence = :confidence,
           posted_tweet_id = :posted_tweet_id, last_error = NULL, claimed_until = NULL
     WHERE id = :id AND status = 'pending' AND claimed_by = :worker AND claimed_until >= now()
       AND (:claim_id::uuid IS NULL OR claim_id = :claim_id::uuid)
    RETURNING *
), attempt AS (
    INSERT INTO twitter_bot.translation_attempts (translation_id, tweet_id, target_language, status, translated_text, confidence, claim_id)
    SELECT id, tweet_id, target_language, 'posted', translated_text, confidence, claim_id FROM updated
)
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM updated
 UNION ALL
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM twitter_bot.translations
 WHERE id = :id AND NOT EXISTS (SELECT 1 FROM updated);

-- name: mark_translation_failed(id, worker, error, claim_id)^
-- Record a failed attempt (status failed, retry_count + 1, the error kept; the attempt under the lease's claim_id) for the worker holding an unexpired claim on a pending row (that claim, when claim_id is given); otherwise (and on a repeat) the row as it is.
WITH updated AS (
    UPDATE twitter_bot.translations
       SET status = 'failed', retry_count = retry_count + 1, last_error = :error, claimed_until = NULL
     WHERE id = :id AND status = 'pending' AND claimed_by = :worker AND claimed_until >= now()
       AND (:claim_id::uuid IS NULL OR claim_id = :claim_id::uuid)
    RETURNING *
), attempt AS (
    INSERT INTO twitter_bot.translation_attempts (translation_id, tweet_id, target_language, status, error, claim_id)
    SELECT id, tweet_id, target_language, 'failed', last_error, claim_id FROM updated
)
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM updated
 UNION ALL
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM twitter_bot.translations
 WHERE id = :id AND NOT EXISTS (SELECT 1 FROM updated);

-- name: save_translation_draft(id, worker, translated_text, confidence, claim_id)^
-- Keep a translation as a draft for review instead of posting it (the attempt under the lease's claim_id), for the worker holding an unexpired claim on a pending row (that claim, when claim_id is given); otherwise (and on a repeat) the row as it is.
WITH updated AS (
    UPDATE twitter_bot.translations
       SET status = 'draft', translated_text = :translated_text, confidence = :confidence, claimed_until = NULL
     WHERE id = :id AND status = 'pending' AND claimed_by = :worker AND claimed_until >= now()
       AND (:claim_id::uuid IS NULL OR claim_id = :claim_id::uuid)
    RETURNING *
), attempt AS (
    INSERT INTO twitter_bot.translation_attempts (translation_id, tweet_id, target_language, status, translated_text, confidence, claim_id)
    SELECT id, tweet_id, target_language, 'draft', translated_text, confidence, claim_id FROM updated
)
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM updated
 UNION ALL
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM twitter_bot.translations
 WHERE id = :id AND NOT EXISTS (SELECT 1 FROM updated);

-- name: find_translation_finish(id, claim_id, status, value)$
-- Whether this finish (outcome posted, failed or draft, with this value: the error of a failure, else the text) was recorded for the translation under the lease claim_id: a retried finish whose first try committed finds itself here after the row moved on.
SELECT EXISTS (
    SELECT 1
      FROM twitter_bot.translation_attempts
     WHERE translation_id = :id AND claim_id = :claim_id AND status = :status
       AND CASE WHEN status = 'failed' THEN error ELSE translated_text END = :value
);

-- name: list_drafts(limit)
-- Drafts waiting for approval, oldest first (translations_draft_idx: no sort of all drafts), with the original tweet.
SELECT tr.id, tr.tweet_id, tr.target_language, tr.translated_text, tr.confidence, tr.created_at,
       tw.author_username, tw.text AS original_text
  FROM twitter_bot.translations AS tr
  JOIN twitter_bot.tweets AS tw ON tw.id = tr.tweet_id
 WHERE tr.status = 'draft'
 ORDER BY tr.created_at, tr.id
 LIMIT :limit;

-- name: approve_draft(id)^
-- Approve a draft: it becomes pending (ready to post, text kept); nothing when it is not a draft.
WITH updated AS (
    UPDATE twitter_bot.translations
       SET status = 'pending', claimed_until = NULL
     WHERE id = :id AND status = 'draft'
    RETURNING *
), attempt AS (
    INSERT INTO twitter_bot.translation_attempts (translation_id, tweet_id, target_language, status, translated_text, confidence)
    SELECT id, tweet_id, target_language, 'approved', translated_text, confidence FROM updated
)
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM updated;

-- name: list_translation_history(tweet_id)
-- Every attempt at translating a tweet, in order.
SELECT id, translation_id, tweet_id, target_language, status, translated_text, error, confidence, claim_id,
       attempted_at
  FROM twitter_bot.translation_attempts
 WHERE tweet_id = :tweet_id
 ORDER BY attempted_at, id;

-- name: rollback_translation_to_attempt(attempt_id)^
-- Restore the text and confidence of an earlier attempt that produced text; the translation becomes a draft to re-approve.
WITH target AS (
    SELECT id, translation_id, translated_text, confidence
      FROM twitter_bot.translation_attempts
     WHERE id = :attempt_id AND translated_text IS NOT NULL
), updated AS (
    UPDATE twitter_bot.translations AS t
       SET status = 'draft', translated_text = target.translated_text, confidence = target.confidence,
           posted_tweet_id = NULL, claimed_by = NULL, claimed_until = NULL, claim_id = NULL
      FROM target
     WHERE t.id = target.translation_id
    RETURNING t.*, target.id AS attempt_id
), attempt AS (
    INSERT INTO twitter_bot.translation_attempts (translation_id, tweet_id, target_language, status, translated_text, confidence, error)
    SELECT id, tweet_id, target_language, 'rolled_back', translated_text, confidence, 'rolled back to attempt ' || attempt_id
      FROM updated
)
SELECT id, tweet_id, target_language, status, translated_text, confidence, posted_tweet_id, retry_count,
       last_error, claimed_by, claimed_until, claim_id, created_at, updated_at
  FROM updated;

-- name: retry_failed_translations(max_retries, limit)
-- Take up to limit failed translations, oldest first: those that failed fewer than max_retries times go back to pending (returned), the others become abandoned for good, so the failed set holds only rows still to retry.
WITH failed AS (
    -- translations_failed_idx: reads only failed rows, and at most limit of them
    SELECT id
      FROM twitter_bot.translations
     WHERE status = 'failed'
     ORDER BY updated_at, id
     LIMIT :limit
       FOR UPDATE SKIP LOCKED
), moved AS (
    UPDATE twitter_bot.translations AS t
       SET status = CASE WHEN t.retry_count < :max_retries THEN 'pending' ELSE 'abandoned' END
      FROM failed
     WHERE t.id = failed.id
    RETURNING t.id, t.tweet_id, t.target_language, t.status, t.translated_text, t.confidence, t.posted_tweet_id,
              t.retry_count, t.last_error, t.claimed_by, t.claimed_until, t.claim_id, t.created_at, t.updated_at
)
SELECT * FROM moved WHERE status = 'pending' ORDER BY updated_at, id;

-- name: translation_stats()
-- Count and average confidence per target language and status.
SELECT target_language,
       status,
       count(*)::bigint AS translations,
       avg(confidence)::double precision AS avg_confidence
  FROM twitter_bot.translations
 GROUP BY target_language, status
 ORDER BY target_language, status;

-- name: count_translations_by_status()
-- Count of translations per status, every status listed (zero included).
SELECT s.status, count(t.id)::bigint AS translations
  FROM unnest(ARRAY['pending', 'posted', 'failed', 'draft', 'abandoned']) AS s(status)
  LEFT JOIN twitter_bot.translations AS t ON t.status = s.status
 GROUP BY s.status
 ORDER BY s.status;

-- name: import_draft(tweet_id, author_id, author_username, original_text, tweet_created_at, target_language, translated_text, confidence, created_at)$
-- Import one draft from the old file store: the tweet if missing, the draft unless that tweet already has a translation into the language; true when imported.
WITH tweet AS (
    INSERT INTO twitter_bot.tweets (id, author_id, author_username, text, created_at)
    VALUES (:tweet_id, :author_id, :author_username, :original_text, :tweet_created_at)
        ON CONFLICT (id) DO NOTHING
), draft AS (
    INSERT INTO twitter_bot.translations (tweet_id, target_language, status, translated_text, confidence, created_at)
    VALUES (:tweet_id, :target_language, 'draft', :translated_text, :confidence, :created_at)
        ON CONFLICT ON CONSTRAINT translations_one_per_language DO NOTHING
    RETURNING id, tweet_id, target_language, translated_text, confidence, created_at
), attempt AS (
    INSERT INTO twitter_bot.translation_attempts (translation_id, tweet_id, target_language, status, translated_text, confidence, attempted_at)
    SELECT id, tweet_id, target_language, 'imported', translated_text, confidence, created_at FROM draft
)
SELECT EXISTS (SELECT 1 FROM draft);

-- name: delete_attempts_older_than(cutoff)$
-- Retention: delete audit-trail attempts older than cutoff; returns how many.
WITH deleted AS (
    DELETE FROM twitter_bot.translation_attempts WHERE attempted_at < :cutoff RETURNING 1
)
SELECT count(*)::bigint FROM deleted;

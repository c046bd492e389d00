-- transactional: false
-- Claim tokens for the two work queues (twitter_bot.translations, reddit_bot.comments).
--
-- A worker's finish (mark_posted / mark_failed / save_draft / mark_skipped) is an UPDATE guarded by the claim it
-- expects. When its first try committed, its reply was lost, and another worker claimed the row again before the
-- data layer's retry, the retry could not tell its own earlier try from none and reported StateConflict ("nothing
-- was changed"). Now each claim of a free row gets a fresh claim_id; the worker passes it to its finish; the finish
-- is guarded by it and records it (on the translation's attempt, in the comment's finish log), so a repeat finds
-- its own record whatever happened to the row since, and a stale claim that never finished is still refused.
--
-- Not one transaction, so that no scan runs under an exclusive lock: each column is added nullable without a
-- default (a catalog change, no rewrite, no scan), each CHECK NOT VALID (a catalog change), then validated in its
-- own statement (a scan under SHARE UPDATE EXCLUSIVE: reads and writes go on); each lock is waited for at most 5 s.
-- Every statement can be run again (IF NOT EXISTS, DROP … IF EXISTS before ADD), so a migration that failed half
-- way is simply run again.

SET lock_timeout = '5s';

-- == twitter_bot ==================================================================================================
ALTER TABLE twitter_bot.translations ADD COLUMN IF NOT EXISTS claim_id uuid;
COMMENT ON COLUMN twitter_bot.translations.claim_id IS 'Token of the current or last lease: new for each claim of a free row, kept while the same worker re-claims what it holds and after the finish. A finish names it, so a retried finish is told from a stale one.';
ALTER TABLE twitter_bot.translations
    DROP CONSTRAINT IF EXISTS translations_claim_id_has_worker,
    ADD CONSTRAINT translations_claim_id_has_worker CHECK (claim_id IS NULL OR claimed_by IS NOT NULL) NOT VALID;
ALTER TABLE twitter_bot.translations VALIDATE CONSTRAINT translations_claim_id_has_worker;
COMMENT ON CONSTRAINT translations_claim_id_has_worker ON twitter_bot.translations IS 'A lease token belongs to the worker that holds or last held the translation.';

ALTER TABLE twitter_bot.translation_attempts ADD COLUMN IF NOT EXISTS claim_id uuid;
COMMENT ON COLUMN twitter_bot.translation_attempts.claim_id IS 'The lease (translations.claim_id) under which a worker''s finish (posted, failed, draft) recorded this attempt: a retried finish finds its own earlier try by it. NULL for approvals, roll-backs, imports, and attempts recorded before claim tokens.';
ALTER TABLE twitter_bot.translation_attempts
    DROP CONSTRAINT IF EXISTS translation_attempts_claim_only_on_finishes,
    ADD CONSTRAINT translation_attempts_claim_only_on_finishes
    CHECK (claim_id IS NULL OR status IN ('posted', 'failed', 'draft')) NOT VALID;
ALTER TABLE twitter_bot.translation_attempts VALIDATE CONSTRAINT translation_attempts_claim_only_on_finishes;
COMMENT ON CONSTRAINT translation_attempts_claim_only_on_finishes ON twitter_bot.translation_attempts IS 'Only a worker''s finish (posted, failed, draft) is recorded under a lease.';

-- == reddit_bot ===================================================================================================
ALTER TABLE reddit_bot.comments ADD COLUMN IF NOT EXISTS claim_id uuid;
COMMENT ON COLUMN reddit_bot.comments.claim_id IS 'Token of the current or last lease: new for each claim of a free comment, kept while the same worker re-claims what it holds and after the finish. A finish names it, so a retried finish is told from a stale one.';
ALTER TABLE reddit_bot.comments
    DROP CONSTRAINT IF EXISTS comments_claim_id_has_worker,
    ADD CONSTRAINT comments_claim_id_has_worker CHECK (claim_id IS NULL OR claimed_by IS NOT NULL) NOT VALID;
ALTER TABLE reddit_bot.comments VALIDATE CONSTRAINT comments_claim_id_has_worker;
COMMENT ON CONSTRAINT comments_claim_id_has_worker ON reddit_bot.comments IS 'A lease token belongs to the worker that holds or last held the comment.';

-- One row per finish: a comment has at most one per failed attempt (max_attempts is at most 100) and one for its
-- post or skip, and goes with its comment when that is purged, so the log needs no retention of its own.
CREATE TABLE IF NOT EXISTS reddit_bot.comment_finishes (
    comment_id  bigint      NOT NULL CONSTRAINT comment_finishes_comment_fk REFERENCES reddit_bot.comments (id) ON DELETE CASCADE,
    claim_id    uuid        NOT NULL,
    outcome     text        NOT NULL CONSTRAINT comment_finishes_outcome_valid CHECK (outcome IN ('posted', 'failed', 'skipped')),
    worker      text        NOT NULL CONSTRAINT comment_finishes_worker_valid CHECK (btrim(worker) <> '' AND char_length(worker) <= 200),
    detail      text        NOT NULL CONSTRAINT comment_finishes_detail_length CHECK (char_length(detail) BETWEEN 1 AND 2000),
    finished_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT comment_finishes_pkey PRIMARY KEY (comment_id, claim_id)
);
COMMENT ON TABLE reddit_bot.comment_finishes IS 'Each worker finish of a comment (posted, failed attempt, skipped) under its lease: a retried finish whose first try committed finds itself here after the comment moved on to another claim.';
COMMENT ON COLUMN reddit_bot.comment_finishes.comment_id IS 'The comment finished.';
COMMENT ON COLUMN reddit_bot.comment_finishes.claim_id IS 'The lease (comments.claim_id) the finish was made under.';
COMMENT ON COLUMN reddit_bot.comment_finishes.outcome IS 'What the finish recorded: posted, failed (an attempt counted) or skipped.';
COMMENT ON COLUMN reddit_bot.comment_finishes.worker IS 'The worker that held the lease.';
COMMENT ON COLUMN reddit_bot.comment_finishes.detail IS 'The finish''s value: the Reddit id posted, the error of the failed attempt, or the reason for the skip (a repeat must carry the same).';
COMMENT ON COLUMN reddit_bot.comment_finishes.finished_at IS 'When the finish committed.';
COMMENT ON CONSTRAINT comment_finishes_pkey ON reddit_bot.comment_finishes IS 'A lease finishes its comment once (the guarded finish releases the lease).';
COMMENT ON CONSTRAINT comment_finishes_comment_fk ON reddit_bot.comment_finishes IS 'A finish belongs to a stored comment; purged with it.';
COMMENT ON CONSTRAINT comment_finishes_outcome_valid ON reddit_bot.comment_finishes IS 'Known finish outcomes only.';
COMMENT ON CONSTRAINT comment_finishes_detail_length ON reddit_bot.comment_finishes IS 'A Reddit id, error or reason: 1-2000 characters.';
COMMENT ON CONSTRAINT comment_finishes_worker_valid ON reddit_bot.comment_finishes IS 'A worker name is 1-200 characters and not only spaces.';

-- Back to before 0020: no claim tokens. The finishes recorded in reddit_bot.comment_finishes are dropped with it
-- (the comments keep their status, attempts and claimed_by); the attempts' claim_id goes with its column.
SET LOCAL lock_timeout = '5s';

DROP TABLE reddit_bot.comment_finishes;
ALTER TABLE reddit_bot.comments DROP CONSTRAINT comments_claim_id_has_worker;
ALTER TABLE reddit_bot.comments DROP COLUMN claim_id;
ALTER TABLE twitter_bot.translation_attempts DROP CONSTRAINT translation_attempts_claim_only_on_finishes;
ALTER TABLE twitter_bot.translation_attempts DROP COLUMN claim_id;
ALTER TABLE twitter_bot.translations DROP CONSTRAINT translations_claim_id_has_worker;
ALTER TABLE twitter_bot.translations DROP COLUMN claim_id;

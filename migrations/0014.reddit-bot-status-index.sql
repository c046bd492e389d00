-- transactional: false
-- count_comments_by_status read the whole comments table (91,500 blocks, 0.5 s at 1M comments); this index makes
-- it an index-only scan (909 blocks). CONCURRENTLY: the table may be live.
SET lock_timeout = '5s';
CREATE INDEX CONCURRENTLY IF NOT EXISTS comments_status_idx ON reddit_bot.comments (status) WHERE deleted_at IS NULL;
COMMENT ON INDEX reddit_bot.comments_status_idx IS 'count_comments_by_status: live comments by status (index-only).';

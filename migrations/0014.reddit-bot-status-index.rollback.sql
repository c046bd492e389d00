-- transactional: false
DROP INDEX CONCURRENTLY IF EXISTS reddit_bot.comments_status_idx;

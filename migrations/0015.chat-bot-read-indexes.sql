-- transactional: false
-- From a plan review at 300k messages / 60k conversations. CONCURRENTLY: the tables may be live.
SET lock_timeout = '5s';
-- get_user_statistics: the mean sentiment of a user's messages read every message (4,900 blocks for a heavy
-- user); this index makes it an index-only scan (214 blocks).
CREATE INDEX CONCURRENTLY IF NOT EXISTS messages_user_sentiment_idx
    ON chat_bot.messages (user_id) INCLUDE (sentiment) WHERE role = 'user';
COMMENT ON INDEX chat_bot.messages_user_sentiment_idx IS 'get_user_statistics: the sentiment of a user''s own messages (index-only).';
-- get_user_conversations: one query per case (with and without a status), each with an index in its order, so
-- the generic plan asyncpg settles on reads 20 rows instead of all of a user's conversations and sorting them.
CREATE INDEX CONCURRENTLY IF NOT EXISTS conversations_user_recent_idx
    ON chat_bot.conversations (user_id, last_message_at DESC NULLS LAST, id DESC);
COMMENT ON INDEX chat_bot.conversations_user_recent_idx IS 'Foreign key to users; list_user_conversations, most recent first.';
CREATE INDEX CONCURRENTLY IF NOT EXISTS conversations_user_status_recent_idx
    ON chat_bot.conversations (user_id, status, last_message_at DESC NULLS LAST, id DESC);
COMMENT ON INDEX chat_bot.conversations_user_status_recent_idx IS 'list_user_conversations_by_status, most recent first.';
DROP INDEX CONCURRENTLY IF EXISTS chat_bot.conversations_user_status_idx;

-- transactional: false
SET lock_timeout = '5s';
CREATE INDEX CONCURRENTLY IF NOT EXISTS conversations_user_status_idx
    ON chat_bot.conversations (user_id, status, last_message_at DESC NULLS LAST, id);
COMMENT ON INDEX chat_bot.conversations_user_status_idx IS 'Foreign key to users; get_user_conversations by status, most recent first.';
DROP INDEX CONCURRENTLY IF EXISTS chat_bot.conversations_user_status_recent_idx;
DROP INDEX CONCURRENTLY IF EXISTS chat_bot.conversations_user_recent_idx;
DROP INDEX CONCURRENTLY IF EXISTS chat_bot.messages_user_sentiment_idx;

-- name: create_conversation(user_id, session_id, title)^
-- Start a conversation of a live user.
INSERT INTO chat_bot.conversations (user_id, session_id, title)
SELECT u.id, :session_id, :title FROM chat_bot.users AS u WHERE u.id = :user_id AND u.deleted_at IS NULL
RETURNING id, user_id, session_id, title, status, message_count, total_tokens, last_message_at, created_at, updated_at;

-- name: get_conversation(id)^
-- One conversation.
SELECT id, user_id, session_id, title, status, message_count, total_tokens, last_message_at, created_at, updated_at FROM chat_bot.conversations WHERE id = :id;

-- name: list_user_conversations(user_id, limit)
-- A user's conversations, most recent first.
SELECT id, user_id, session_id, title, status, message_count, total_tokens, last_message_at, created_at, updated_at
  FROM chat_bot.conversations
 WHERE user_id = :user_id
 ORDER BY last_message_at DESC NULLS LAST, id DESC
 LIMIT :limit;

-- name: list_user_conversations_by_status(user_id, status, limit)
-- A user's conversations of one status, most recent first.
SELECT id, user_id, session_id, title, status, message_count, total_tokens, last_message_at, created_at, updated_at
  FROM chat_bot.conversations
 WHERE user_id = :user_id AND status = :status
 ORDER BY last_message_at DESC NULLS LAST, id DESC
 LIMIT :limit;

-- name: set_conversation_status(id, status)^
-- Pause, close, archive or reopen a conversation.
UPDATE chat_bot.conversations SET status = :status WHERE id = :id
RETURNING id, user_id, session_id, title, status, message_count, total_tokens, last_message_at, created_at, updated_at;

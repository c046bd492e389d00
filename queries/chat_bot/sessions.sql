-- name: start_session(user_id, idle_timeout_seconds, at)^
-- Start a session for a user; it expires after idle_timeout_seconds without activity.
INSERT INTO chat_bot.conversation_sessions (user_id, idle_timeout_seconds, started_at, last_activity_at, expires_at)
VALUES (:user_id, :idle_timeout_seconds::integer, :at, :at, :at::timestamptz + make_interval(secs => :idle_timeout_seconds::integer))
RETURNING id, user_id, status, started_at, last_activity_at, expires_at, ended_at, idle_timeout_seconds;

-- name: touch_session(id, at)^
-- Record activity in an active session that has not expired (its expiry moves on); otherwise the session as it is.
WITH touched AS (
    UPDATE chat_bot.conversation_sessions
       SET last_activity_at = greatest(last_activity_at, :at),
           expires_at = greatest(last_activity_at, :at) + make_interval(secs => idle_timeout_seconds::double precision)
     WHERE id = :id AND status = 'active' AND expires_at > :at
    RETURNING id, user_id, status, started_at, last_activity_at, expires_at, ended_at, idle_timeout_seconds
)
SELECT id, user_id, status, started_at, last_activity_at, expires_at, ended_at, idle_timeout_seconds FROM touched
 UNION ALL
SELECT id, user_id, status, started_at, last_activity_at, expires_at, ended_at, idle_timeout_seconds FROM chat_bot.conversation_sessions
 WHERE id = :id AND NOT EXISTS (SELECT 1 FROM touched);

-- name: expire_idle_sessions(now)$
-- Expire, in one statement, every active session idle longer than its timeout; returns how many.
WITH expired AS (
    UPDATE chat_bot.conversation_sessions
       SET status = 'expired', ended_at = expires_at
     WHERE status = 'active' AND expires_at <= :now
    RETURNING 1
)
SELECT count(*)::bigint FROM expired;

-- name: close_session(id, at)^
-- Close an active session (a repeat returns it closed).
WITH closed AS (
    UPDATE chat_bot.conversation_sessions SET status = 'closed', ended_at = :at
     WHERE id = :id AND status = 'active'
    RETURNING id, user_id, status, started_at, last_activity_at, expires_at, ended_at, idle_timeout_seconds
)
SELECT id, user_id, status, started_at, last_activity_at, expires_at, ended_at, idle_timeout_seconds FROM closed
 UNION ALL
SELECT id, user_id, status, started_at, last_activity_at, expires_at, ended_at, idle_timeout_seconds FROM chat_bot.conversation_sessions WHERE id = :id AND NOT EXISTS (SELECT 1 FROM closed);

-- name: get_active_session(user_id, now)^
-- A user's newest active, unexpired session.
SELECT id, user_id, status, started_at, last_activity_at, expires_at, ended_at, idle_timeout_seconds
  FROM chat_bot.conversation_sessions
 WHERE user_id = :user_id AND status = 'active' AND expires_at > :now
 ORDER BY started_at DESC
 LIMIT 1;

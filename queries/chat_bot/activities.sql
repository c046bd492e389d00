-- name: record_activity(user_id, activity_type, details, occurred_at)^
-- Record what a user did (rate limits and analytics count these) and touch the user's last activity.
WITH recorded AS (
    INSERT INTO chat_bot.user_activities (user_id, activity_type, details, occurred_at)
    VALUES (:user_id, :activity_type, :details::jsonb, :occurred_at)
    RETURNING id, user_id, activity_type, details, occurred_at
), touched AS (
    UPDATE chat_bot.users AS u SET last_activity_at = greatest(u.last_activity_at, r.occurred_at)
      FROM recorded AS r WHERE u.id = r.user_id
)
SELECT id, user_id, activity_type, details, occurred_at FROM recorded;

-- name: list_user_activities(user_id, limit)
-- A user's activities, newest first.
SELECT id, user_id, activity_type, details, occurred_at
  FROM chat_bot.user_activities
 WHERE user_id = :user_id
 ORDER BY occurred_at DESC, id DESC
 LIMIT :limit;

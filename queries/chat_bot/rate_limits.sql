-- name: upsert_rate_limit(name, activity_type, applies_to, max_events, window_seconds, is_active)^
-- Define or change a rate limit.
INSERT INTO chat_bot.rate_limit_configs AS r (name, activity_type, applies_to, max_events, window_seconds, is_active)
VALUES (:name, :activity_type, :applies_to, :max_events, :window_seconds, :is_active)
    ON CONFLICT (name) DO UPDATE
   SET activity_type = EXCLUDED.activity_type, applies_to = EXCLUDED.applies_to, max_events = EXCLUDED.max_events,
       window_seconds = EXCLUDED.window_seconds, is_active = EXCLUDED.is_active
RETURNING name, activity_type, applies_to, max_events, window_seconds, is_active;

-- name: check_chat_rate_limit(user_id, activity_type, now)^
-- Which limit applies to the user for an activity (the premium one for premium users, else the one for everyone) and whether one more event fits in its window, in one query; the count stops at the limit.
WITH account AS (
    SELECT id, is_premium FROM chat_bot.users WHERE id = :user_id AND deleted_at IS NULL
), rule AS (
    SELECT r.name, r.max_events, r.window_seconds
      FROM chat_bot.rate_limit_configs AS r, account AS a
     WHERE r.activity_type = :activity_type AND r.is_active
       AND (r.applies_to = 'everyone' OR (r.applies_to = 'premium' AND a.is_premium))
     ORDER BY (r.applies_to = 'premium') DESC
     LIMIT 1
), used AS (
    SELECT count(*)::bigint AS n, min(occurred_at) AS oldest
      -- The window's start as a scalar subquery: a parameter of the index scan, so a user with a long history
      -- and few recent events reads only those (as a join filter it walked the whole history).
      FROM (SELECT e.occurred_at
              FROM chat_bot.user_activities AS e
             WHERE e.user_id = :user_id AND e.activity_type = :activity_type
               AND e.occurred_at > :now::timestamptz - (SELECT make_interval(secs => window_seconds::double precision) FROM rule)
               AND e.occurred_at <= :now::timestamptz
             ORDER BY e.occurred_at DESC
             LIMIT (SELECT max_events FROM rule)) AS recent
)
SELECT rule.name AS limit_name, rule.max_events, rule.window_seconds, used.n AS used,
       used.n < rule.max_events AS allowed,
       CASE WHEN used.n < rule.max_events THEN 0
            ELSE extract(epoch FROM used.oldest + make_interval(secs => rule.window_seconds::double precision) - :now::timestamptz)
       END::double precision AS retry_after_seconds
  FROM rule, used;

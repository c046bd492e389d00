-- name: get_system_state(key)^
-- One state value by key, or nothing.
SELECT key, value, updated_at
  FROM twitter_bot.system_state
 WHERE key = :key;

-- name: set_system_state(key, value)^
-- Insert or replace a state value (SQL NULL is stored as JSON null); returns the stored row.
INSERT INTO twitter_bot.system_state (key, value)
VALUES (:key, coalesce(:value::jsonb, 'null'::jsonb))
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
RETURNING key, value, updated_at;

-- name: delete_system_state(key)$
-- Delete a state value; returns its key, or NULL when there was none.
DELETE FROM twitter_bot.system_state
 WHERE key = :key
RETURNING key;

-- name: list_system_state()
-- Every state value, by key.
SELECT key, value, updated_at
  FROM twitter_bot.system_state
 ORDER BY key;

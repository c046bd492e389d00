-- name: get_config_value(key)^
-- One configuration entry.
SELECT key, value, description, updated_by, updated_at FROM chat_bot.system_configurations WHERE key = :key;

-- name: list_config_values()
-- Every configuration entry.
SELECT key, value, description, updated_by, updated_at FROM chat_bot.system_configurations ORDER BY key;

-- name: set_config_value(key, value, description, change_reason, changed_by)^
-- Set a value and write its history row in the same statement (only when the value changes: a repeat writes nothing).
WITH old AS (
    SELECT key, value FROM chat_bot.system_configurations WHERE key = :key FOR UPDATE
), written AS (
    -- Joined with `old` so the row is locked (and, after a concurrent change, re-read) before it is written:
    -- the history then records the value this change replaced.
    INSERT INTO chat_bot.system_configurations AS s (key, value, description, updated_by)
    SELECT :key, :value::jsonb, :description, :changed_by FROM (VALUES (1)) AS one LEFT JOIN old ON true
        ON CONFLICT (key) DO UPDATE
       SET value = EXCLUDED.value, description = coalesce(EXCLUDED.description, s.description), updated_by = EXCLUDED.updated_by
     WHERE s.value IS DISTINCT FROM EXCLUDED.value
    RETURNING key, value, description, updated_by, updated_at
), history AS (
    INSERT INTO chat_bot.configuration_history (key, old_value, new_value, change_reason, changed_by)
    SELECT w.key, (SELECT value FROM old), w.value, :change_reason, :changed_by FROM written AS w
)
SELECT key, value, description, updated_by, updated_at FROM written
 UNION ALL
SELECT key, value, description, updated_by, updated_at FROM chat_bot.system_configurations
 WHERE key = :key AND NOT EXISTS (SELECT 1 FROM written);

-- name: list_config_history(key, limit)
-- A key's changes, newest first.
SELECT id, key, old_value, new_value, change_reason, changed_by, changed_at
  FROM chat_bot.configuration_history
 WHERE key = :key
 ORDER BY id DESC
 LIMIT :limit;

-- name: get_config_history_entry(id)^
-- One change of the history (to roll back to its value).
SELECT id, key, old_value, new_value, change_reason, changed_by, changed_at
  FROM chat_bot.configuration_history
 WHERE id = :id;

-- name: get_feature_flag(key)^
-- One feature flag.
SELECT key, description, is_enabled, rollout_percentage, targeting_rules, created_at, updated_at FROM chat_bot.feature_flags WHERE key = :key;

-- name: list_feature_flags()
-- Every feature flag.
SELECT key, description, is_enabled, rollout_percentage, targeting_rules, created_at, updated_at FROM chat_bot.feature_flags ORDER BY key;

-- name: upsert_feature_flag(key, description, is_enabled, rollout_percentage, targeting_rules)^
-- Create or change a feature flag.
INSERT INTO chat_bot.feature_flags AS f (key, description, is_enabled, rollout_percentage, targeting_rules)
VALUES (:key, :description, :is_enabled, :rollout_percentage, :targeting_rules::jsonb)
    ON CONFLICT (key) DO UPDATE
   SET description = coalesce(EXCLUDED.description, f.description), is_enabled = EXCLUDED.is_enabled,
       rollout_percentage = EXCLUDED.rollout_percentage, targeting_rules = EXCLUDED.targeting_rules
RETURNING key, description, is_enabled, rollout_percentage, targeting_rules, created_at, updated_at;

-- name: get_flag_statistics()
-- Per flag: enabled, rollout, number of targeting rules, and how many live users its percentage admits (before targeting rules), by the same stable hash the check uses.
SELECT f.key, f.is_enabled, f.rollout_percentage, jsonb_array_length(f.targeting_rules) AS rules,
       CASE WHEN NOT f.is_enabled THEN 0
            ELSE (SELECT count(*) FROM chat_bot.users AS u
                   WHERE u.deleted_at IS NULL AND u.is_active
                     AND chat_bot.rollout_bucket(f.key, u.id::text) < f.rollout_percentage) END::bigint AS users_in_rollout,
       (SELECT count(*) FROM chat_bot.users AS u WHERE u.deleted_at IS NULL AND u.is_active)::bigint AS active_users
  FROM chat_bot.feature_flags AS f
 ORDER BY f.key;

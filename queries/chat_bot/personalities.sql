-- name: upsert_personality_trait(name, description, min_value, max_value, default_value)^
-- Define or change a personality trait.
INSERT INTO chat_bot.personality_traits AS t (name, description, min_value, max_value, default_value)
VALUES (:name, :description, :min_value, :max_value, :default_value)
    ON CONFLICT (name) DO UPDATE
   SET description = EXCLUDED.description, min_value = EXCLUDED.min_value, max_value = EXCLUDED.max_value,
       default_value = EXCLUDED.default_value
RETURNING name, description, min_value, max_value, default_value;

-- name: list_personality_traits()
-- Every trait.
SELECT name, description, min_value, max_value, default_value FROM chat_bot.personality_traits ORDER BY name;

-- name: upsert_personality_profile(name, description, traits, is_active)^
-- Define or change a personality profile by name (trait values outside a trait's range are refused by the repository).
INSERT INTO chat_bot.personality_profiles AS p (name, description, traits, is_active)
VALUES (:name, :description, :traits::jsonb, :is_active)
    ON CONFLICT ON CONSTRAINT personality_profiles_name_unique DO UPDATE
   SET description = EXCLUDED.description, traits = EXCLUDED.traits, is_active = EXCLUDED.is_active
RETURNING id, name, description, traits, is_active, created_at;

-- name: list_personality_profiles()
-- Active profiles.
SELECT id, name, description, traits, is_active, created_at
  FROM chat_bot.personality_profiles
 WHERE is_active
 ORDER BY name;

-- name: set_user_personality(user_id, profile_id, adaptations, effectiveness)^
-- Map a user to a profile with its adaptations (replacing that mapping's values).
INSERT INTO chat_bot.user_personality_mappings AS m (user_id, profile_id, adaptations, effectiveness)
VALUES (:user_id, :profile_id, :adaptations::jsonb, :effectiveness)
    ON CONFLICT ON CONSTRAINT user_personality_mappings_pkey DO UPDATE
   SET adaptations = EXCLUDED.adaptations, effectiveness = EXCLUDED.effectiveness
RETURNING user_id, profile_id, adaptations, effectiveness, updated_at;

-- name: list_user_personalities(user_id)
-- A user's profiles with their adaptations, the most effective first.
SELECT m.user_id, m.profile_id, p.name AS profile_name, p.traits, m.adaptations, m.effectiveness, m.updated_at
  FROM chat_bot.user_personality_mappings AS m
  JOIN chat_bot.personality_profiles AS p ON p.id = m.profile_id
 WHERE m.user_id = :user_id
 ORDER BY m.effectiveness DESC NULLS LAST, p.name;

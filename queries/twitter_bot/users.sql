-- name: create_user(username, display_name, settings)^
-- A new operator account (Conflict when the username is taken).
INSERT INTO twitter_bot.users (username, display_name, settings)
VALUES (:username, :display_name, coalesce(:settings::jsonb, '{}'::jsonb))
RETURNING id, username, display_name, settings, is_active, api_credentials IS NOT NULL AS has_credentials,
          last_active_at, created_at, updated_at;

-- name: get_user(id)^
-- One operator by id (credentials are never selected here).
SELECT id, username, display_name, settings, is_active, api_credentials IS NOT NULL AS has_credentials,
       last_active_at, created_at, updated_at
  FROM twitter_bot.users
 WHERE id = :id;

-- name: get_user_by_username(username)^
-- One operator by username.
SELECT id, username, display_name, settings, is_active, api_credentials IS NOT NULL AS has_credentials,
       last_active_at, created_at, updated_at
  FROM twitter_bot.users
 WHERE username = :username;

-- name: list_users()
-- Every operator, by username.
SELECT id, username, display_name, settings, is_active, api_credentials IS NOT NULL AS has_credentials,
       last_active_at, created_at, updated_at
  FROM twitter_bot.users
 ORDER BY username;

-- name: update_user_settings(id, settings)^
-- Merge keys into an operator's settings (a key set to null is removed).
UPDATE twitter_bot.users
   SET settings = jsonb_strip_nulls(settings || :settings::jsonb)
 WHERE id = :id
RETURNING id, username, display_name, settings, is_active, api_credentials IS NOT NULL AS has_credentials,
          last_active_at, created_at, updated_at;

-- name: touch_user_activity(id)^
-- Record that an operator was active now.
UPDATE twitter_bot.users
   SET last_active_at = now()
 WHERE id = :id
RETURNING id, username, display_name, settings, is_active, api_credentials IS NOT NULL AS has_credentials,
          last_active_at, created_at, updated_at;

-- name: set_user_credentials(id, api_credentials)^
-- Store already-encrypted API credentials (NULL removes them).
UPDATE twitter_bot.users
   SET api_credentials = :api_credentials
 WHERE id = :id
RETURNING id, username, display_name, settings, is_active, api_credentials IS NOT NULL AS has_credentials,
          last_active_at, created_at, updated_at;

-- name: get_user_credentials(id)$
-- The encrypted credentials of an operator (decrypted by the application with its key).
SELECT api_credentials
  FROM twitter_bot.users
 WHERE id = :id;

-- name: create_api_key(user_id, name, prefix, key_digest, expires_at)^
-- Store a new key's digest (never the key); a repeat of the same key returns the stored row.
WITH created AS (
    INSERT INTO error_api.api_keys (user_id, name, prefix, key_digest, expires_at)
    VALUES (:user_id, :name, :prefix, :key_digest, :expires_at)
        ON CONFLICT ON CONSTRAINT api_keys_digest_unique DO NOTHING
    RETURNING id, user_id, name, prefix, is_active, last_used, created_at, expires_at
)
SELECT id, user_id, name, prefix, is_active, last_used, created_at, expires_at FROM created
 UNION ALL
SELECT id, user_id, name, prefix, is_active, last_used, created_at, expires_at
  FROM error_api.api_keys
 WHERE key_digest = :key_digest AND NOT EXISTS (SELECT 1 FROM created);

-- name: authenticate_api_key(key_digest, now)^
-- The active, unexpired key with this digest whose owner is active, with the owner's tier; last_used is written at most once a minute per key, so authentication is not a write per request.
WITH key AS (
    SELECT k.id AS api_key_id, k.user_id, k.name, k.prefix, k.expires_at, k.last_used, u.subscription_tier
      FROM error_api.api_keys AS k
      JOIN error_api.users AS u ON u.id = k.user_id
     WHERE k.key_digest = :key_digest AND k.is_active AND u.is_active
       AND (k.expires_at IS NULL OR k.expires_at > :now)
), touched AS (
    UPDATE error_api.api_keys AS k
       SET last_used = :now
      FROM key
     WHERE k.id = key.api_key_id AND (k.last_used IS NULL OR k.last_used < :now::timestamptz - interval '1 minute')
    RETURNING 1
)
SELECT api_key_id, user_id, name, prefix, expires_at, subscription_tier FROM key;

-- name: list_user_api_keys(user_id)
-- A user's keys, oldest first, without anything secret.
SELECT id, user_id, name, prefix, is_active, last_used, created_at, expires_at
  FROM error_api.api_keys
 WHERE user_id = :user_id
 ORDER BY created_at, id;

-- name: deactivate_api_key(id, user_id)^
-- Deactivate one of the user's own keys (nothing when the key is not theirs).
UPDATE error_api.api_keys
   SET is_active = false
 WHERE id = :id AND user_id = :user_id
RETURNING id, user_id, name, prefix, is_active, last_used, created_at, expires_at;

-- name: delete_expired_api_keys(before)$
-- Delete keys that expired before a time (their usage rows keep NULL for the key); returns how many.
WITH deleted AS (
    DELETE FROM error_api.api_keys WHERE expires_at < :before RETURNING 1
)
SELECT count(*)::bigint FROM deleted;

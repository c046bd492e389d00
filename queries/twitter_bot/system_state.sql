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

-- name: advance_last_tweet_id(tweet_id)$
-- Store last_tweet_id unless the stored one is larger (it never moves backwards); returns the id now stored.
WITH advanced AS (
    INSERT INTO twitter_bot.system_state AS s (key, value)
    VALUES ('last_tweet_id', to_jsonb(:tweet_id::bigint))
        ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value
     WHERE (s.value #>> '{}')::bigint < (EXCLUDED.value #>> '{}')::bigint
    RETURNING (value #>> '{}')::bigint AS tweet_id
)
SELECT coalesce(
    (SELECT tweet_id FROM advanced),
    (SELECT (value #>> '{}')::bigint FROM twitter_bot.system_state WHERE key = 'last_tweet_id')
);

-- name: get_last_tweet_id()$
-- The newest tweet id the bot has seen, or NULL.
SELECT (value #>> '{}')::bigint
  FROM twitter_bot.system_state
 WHERE key = 'last_tweet_id';

-- name: increment_counter(key, amount)$
-- Add amount to a numeric counter (created at 0); returns the new value.
INSERT INTO twitter_bot.system_state AS s (key, value)
VALUES (:key, to_jsonb(:amount::bigint))
    ON CONFLICT (key) DO UPDATE
   SET value = to_jsonb((s.value #>> '{}')::bigint + :amount::bigint)
RETURNING (value #>> '{}')::bigint;

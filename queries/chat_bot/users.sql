-- name: create_user(telegram_id, username, first_name, last_name, language_code, is_premium, preferences)^
-- A new user (Conflict on users_telegram_id_unique when that Telegram user exists).
INSERT INTO chat_bot.users (telegram_id, username, first_name, last_name, language_code, is_premium, preferences)
VALUES (:telegram_id, :username, :first_name, :last_name, :language_code, :is_premium, :preferences::jsonb)
RETURNING id, telegram_id, username, first_name, last_name, language_code, is_premium, preferences, is_active, message_count, last_activity_at, created_at, updated_at, deleted_at;

-- name: create_users(telegram_ids, usernames, first_names, last_names, language_codes, premiums)
-- Many new users in one statement (Conflict when any Telegram user exists: nothing is stored then).
INSERT INTO chat_bot.users (telegram_id, username, first_name, last_name, language_code, is_premium)
SELECT * FROM unnest(:telegram_ids::bigint[], :usernames::text[], :first_names::text[], :last_names::text[],
                     :language_codes::text[], :premiums::boolean[])
RETURNING id, telegram_id, username, first_name, last_name, language_code, is_premium, preferences, is_active, message_count, last_activity_at, created_at, updated_at, deleted_at;

-- name: update_users(ids, usernames, first_names, last_names, language_codes, premiums, actives)$
-- Update many live users in one statement: a NULL in a list keeps that field; returns how many rows changed.
WITH changes AS (
    SELECT * FROM unnest(:ids::bigint[], :usernames::text[], :first_names::text[], :last_names::text[],
                         :language_codes::text[], :premiums::boolean[], :actives::boolean[])
           AS c(id, username, first_name, last_name, language_code, is_premium, is_active)
), updated AS (
    UPDATE chat_bot.users AS u
       SET username = coalesce(c.username, u.username), first_name = coalesce(c.first_name, u.first_name),
           last_name = coalesce(c.last_name, u.last_name), language_code = coalesce(c.language_code, u.language_code),
           is_premium = coalesce(c.is_premium, u.is_premium), is_active = coalesce(c.is_active, u.is_active)
      FROM changes AS c
     WHERE u.id = c.id AND u.deleted_at IS NULL
       AND (u.username, u.first_name, u.last_name, u.language_code, u.is_premium, u.is_active) IS DISTINCT FROM
           (coalesce(c.username, u.username), coalesce(c.first_name, u.first_name), coalesce(c.last_name, u.last_name),
            coalesce(c.language_code, u.language_code), coalesce(c.is_premium, u.is_premium), coalesce(c.is_active, u.is_active))
    RETURNING 1
)
SELECT count(*)::bigint FROM updated;

-- name: get_user(id)^
-- One live user.
SELECT id, telegram_id, username, first_name, last_name, language_code, is_premium, preferences, is_active, message_count, last_activity_at, created_at, updated_at, deleted_at
  FROM chat_bot.users
 WHERE id = :id AND deleted_at IS NULL;

-- name: get_user_by_telegram_id(telegram_id)^
-- One live user by Telegram id.
SELECT id, telegram_id, username, first_name, last_name, language_code, is_premium, preferences, is_active, message_count, last_activity_at, created_at, updated_at, deleted_at
  FROM chat_bot.users
 WHERE telegram_id = :telegram_id AND deleted_at IS NULL;

-- name: find_users()
-- Live users: the base of the dynamic filters (datalayer.filters adds WHERE, ORDER BY and LIMIT over it).
SELECT id, telegram_id, username, first_name, last_name, language_code, is_premium, preferences, is_active, message_count, last_activity_at, created_at, updated_at, deleted_at
  FROM chat_bot.users
 WHERE deleted_at IS NULL;

-- name: update_user_preferences(id, patch)^
-- Merge a JSON object into a live user's preferences key by key (not a replace); a key set to null is removed.
UPDATE chat_bot.users
   SET preferences = (preferences || :patch::jsonb)
                     - coalesce((SELECT array_agg(key) FROM jsonb_each(:patch::jsonb) WHERE value = 'null'::jsonb), '{}')
 WHERE id = :id AND deleted_at IS NULL
RETURNING id, telegram_id, username, first_name, last_name, language_code, is_premium, preferences, is_active, message_count, last_activity_at, created_at, updated_at, deleted_at;

-- name: delete_user(id, at)$
-- Soft-delete a live user: invisible to every normal read from then on; true when it was live.
WITH deleted AS (
    UPDATE chat_bot.users SET deleted_at = :at WHERE id = :id AND deleted_at IS NULL RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM deleted);

-- name: restore_user(id)^
-- Undo a soft delete (not of an erased user).
UPDATE chat_bot.users
   SET deleted_at = NULL
 WHERE id = :id AND deleted_at IS NOT NULL AND erased_at IS NULL
RETURNING id, telegram_id, username, first_name, last_name, language_code, is_premium, preferences, is_active, message_count, last_activity_at, created_at, updated_at, deleted_at;

-- name: get_user_statistics(id)^
-- A live user's messages, conversations (all and active), first and last message, mean sentiment and tokens, in one query.
SELECT u.id AS user_id,
       u.message_count::bigint AS messages,
       c.conversations, c.active_conversations,
       (SELECT min(m.created_at) FROM chat_bot.messages AS m WHERE m.user_id = u.id) AS first_message_at,
       u.last_activity_at,
       (SELECT avg(m.sentiment) FROM chat_bot.messages AS m WHERE m.user_id = u.id AND m.role = 'user')::double precision AS avg_sentiment,
       c.total_tokens
  FROM chat_bot.users AS u
 CROSS JOIN LATERAL (
       SELECT count(*)::bigint AS conversations,
              count(*) FILTER (WHERE status = 'active')::bigint AS active_conversations,
              coalesce(sum(total_tokens), 0)::bigint AS total_tokens
         FROM chat_bot.conversations WHERE user_id = u.id) AS c
 WHERE u.id = :id AND u.deleted_at IS NULL;

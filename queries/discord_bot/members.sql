-- name: upsert_member(guild_id, user_id, username, is_bot)^
-- Store a member of a guild, or update its username and bot flag (an unchanged row is not rewritten).
WITH written AS (
    INSERT INTO discord_bot.members (guild_id, user_id, username, is_bot)
    VALUES (:guild_id, :user_id, :username, :is_bot)
        ON CONFLICT ON CONSTRAINT members_pkey DO UPDATE SET username = EXCLUDED.username, is_bot = EXCLUDED.is_bot
     WHERE (members.username, members.is_bot) IS DISTINCT FROM (EXCLUDED.username, EXCLUDED.is_bot)
    RETURNING guild_id, user_id, username, is_bot, last_seen, created_at, updated_at
)
SELECT guild_id, user_id, username, is_bot, last_seen, created_at, updated_at FROM written
 UNION ALL
SELECT guild_id, user_id, username, is_bot, last_seen, created_at, updated_at
  FROM discord_bot.members
 WHERE guild_id = :guild_id AND user_id = :user_id AND NOT EXISTS (SELECT 1 FROM written);

-- name: upsert_members(guild_id, user_ids, usernames, is_bots)$
-- Store many members of one guild in one statement (a guild sync); rows already equal are left alone; returns rows written.
WITH written AS (
    INSERT INTO discord_bot.members (guild_id, user_id, username, is_bot)
    SELECT :guild_id, u.user_id, u.username, u.is_bot
      FROM unnest(:user_ids::bigint[], :usernames::text[], :is_bots::boolean[]) AS u(user_id, username, is_bot)
        ON CONFLICT ON CONSTRAINT members_pkey DO UPDATE SET username = EXCLUDED.username, is_bot = EXCLUDED.is_bot
     WHERE (members.username, members.is_bot) IS DISTINCT FROM (EXCLUDED.username, EXCLUDED.is_bot)
    RETURNING 1
)
SELECT count(*)::bigint FROM written;

-- name: get_member(guild_id, user_id)^
-- One member of a guild.
SELECT guild_id, user_id, username, is_bot, last_seen, created_at, updated_at
  FROM discord_bot.members
 WHERE guild_id = :guild_id AND user_id = :user_id;

-- name: touch_member(guild_id, user_id, seen_at)^
-- Record activity of a member; last_seen never moves backwards (an older time changes nothing).
WITH touched AS (
    UPDATE discord_bot.members
       SET last_seen = :seen_at
     WHERE guild_id = :guild_id AND user_id = :user_id
       AND (last_seen IS NULL OR last_seen < :seen_at)
    RETURNING guild_id, user_id, username, is_bot, last_seen, created_at, updated_at
)
SELECT guild_id, user_id, username, is_bot, last_seen, created_at, updated_at FROM touched
 UNION ALL
SELECT guild_id, user_id, username, is_bot, last_seen, created_at, updated_at
  FROM discord_bot.members
 WHERE guild_id = :guild_id AND user_id = :user_id AND NOT EXISTS (SELECT 1 FROM touched);

-- name: count_members(guild_id)$
-- Members of a guild that are not bots.
SELECT count(*)::bigint FROM discord_bot.members WHERE guild_id = :guild_id AND NOT is_bot;

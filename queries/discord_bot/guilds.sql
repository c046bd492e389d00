-- name: upsert_guild(guild_id, name)^
-- Store a guild, or rename it when it is already stored (settings kept; an unchanged row is not rewritten).
WITH written AS (
    INSERT INTO discord_bot.guilds (guild_id, name)
    VALUES (:guild_id, :name)
        ON CONFLICT (guild_id) DO UPDATE SET name = EXCLUDED.name
     WHERE guilds.name IS DISTINCT FROM EXCLUDED.name
    RETURNING guild_id, name, settings, created_at, updated_at
)
SELECT guild_id, name, settings, created_at, updated_at FROM written
 UNION ALL
SELECT guild_id, name, settings, created_at, updated_at
  FROM discord_bot.guilds
 WHERE guild_id = :guild_id AND NOT EXISTS (SELECT 1 FROM written);

-- name: get_guild(guild_id)^
-- One guild by its Discord id.
SELECT guild_id, name, settings, created_at, updated_at
  FROM discord_bot.guilds
 WHERE guild_id = :guild_id;

-- name: update_guild_settings(guild_id, patch)^
-- Merge a JSON object into a guild's settings key by key; a key set to null is removed.
UPDATE discord_bot.guilds
   SET settings = (settings || :patch::jsonb)
                  - coalesce((SELECT array_agg(key) FROM jsonb_each(:patch::jsonb) WHERE value = 'null'::jsonb), '{}')
 WHERE guild_id = :guild_id
RETURNING guild_id, name, settings, created_at, updated_at;

-- name: delete_guild(guild_id)$
-- Delete a guild with its members, events, reactions and reminder log; true when it existed.
WITH deleted AS (
    DELETE FROM discord_bot.guilds WHERE guild_id = :guild_id RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM deleted);

-- transactional: false
SET lock_timeout = '5s';
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_guild_id_idx ON discord_bot.events (guild_id);
COMMENT ON INDEX discord_bot.events_guild_id_idx IS 'Foreign key to guilds; events of a guild.';
DROP INDEX CONCURRENTLY IF EXISTS discord_bot.events_guild_next_idx;

-- transactional: false
-- list_guild_events read every event of a guild to sort them (500 rows for 20 at 1M events); an index in
-- its order reads 20. It still leads with guild_id, so it serves the foreign key too, and replaces the old one.
-- CONCURRENTLY: the table may be live.
SET lock_timeout = '5s';
CREATE INDEX CONCURRENTLY IF NOT EXISTS events_guild_next_idx
    ON discord_bot.events (guild_id, next_reminder_at, id);
COMMENT ON INDEX discord_bot.events_guild_next_idx IS 'Foreign key to guilds; list_guild_events in due order.';
DROP INDEX CONCURRENTLY IF EXISTS discord_bot.events_guild_id_idx;

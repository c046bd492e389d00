DROP TABLE discord_bot.reminder_logs;
DROP TABLE discord_bot.reactions;
DROP TABLE discord_bot.events;
DROP FUNCTION discord_bot.set_next_reminder_at();
DROP FUNCTION discord_bot.is_emoji_list(jsonb);
DROP TABLE discord_bot.members;
DROP TABLE discord_bot.guilds;
DROP SCHEMA discord_bot;

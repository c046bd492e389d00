DROP TABLE reddit_bot.successful_patterns;
DROP TABLE reddit_bot.comments;
DROP TABLE reddit_bot.posts;
DROP SCHEMA reddit_bot;

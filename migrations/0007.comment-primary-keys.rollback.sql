COMMENT ON CONSTRAINT api_usage_pkey ON twitter_bot.api_usage IS NULL;
COMMENT ON CONSTRAINT system_state_pkey ON twitter_bot.system_state IS NULL;
COMMENT ON CONSTRAINT translation_attempts_pkey ON twitter_bot.translation_attempts IS NULL;
COMMENT ON CONSTRAINT translations_pkey ON twitter_bot.translations IS NULL;
COMMENT ON CONSTRAINT tweets_pkey ON twitter_bot.tweets IS NULL;
COMMENT ON CONSTRAINT users_pkey ON twitter_bot.users IS NULL;

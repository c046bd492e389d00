-- Primary keys got their names from PostgreSQL and no comment; now every constraint explains itself in \d+.
COMMENT ON CONSTRAINT api_usage_pkey ON twitter_bot.api_usage IS 'Surrogate key, with called_at (the partition key must be part of every unique key).';
COMMENT ON CONSTRAINT system_state_pkey ON twitter_bot.system_state IS 'One value per key.';
COMMENT ON CONSTRAINT translation_attempts_pkey ON twitter_bot.translation_attempts IS 'Surrogate key.';
COMMENT ON CONSTRAINT translations_pkey ON twitter_bot.translations IS 'Surrogate key.';
COMMENT ON CONSTRAINT tweets_pkey ON twitter_bot.tweets IS 'One row per tweet id.';
COMMENT ON CONSTRAINT users_pkey ON twitter_bot.users IS 'Surrogate key.';

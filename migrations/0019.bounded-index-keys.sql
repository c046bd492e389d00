-- transactional: false
-- Every text column in a btree index key (or INCLUDE list) gets a length CHECK: PostgreSQL refuses an index entry
-- over 2,704 bytes ("index row size … exceeds btree maximum") with an error that names no column and comes too late;
-- a CHECK fails first, as 23514 naming the constraint (InvalidData). These are the columns that had none (the rest
-- are bounded by a pattern with fixed repetition, a list of values or a char_length CHECK already). Every limit
-- is far below the btree limit even for 4-byte characters (500 × 4 = 2,000 bytes). The Params models check the
-- same limits before anything is sent; tests/test_hostile_input.py asserts every such column has a bound.
--
-- Not in a transaction: each CHECK is added NOT VALID (ACCESS EXCLUSIVE for a moment, no scan) and then
-- validated (SHARE UPDATE EXCLUSIVE: reads and writes go on during the scan). Rerunnable after a failure: each
-- constraint is dropped if a previous run left it, then added again.
SET lock_timeout = '5s';

ALTER TABLE chat_bot.configuration_history DROP CONSTRAINT IF EXISTS configuration_history_key_length;
ALTER TABLE chat_bot.configuration_history ADD CONSTRAINT configuration_history_key_length CHECK (char_length(key) <= 200) NOT VALID;
ALTER TABLE chat_bot.configuration_history VALIDATE CONSTRAINT configuration_history_key_length;
COMMENT ON CONSTRAINT configuration_history_key_length ON chat_bot.configuration_history IS 'A history key is at most 200 characters, like the configuration key it records (index key: bounded).';

ALTER TABLE error_api.subscriptions DROP CONSTRAINT IF EXISTS subscriptions_tier_length;
ALTER TABLE error_api.subscriptions ADD CONSTRAINT subscriptions_tier_length CHECK (char_length(tier) <= 31) NOT VALID;
ALTER TABLE error_api.subscriptions VALIDATE CONSTRAINT subscriptions_tier_length;
COMMENT ON CONSTRAINT subscriptions_tier_length ON error_api.subscriptions IS 'A tier name is at most 31 characters, like error_api.tiers (index key: bounded).';

ALTER TABLE error_api.users DROP CONSTRAINT IF EXISTS users_subscription_tier_length;
ALTER TABLE error_api.users ADD CONSTRAINT users_subscription_tier_length CHECK (char_length(subscription_tier) <= 31) NOT VALID;
ALTER TABLE error_api.users VALIDATE CONSTRAINT users_subscription_tier_length;
COMMENT ON CONSTRAINT users_subscription_tier_length ON error_api.users IS 'A tier name is at most 31 characters, like error_api.tiers (index key: bounded).';

ALTER TABLE ops.query_stats DROP CONSTRAINT IF EXISTS query_stats_application_name_length;
ALTER TABLE ops.query_stats ADD CONSTRAINT query_stats_application_name_length CHECK (char_length(application_name) <= 63) NOT VALID;
ALTER TABLE ops.query_stats VALIDATE CONSTRAINT query_stats_application_name_length;
COMMENT ON CONSTRAINT query_stats_application_name_length ON ops.query_stats IS 'An application name is at most 63 characters, like PostgreSQL''s application_name (index key: bounded).';

ALTER TABLE ops.query_stats DROP CONSTRAINT IF EXISTS query_stats_query_name_length;
ALTER TABLE ops.query_stats ADD CONSTRAINT query_stats_query_name_length CHECK (char_length(query_name) <= 200) NOT VALID;
ALTER TABLE ops.query_stats VALIDATE CONSTRAINT query_stats_query_name_length;
COMMENT ON CONSTRAINT query_stats_query_name_length ON ops.query_stats IS 'A query name is at most 200 characters (index key: bounded).';

ALTER TABLE ops.table_size_history DROP CONSTRAINT IF EXISTS table_size_history_schema_name_length;
ALTER TABLE ops.table_size_history ADD CONSTRAINT table_size_history_schema_name_length CHECK (char_length(schema_name) <= 63) NOT VALID;
ALTER TABLE ops.table_size_history VALIDATE CONSTRAINT table_size_history_schema_name_length;
COMMENT ON CONSTRAINT table_size_history_schema_name_length ON ops.table_size_history IS 'A schema name is at most 63 characters, PostgreSQL''s identifier limit (index key: bounded).';

ALTER TABLE ops.table_size_history DROP CONSTRAINT IF EXISTS table_size_history_table_name_length;
ALTER TABLE ops.table_size_history ADD CONSTRAINT table_size_history_table_name_length CHECK (char_length(table_name) <= 63) NOT VALID;
ALTER TABLE ops.table_size_history VALIDATE CONSTRAINT table_size_history_table_name_length;
COMMENT ON CONSTRAINT table_size_history_table_name_length ON ops.table_size_history IS 'A table name is at most 63 characters, PostgreSQL''s identifier limit (index key: bounded).';

ALTER TABLE reddit_bot.comments DROP CONSTRAINT IF EXISTS comments_post_id_length;
ALTER TABLE reddit_bot.comments ADD CONSTRAINT comments_post_id_length CHECK (char_length(post_id) <= 16) NOT VALID;
ALTER TABLE reddit_bot.comments VALIDATE CONSTRAINT comments_post_id_length;
COMMENT ON CONSTRAINT comments_post_id_length ON reddit_bot.comments IS 'A post id (t3_ and up to 13 characters) is at most 16 characters (index key: bounded).';

ALTER TABLE reddit_bot.successful_patterns DROP CONSTRAINT IF EXISTS successful_patterns_pattern_hash_length;
ALTER TABLE reddit_bot.successful_patterns ADD CONSTRAINT successful_patterns_pattern_hash_length CHECK (char_length(pattern_hash) = 64) NOT VALID;
ALTER TABLE reddit_bot.successful_patterns VALIDATE CONSTRAINT successful_patterns_pattern_hash_length;
COMMENT ON CONSTRAINT successful_patterns_pattern_hash_length ON reddit_bot.successful_patterns IS 'The pattern hash is a SHA-256 in hex: 64 characters (index key: bounded).';

ALTER TABLE twitter_bot.api_usage DROP CONSTRAINT IF EXISTS api_usage_service_length;
ALTER TABLE twitter_bot.api_usage ADD CONSTRAINT api_usage_service_length CHECK (char_length(service) <= 100) NOT VALID;
ALTER TABLE twitter_bot.api_usage VALIDATE CONSTRAINT api_usage_service_length;
COMMENT ON CONSTRAINT api_usage_service_length ON twitter_bot.api_usage IS 'A service name is at most 100 characters (index key: bounded).';

ALTER TABLE twitter_bot.api_usage DROP CONSTRAINT IF EXISTS api_usage_endpoint_length;
ALTER TABLE twitter_bot.api_usage ADD CONSTRAINT api_usage_endpoint_length CHECK (char_length(endpoint) <= 500) NOT VALID;
ALTER TABLE twitter_bot.api_usage VALIDATE CONSTRAINT api_usage_endpoint_length;
COMMENT ON CONSTRAINT api_usage_endpoint_length ON twitter_bot.api_usage IS 'An endpoint is at most 500 characters (index key: bounded).';

ALTER TABLE twitter_bot.translation_cache DROP CONSTRAINT IF EXISTS translation_cache_cache_key_length;
ALTER TABLE twitter_bot.translation_cache ADD CONSTRAINT translation_cache_cache_key_length CHECK (char_length(cache_key) = 64) NOT VALID;
ALTER TABLE twitter_bot.translation_cache VALIDATE CONSTRAINT translation_cache_cache_key_length;
COMMENT ON CONSTRAINT translation_cache_cache_key_length ON twitter_bot.translation_cache IS 'The cache key is a SHA-256 in hex: 64 characters (index key: bounded).';

ALTER TABLE twitter_bot.translation_cache DROP CONSTRAINT IF EXISTS translation_cache_source_language_length;
ALTER TABLE twitter_bot.translation_cache ADD CONSTRAINT translation_cache_source_language_length CHECK (char_length(source_language) <= 35) NOT VALID;
ALTER TABLE twitter_bot.translation_cache VALIDATE CONSTRAINT translation_cache_source_language_length;
COMMENT ON CONSTRAINT translation_cache_source_language_length ON twitter_bot.translation_cache IS 'A language code is at most 35 characters (index key: bounded).';

ALTER TABLE twitter_bot.translation_cache DROP CONSTRAINT IF EXISTS translation_cache_target_language_length;
ALTER TABLE twitter_bot.translation_cache ADD CONSTRAINT translation_cache_target_language_length CHECK (char_length(target_language) <= 35) NOT VALID;
ALTER TABLE twitter_bot.translation_cache VALIDATE CONSTRAINT translation_cache_target_language_length;
COMMENT ON CONSTRAINT translation_cache_target_language_length ON twitter_bot.translation_cache IS 'A language code is at most 35 characters (index key: bounded).';

ALTER TABLE twitter_bot.translations DROP CONSTRAINT IF EXISTS translations_claimed_by_length;
ALTER TABLE twitter_bot.translations ADD CONSTRAINT translations_claimed_by_length CHECK (char_length(claimed_by) <= 200) NOT VALID;
ALTER TABLE twitter_bot.translations VALIDATE CONSTRAINT translations_claimed_by_length;
COMMENT ON CONSTRAINT translations_claimed_by_length ON twitter_bot.translations IS 'A worker name is at most 200 characters (index key: bounded).';

ALTER TABLE twitter_bot.translations DROP CONSTRAINT IF EXISTS translations_target_language_length;
ALTER TABLE twitter_bot.translations ADD CONSTRAINT translations_target_language_length CHECK (char_length(target_language) <= 35) NOT VALID;
ALTER TABLE twitter_bot.translations VALIDATE CONSTRAINT translations_target_language_length;
COMMENT ON CONSTRAINT translations_target_language_length ON twitter_bot.translations IS 'A language code is at most 35 characters (index key: bounded).';

-- transactional: false
-- Back to before 0019: the length CHECKs on index-key text columns go.
SET lock_timeout = '5s';
ALTER TABLE twitter_bot.translations DROP CONSTRAINT IF EXISTS translations_target_language_length;
ALTER TABLE twitter_bot.translations DROP CONSTRAINT IF EXISTS translations_claimed_by_length;
ALTER TABLE twitter_bot.translation_cache DROP CONSTRAINT IF EXISTS translation_cache_target_language_length;
ALTER TABLE twitter_bot.translation_cache DROP CONSTRAINT IF EXISTS translation_cache_source_language_length;
ALTER TABLE twitter_bot.translation_cache DROP CONSTRAINT IF EXISTS translation_cache_cache_key_length;
ALTER TABLE twitter_bot.api_usage DROP CONSTRAINT IF EXISTS api_usage_endpoint_length;
ALTER TABLE twitter_bot.api_usage DROP CONSTRAINT IF EXISTS api_usage_service_length;
ALTER TABLE reddit_bot.successful_patterns DROP CONSTRAINT IF EXISTS successful_patterns_pattern_hash_length;
ALTER TABLE reddit_bot.comments DROP CONSTRAINT IF EXISTS comments_post_id_length;
ALTER TABLE ops.table_size_history DROP CONSTRAINT IF EXISTS table_size_history_table_name_length;
ALTER TABLE ops.table_size_history DROP CONSTRAINT IF EXISTS table_size_history_schema_name_length;
ALTER TABLE ops.query_stats DROP CONSTRAINT IF EXISTS query_stats_query_name_length;
ALTER TABLE ops.query_stats DROP CONSTRAINT IF EXISTS query_stats_application_name_length;
ALTER TABLE error_api.users DROP CONSTRAINT IF EXISTS users_subscription_tier_length;
ALTER TABLE error_api.subscriptions DROP CONSTRAINT IF EXISTS subscriptions_tier_length;
ALTER TABLE chat_bot.configuration_history DROP CONSTRAINT IF EXISTS configuration_history_key_length;

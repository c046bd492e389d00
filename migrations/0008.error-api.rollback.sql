DROP TABLE error_api.token_blacklist;
DROP TABLE error_api.usage_logs;
DROP TABLE error_api.subscriptions;
DROP TABLE error_api.api_keys;
DROP TABLE error_api.users;
DROP TABLE error_api.tiers;
DROP SCHEMA error_api;
DROP FUNCTION ops.drop_monthly_partitions_before(regclass, timestamptz, text);
DROP FUNCTION ops.ensure_monthly_partition(regclass, date);

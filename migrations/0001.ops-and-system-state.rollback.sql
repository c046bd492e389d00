DROP TABLE twitter_bot.system_state;
DROP SCHEMA twitter_bot;
DROP FUNCTION ops.set_updated_at();
DROP EXTENSION IF EXISTS pg_trgm;
DROP EXTENSION IF EXISTS pg_stat_statements;
DROP SCHEMA ops;

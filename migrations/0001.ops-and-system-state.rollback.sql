-- Undo 0001. Extensions are dropped only if this migration created them: one that existed before (in any
-- schema: CREATE EXTENSION IF NOT EXISTS then did nothing) stays.
DROP TABLE twitter_bot.system_state;
DROP SCHEMA twitter_bot;
DROP FUNCTION ops.set_updated_at();
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm' AND extnamespace = 'ops'::regnamespace) THEN
        DROP EXTENSION pg_trgm;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'
                                            AND extnamespace = 'ops'::regnamespace) THEN
        DROP EXTENSION pg_stat_statements;
    END IF;
END;
$$;
DROP SCHEMA ops;

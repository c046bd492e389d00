-- Give back what 0016 changed in this database: owners, grants, views, functions and the history table. The
-- roles themselves are dropped only when no other database of the server still uses them.
REASSIGN OWNED BY datalayer_migrator TO CURRENT_USER;
DROP OWNED BY datalayer_app, datalayer_readonly, datalayer_migrator;
DROP FUNCTION ops.migration_ledger();
DROP TABLE ops.table_size_history;
DROP FUNCTION ops.checkpoint_counts();
DROP FUNCTION ops.exact_row_count(regclass);
DROP VIEW chat_bot.recent_security_events;
DROP VIEW chat_bot.active_conversations;
DROP VIEW error_api.usage_today;
DROP VIEW error_api.recent_errors;
DROP VIEW discord_bot.recent_failures;
DROP VIEW discord_bot.due_events;
DROP VIEW reddit_bot.recent_failures;
DROP VIEW reddit_bot.comment_queue;
DROP VIEW twitter_bot.recent_failures;
DROP VIEW twitter_bot.translation_queue;
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['datalayer_app', 'datalayer_readonly', 'datalayer_migrator'] LOOP
        BEGIN
            EXECUTE format('DROP ROLE IF EXISTS %I', r);
        EXCEPTION WHEN dependent_objects_still_exist THEN
            RAISE NOTICE 'role % is still used by another database: kept', r;
        END;
    END LOOP;
END;
$$;

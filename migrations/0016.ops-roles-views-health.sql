-- Operations: three roles an operator grants to logins (application, read-only, migrator), views for people
-- at a psql prompt, what `health` and `stats` need (checkpoint counts on every version, the table-size history),
-- and the migration ledger readable by the application role without access to the bookkeeping tables.
-- Roles belong to the whole server: made once, shared by every database that runs this migration.

DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['datalayer_app', 'datalayer_readonly', 'datalayer_migrator'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL;  -- another database's migration made it at the same moment
            END;
        END IF;
    END LOOP;
END;
$$;
COMMENT ON ROLE datalayer_app IS 'datalayer: what the bots run as. Reads and writes rows of the data layer''s schemas; no DDL, no access to migration bookkeeping. Grant it to a login: GRANT datalayer_app TO bot_login.';
COMMENT ON ROLE datalayer_readonly IS 'datalayer: SELECT on the data layer''s schemas, for analysts and psql. Grant it to a login.';
COMMENT ON ROLE datalayer_migrator IS 'datalayer: owns the data layer''s schemas and objects; grant it to the login that runs `datalayer migrate`.';

-- == views for psql ===============================================================================================
CREATE VIEW twitter_bot.translation_queue AS
SELECT status, count(*) AS translations, min(created_at) AS oldest, max(updated_at) AS last_change,
       count(*) FILTER (WHERE claimed_until > now()) AS claimed_now
  FROM twitter_bot.translations
 GROUP BY status;
COMMENT ON VIEW twitter_bot.translation_queue IS 'psql: translations per status, the oldest, the last change and how many are claimed by a worker now.';

CREATE VIEW twitter_bot.recent_failures AS
SELECT a.attempted_at, a.translation_id, a.tweet_id, a.target_language, a.error
  FROM twitter_bot.translation_attempts AS a
 WHERE a.status = 'failed' AND a.attempted_at > now() - interval '1 day'
 ORDER BY a.attempted_at DESC;
COMMENT ON VIEW twitter_bot.recent_failures IS 'psql: failed translation attempts of the last 24 hours, newest first.';

CREATE VIEW reddit_bot.comment_queue AS
SELECT status, count(*) AS comments, min(created_at) AS oldest, max(updated_at) AS last_change,
       count(*) FILTER (WHERE claimed_until > now()) AS claimed_now
  FROM reddit_bot.comments
 WHERE deleted_at IS NULL
 GROUP BY status;
COMMENT ON VIEW reddit_bot.comment_queue IS 'psql: live comments per status, the oldest, the last change and how many are claimed now.';

CREATE VIEW reddit_bot.recent_failures AS
SELECT c.updated_at, c.id, c.reddit_id, c.post_id, c.attempts, c.last_error
  FROM reddit_bot.comments AS c
 WHERE c.status = 'failed' AND c.deleted_at IS NULL AND c.updated_at > now() - interval '1 day'
 ORDER BY c.updated_at DESC;
COMMENT ON VIEW reddit_bot.recent_failures IS 'psql: comments that failed in the last 24 hours, newest first.';

CREATE VIEW discord_bot.due_events AS
SELECT e.id, e.message_id, e.guild_id, e.title, e.interval_minutes, e.last_reminder, e.next_reminder_at,
       e.claimed_by, e.claimed_until
  FROM discord_bot.events AS e
 WHERE NOT e.is_paused AND e.next_reminder_at <= now()
 ORDER BY e.next_reminder_at;
COMMENT ON VIEW discord_bot.due_events IS 'psql: events due for a reminder now, the longest overdue first.';

CREATE VIEW discord_bot.recent_failures AS
SELECT l.scheduled_at, l.event_id, l.worker, l.error_message
  FROM discord_bot.reminder_logs AS l
 WHERE l.status = 'failed' AND l.scheduled_at > now() - interval '1 day'
 ORDER BY l.scheduled_at DESC;
COMMENT ON VIEW discord_bot.recent_failures IS 'psql: reminders that failed in the last 24 hours, newest first.';

CREATE VIEW error_api.recent_errors AS
SELECT u.created_at, u.user_id, u.endpoint, u.method, u.status_code, u.error_type, u.error_message,
       u.response_time_ms
  FROM error_api.usage_logs AS u
 WHERE u.status_code >= 500 AND u.created_at > now() - interval '1 day'
 ORDER BY u.created_at DESC;
COMMENT ON VIEW error_api.recent_errors IS 'psql: requests answered with a 5xx in the last 24 hours, newest first.';

CREATE VIEW error_api.usage_today AS
SELECT u.endpoint, count(*) AS requests, count(*) FILTER (WHERE u.status_code >= 400) AS errors,
       round(avg(u.response_time_ms)) AS mean_ms
  FROM error_api.usage_logs AS u
 WHERE u.created_at >= date_trunc('day', now())
 GROUP BY u.endpoint
 ORDER BY requests DESC;
COMMENT ON VIEW error_api.usage_today IS 'psql: requests, errors and mean latency per endpoint since midnight (server time zone).';

CREATE VIEW chat_bot.active_conversations AS
SELECT c.status, count(*) AS conversations, sum(c.message_count) AS messages, max(c.last_message_at) AS last_message
  FROM chat_bot.conversations AS c
 GROUP BY c.status;
COMMENT ON VIEW chat_bot.active_conversations IS 'psql: conversations per status with their messages and the last message time.';

CREATE VIEW chat_bot.recent_security_events AS
SELECT s.occurred_at, s.user_id, s.event_type, s.severity, s.source_ip, s.resolved_at
  FROM chat_bot.security_events AS s
 WHERE s.occurred_at > now() - interval '7 days'
 ORDER BY s.occurred_at DESC;
COMMENT ON VIEW chat_bot.recent_security_events IS 'psql: security events of the last 7 days, newest first.';

-- == health and stats ===========================================================================================
CREATE FUNCTION ops.checkpoint_counts(OUT timed bigint, OUT requested bigint)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    IF to_regclass('pg_catalog.pg_stat_checkpointer') IS NOT NULL THEN  -- PostgreSQL 17 and later
        EXECUTE 'SELECT num_timed, num_requested FROM pg_catalog.pg_stat_checkpointer' INTO timed, requested;
    ELSE
        EXECUTE 'SELECT checkpoints_timed, checkpoints_req FROM pg_catalog.pg_stat_bgwriter' INTO timed, requested;
    END IF;
END;
$$;
COMMENT ON FUNCTION ops.checkpoint_counts() IS 'Checkpoints timed and requested since the statistics were reset, from pg_stat_checkpointer (17+) or pg_stat_bgwriter (15, 16).';

CREATE FUNCTION ops.exact_row_count(rel regclass) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE
    n bigint;
BEGIN
    EXECUTE format('SELECT count(*) FROM %s', rel) INTO n;  -- a regclass prints as a quoted, qualified name
    RETURN n;
END;
$$;
COMMENT ON FUNCTION ops.exact_row_count(regclass) IS 'count(*) of one table (a full scan): `datalayer stats --exact`.';

CREATE TABLE ops.table_size_history (
    taken_at    timestamptz NOT NULL,
    schema_name text        NOT NULL,
    table_name  text        NOT NULL,
    live_rows   bigint      NOT NULL CONSTRAINT table_size_history_rows_not_negative CHECK (live_rows >= 0),
    total_bytes bigint      NOT NULL CONSTRAINT table_size_history_bytes_not_negative CHECK (total_bytes >= 0),
    CONSTRAINT table_size_history_pkey PRIMARY KEY (schema_name, table_name, taken_at)
);
COMMENT ON TABLE ops.table_size_history IS 'One row per table per `datalayer stats` run: what growth since the last run is computed from.';
COMMENT ON COLUMN ops.table_size_history.taken_at IS 'When the statistics were read (one value per run).';
COMMENT ON COLUMN ops.table_size_history.schema_name IS 'Schema of the table.';
COMMENT ON COLUMN ops.table_size_history.table_name IS 'Table (a partitioned table once, its partitions summed).';
COMMENT ON COLUMN ops.table_size_history.live_rows IS 'Rows: estimated, or exact when the run counted them.';
COMMENT ON COLUMN ops.table_size_history.total_bytes IS 'Bytes of the table with its indexes and TOAST.';
COMMENT ON CONSTRAINT table_size_history_pkey ON ops.table_size_history IS 'One reading per table per run.';
COMMENT ON CONSTRAINT table_size_history_rows_not_negative ON ops.table_size_history IS 'A row count is never negative.';
COMMENT ON CONSTRAINT table_size_history_bytes_not_negative ON ops.table_size_history IS 'A size is never negative.';
COMMENT ON INDEX ops.table_size_history_pkey IS 'One reading per table per run; the latest readings of a table.';

CREATE FUNCTION ops.migration_ledger() RETURNS TABLE (migration_id text, sha256 text)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT y.migration_id::text, c.sha256
      FROM public._yoyo_migration AS y
      LEFT JOIN public._datalayer_migration_checksum AS c ON c.migration_id = y.migration_id
     ORDER BY 1
$$;
COMMENT ON FUNCTION ops.migration_ledger() IS 'Applied migrations and their recorded checksums, for a role that may not read the bookkeeping tables (datalayer_app checks the schema at connect through it).';
REVOKE ALL ON FUNCTION ops.migration_ledger() FROM PUBLIC;

-- == privileges ==================================================================================================
DO $$
DECLARE
    s text;
    obj record;
BEGIN
    FOR s IN SELECT nspname FROM pg_namespace
              WHERE nspname IN ('ops', 'twitter_bot', 'chat_bot', 'error_api', 'reddit_bot', 'discord_bot') LOOP
        EXECUTE format('GRANT USAGE ON SCHEMA %I TO datalayer_app, datalayer_readonly', s);
        EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA %I TO datalayer_app', s);
        EXECUTE format('GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA %I TO datalayer_app', s);
        EXECUTE format('GRANT SELECT ON ALL TABLES IN SCHEMA %I TO datalayer_readonly', s);
        EXECUTE format('GRANT SELECT ON ALL SEQUENCES IN SCHEMA %I TO datalayer_readonly', s);
        -- what later migrations create (as the user running them) gets the same grants
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO datalayer_app', s);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT USAGE, SELECT ON SEQUENCES TO datalayer_app', s);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON TABLES TO datalayer_readonly', s);
        EXECUTE format('ALTER DEFAULT PRIVILEGES IN SCHEMA %I GRANT SELECT ON SEQUENCES TO datalayer_readonly', s);
        -- the migrator owns the schema and what is in it (extensions and partitions stay with their creator)
        EXECUTE format('ALTER SCHEMA %I OWNER TO datalayer_migrator', s);
        FOR obj IN
            SELECT format('%s %I.%I', CASE c.relkind WHEN 'v' THEN 'VIEW' WHEN 'S' THEN 'SEQUENCE' ELSE 'TABLE' END,
                          s, c.relname) AS what
              FROM pg_class AS c
             WHERE c.relnamespace = s::regnamespace AND c.relkind IN ('r', 'p', 'v', 'S') AND NOT c.relispartition
               AND NOT EXISTS (SELECT 1 FROM pg_depend AS d  -- members of an extension stay with it
                                WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
               AND NOT (c.relkind = 'S' AND EXISTS (  -- a column's sequence follows its table
                        SELECT 1 FROM pg_depend AS d
                         WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype IN ('a', 'i')))
        LOOP
            EXECUTE format('ALTER %s OWNER TO datalayer_migrator', obj.what);
        END LOOP;
    END LOOP;
END;
$$;
GRANT EXECUTE ON FUNCTION ops.migration_ledger() TO datalayer_app, datalayer_readonly;

-- Back to before 0018: twitter_bot.api_usage gets its (empty) DEFAULT partition again, and the partition functions
-- their earlier bodies and comments (those of 0002, 0004 and 0008). The rows stay where they are: the monthly
-- partitions 0018 made (for the months that had rows in the default, and up to three months ahead) are the ones
-- the earlier ensure_api_usage_partition would have made for those months, and keep their rows.
SET LOCAL lock_timeout = '3s';

CREATE TABLE twitter_bot.api_usage_default PARTITION OF twitter_bot.api_usage DEFAULT;
COMMENT ON TABLE twitter_bot.api_usage_default IS 'Calls in months that have no partition yet; ensure_api_usage_partition moves them out.';
COMMENT ON TABLE twitter_bot.api_usage IS 'Every external API call the bot made. Partitioned by month of called_at; a DEFAULT partition catches months not created yet.';

CREATE OR REPLACE FUNCTION twitter_bot.ensure_api_usage_partition(month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    lower_bound timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
    upper_bound timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    part text := format('api_usage_y%sm%s', to_char(month, 'YYYY'), to_char(month, 'MM'));
BEGIN
    -- Two sessions creating the same partition at once: the second waits here, then finds it.
    PERFORM pg_advisory_xact_lock(hashtext('twitter_bot.api_usage partitions'));
    IF to_regclass(format('twitter_bot.%I', part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Rows of that month may sit in the default partition: move them, then attach.
    EXECUTE format('CREATE TABLE twitter_bot.%I (LIKE twitter_bot.api_usage INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format(
        'WITH moved AS (DELETE FROM twitter_bot.api_usage_default WHERE called_at >= $1 AND called_at < $2 RETURNING *)
         INSERT INTO twitter_bot.%I SELECT * FROM moved', part) USING lower_bound, upper_bound;
    EXECUTE format('ALTER TABLE twitter_bot.api_usage ATTACH PARTITION twitter_bot.%I FOR VALUES FROM (%L) TO (%L)',
                   part, lower_bound, upper_bound);
    EXECUTE format('COMMENT ON TABLE twitter_bot.%I IS %L', part,
                   format('API calls of %s (UTC), a partition of api_usage.', to_char(month, 'YYYY-MM')));
    RETURN true;
END;
$$;
COMMENT ON FUNCTION twitter_bot.ensure_api_usage_partition(date) IS 'Create the api_usage partition of the month containing the date (UTC) unless it exists, moving its rows out of the default partition; true when created. Serialised by an advisory lock, so concurrent calls never fail.';

CREATE OR REPLACE FUNCTION twitter_bot.drop_api_usage_partitions_before(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    FOR part IN
        SELECT c.oid::regclass::text AS name
          FROM pg_inherits AS i
          JOIN pg_class AS c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'twitter_bot.api_usage'::regclass
           AND c.relispartition
           AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
           AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz <= cutoff
         ORDER BY 1
    LOOP
        EXECUTE format('DROP TABLE %s', part.name);
        RETURN NEXT part.name;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION twitter_bot.drop_api_usage_partitions_before(timestamptz) IS 'Drop every monthly api_usage partition that ends at or before cutoff; returns their names.';

CREATE OR REPLACE FUNCTION ops.ensure_monthly_partition(parent regclass, month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    lower_bound timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
    upper_bound timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    schema_name text;
    table_name text;
    part text;
BEGIN
    SELECT n.nspname, c.relname INTO schema_name, table_name
      FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = parent;
    part := format('%s_y%sm%s', table_name, to_char(month, 'YYYY'), to_char(month, 'MM'));
    -- Two sessions creating the same partition at once: the second waits here, then finds it.
    PERFORM pg_advisory_xact_lock(hashtext('ops.ensure_monthly_partition'), hashtext(parent::text));
    IF to_regclass(format('%I.%I', schema_name, part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Creating a partition locks the parent briefly; never queue behind a long lock while requests wait.
    PERFORM set_config('lock_timeout', '5s', true);
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                   schema_name, part, parent, lower_bound, upper_bound);
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', schema_name, part,
                   format('Rows of %s with a time in %s (UTC): a monthly partition.', parent, to_char(month, 'YYYY-MM')));
    RETURN true;
END;
$$;
COMMENT ON FUNCTION ops.ensure_monthly_partition(regclass, date) IS 'Create the monthly partition (UTC) of a table partitioned by range of a timestamptz that holds the given date, unless it exists; true when created. Concurrent calls never fail (advisory lock).';

CREATE OR REPLACE FUNCTION ops.drop_monthly_partitions_before(parent regclass, cutoff timestamptz, max_lock_wait text DEFAULT '2s')
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    -- DROP of a partition locks its parent: give up (55P03) rather than stall the writers queued behind us.
    PERFORM set_config('lock_timeout', max_lock_wait, true);
    FOR part IN
        SELECT c.oid::regclass::text AS name
          FROM pg_inherits AS i
          JOIN pg_class AS c ON c.oid = i.inhrelid
         WHERE i.inhparent = parent
           AND c.relispartition
           AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
           AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz <= cutoff
         ORDER BY 1
    LOOP
        EXECUTE format('DROP TABLE %s', part.name);
        RETURN NEXT part.name;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION ops.drop_monthly_partitions_before(regclass, timestamptz, text) IS 'Drop every monthly partition of parent that ends at or before cutoff, waiting at most max_lock_wait for each lock; returns their names.';

DROP FUNCTION ops.ensure_monthly_partition(regclass, date, text);
DROP FUNCTION ops.partition_lock_key(regclass);

-- Partition DDL that never stalls the application.
--
-- * ops.ensure_monthly_partition(parent, month, max_lock_wait): creates a month with CREATE TABLE … (LIKE parent)
--   and ATTACH PARTITION, which take SHARE UPDATE EXCLUSIVE on the parent (inserts and reads go on), instead of
--   CREATE TABLE … PARTITION OF (ACCESS EXCLUSIVE: every insert and read of the table waits); the caller says how
--   long it may wait for a lock; it refuses a parent with a DEFAULT partition (attaching would scan the default
--   under an exclusive lock). The two-argument form and twitter_bot.ensure_api_usage_partition become wrappers.
-- * twitter_bot.api_usage loses its DEFAULT partition: its rows move into monthly partitions (made for every
--   month that has rows), and the months from this one to three ahead exist. An insert into a month without a
--   partition now fails (23514, "no partition of relation … found for row"); partitions are made ahead by
--   `datalayer partitions ensure` and the maintain commands, and the repositories make a missing month on the spot.
-- * Retention no longer drops attached partitions (DROP takes ACCESS EXCLUSIVE on the parent): the data layer
--   detaches them CONCURRENTLY first (datalayer/partitions). ops.drop_monthly_partitions_before and
--   twitter_bot.drop_api_usage_partitions_before stay for the rollback, but refuse and say what to use instead.
--
-- Locks taken here: EXCLUSIVE on the default partition while its rows are copied (only writes into months
-- without a partition wait; reads and every other insert go on), then ACCESS EXCLUSIVE on twitter_bot.api_usage
-- for catalog changes only (detach and drop the default, attach the copies — each carries a CHECK of its range,
-- so attaching scans nothing; their indexes were filled during the copy), each lock waited for at most a few
-- seconds (then the migration fails whole and can be run again).

SET LOCAL lock_timeout = '3s';

CREATE FUNCTION ops.partition_lock_key(parent regclass) RETURNS bigint
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (hashtext('ops.monthly_partitions')::bigint << 32) | parent::oid::bigint;
COMMENT ON FUNCTION ops.partition_lock_key(regclass) IS 'Advisory lock key under which partition changes of one table run one at a time (ops.ensure_monthly_partition, and the detach and drop of datalayer partitions).';

CREATE FUNCTION ops.ensure_monthly_partition(parent regclass, month date, max_lock_wait text) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    lower_bound timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
    upper_bound timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    schema_name text;
    table_name text;
    part text;
    part_oid oid;
    attached_to oid;
    previous text := current_setting('lock_timeout');
BEGIN
    SELECT n.nspname, c.relname INTO schema_name, table_name
      FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = parent AND c.relkind = 'p';
    IF NOT FOUND THEN
        RAISE EXCEPTION '% is not a partitioned table', parent USING ERRCODE = 'wrong_object_type';
    END IF;
    part := format('%s_y%sm%s', table_name, to_char(month, 'YYYY'), to_char(month, 'MM'));
    -- The common case, made ahead: no lock at all.
    SELECT c.oid, i.inhparent INTO part_oid, attached_to
      FROM pg_class AS c LEFT JOIN pg_inherits AS i ON i.inhrelid = c.oid
     WHERE c.relnamespace = schema_name::regnamespace AND c.relname = part;
    IF attached_to = parent THEN
        RETURN false;
    END IF;
    -- Every lock below (the advisory one included) is waited for at most max_lock_wait, then 55P03; the
    -- caller's setting is put back before returning (a caller's transaction goes on with its own).
    PERFORM set_config('lock_timeout', max_lock_wait, true);
    -- Two sessions creating the same partition at once: the second waits here, then finds it.
    PERFORM pg_advisory_xact_lock(ops.partition_lock_key(parent));
    SELECT c.oid, i.inhparent INTO part_oid, attached_to
      FROM pg_class AS c LEFT JOIN pg_inherits AS i ON i.inhrelid = c.oid
     WHERE c.relnamespace = schema_name::regnamespace AND c.relname = part;
    IF attached_to = parent THEN
        PERFORM set_config('lock_timeout', previous, true);
        RETURN false;
    ELSIF part_oid IS NOT NULL THEN
        RAISE EXCEPTION 'table %.% exists but is not a partition of %', schema_name, part, parent
            USING ERRCODE = 'duplicate_table',
                  HINT = 'it is left from an interrupted detach: `datalayer partitions drop-older-than` drops it once it is older than the cutoff; or attach it yourself';
    END IF;
    IF EXISTS (SELECT 1 FROM pg_partitioned_table WHERE partrelid = parent AND partdefid <> 0) THEN
        RAISE EXCEPTION '% has a DEFAULT partition: attaching % would lock and scan it', parent, part
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'move the rows of the DEFAULT partition into monthly partitions and drop it (as migration 0018 did for twitter_bot.api_usage)';
    END IF;
    -- Not CREATE TABLE … PARTITION OF (ACCESS EXCLUSIVE on the parent): a table of the same shape, then ATTACH
    -- (SHARE UPDATE EXCLUSIVE on the parent; the new table is empty, so checking its range reads nothing).
    EXECUTE format('CREATE TABLE %I.%I (LIKE %s INCLUDING ALL EXCLUDING IDENTITY)', schema_name, part, parent);
    EXECUTE format('ALTER TABLE %s ATTACH PARTITION %I.%I FOR VALUES FROM (%L) TO (%L)',
                   parent, schema_name, part, lower_bound, upper_bound);
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', schema_name, part,
                   format('Rows of %s with a time in %s (UTC): a monthly partition.', parent, to_char(month, 'YYYY-MM')));
    PERFORM set_config('lock_timeout', previous, true);
    RETURN true;
END;
$$;
COMMENT ON FUNCTION ops.ensure_monthly_partition(regclass, date, text) IS 'Create the monthly partition (UTC) of a table partitioned by range of a timestamptz that holds the given date, unless it exists; true when created. CREATE TABLE LIKE + ATTACH (SHARE UPDATE EXCLUSIVE on the parent: inserts and reads go on); each lock waited for at most max_lock_wait (then 55P03, nothing done); concurrent calls never fail (advisory lock per table); refuses a parent with a DEFAULT partition.';

CREATE OR REPLACE FUNCTION ops.ensure_monthly_partition(parent regclass, month date) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RETURN ops.ensure_monthly_partition(parent, month, '2s');
END;
$$;
COMMENT ON FUNCTION ops.ensure_monthly_partition(regclass, date) IS 'ops.ensure_monthly_partition(parent, month, ''2s''): create the monthly partition holding the date unless it exists, waiting at most 2 s for each lock; true when created.';

CREATE OR REPLACE FUNCTION twitter_bot.ensure_api_usage_partition(month date) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
    RETURN ops.ensure_monthly_partition('twitter_bot.api_usage', month, '2s');
END;
$$;
COMMENT ON FUNCTION twitter_bot.ensure_api_usage_partition(date) IS 'ops.ensure_monthly_partition for twitter_bot.api_usage (waiting at most 2 s for each lock); true when created.';

CREATE OR REPLACE FUNCTION ops.drop_monthly_partitions_before(parent regclass, cutoff timestamptz, max_lock_wait text DEFAULT '2s')
RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'ops.drop_monthly_partitions_before no longer drops anything: dropping an attached partition locks % for every insert and read', parent
        USING ERRCODE = 'feature_not_supported',
              HINT = 'use `datalayer partitions drop-older-than` (or PartitionRepository.drop_older_than), which detaches each partition CONCURRENTLY first';
END;
$$;
COMMENT ON FUNCTION ops.drop_monthly_partitions_before(regclass, timestamptz, text) IS 'Refuses since migration 0018 (a DROP of an attached partition takes ACCESS EXCLUSIVE on the parent): use `datalayer partitions drop-older-than`, which detaches concurrently, then drops.';

CREATE OR REPLACE FUNCTION twitter_bot.drop_api_usage_partitions_before(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'twitter_bot.drop_api_usage_partitions_before no longer drops anything: dropping an attached partition locks twitter_bot.api_usage for every insert and read'
        USING ERRCODE = 'feature_not_supported',
              HINT = 'use `datalayer partitions drop-older-than --table twitter_bot.api_usage` (or ApiUsageRepository.drop_partitions_before)';
END;
$$;
COMMENT ON FUNCTION twitter_bot.drop_api_usage_partitions_before(timestamptz) IS 'Refuses since migration 0018: use `datalayer partitions drop-older-than --table twitter_bot.api_usage`, which detaches concurrently, then drops.';

-- == twitter_bot.api_usage: no DEFAULT partition ===================================================================
DO $$
DECLARE
    parent constant regclass := 'twitter_bot.api_usage';
    dflt regclass;
    m record;
    part text;
    parts text[] := '{}';
    lowers timestamptz[] := '{}';
    uppers timestamptz[] := '{}';
    lower_bound timestamptz;
    upper_bound timestamptz;
    i int;
    infinite boolean;
BEGIN
    SELECT NULLIF(partdefid, 0)::regclass INTO dflt FROM pg_partitioned_table WHERE partrelid = parent;
    IF dflt IS NOT NULL THEN
        -- Writes into the default (months without a partition) wait from here to COMMIT; reads, and inserts
        -- into every other month, go on: EXCLUSIVE conflicts with neither ACCESS SHARE nor other tables.
        PERFORM set_config('lock_timeout', '5s', true);
        EXECUTE format('LOCK TABLE %s IN EXCLUSIVE MODE', dflt);
        EXECUTE format('SELECT EXISTS (SELECT 1 FROM %s WHERE NOT isfinite(called_at))', dflt) INTO infinite;
        IF infinite THEN
            RAISE EXCEPTION '% holds calls at an infinite time, which no monthly partition can hold', dflt
                USING HINT = 'delete or correct them (called_at), then migrate again';
        END IF;
        FOR m IN EXECUTE format(
            'SELECT DISTINCT date_trunc(''month'', called_at AT TIME ZONE ''UTC'')::date AS month FROM %s ORDER BY 1', dflt)
        LOOP
            part := format('api_usage_y%sm%s', to_char(m.month, 'YYYY'), to_char(m.month, 'MM'));
            lower_bound := m.month::timestamp AT TIME ZONE 'UTC';
            upper_bound := (m.month + interval '1 month')::timestamp AT TIME ZONE 'UTC';
            -- A table of the parent's shape with its indexes, and a CHECK of its range, so that ATTACH below
            -- finds the range proven and scans nothing while the parent is locked.
            EXECUTE format('CREATE TABLE twitter_bot.%I (LIKE twitter_bot.api_usage INCLUDING ALL EXCLUDING IDENTITY, '
                           'CONSTRAINT %I CHECK (called_at >= %L AND called_at < %L))',
                           part, part || '_range', lower_bound, upper_bound);
            EXECUTE format('INSERT INTO twitter_bot.%I (id, call_id, service, endpoint, called_at, success, status_code,
                                                       response_time_ms, error_type, error_message)
                            SELECT id, call_id, service, endpoint, called_at, success, status_code,
                                   response_time_ms, error_type, error_message
                              FROM %s
                             WHERE called_at >= $1 AND called_at < $2', part, dflt) USING lower_bound, upper_bound;
            parts := parts || part;
            lowers := lowers || lower_bound;
            uppers := uppers || upper_bound;
        END LOOP;
        -- From here to COMMIT the table is locked (ACCESS EXCLUSIVE): catalog changes only.
        PERFORM set_config('lock_timeout', '3s', true);
        EXECUTE format('ALTER TABLE %s DETACH PARTITION %s', parent, dflt);
        EXECUTE format('DROP TABLE %s', dflt);
        FOR i IN 1 .. coalesce(array_length(parts, 1), 0) LOOP
            EXECUTE format('ALTER TABLE %s ATTACH PARTITION twitter_bot.%I FOR VALUES FROM (%L) TO (%L)',
                           parent, parts[i], lowers[i], uppers[i]);
            EXECUTE format('ALTER TABLE twitter_bot.%I DROP CONSTRAINT %I', parts[i], parts[i] || '_range');
            EXECUTE format('COMMENT ON TABLE twitter_bot.%I IS %L', parts[i],
                           format('Rows of %s with a time in %s (UTC): a monthly partition.', parent,
                                  to_char(lowers[i] AT TIME ZONE 'UTC', 'YYYY-MM')));
        END LOOP;
    END IF;
    -- This month and the next three (the code keeps making them ahead).
    PERFORM ops.ensure_monthly_partition(parent, (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => n))::date, '3s')
       FROM generate_series(0, 3) AS n;
END;
$$;

COMMENT ON TABLE twitter_bot.api_usage IS 'Every external API call the bot made. Partitioned by month (UTC) of called_at; partitions are made ahead of time (datalayer partitions ensure, twitter maintain) and there is no DEFAULT partition.';

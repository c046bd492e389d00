-- name: list_partitioned_tables(schemas)
-- The tables of the given schemas partitioned by range of one timestamptz column (the monthly kind these commands manage), with their DEFAULT partition if any. Reads only the catalog: takes no lock on any table.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       format('%I.%I', n.nspname, c.relname) AS qualified_name,
       a.attname::text AS key_column,
       CASE WHEN pt.partdefid <> 0 THEN format('%I.%I', dn.nspname, d.relname) END AS default_partition,
       -- the planner's estimate, or the statistics collector's live count when it is fresher (rows inserted
       -- since the last ANALYZE): neither takes a lock
       CASE WHEN pt.partdefid <> 0 THEN greatest(d.reltuples, ds.n_live_tup, 0)::bigint END AS default_estimated_rows
  FROM pg_catalog.pg_partitioned_table AS pt
  JOIN pg_catalog.pg_class AS c ON c.oid = pt.partrelid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.oid AND a.attnum = pt.partattrs[0]
  LEFT JOIN pg_catalog.pg_class AS d ON d.oid = pt.partdefid
  LEFT JOIN pg_catalog.pg_namespace AS dn ON dn.oid = d.relnamespace
  LEFT JOIN pg_catalog.pg_stat_all_tables AS ds ON ds.relid = pt.partdefid
 WHERE n.nspname = ANY(:schemas::text[])
   AND pt.partstrat = 'r' AND pt.partnatts = 1
   AND a.atttypid = 'pg_catalog.timestamptz'::pg_catalog.regtype
   AND NOT c.relispartition
 ORDER BY 1, 2;

-- name: list_partitions(parents)
-- The partitions of the given partitioned tables (qualified names) with their range, state, foreign keys and the planner's estimates of rows and bytes, and the tables left over from a detach that was never dropped (named like a monthly partition of the parent, in its schema, not a partition: state detached). Reads only the catalog (pg_get_expr without a relation), so it never waits behind a lock.
WITH parents AS (
    SELECT p::regclass AS oid FROM unnest(:parents::text[]) AS p
), parts AS (
    SELECT pr.oid AS parent, c.oid,
           CASE WHEN i.inhdetachpending THEN 'detach_pending' ELSE 'attached' END AS state,
           pg_catalog.pg_get_expr(c.relpartbound, 0) AS bounds,
           NULL::timestamptz AS named_month
      FROM parents AS pr
      JOIN pg_catalog.pg_inherits AS i ON i.inhparent = pr.oid
      JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
    UNION ALL
    SELECT pr.oid, c.oid, 'detached', NULL,
           make_timestamptz(substr(c.relname, length(pc.relname) + 3, 4)::int,
                            substr(c.relname, length(pc.relname) + 8, 2)::int, 1, 0, 0, 0, 'UTC')
      FROM parents AS pr
      JOIN pg_catalog.pg_class AS pc ON pc.oid = pr.oid
      JOIN pg_catalog.pg_class AS c
        ON c.relnamespace = pc.relnamespace AND c.relkind = 'r' AND NOT c.relispartition
       AND left(c.relname, length(pc.relname) + 1) = pc.relname || '_'
       AND substr(c.relname, length(pc.relname) + 2) ~ '^y[0-9]{4}m(0[1-9]|1[0-2])$'
)
SELECT format('%I.%I', pn.nspname, pc.relname) AS parent,
       format('%I.%I', n.nspname, c.relname) AS name,
       n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       p.state,
       coalesce(p.bounds = 'DEFAULT', false) AS is_default,
       coalesce((regexp_match(p.bounds, 'FROM \(''([^'']+)''\) TO'))[1]::timestamptz, p.named_month) AS lower_bound,
       coalesce((regexp_match(p.bounds, 'TO \(''([^'']+)''\)'))[1]::timestamptz,
                p.named_month + interval '1 month') AS upper_bound,
       (SELECT count(*) FROM pg_catalog.pg_constraint AS k WHERE k.conrelid = c.oid AND k.contype = 'f')::int AS foreign_keys,
       greatest(c.reltuples, 0)::bigint AS estimated_rows,
       ((c.relpages::bigint
         + coalesce((SELECT t.relpages FROM pg_catalog.pg_class AS t WHERE t.oid = c.reltoastrelid), 0)
         + coalesce((SELECT sum(x.relpages) FROM pg_catalog.pg_index AS ix
                       JOIN pg_catalog.pg_class AS x ON x.oid = ix.indexrelid
                      WHERE ix.indrelid = c.oid), 0))
        * current_setting('block_size')::bigint)::bigint AS estimated_bytes
  FROM parts AS p
  JOIN pg_catalog.pg_class AS c ON c.oid = p.oid
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_catalog.pg_class AS pc ON pc.oid = p.parent
  JOIN pg_catalog.pg_namespace AS pn ON pn.oid = pc.relnamespace
 ORDER BY 1, lower_bound NULLS FIRST, 2;

-- name: ensure_monthly_partition(parent, month, max_lock_wait)$
-- Create the monthly partition (UTC) of parent holding the given date unless it exists (ops.ensure_monthly_partition: CREATE TABLE LIKE, then ATTACH, under a per-table advisory lock, waiting at most max_lock_wait for each lock); true when created.
SELECT ops.ensure_monthly_partition(:parent::text::regclass, :month::date, :max_lock_wait::text);

-- name: lock_table_partitions(parent)!
-- Session advisory lock that serialises partition changes of one table (the key ops.ensure_monthly_partition takes too); waits at most lock_timeout.
SELECT pg_advisory_lock(ops.partition_lock_key(:parent::text::regclass));

-- name: lock_table_partitions_in_transaction(parent)!
-- The same advisory lock, held until the end of the caller's transaction.
SELECT pg_advisory_xact_lock(ops.partition_lock_key(:parent::text::regclass));

-- name: unlock_table_partitions(parent)$
-- Release the session advisory lock of lock_table_partitions; true when it was held.
SELECT pg_advisory_unlock(ops.partition_lock_key(:parent::text::regclass));

-- name: get_lock_timeout()$
-- This session's lock_timeout, to put it back afterwards.
SELECT current_setting('lock_timeout');

-- name: set_lock_timeout(value)$
-- Set this session's lock_timeout (a partition change on its own connection, outside any transaction); returns the value set.
SELECT set_config('lock_timeout', :value::text, false);

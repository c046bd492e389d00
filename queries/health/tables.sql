-- Table-level health of the data layer's schemas: sizes, cache hit ratio, sequential scans, dead rows and
-- vacuum/analyze ages, bloat estimates, sequences. Read-only (monthly partitions: queries/partitions/).

-- name: list_schema_tables(schemas)
-- Every table of the given schemas (a partitioned table once, with its partitions summed): estimated live rows
-- from the statistics collector, and the bytes of the table, its indexes and TOAST.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       c.relkind = 'p' AS partitioned,
       m.partitions,
       m.live_rows,
       m.total_bytes
  FROM pg_class AS c
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 CROSS JOIN LATERAL (
       -- pg_partition_tree lists nothing for a plain table: the table itself is its only member then.
       SELECT count(*) FILTER (WHERE t.relid <> c.oid)::int AS partitions,
              coalesce(sum(s.n_live_tup), 0)::bigint AS live_rows,
              coalesce(sum(pg_total_relation_size(t.relid)), 0)::bigint AS total_bytes
         FROM (SELECT c.oid::regclass AS relid WHERE c.relkind = 'r'
               UNION ALL
               SELECT p.relid FROM pg_partition_tree(c.oid) AS p WHERE c.relkind = 'p' AND p.isleaf) AS t
         LEFT JOIN pg_stat_all_tables AS s ON s.relid = t.relid
       ) AS m
 WHERE n.nspname = ANY(:schemas::text[]) AND c.relkind IN ('r', 'p') AND NOT c.relispartition
 ORDER BY 1, 2;

-- name: get_cache_hit_ratio(schemas)^
-- Buffer cache hits and reads of the given schemas' tables (heap and TOAST) and of their indexes, since the
-- statistics were reset.
SELECT coalesce(sum(s.heap_blks_hit + coalesce(s.toast_blks_hit, 0)), 0)::bigint AS table_hits,
       coalesce(sum(s.heap_blks_read + coalesce(s.toast_blks_read, 0)), 0)::bigint AS table_reads,
       coalesce(sum(s.idx_blks_hit), 0)::bigint AS index_hits,
       coalesce(sum(s.idx_blks_read), 0)::bigint AS index_reads
  FROM pg_statio_all_tables AS s
 WHERE s.schemaname = ANY(:schemas::text[]);

-- name: list_table_activity(schemas)
-- Per table of the given schemas (each partition on its own, partitioned parents too): scans, live and dead
-- rows, changes since the last analyze, and when it was last vacuumed and analysed (by hand or autovacuum).
SELECT s.schemaname::text AS schema_name,
       s.relname::text AS table_name,
       c.relkind = 'p' AS partitioned,
       coalesce(s.seq_scan, 0)::bigint AS seq_scan,
       coalesce(s.seq_tup_read, 0)::bigint AS seq_tup_read,
       coalesce(s.idx_scan, 0)::bigint AS idx_scan,
       coalesce(s.n_live_tup, 0)::bigint AS live_rows,
       coalesce(s.n_dead_tup, 0)::bigint AS dead_rows,
       coalesce(s.n_mod_since_analyze, 0)::bigint AS modified_since_analyze,
       greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
       greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze
  FROM pg_stat_all_tables AS s
  JOIN pg_class AS c ON c.oid = s.relid
 WHERE s.schemaname = ANY(:schemas::text[]) AND c.relkind IN ('r', 'p')
 ORDER BY 1, 2;

-- name: list_table_bloat(schemas)
-- Estimated bloat of each plain table and partition of the given schemas that has statistics: pages on disk
-- against the pages its rows would need at its fillfactor (row width from pg_stats, 24-byte tuple header and
-- 4-byte line pointer). An estimate in the manner of check_postgres: wrong by a few percent, right in size.
WITH t AS (
    SELECT n.nspname, c.relname, c.relpages::bigint AS pages, c.reltuples,
           current_setting('block_size')::int AS block_size,
           coalesce((SELECT split_part(o, '=', 2)::int FROM unnest(c.reloptions) AS o WHERE o LIKE 'fillfactor=%'),
                    100) AS fillfactor,
           (SELECT sum((1 - st.null_frac) * st.avg_width)
              FROM pg_stats AS st WHERE st.schemaname = n.nspname AND st.tablename = c.relname) AS row_width
      FROM pg_class AS c
      JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE n.nspname = ANY(:schemas::text[]) AND c.relkind = 'r' AND c.reltuples > 0
)
SELECT nspname::text AS schema_name,
       relname::text AS table_name,
       pages * block_size AS bytes,
       least(pages, ceil(reltuples * (28 + row_width) / ((block_size - 24) * fillfactor / 100.0)))::bigint
           * block_size AS expected_bytes
  FROM t
 WHERE row_width IS NOT NULL
 ORDER BY pages * block_size DESC;

-- name: list_sequence_usage(schemas)
-- Sequences of the given schemas and how much of their range is used: against the sequence's own maximum
-- and, for a sequence owned by a column (serial, identity), that column's type (an int4 column with a bigint
-- sequence runs out at 2^31 - 1).
SELECT s.schemaname::text AS schema_name,
       s.sequencename::text AS sequence_name,
       coalesce(s.last_value, s.start_value)::numeric AS last_value,
       least(s.max_value::numeric,
             CASE col.atttypid WHEN 'int2'::regtype THEN 32767::numeric
                               WHEN 'int4'::regtype THEN 2147483647::numeric
                               ELSE 9223372036854775807::numeric END) AS max_value,
       coalesce(format('%s.%s', col.attrelid::regclass, col.attname), '') AS owned_by
  FROM pg_sequences AS s
  LEFT JOIN LATERAL (
       SELECT a.attrelid, a.attname, a.atttypid
         FROM pg_depend AS d
         JOIN pg_attribute AS a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid
        WHERE d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass
          AND d.objid = format('%I.%I', s.schemaname, s.sequencename)::regclass AND d.deptype IN ('a', 'i')
        LIMIT 1) AS col ON true
 WHERE s.schemaname = ANY(:schemas::text[]) AND s.increment_by > 0
 ORDER BY 1, 2;

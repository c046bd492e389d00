-- `datalayer maintenance`: what VACUUM, ANALYZE and REINDEX run on.

-- name: list_maintenance_targets(schemas)
-- Every plain table, partition and partitioned table of the given schemas, with what maintenance needs to know:
-- a partitioned parent has no storage (VACUUM and REINDEX go to its partitions; only ANALYZE reads it, and
-- autovacuum never does), and its size, dead rows and last vacuum/analyze for the report.
SELECT n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       c.relkind = 'p' AS partitioned,
       c.relispartition AS is_partition,
       pg_total_relation_size(c.oid)::bigint AS total_bytes,
       coalesce(s.n_dead_tup, 0)::bigint AS dead_rows,
       greatest(s.last_vacuum, s.last_autovacuum) AS last_vacuum,
       greatest(s.last_analyze, s.last_autoanalyze) AS last_analyze
  FROM pg_class AS c
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
  LEFT JOIN pg_stat_all_tables AS s ON s.relid = c.oid
 WHERE n.nspname = ANY(:schemas::text[]) AND c.relkind IN ('r', 'p')
 ORDER BY 1, 2;

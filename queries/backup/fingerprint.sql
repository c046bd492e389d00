-- name: list_fingerprint_tables(schemas)
-- Every table that holds rows in the given schemas (plain tables and partitions, not partitioned parents, which hold none), its parent when it is a partition, and its estimated rows for a progress display.
SELECT c.oid::bigint AS table_oid,
       n.nspname::text AS schema_name,
       c.relname::text AS table_name,
       (SELECT i.inhparent::regclass::text FROM pg_catalog.pg_inherits AS i WHERE i.inhrelid = c.oid AND c.relispartition) AS partition_of,
       greatest(c.reltuples, 0)::bigint AS estimated_rows
  FROM pg_catalog.pg_class AS c
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY(:schemas::text[])
   AND c.relkind = 'r'
 ORDER BY n.nspname, c.relname;

-- name: get_table_fingerprint(table_oid)^
-- One table's exact row count and order-independent checksum (ops.table_fingerprint), in the caller's snapshot.
SELECT f.rows, f.checksum::text AS checksum
  FROM ops.table_fingerprint(:table_oid::oid::regclass) AS f;

-- name: check_fingerprint_function()$
-- Whether this database has ops.table_fingerprint (migration 0017), which backups and their verification need.
SELECT to_regprocedure('ops.table_fingerprint(regclass)') IS NOT NULL;

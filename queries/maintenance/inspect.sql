-- `datalayer inspect`: which tables and columns may be looked at (ours only, real columns only).

-- name: list_inspectable_columns(schemas, schema_name, table_name)
-- The columns of one table (or partitioned table, or view) of the given schemas, in order, with their SQL type
-- as PostgreSQL spells it; no row when the table is not one of ours.
SELECT a.attname::text AS column_name,
       format_type(a.atttypid, a.atttypmod) AS type_name,
       NOT a.attnotnull AS nullable
  FROM pg_class AS c
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
  JOIN pg_attribute AS a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE n.nspname = ANY(:schemas::text[]) AND n.nspname = :schema_name AND c.relname = :table_name
   AND c.relkind IN ('r', 'p', 'v', 'm')
 ORDER BY a.attnum;

-- name: list_inspectable_tables(schemas)
-- Every table and view of the given schemas that `inspect` accepts (partitions are read through their parent).
SELECT n.nspname::text AS schema_name, c.relname::text AS table_name
  FROM pg_class AS c
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
 WHERE n.nspname = ANY(:schemas::text[]) AND c.relkind IN ('r', 'p', 'v', 'm') AND NOT c.relispartition
 ORDER BY 1, 2;

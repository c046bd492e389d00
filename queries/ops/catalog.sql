-- name: list_type_names(oids)
-- Schema-qualified names of the given type OIDs (array types as their element name plus []).
SELECT t.oid::bigint AS oid,
       CASE WHEN t.typcategory = 'A' THEN format_type(t.typelem, NULL) || '[]'
            ELSE format_type(t.oid, NULL) END AS name
  FROM pg_catalog.pg_type AS t
 WHERE t.oid = ANY(:oids::oid[]);

-- name: list_column_nullability(table_oids, attnums)
-- Whether each (table, column number) pair may hold NULL, and its qualified name, from pg_attribute.
SELECT c.table_oid::bigint AS table_oid,
       c.attnum::int AS attnum,
       format('%s.%s', a.attrelid::regclass, a.attname) AS column_name,
       NOT a.attnotnull AS nullable
  FROM unnest(:table_oids::oid[], :attnums::int2[]) AS c(table_oid, attnum)
  JOIN pg_catalog.pg_attribute AS a ON a.attrelid = c.table_oid AND a.attnum = c.attnum;

-- name: list_our_schemas(candidates)
-- Which of the candidate names (the folders under queries/) are schemas of this database: the data layer's own.
SELECT n.nspname::text AS name
  FROM pg_catalog.pg_namespace AS n
 WHERE n.nspname = ANY(:candidates::text[])
 ORDER BY 1;

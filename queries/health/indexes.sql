-- Index health of the data layer's schemas: unused, duplicate and invalid indexes, foreign keys without an
-- index, and btree bloat estimates. Read-only.

-- name: list_unused_indexes(schemas, min_bytes)
-- Indexes never scanned since the statistics were reset, at least min_bytes big, that enforce nothing (not
-- primary, unique or exclusion): each one costs every write and buys no read.
SELECT s.schemaname::text AS schema_name,
       s.relname::text AS table_name,
       s.indexrelname::text AS index_name,
       pg_relation_size(s.indexrelid)::bigint AS bytes
  FROM pg_stat_all_indexes AS s
  JOIN pg_index AS i ON i.indexrelid = s.indexrelid
 WHERE s.schemaname = ANY(:schemas::text[]) AND s.idx_scan = 0
   AND NOT i.indisunique AND NOT i.indisprimary AND NOT i.indisexclusion
   AND pg_relation_size(s.indexrelid) >= :min_bytes
 ORDER BY 4 DESC, 1, 2, 3;

-- name: list_duplicate_indexes(schemas)
-- Indexes another index of the same table makes redundant: same access method, its columns (with their
-- operator classes and collations) a leading prefix of the other's, the same predicate and expressions; a
-- unique index is redundant only beside a unique index on exactly its columns. Of two identical indexes the
-- newer is listed.
SELECT n.nspname::text AS schema_name,
       t.relname::text AS table_name,
       ca.relname::text AS index_name,
       cb.relname::text AS covered_by,
       pg_get_indexdef(a.indexrelid) AS definition,
       pg_relation_size(a.indexrelid)::bigint AS bytes
  FROM pg_index AS a
  JOIN pg_index AS b ON b.indrelid = a.indrelid AND b.indexrelid <> a.indexrelid
  JOIN pg_class AS ca ON ca.oid = a.indexrelid
  JOIN pg_class AS cb ON cb.oid = b.indexrelid
  JOIN pg_class AS t ON t.oid = a.indrelid
  JOIN pg_namespace AS n ON n.oid = t.relnamespace
 WHERE n.nspname = ANY(:schemas::text[])
   AND ca.relam = cb.relam AND a.indisvalid AND b.indisvalid AND NOT a.indisprimary
   AND (b.indkey::text = a.indkey::text OR b.indkey::text LIKE a.indkey::text || ' %')
   AND (b.indclass::text = a.indclass::text OR b.indclass::text LIKE a.indclass::text || ' %')
   AND (b.indcollation::text = a.indcollation::text OR b.indcollation::text LIKE a.indcollation::text || ' %')
   AND pg_get_expr(a.indpred, a.indrelid) IS NOT DISTINCT FROM pg_get_expr(b.indpred, b.indrelid)
   AND pg_get_expr(a.indexprs, a.indrelid) IS NOT DISTINCT FROM pg_get_expr(b.indexprs, b.indrelid)
   AND (NOT a.indisunique OR (b.indisunique AND b.indkey::text = a.indkey::text))
   -- identical keys: the plain one beside the unique one, the unique one beside the primary key, else the newer
   AND (b.indkey::text <> a.indkey::text OR a.indisunique <> b.indisunique OR b.indisprimary
        OR a.indexrelid > b.indexrelid)
 ORDER BY 1, 2, 3;

-- name: list_invalid_indexes(schemas)
-- Indexes marked invalid (a CREATE INDEX CONCURRENTLY or REINDEX CONCURRENTLY that failed): never used for
-- reads, still maintained on every write.
SELECT n.nspname::text AS schema_name,
       t.relname::text AS table_name,
       c.relname::text AS index_name,
       pg_get_indexdef(i.indexrelid) AS definition
  FROM pg_index AS i
  JOIN pg_class AS c ON c.oid = i.indexrelid
  JOIN pg_class AS t ON t.oid = i.indrelid
  JOIN pg_namespace AS n ON n.oid = t.relnamespace
 WHERE n.nspname = ANY(:schemas::text[]) AND NOT i.indisvalid
 ORDER BY 1, 2, 3;

-- name: list_unindexed_foreign_keys(schemas)
-- Foreign keys of the given schemas with no index whose leading columns are exactly the key's columns: a
-- delete or key update of the referenced row scans the whole referencing table. Constraints a partition
-- inherits from its parent are left out (the parent's index covers them).
SELECT n.nspname::text AS schema_name,
       t.relname::text AS table_name,
       k.conname::text AS constraint_name,
       (SELECT string_agg(a.attname, ', ' ORDER BY u.ord)
          FROM unnest(k.conkey) WITH ORDINALITY AS u(attnum, ord)
          JOIN pg_attribute AS a ON a.attrelid = k.conrelid AND a.attnum = u.attnum) AS columns,
       k.confrelid::regclass::text AS references_table
  FROM pg_constraint AS k
  JOIN pg_class AS t ON t.oid = k.conrelid
  JOIN pg_namespace AS n ON n.oid = t.relnamespace
 WHERE n.nspname = ANY(:schemas::text[]) AND k.contype = 'f' AND k.conparentid = 0
   AND NOT EXISTS (
       SELECT 1
         FROM pg_index AS i
        WHERE i.indrelid = k.conrelid
          AND (string_to_array(i.indkey::text, ' ')::int2[])[1 : cardinality(k.conkey)] @> k.conkey
          AND (string_to_array(i.indkey::text, ' ')::int2[])[1 : cardinality(k.conkey)] <@ k.conkey)
 ORDER BY 1, 2, 3;

-- name: list_index_bloat(schemas)
-- Estimated bloat of each btree index on plain columns of the given schemas' tables that have statistics:
-- pages on disk against what its entries would need at the btree's fillfactor (90 unless set), with an
-- 8-byte tuple header and a 4-byte line pointer per entry. An estimate, like the table one.
WITH x AS (
    SELECT n.nspname, t.relname AS table_name, c.relname AS index_name, c.relpages::bigint AS pages,
           c.reltuples, current_setting('block_size')::int AS block_size,
           coalesce((SELECT split_part(o, '=', 2)::int FROM unnest(c.reloptions) AS o WHERE o LIKE 'fillfactor=%'),
                    90) AS fillfactor,
           (SELECT sum(st.avg_width)
              FROM unnest(string_to_array(i.indkey::text, ' ')::int2[]) AS k(attnum)
              JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              JOIN pg_stats AS st ON st.schemaname = n.nspname AND st.tablename = t.relname
                                 AND st.attname = a.attname) AS key_width,
           cardinality(string_to_array(i.indkey::text, ' ')) AS key_columns,
           (SELECT count(*)
              FROM unnest(string_to_array(i.indkey::text, ' ')::int2[]) AS k(attnum)
              JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
              JOIN pg_stats AS st ON st.schemaname = n.nspname AND st.tablename = t.relname
                                 AND st.attname = a.attname) AS columns_with_stats
      FROM pg_index AS i
      JOIN pg_class AS c ON c.oid = i.indexrelid
      JOIN pg_class AS t ON t.oid = i.indrelid
      JOIN pg_namespace AS n ON n.oid = t.relnamespace
      JOIN pg_am AS am ON am.oid = c.relam
     WHERE n.nspname = ANY(:schemas::text[]) AND am.amname = 'btree' AND t.relkind = 'r'
       AND i.indexprs IS NULL AND c.reltuples > 0 AND i.indisvalid
)
SELECT nspname::text AS schema_name,
       table_name::text AS table_name,
       index_name::text AS index_name,
       pages * block_size AS bytes,
       least(pages, 1 + ceil(reltuples * (12 + ceil(key_width / 8.0) * 8)
                                 / ((block_size - 40) * fillfactor / 100.0)))::bigint * block_size AS expected_bytes
  FROM x
 WHERE key_width IS NOT NULL AND columns_with_stats = key_columns
 ORDER BY pages * block_size DESC;

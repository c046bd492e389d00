-- name: ping()$
-- One round trip; used to measure latency.
SELECT 1;

-- name: get_server_info()^
-- Server version, database and user of this connection.
SELECT current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       current_database()::text AS database,
       current_user::text AS user_name;

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

-- name: set_backup_session()$
-- For this transaction only: no statement timeout and no idle-in-transaction timeout, as pg_dump sets for its own session (a backup's snapshot stays open while pg_dump reads it).
SELECT set_config('statement_timeout', '0', true) || ' ' || set_config('idle_in_transaction_session_timeout', '0', true);

-- name: export_snapshot()$
-- Export this REPEATABLE READ transaction's snapshot, so that pg_dump (--snapshot) reads exactly the rows the manifest counts.
SELECT pg_export_snapshot();

-- name: count_dumped_tables()$
-- How many tables pg_dump writes the rows of (every ordinary table outside the system schemas): the total of a dump's or a restore's progress.
SELECT count(*)::int
  FROM pg_catalog.pg_class AS c
  JOIN pg_catalog.pg_namespace AS n ON n.oid = c.relnamespace
 WHERE c.relkind = 'r'
   AND n.nspname <> 'information_schema'
   AND n.nspname NOT LIKE 'pg\_%';

-- name: get_database(name)^
-- One database of this server: its owner, encoding and locale (a restore creates its replacement with the same), whether it accepts connections, and how many sessions it has now.
SELECT d.datname::text AS name,
       pg_catalog.pg_get_userbyid(d.datdba)::text AS owner,
       pg_catalog.pg_encoding_to_char(d.encoding)::text AS encoding,
       d.datcollate::text AS collation_name,
       d.datctype::text AS ctype,
       d.datallowconn AS allow_connections,
       (SELECT count(*) FROM pg_catalog.pg_stat_activity AS a WHERE a.datid = d.oid)::int AS sessions
  FROM pg_catalog.pg_database AS d
 WHERE d.datname = :name;

-- name: close_database_sessions(name)$
-- End every other session connected to the database (a restore puts the restored copy in its place, which needs nobody connected); returns how many were signalled.
SELECT count(*)::int
  FROM (SELECT pg_catalog.pg_terminate_backend(a.pid)
          FROM pg_catalog.pg_stat_activity AS a
         WHERE a.datname = :name AND a.pid <> pg_catalog.pg_backend_pid()) AS t;

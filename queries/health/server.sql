-- Server-wide health: connectivity, connections, sessions, locks, prepared transactions, wraparound,
-- checkpoints, WAL archiving, replication. Read-only; PostgreSQL 15 to 18, no extension needed.

-- name: ping()$
-- One round trip; used to measure latency.
SELECT 1;

-- name: get_server_info()^
-- Server version, database and user of this connection, whether it is a standby, and how far behind.
SELECT current_setting('server_version') AS server_version,
       current_setting('server_version_num')::int AS server_version_num,
       current_database()::text AS database,
       current_user::text AS user_name,
       pg_is_in_recovery() AS in_recovery,
       CASE WHEN pg_is_in_recovery()
            THEN extract(epoch FROM now() - pg_last_xact_replay_timestamp())::double precision END AS replay_delay_s,
       pg_database_size(current_database())::bigint AS database_bytes,
       (SELECT stats_reset FROM pg_stat_database WHERE datname = current_database()) AS stats_reset;

-- name: get_connection_usage()^
-- Client connections to the whole server against max_connections (less the superuser reserve), and this
-- database's sessions by state.
SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int AS used,
       current_setting('max_connections')::int AS max_connections,
       current_setting('superuser_reserved_connections')::int AS reserved,
       count(*) FILTER (WHERE a.state = 'active')::int AS active,
       count(*) FILTER (WHERE a.state = 'idle')::int AS idle,
       count(*) FILTER (WHERE a.state LIKE 'idle in transaction%')::int AS idle_in_transaction
  FROM pg_stat_activity AS a
 WHERE a.datname = current_database() AND a.backend_type = 'client backend';

-- name: list_long_running_queries(min_seconds)
-- Statements of this database running for longer than min_seconds (this session left out), longest first,
-- with the named query read from the comment every statement of ours starts with.
SELECT coalesce(a.pid, 0) AS pid,
       coalesce(a.usename::text, '') AS user_name,
       coalesce(a.application_name, '') AS application_name,
       extract(epoch FROM now() - a.query_start)::double precision AS seconds,
       substring(a.query FROM '/\* ([A-Za-z0-9_.]+) \*/') AS query_name,
       left(a.query, 300) AS query
  FROM pg_stat_activity AS a
 WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.state = 'active'
   AND a.backend_type = 'client backend'
   AND a.query_start < now() - make_interval(secs => :min_seconds::double precision)
 ORDER BY a.query_start
 LIMIT 20;

-- name: list_idle_in_transaction(min_seconds)
-- Sessions of this database idle inside an open transaction for longer than min_seconds, longest first: they
-- hold locks and keep VACUUM from removing dead rows.
SELECT coalesce(a.pid, 0) AS pid,
       coalesce(a.usename::text, '') AS user_name,
       coalesce(a.application_name, '') AS application_name,
       extract(epoch FROM now() - a.state_change)::double precision AS seconds,
       extract(epoch FROM now() - a.xact_start)::double precision AS transaction_seconds,
       substring(a.query FROM '/\* ([A-Za-z0-9_.]+) \*/') AS last_query_name,
       left(a.query, 300) AS last_query
  FROM pg_stat_activity AS a
 WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
   AND a.state IN ('idle in transaction', 'idle in transaction (aborted)')
   AND a.state_change < now() - make_interval(secs => :min_seconds::double precision)
 ORDER BY a.state_change
 LIMIT 20;

-- name: list_blocked_queries()
-- Statements of this database waiting for a lock, with the sessions that block them (pg_blocking_pids) and
-- what those are doing, the longest wait first.
SELECT coalesce(w.pid, 0) AS pid,
       extract(epoch FROM now() - w.query_start)::double precision AS waiting_seconds,
       coalesce(w.wait_event_type, '') || ':' || coalesce(w.wait_event, '') AS wait_event,
       substring(w.query FROM '/\* ([A-Za-z0-9_.]+) \*/') AS query_name,
       left(w.query, 300) AS query,
       pg_blocking_pids(w.pid) AS blocked_by,
       coalesce((SELECT string_agg(format('%s (%s%s)', b.pid, b.state,
                                          coalesce(', ' || substring(b.query FROM '/\* ([A-Za-z0-9_.]+) \*/'), '')),
                                   '; ' ORDER BY b.pid)
                   FROM pg_stat_activity AS b WHERE b.pid = ANY(pg_blocking_pids(w.pid))), '') AS blockers
  FROM pg_stat_activity AS w
 WHERE w.datname = current_database() AND cardinality(pg_blocking_pids(w.pid)) > 0
 ORDER BY w.query_start
 LIMIT 20;

-- name: list_prepared_transactions()
-- Two-phase transactions prepared in this database and not yet committed or rolled back: they hold locks and
-- the xmin horizon until someone finishes them.
SELECT coalesce(p.gid, '') AS gid,
       p.owner::text AS owner,
       coalesce(p.prepared, now()) AS prepared,
       extract(epoch FROM now() - p.prepared)::double precision AS seconds
  FROM pg_prepared_xacts AS p
 WHERE p.database = current_database()
 ORDER BY p.prepared;

-- name: list_wraparound_ages()
-- Per database of the server: transaction-ID age and MultiXact-ID age of its oldest unfrozen row, against
-- the 2^31 that would force a shutdown.
SELECT d.datname::text AS database,
       age(d.datfrozenxid)::bigint AS xid_age,
       mxid_age(d.datminmxid)::bigint AS multixact_age
  FROM pg_database AS d
 WHERE d.datallowconn
 ORDER BY greatest(age(d.datfrozenxid), mxid_age(d.datminmxid)) DESC;

-- name: get_checkpoint_counts()^
-- Checkpoints since the statistics were reset: timed (checkpoint_timeout) against requested (WAL filled up,
-- or asked for). ops.checkpoint_counts() reads pg_stat_checkpointer (PostgreSQL 17+) or pg_stat_bgwriter.
SELECT timed, requested FROM ops.checkpoint_counts();

-- name: get_archiver_state()^
-- WAL archiving: whether it is on, and the archiver's successes and failures.
SELECT current_setting('archive_mode') AS archive_mode,
       coalesce(s.archived_count, 0)::bigint AS archived_count,
       coalesce(s.failed_count, 0)::bigint AS failed_count,
       s.last_archived_wal,
       s.last_archived_time,
       s.last_failed_wal,
       s.last_failed_time
  FROM pg_stat_archiver AS s;

-- name: list_replicas()
-- Standbys streaming from this server, with their replay lag in time and in bytes (empty on a standby).
SELECT coalesce(r.application_name, '') AS application_name,
       host(r.client_addr) AS client_addr,
       coalesce(r.state, '') AS state,
       extract(epoch FROM r.replay_lag)::double precision AS replay_lag_s,
       CASE WHEN NOT pg_is_in_recovery() THEN pg_wal_lsn_diff(pg_current_wal_lsn(), r.replay_lsn)::bigint END
           AS replay_lag_bytes
  FROM pg_stat_replication AS r
 ORDER BY 1;

-- name: list_replication_slots()
-- Replication slots of the server: an inactive slot keeps every WAL file since its restart_lsn.
SELECT s.slot_name::text AS slot_name,
       coalesce(s.slot_type, '') AS slot_type,
       coalesce(s.active, false) AS active,
       coalesce(s.wal_status, '') AS wal_status,
       pg_wal_lsn_diff(CASE WHEN pg_is_in_recovery() THEN pg_last_wal_receive_lsn() ELSE pg_current_wal_lsn() END,
                       s.restart_lsn)::bigint AS retained_bytes
  FROM pg_replication_slots AS s
 ORDER BY 1;

-- name: set_session_limits(lock_timeout, statement_timeout)$
-- For the rest of the health report's transaction: give up on a lock or a statement after these times, so a
-- table locked by someone else makes one check fail fast instead of the report hanging behind it.
SELECT set_config('lock_timeout', :lock_timeout, true) || ' ' || set_config('statement_timeout', :statement_timeout, true);

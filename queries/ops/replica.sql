-- name: get_primary_wal_position()$
-- Where the primary's WAL ends now (pg_current_wal_lsn, as text): a replica that has replayed up to here has
-- every transaction committed before this call. NULL on a server in recovery (it is not a primary).
SELECT CASE WHEN pg_is_in_recovery() THEN NULL ELSE pg_current_wal_lsn()::text END AS position;

-- name: get_replica_progress(position)^
-- On a replica: whether it is one (in recovery), and whether it has replayed the primary's WAL up to `position`.
SELECT pg_is_in_recovery() AS in_recovery,
       coalesce(pg_is_in_recovery() AND pg_last_wal_replay_lsn() >= (:position)::text::pg_lsn, false) AS caught_up,
       coalesce(extract(epoch FROM now() - pg_last_xact_replay_timestamp())::double precision, 0) AS last_replay_age_s;

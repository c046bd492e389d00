-- name: get_archive_status()^
-- Whether this server archives its WAL and how that goes (pg_stat_archiver), its WAL segment size, whether it is replaying WAL, and its clock: what `backup base` and `restore --to-time` check first.
SELECT current_setting('archive_mode') AS archive_mode,
       current_setting('wal_level') AS wal_level,
       coalesce(s.archived_count, 0) AS archived_count,
       s.last_archived_wal,
       s.last_archived_time,
       coalesce(s.failed_count, 0) AS failed_count,
       s.last_failed_wal,
       s.last_failed_time,
       (SELECT g.setting::bigint FROM pg_catalog.pg_settings AS g WHERE g.name = 'wal_segment_size') AS wal_segment_size,
       pg_is_in_recovery() AS in_recovery,
       now() AS server_time
  FROM pg_catalog.pg_stat_archiver AS s;

-- name: create_commit_marker()$
-- Commit a transaction that holds an id, so the WAL has a commit record stamped now: recovery to a time stops at the first commit after it, and needs one to exist. Returns the id.
SELECT pg_current_xact_id()::text::bigint;

-- name: close_wal_segment()$
-- Close the current WAL segment so that it is archived now; returns the name of that segment's file.
SELECT pg_walfile_name(pg_switch_wal());

-- name: get_recovery_state()^
-- Whether the server is still replaying WAL, the commit time of the last transaction it replayed, and its clock.
SELECT pg_is_in_recovery() AS in_recovery,
       pg_last_xact_replay_timestamp() AS last_replayed_at,
       now() AS server_time;

-- name: ensure_migration_checksums()!
-- Create the migration checksum ledger (bookkeeping of the migration tool, beside yoyo's own tables).
CREATE TABLE IF NOT EXISTS public._datalayer_migration_checksum (
    migration_id text        PRIMARY KEY,
    sha256       text        NOT NULL,
    recorded_at  timestamptz NOT NULL DEFAULT now()
);

-- name: lock_migrations()$
-- Take the migration lock if it is free (session advisory lock, released on unlock or disconnect); true when taken. Never waits inside the server: a waiting statement would hold a snapshot that CREATE INDEX CONCURRENTLY in the running migrator must wait for.
SELECT pg_try_advisory_lock(hashtext('datalayer.migrate'));

-- name: unlock_migrations()$
-- Release the migration lock.
SELECT pg_advisory_unlock(hashtext('datalayer.migrate'));

-- name: list_migration_checksums()
-- Content checksum of every migration applied through datalayer.
SELECT migration_id, sha256, recorded_at
  FROM public._datalayer_migration_checksum
 ORDER BY migration_id;

-- name: record_migration_checksum(migration_id, sha256)!
-- Remember the checksum of a migration just applied.
INSERT INTO public._datalayer_migration_checksum (migration_id, sha256)
VALUES (:migration_id, :sha256)
    ON CONFLICT (migration_id) DO UPDATE SET sha256 = EXCLUDED.sha256, recorded_at = now();

-- name: delete_migration_checksum(migration_id)!
-- Forget the checksum of a migration just rolled back.
DELETE FROM public._datalayer_migration_checksum
 WHERE migration_id = :migration_id;

-- name: list_applied_migrations()
-- Ids of the migrations yoyo has applied (its own bookkeeping table).
SELECT migration_id
  FROM public._yoyo_migration
 ORDER BY migration_id;

-- name: list_migration_ledger()
-- Applied migrations with their recorded checksums, through the SECURITY DEFINER function a role without
-- access to the bookkeeping tables (datalayer_app) may call.
SELECT migration_id, sha256
  FROM ops.migration_ledger();

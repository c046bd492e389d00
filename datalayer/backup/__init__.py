"""Backups: pg_dump files with a manifest (`logical`), their fingerprints (`fingerprint`), base backups and
point-in-time recovery of the embedded cluster (`pitr`), and the client programs they run (`tools`)."""

DROP FUNCTION ops.table_fingerprint(regclass);

-- `datalayer stats`: row counts and sizes per table, kept in ops.table_size_history for growth.

-- name: record_table_sizes(taken_at, readings)!
-- Keep one run's readings (a JSON array of {schema_name, table_name, live_rows, total_bytes}); a repeat of the
-- same run (same taken_at) changes nothing.
INSERT INTO ops.table_size_history (taken_at, schema_name, table_name, live_rows, total_bytes)
SELECT :taken_at, r.schema_name, r.table_name, r.live_rows, r.total_bytes
  FROM jsonb_to_recordset(:readings::jsonb) AS r(schema_name text, table_name text, live_rows bigint, total_bytes bigint)
    ON CONFLICT ON CONSTRAINT table_size_history_pkey DO NOTHING;

-- name: list_previous_sizes(before)
-- Each table's latest reading taken before the given time: what this run's growth is measured from.
SELECT DISTINCT ON (schema_name, table_name)
       schema_name, table_name, taken_at, live_rows, total_bytes
  FROM ops.table_size_history
 WHERE taken_at < :before
 ORDER BY schema_name, table_name, taken_at DESC;

-- name: delete_sizes_older_than(cutoff)$
-- Retention of the size history; returns how many readings were deleted.
WITH gone AS (DELETE FROM ops.table_size_history WHERE taken_at < :cutoff RETURNING 1)
SELECT count(*)::bigint FROM gone;

-- name: count_rows_exactly(table_name)$
-- count(*) of one table (a qualified name; the regclass cast proves it exists): a full scan, for `stats --exact`.
SELECT ops.exact_row_count(:table_name::text::regclass);

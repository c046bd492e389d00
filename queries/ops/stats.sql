-- name: add_query_stats(application_name, stats)!
-- Add one process's per-query statistics since its last flush (a JSON array) to the running totals.
INSERT INTO ops.query_stats AS s
       (application_name, query_name, calls, errors, retries, rows, total_ms, max_ms, buckets, cache_hits,
        cache_misses, cache_evictions, cache_invalidations, cache_redis_errors)
SELECT :application_name, d.name, d.calls, d.errors, d.retries, d.rows, d.total_ms, d.max_ms, d.buckets,
       d.cache_hits, d.cache_misses, d.cache_evictions, d.cache_invalidations, d.cache_redis_errors
  FROM jsonb_to_recordset(:stats::jsonb)
       AS d(name text, calls bigint, errors bigint, retries bigint, rows bigint, total_ms double precision,
            max_ms double precision, buckets bigint[], cache_hits bigint, cache_misses bigint,
            cache_evictions bigint, cache_invalidations bigint, cache_redis_errors bigint)
    ON CONFLICT (application_name, query_name) DO UPDATE
   SET calls = s.calls + EXCLUDED.calls,
       errors = s.errors + EXCLUDED.errors,
       retries = s.retries + EXCLUDED.retries,
       rows = s.rows + EXCLUDED.rows,
       total_ms = s.total_ms + EXCLUDED.total_ms,
       max_ms = greatest(s.max_ms, EXCLUDED.max_ms),
       buckets = ARRAY(SELECT coalesce(a, 0) + coalesce(b, 0)
                         FROM unnest(s.buckets, EXCLUDED.buckets) AS u(a, b)),
       cache_hits = s.cache_hits + EXCLUDED.cache_hits,
       cache_misses = s.cache_misses + EXCLUDED.cache_misses,
       cache_evictions = s.cache_evictions + EXCLUDED.cache_evictions,
       cache_invalidations = s.cache_invalidations + EXCLUDED.cache_invalidations,
       cache_redis_errors = s.cache_redis_errors + EXCLUDED.cache_redis_errors,
       last_flushed_at = now();

-- name: list_query_stats()
-- Per named query, summed over every process that flushed statistics (all application names).
SELECT query_name AS name,
       sum(calls)::bigint AS calls,
       sum(errors)::bigint AS errors,
       sum(retries)::bigint AS retries,
       sum(rows)::bigint AS rows,
       sum(total_ms)::double precision AS total_ms,
       max(max_ms)::double precision AS max_ms,
       sum(cache_hits)::bigint AS cache_hits,
       sum(cache_misses)::bigint AS cache_misses,
       sum(cache_evictions)::bigint AS cache_evictions,
       sum(cache_invalidations)::bigint AS cache_invalidations,
       sum(cache_redis_errors)::bigint AS cache_redis_errors,
       ARRAY(SELECT sum(b)::bigint
               FROM ops.query_stats AS q2, unnest(q2.buckets) WITH ORDINALITY AS u(b, i)
              WHERE q2.query_name = q.query_name
              GROUP BY u.i ORDER BY u.i) AS buckets
  FROM ops.query_stats AS q
 GROUP BY query_name
 ORDER BY query_name;

-- name: reset_query_stats()!
-- Forget every flushed statistic (pg_stat_statements is reset separately).
DELETE FROM ops.query_stats;

-- name: list_statement_stats()
-- pg_stat_statements of this database grouped by the named query in the comment after each statement's first keyword.
SELECT substring(s.query FROM '^[A-Za-z]+ /\* ([A-Za-z0-9_.]+) \*/') AS name,
       sum(s.calls)::bigint AS calls,
       sum(s.rows)::bigint AS rows,
       sum(s.total_exec_time)::double precision AS total_ms,
       (sum(s.total_exec_time) / nullif(sum(s.calls), 0))::double precision AS mean_ms,
       max(s.max_exec_time)::double precision AS max_ms,
       sum(s.shared_blks_hit + s.shared_blks_read)::bigint AS blocks
  FROM ops.pg_stat_statements AS s
 WHERE s.dbid = (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database())
   AND s.query ~ '^[A-Za-z]+ /\* [A-Za-z0-9_.]+ \*/'
 GROUP BY 1
 ORDER BY 1;

-- name: reset_statement_stats()$
-- Forget pg_stat_statements' figures of this database (its statements only); needs the right to call
-- pg_stat_statements_reset (a superuser, or a grant).
SELECT ops.pg_stat_statements_reset(0, (SELECT oid FROM pg_catalog.pg_database WHERE datname = current_database()), 0)::text;

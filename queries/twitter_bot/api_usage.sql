-- name: log_api_call(call_id, service, endpoint, called_at, success, status_code, response_time_ms, error_type, error_message)^
-- Record one external API call under its client-generated call_id; logging the same call again stores nothing and returns the stored row.
WITH inserted AS (
    INSERT INTO twitter_bot.api_usage
           (call_id, service, endpoint, called_at, success, status_code, response_time_ms, error_type, error_message)
    VALUES (:call_id, :service, :endpoint, :called_at, :success, :status_code, :response_time_ms, :error_type, :error_message)
        ON CONFLICT (call_id, called_at) DO NOTHING
    RETURNING id, call_id, service, endpoint, called_at, success, status_code, response_time_ms, error_type, error_message
)
SELECT id, call_id, service, endpoint, called_at, success, status_code, response_time_ms, error_type, error_message
  FROM inserted
 UNION ALL
SELECT id, call_id, service, endpoint, called_at, success, status_code, response_time_ms, error_type, error_message
  FROM twitter_bot.api_usage
 WHERE call_id = :call_id AND called_at = :called_at
   AND NOT EXISTS (SELECT 1 FROM inserted);

-- name: get_api_call(call_id, called_at)^
-- One logged call by its call id and time (the partition key).
SELECT id, call_id, service, endpoint, called_at, success, status_code, response_time_ms, error_type, error_message
  FROM twitter_bot.api_usage
 WHERE call_id = :call_id AND called_at = :called_at;

-- name: log_api_calls(call_ids, services, endpoints, called_ats, successes, status_codes, response_times_ms, error_types, error_messages)$
-- Record many calls given as parallel arrays; calls already stored (same call_id) are skipped; returns how many were new.
WITH inserted AS (
    INSERT INTO twitter_bot.api_usage
           (call_id, service, endpoint, called_at, success, status_code, response_time_ms, error_type, error_message)
    SELECT *
      FROM unnest(:call_ids::uuid[], :services::text[], :endpoints::text[], :called_ats::timestamptz[],
                  :successes::boolean[], :status_codes::int[], :response_times_ms::double precision[],
                  :error_types::text[], :error_messages::text[])
        ON CONFLICT (call_id, called_at) DO NOTHING
    RETURNING 1
)
SELECT count(*)::bigint FROM inserted;

-- name: import_api_calls(call_ids, services, endpoints, called_ats, successes, status_codes, response_times_ms, error_types, error_messages)^
-- Insert imported calls given as parallel arrays; a call already imported under the same identity is replaced when its fields changed; counts new and replaced.
WITH written AS (
    INSERT INTO twitter_bot.api_usage AS u
           (call_id, service, endpoint, called_at, success, status_code, response_time_ms, error_type, error_message)
    SELECT *
      FROM unnest(:call_ids::uuid[], :services::text[], :endpoints::text[], :called_ats::timestamptz[],
                  :successes::boolean[], :status_codes::int[], :response_times_ms::double precision[],
                  :error_types::text[], :error_messages::text[])
        ON CONFLICT (call_id, called_at) DO UPDATE
       SET success = EXCLUDED.success, status_code = EXCLUDED.status_code,
           response_time_ms = EXCLUDED.response_time_ms, error_type = EXCLUDED.error_type,
           error_message = EXCLUDED.error_message
     WHERE (u.success, u.status_code, u.response_time_ms, u.error_type, u.error_message)
           IS DISTINCT FROM
           (EXCLUDED.success, EXCLUDED.status_code, EXCLUDED.response_time_ms, EXCLUDED.error_type, EXCLUDED.error_message)
    RETURNING u.call_id, u.called_at
)
-- Not `RETURNING xmax = 0`: a row routed to a partition whose column layout differs from the parent's (one made
-- by CREATE TABLE … LIKE, the parent having a dropped column) has no system columns there (0A000). The main query
-- sees the table as it was before the statement: a written key that was there already was replaced.
SELECT count(*) FILTER (WHERE NOT s.existed)::bigint AS inserted,
       count(*) FILTER (WHERE s.existed)::bigint AS replaced
  FROM (SELECT EXISTS (SELECT FROM twitter_bot.api_usage AS o WHERE o.call_id = w.call_id AND o.called_at = w.called_at)
               AS existed
          FROM written AS w) AS s;

-- name: list_api_usage_partitions()
-- The monthly partitions of api_usage with their bounds and row estimates (catalog only: no lock on any partition).
SELECT c.relname::text AS name,
       pg_get_expr(c.relpartbound, 0) AS bounds,
       greatest(c.reltuples, 0)::bigint AS estimated_rows
  FROM pg_catalog.pg_inherits AS i
  JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'twitter_bot.api_usage'::regclass
 ORDER BY c.relname;

-- name: delete_api_usage_older_than(cutoff)$
-- Retention: delete calls older than cutoff (rows in partitions that are not wholly old); returns how many.
WITH deleted AS (
    DELETE FROM twitter_bot.api_usage WHERE called_at < :cutoff RETURNING 1
)
SELECT count(*)::bigint FROM deleted;

-- name: api_usage_by_period(period, since, until)
-- Calls per UTC period ('day' or 'month'), service and endpoint in [since, until): volume, failures, mean and p95 latency (p95 from the latency histogram: within one bucket, at most 19% off); whole rolled-up hours from api_usage_hourly, the rest from raw rows.
WITH b AS (
    -- The rollup serves the whole hours in [lo, hi): from the first whole hour of the range to the watermark (or
    -- the range's last whole hour); raw rows serve [since, lo) and [hi, until), so counts stay exact and current.
    SELECT l.lo,
           greatest(l.lo, least(date_trunc('hour', :until::timestamptz, 'UTC'),
                                coalesce((SELECT w.rolled_until FROM ops.rollup_watermarks AS w
                                           WHERE w.rollup = 'twitter_bot.api_usage_hourly'), '-infinity'))) AS hi
      FROM (SELECT CASE WHEN date_trunc('hour', :since::timestamptz, 'UTC') = :since::timestamptz THEN :since::timestamptz
                        ELSE date_trunc('hour', :since::timestamptz, 'UTC') + interval '1 hour' END AS lo) AS l
), raw AS (
    SELECT called_at, service, endpoint, success, response_time_ms
      FROM twitter_bot.api_usage
     WHERE called_at >= :since AND called_at < least((SELECT lo FROM b), :until::timestamptz)
     UNION ALL
    SELECT called_at, service, endpoint, success, response_time_ms
      FROM twitter_bot.api_usage
     WHERE called_at >= (SELECT hi FROM b) AND called_at < :until
), rolled AS (
    SELECT h.hour, h.service, h.endpoint, h.calls, h.successes, h.timed, h.sum_ms, h.min_ms, h.max_ms, h.latency_buckets, h.latency_counts
      FROM twitter_bot.api_usage_hourly AS h
     WHERE h.hour >= (SELECT lo FROM b) AND h.hour < (SELECT hi FROM b)
), totals AS (
    SELECT period_start, service, endpoint, sum(calls)::bigint AS calls, sum(failures)::bigint AS failures,
           sum(sum_ms) AS sum_ms, sum(timed) AS timed, min(min_ms) AS min_ms, max(max_ms) AS max_ms
      FROM (SELECT date_trunc(:period, hour, 'UTC') AS period_start, service, endpoint, calls,
                   calls - successes AS failures, sum_ms, timed, min_ms, max_ms
              FROM rolled
             UNION ALL
            SELECT date_trunc(:period, called_at, 'UTC'), service, endpoint, 1, (NOT success)::int,
                   coalesce(response_time_ms, 0), (response_time_ms IS NOT NULL)::int, response_time_ms, response_time_ms
              FROM raw) AS x
     GROUP BY 1, 2, 3
), buckets AS (
    SELECT period_start, service, endpoint, array_agg(k) AS ks, array_agg(n) AS ns
      FROM (SELECT period_start, service, endpoint, k, sum(n)::bigint AS n
              FROM (SELECT date_trunc(:period, hour, 'UTC') AS period_start, service, endpoint,
                           unnest(latency_buckets) AS k, unnest(latency_counts) AS n  -- in the select list: zipped, no Function Scan per row
                      FROM rolled) AS pairs
             GROUP BY 1, 2, 3, 4
             UNION ALL
            SELECT date_trunc(:period, called_at, 'UTC'), service, endpoint, ops.latency_bucket(response_time_ms), count(*)
              FROM raw WHERE response_time_ms IS NOT NULL
             GROUP BY 1, 2, 3, 4) AS x
     GROUP BY 1, 2, 3
)
SELECT (t.period_start AT TIME ZONE 'UTC')::date AS period_start,
       t.service,
       t.endpoint,
       t.calls,
       t.failures,
       (t.sum_ms / nullif(t.timed, 0))::double precision AS avg_response_time_ms,
       ops.histogram_percentile(k.ks, k.ns, 0.95, t.min_ms, t.max_ms) AS p95_response_time_ms
  FROM totals AS t
  LEFT JOIN buckets AS k USING (period_start, service, endpoint)
 ORDER BY 1, 2, 3;

-- name: api_success_rate(since, until)
-- Share of successful calls per service in [since, until); whole rolled-up hours from api_usage_hourly, the rest from raw rows.
WITH b AS (
    -- The rollup serves the whole hours in [lo, hi): from the first whole hour of the range to the watermark (or
    -- the range's last whole hour); raw rows serve [since, lo) and [hi, until), so counts stay exact and current.
    SELECT l.lo,
           greatest(l.lo, least(date_trunc('hour', :until::timestamptz, 'UTC'),
                                coalesce((SELECT w.rolled_until FROM ops.rollup_watermarks AS w
                                           WHERE w.rollup = 'twitter_bot.api_usage_hourly'), '-infinity'))) AS hi
      FROM (SELECT CASE WHEN date_trunc('hour', :since::timestamptz, 'UTC') = :since::timestamptz THEN :since::timestamptz
                        ELSE date_trunc('hour', :since::timestamptz, 'UTC') + interval '1 hour' END AS lo) AS l
), raw AS (
    SELECT called_at, service, endpoint, success, response_time_ms
      FROM twitter_bot.api_usage
     WHERE called_at >= :since AND called_at < least((SELECT lo FROM b), :until::timestamptz)
     UNION ALL
    SELECT called_at, service, endpoint, success, response_time_ms
      FROM twitter_bot.api_usage
     WHERE called_at >= (SELECT hi FROM b) AND called_at < :until
), rolled AS (
    SELECT h.hour, h.service, h.endpoint, h.calls, h.successes, h.timed, h.sum_ms, h.min_ms, h.max_ms, h.latency_buckets, h.latency_counts
      FROM twitter_bot.api_usage_hourly AS h
     WHERE h.hour >= (SELECT lo FROM b) AND h.hour < (SELECT hi FROM b)
)
SELECT service,
       sum(calls)::bigint AS calls,
       sum(successes)::bigint AS successes,
       (sum(successes) / sum(calls))::double precision AS success_rate
  FROM (SELECT service, calls, successes FROM rolled
         UNION ALL
        SELECT service, 1, success::int FROM raw) AS x
 GROUP BY service
 ORDER BY service;

-- name: api_response_time_percentiles(since, until)
-- p50 / p95 / p99 response time per service and endpoint in [since, until) (calls with a measured time), from the latency histogram (within one bucket: at most 19% off); whole rolled-up hours from api_usage_hourly, the rest from raw rows.
WITH b AS (
    -- The rollup serves the whole hours in [lo, hi): from the first whole hour of the range to the watermark (or
    -- the range's last whole hour); raw rows serve [since, lo) and [hi, until), so counts stay exact and current.
    SELECT l.lo,
           greatest(l.lo, least(date_trunc('hour', :until::timestamptz, 'UTC'),
                                coalesce((SELECT w.rolled_until FROM ops.rollup_watermarks AS w
                                           WHERE w.rollup = 'twitter_bot.api_usage_hourly'), '-infinity'))) AS hi
      FROM (SELECT CASE WHEN date_trunc('hour', :since::timestamptz, 'UTC') = :since::timestamptz THEN :since::timestamptz
                        ELSE date_trunc('hour', :since::timestamptz, 'UTC') + interval '1 hour' END AS lo) AS l
), raw AS (
    SELECT called_at, service, endpoint, success, response_time_ms
      FROM twitter_bot.api_usage
     WHERE called_at >= :since AND called_at < least((SELECT lo FROM b), :until::timestamptz)
     UNION ALL
    SELECT called_at, service, endpoint, success, response_time_ms
      FROM twitter_bot.api_usage
     WHERE called_at >= (SELECT hi FROM b) AND called_at < :until
), rolled AS (
    SELECT h.hour, h.service, h.endpoint, h.calls, h.successes, h.timed, h.sum_ms, h.min_ms, h.max_ms, h.latency_buckets, h.latency_counts
      FROM twitter_bot.api_usage_hourly AS h
     WHERE h.hour >= (SELECT lo FROM b) AND h.hour < (SELECT hi FROM b)
), totals AS (
    SELECT service, endpoint, sum(timed)::bigint AS calls, min(min_ms) AS min_ms, max(max_ms) AS max_ms
      FROM (SELECT service, endpoint, timed, min_ms, max_ms FROM rolled WHERE timed > 0
             UNION ALL
            SELECT service, endpoint, 1, response_time_ms, response_time_ms FROM raw WHERE response_time_ms IS NOT NULL) AS x
     GROUP BY 1, 2
), buckets AS (
    SELECT service, endpoint, array_agg(k) AS ks, array_agg(n) AS ns
      FROM (SELECT service, endpoint, k, sum(n)::bigint AS n
              FROM (SELECT service, endpoint, unnest(latency_buckets) AS k, unnest(latency_counts) AS n FROM rolled) AS pairs
             GROUP BY 1, 2, 3
             UNION ALL
            SELECT service, endpoint, ops.latency_bucket(response_time_ms), count(*)
              FROM raw WHERE response_time_ms IS NOT NULL
             GROUP BY 1, 2, 3) AS x
     GROUP BY 1, 2
)
SELECT t.service,
       t.endpoint,
       t.calls,
       ops.histogram_percentile(k.ks, k.ns, 0.50, t.min_ms, t.max_ms) AS p50_ms,
       ops.histogram_percentile(k.ks, k.ns, 0.95, t.min_ms, t.max_ms) AS p95_ms,
       ops.histogram_percentile(k.ks, k.ns, 0.99, t.min_ms, t.max_ms) AS p99_ms
  FROM totals AS t
  JOIN buckets AS k USING (service, endpoint)
 ORDER BY t.service, t.endpoint;

-- name: rollup_api_usage_hours(since, until)$
-- Recompute api_usage_hourly for the whole UTC hours in [since, until) from the raw calls (rows of hours or pairs that have no calls any more are removed) and move the watermark forward to until; returns the rows written or removed. Recomputes whole hours, so a repeat writes the same.
WITH agg AS (
    SELECT hour, service, endpoint, sum(calls)::bigint AS calls, sum(successes)::bigint AS successes,
           sum(timed)::bigint AS timed, coalesce(sum(sum_ms), 0)::double precision AS sum_ms,
           min(min_ms) AS min_ms, max(max_ms) AS max_ms,
           coalesce(array_agg(k ORDER BY k) FILTER (WHERE k IS NOT NULL), '{}') AS latency_buckets,
           coalesce(array_agg(timed::int ORDER BY k) FILTER (WHERE k IS NOT NULL), '{}') AS latency_counts
      FROM (SELECT date_trunc('hour', called_at, 'UTC') AS hour, service, endpoint,
                   ops.latency_bucket(response_time_ms) AS k, count(*) AS calls,
                   count(*) FILTER (WHERE success) AS successes, count(response_time_ms) AS timed,
                   sum(response_time_ms) AS sum_ms, min(response_time_ms) AS min_ms, max(response_time_ms) AS max_ms
              FROM twitter_bot.api_usage
             WHERE called_at >= :since AND called_at < :until
             GROUP BY 1, 2, 3, 4) AS per_bucket
     GROUP BY 1, 2, 3
), removed AS (
    DELETE FROM twitter_bot.api_usage_hourly AS h
     WHERE h.hour >= :since AND h.hour < :until
       AND NOT EXISTS (SELECT FROM agg AS a WHERE a.hour = h.hour AND a.service = h.service AND a.endpoint = h.endpoint)
    RETURNING 1
), written AS (
    INSERT INTO twitter_bot.api_usage_hourly AS h
           (hour, service, endpoint, calls, successes, timed, sum_ms, min_ms, max_ms, latency_buckets, latency_counts)
    SELECT hour, service, endpoint, calls, successes, timed, sum_ms, min_ms, max_ms, latency_buckets, latency_counts FROM agg
        ON CONFLICT ON CONSTRAINT api_usage_hourly_pkey DO UPDATE
       SET calls = EXCLUDED.calls, successes = EXCLUDED.successes, timed = EXCLUDED.timed, sum_ms = EXCLUDED.sum_ms,
           min_ms = EXCLUDED.min_ms, max_ms = EXCLUDED.max_ms, latency_buckets = EXCLUDED.latency_buckets,
           latency_counts = EXCLUDED.latency_counts
     WHERE (h.calls, h.successes, h.timed, h.sum_ms, h.min_ms, h.max_ms, h.latency_buckets, h.latency_counts)
           IS DISTINCT FROM
           (EXCLUDED.calls, EXCLUDED.successes, EXCLUDED.timed, EXCLUDED.sum_ms, EXCLUDED.min_ms, EXCLUDED.max_ms,
            EXCLUDED.latency_buckets, EXCLUDED.latency_counts)
    RETURNING 1
), moved AS (
    INSERT INTO ops.rollup_watermarks AS w (rollup, rolled_until)
    VALUES ('twitter_bot.api_usage_hourly', :until)
        ON CONFLICT ON CONSTRAINT rollup_watermarks_pkey DO UPDATE
       SET rolled_until = greatest(w.rolled_until, EXCLUDED.rolled_until), updated_at = now()
)
SELECT ((SELECT count(*) FROM written) + (SELECT count(*) FROM removed))::bigint;

-- name: get_api_usage_rollup_state()^
-- Where api_usage_hourly is complete up to (NULL before the first run) and the time of the oldest stored call (where a first run starts).
SELECT (SELECT rolled_until FROM ops.rollup_watermarks WHERE rollup = 'twitter_bot.api_usage_hourly') AS rolled_until,
       (SELECT min(called_at) FROM twitter_bot.api_usage) AS first_call_at;

-- name: delete_api_usage_hourly_before(cutoff)$
-- Retention of the rollup: delete the hours that start before cutoff; returns how many rows.
WITH deleted AS (
    DELETE FROM twitter_bot.api_usage_hourly WHERE hour < :cutoff RETURNING 1
)
SELECT count(*)::bigint FROM deleted;

-- name: top_api_errors(since, limit)
-- Most frequent error types of failed calls since a time, with the latest message of each.
SELECT service,
       coalesce(error_type, 'unknown') AS error_type,
       count(*)::bigint AS occurrences,
       max(called_at) AS last_seen,
       (array_agg(error_message ORDER BY called_at DESC))[1] AS last_message
  FROM twitter_bot.api_usage
 WHERE called_at >= :since AND NOT success
 GROUP BY 1, 2
 ORDER BY occurrences DESC, last_seen DESC
 LIMIT :limit;

-- name: check_rate_limit(service, endpoint, window_seconds, max_calls)^
-- Calls to a service (and endpoint; NULL = any) in the last window_seconds against a limit, and when the next call is allowed.
SELECT count(*)::bigint AS calls_in_window,
       :max_calls::bigint AS max_calls,
       count(*) < :max_calls::bigint AS allowed,
       CASE WHEN count(*) < :max_calls::bigint THEN 0::double precision
            ELSE greatest(0, extract(epoch FROM
                     (array_agg(called_at ORDER BY called_at DESC))[:max_calls::int]
                     + make_interval(secs => :window_seconds::double precision) - now()))::double precision
       END AS retry_after_seconds
  FROM twitter_bot.api_usage
 WHERE service = :service
   AND (:endpoint::text IS NULL OR endpoint = :endpoint::text)
   AND called_at > now() - make_interval(secs => :window_seconds::double precision);

-- name: api_usage_today()^
-- Calls since midnight UTC and the share that failed.
SELECT count(*)::bigint AS calls,
       count(*) FILTER (WHERE NOT success)::bigint AS failures,
       coalesce((count(*) FILTER (WHERE NOT success))::double precision / nullif(count(*), 0), 0) AS error_rate
  FROM twitter_bot.api_usage
 WHERE called_at >= date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';

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
-- Calls per UTC period ('day' or 'month'), service and endpoint in [since, until): volume, failures, mean latency.
SELECT (date_trunc(:period, called_at AT TIME ZONE 'UTC'))::date AS period_start,
       service,
       endpoint,
       count(*)::bigint AS calls,
       count(*) FILTER (WHERE NOT success)::bigint AS failures,
       avg(response_time_ms)::double precision AS avg_response_time_ms
  FROM twitter_bot.api_usage
 WHERE called_at >= :since AND called_at < :until
 GROUP BY 1, 2, 3
 ORDER BY 1, 2, 3;

-- name: api_success_rate(since)
-- Share of successful calls per service since a time.
SELECT service,
       count(*)::bigint AS calls,
       count(*) FILTER (WHERE success)::bigint AS successes,
       (count(*) FILTER (WHERE success))::double precision / count(*) AS success_rate
  FROM twitter_bot.api_usage
 WHERE called_at >= :since
 GROUP BY service
 ORDER BY service;

-- name: api_response_time_percentiles(since)
-- p50 / p95 / p99 response time per service and endpoint since a time (calls with a measured time).
SELECT service,
       endpoint,
       count(*)::bigint AS calls,
       percentile_cont(0.50) WITHIN GROUP (ORDER BY response_time_ms) AS p50_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) AS p95_ms,
       percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time_ms) AS p99_ms
  FROM twitter_bot.api_usage
 WHERE called_at >= :since AND response_time_ms IS NOT NULL
 GROUP BY service, endpoint
 ORDER BY service, endpoint;

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

-- name: log_request(request_id, user_id, api_key_id, endpoint, method, status_code, ip_address, user_agent, response_time_ms, error_type, error_message, created_at)$
-- Record one request under its client-generated request_id, and count it in its account's minute (the rate limit reads those counters); true when stored, false when it already was (a retried log: counted once too).
WITH stored AS (
    INSERT INTO error_api.usage_logs (request_id, user_id, api_key_id, endpoint, method, status_code, ip_address,
                                      user_agent, response_time_ms, error_type, error_message, created_at)
    VALUES (:request_id, :user_id, :api_key_id, :endpoint, :method, :status_code, :ip_address, :user_agent,
            :response_time_ms, :error_type, :error_message, :created_at)
        ON CONFLICT ON CONSTRAINT usage_logs_pkey DO NOTHING
    RETURNING user_id, created_at
), counted AS (
    INSERT INTO error_api.usage_minutes AS m (user_id, minute, requests)
    SELECT user_id, date_bin('1 minute', created_at, timestamptz '2000-01-01 00:00:00+00'), 1
      FROM stored WHERE user_id IS NOT NULL
        ON CONFLICT ON CONSTRAINT usage_minutes_pkey DO UPDATE SET requests = m.requests + 1
)
SELECT EXISTS (SELECT 1 FROM stored);

-- name: log_requests(request_ids, user_ids, api_key_ids, endpoints, methods, status_codes, ip_addresses, user_agents, response_times_ms, error_types, error_messages, created_ats)$
-- Record many requests in one statement, each counted in its account's minute; requests already stored are skipped (and not counted again); returns how many were new.
WITH stored AS (
    INSERT INTO error_api.usage_logs (request_id, user_id, api_key_id, endpoint, method, status_code, ip_address,
                                      user_agent, response_time_ms, error_type, error_message, created_at)
    SELECT * FROM unnest(:request_ids::uuid[], :user_ids::uuid[], :api_key_ids::uuid[], :endpoints::text[],
                         :methods::text[], :status_codes::smallint[], :ip_addresses::inet[], :user_agents::text[],
                         :response_times_ms::integer[], :error_types::text[], :error_messages::text[],
                         :created_ats::timestamptz[])
        ON CONFLICT ON CONSTRAINT usage_logs_pkey DO NOTHING
    RETURNING user_id, created_at
), counted AS (
    INSERT INTO error_api.usage_minutes AS m (user_id, minute, requests)
    SELECT user_id, date_bin('1 minute', created_at, timestamptz '2000-01-01 00:00:00+00'), count(*)
      FROM stored WHERE user_id IS NOT NULL
     GROUP BY 1, 2
        ON CONFLICT ON CONSTRAINT usage_minutes_pkey DO UPDATE SET requests = m.requests + EXCLUDED.requests
)
SELECT count(*)::bigint FROM stored;

-- name: get_usage_summary(user_id, since)^
-- A user's requests since a time: count, errors (status 400 and up), error rate, mean and p95 response time (p95 from the latency histogram: within one bucket, at most 19% off); whole rolled-up days from usage_daily, the rest from raw rows.
WITH b AS (
    -- Whole rolled-up UTC days [lo, hi) from usage_daily; raw rows for [since, lo) and from hi on.
    SELECT l.lo,
           greatest(l.lo, coalesce((SELECT w.rolled_until FROM ops.rollup_watermarks AS w
                                     WHERE w.rollup = 'error_api.usage_daily'), '-infinity')) AS hi
      FROM (SELECT CASE WHEN date_trunc('day', :since::timestamptz, 'UTC') = :since::timestamptz THEN :since::timestamptz
                        ELSE date_trunc('day', :since::timestamptz, 'UTC') + interval '1 day' END AS lo) AS l
), raw AS (
    SELECT created_at, endpoint, status_code, response_time_ms
      FROM error_api.usage_logs
     WHERE user_id = :user_id AND created_at >= :since AND created_at < (SELECT lo FROM b)
     UNION ALL
    SELECT created_at, endpoint, status_code, response_time_ms
      FROM error_api.usage_logs
     WHERE user_id = :user_id AND created_at >= (SELECT hi FROM b)
), rolled AS (
    SELECT d.day, d.endpoint, d.requests, d.errors, d.timed, d.sum_ms, d.min_ms, d.max_ms, d.latency_buckets, d.latency_counts
      FROM error_api.usage_daily AS d
     WHERE d.user_id = :user_id
       AND d.day >= ((SELECT lo FROM b) AT TIME ZONE 'UTC')::date AND d.day < ((SELECT hi FROM b) AT TIME ZONE 'UTC')::date
), totals AS (
    SELECT coalesce(sum(requests), 0)::bigint AS requests, coalesce(sum(errors), 0)::bigint AS errors,
           sum(sum_ms) AS sum_ms, sum(timed) AS timed, min(min_ms) AS min_ms, max(max_ms) AS max_ms
      FROM (SELECT requests, errors, sum_ms, timed, min_ms, max_ms FROM rolled
             UNION ALL
            SELECT 1, (status_code >= 400)::int, coalesce(response_time_ms, 0), (response_time_ms IS NOT NULL)::int,
                   response_time_ms, response_time_ms
              FROM raw) AS x
), buckets AS (
    SELECT array_agg(k) AS ks, array_agg(n) AS ns
      FROM (SELECT k, sum(n)::bigint AS n
              FROM (SELECT unnest(latency_buckets) AS k, unnest(latency_counts) AS n FROM rolled
                     UNION ALL
                    SELECT ops.latency_bucket(response_time_ms), 1 FROM raw WHERE response_time_ms IS NOT NULL) AS pairs
             GROUP BY k) AS x
)
SELECT t.requests,
       t.errors,
       coalesce(t.errors::double precision / nullif(t.requests, 0), 0) AS error_rate,
       (t.sum_ms / nullif(t.timed, 0))::double precision AS avg_response_ms,
       ops.histogram_percentile(k.ks, k.ns, 0.95, t.min_ms, t.max_ms) AS p95_response_ms
  FROM totals AS t, buckets AS k;

-- name: list_top_endpoints(user_id, since, limit)
-- A user's most requested endpoints since a time, with their errors and mean response time; whole rolled-up days from usage_daily, the rest from raw rows.
WITH b AS (
    -- Whole rolled-up UTC days [lo, hi) from usage_daily; raw rows for [since, lo) and from hi on.
    SELECT l.lo,
           greatest(l.lo, coalesce((SELECT w.rolled_until FROM ops.rollup_watermarks AS w
                                     WHERE w.rollup = 'error_api.usage_daily'), '-infinity')) AS hi
      FROM (SELECT CASE WHEN date_trunc('day', :since::timestamptz, 'UTC') = :since::timestamptz THEN :since::timestamptz
                        ELSE date_trunc('day', :since::timestamptz, 'UTC') + interval '1 day' END AS lo) AS l
), raw AS (
    SELECT created_at, endpoint, status_code, response_time_ms
      FROM error_api.usage_logs
     WHERE user_id = :user_id AND created_at >= :since AND created_at < (SELECT lo FROM b)
     UNION ALL
    SELECT created_at, endpoint, status_code, response_time_ms
      FROM error_api.usage_logs
     WHERE user_id = :user_id AND created_at >= (SELECT hi FROM b)
), rolled AS (
    SELECT d.day, d.endpoint, d.requests, d.errors, d.timed, d.sum_ms, d.min_ms, d.max_ms, d.latency_buckets, d.latency_counts
      FROM error_api.usage_daily AS d
     WHERE d.user_id = :user_id
       AND d.day >= ((SELECT lo FROM b) AT TIME ZONE 'UTC')::date AND d.day < ((SELECT hi FROM b) AT TIME ZONE 'UTC')::date
)
SELECT endpoint,
       sum(requests)::bigint AS requests,
       sum(errors)::bigint AS errors,
       (sum(sum_ms) / nullif(sum(timed), 0))::double precision AS avg_response_ms
  FROM (SELECT endpoint, requests, errors, sum_ms, timed FROM rolled
         UNION ALL
        SELECT endpoint, 1, (status_code >= 400)::int, coalesce(response_time_ms, 0), (response_time_ms IS NOT NULL)::int
          FROM raw) AS x
 GROUP BY endpoint
 ORDER BY requests DESC, endpoint
 LIMIT :limit;

-- name: list_usage_by_day(user_id, since)
-- A user's requests and errors per UTC day since a time (the dashboard's chart); whole rolled-up days from usage_daily, the rest from raw rows.
WITH b AS (
    -- Whole rolled-up UTC days [lo, hi) from usage_daily; raw rows for [since, lo) and from hi on.
    SELECT l.lo,
           greatest(l.lo, coalesce((SELECT w.rolled_until FROM ops.rollup_watermarks AS w
                                     WHERE w.rollup = 'error_api.usage_daily'), '-infinity')) AS hi
      FROM (SELECT CASE WHEN date_trunc('day', :since::timestamptz, 'UTC') = :since::timestamptz THEN :since::timestamptz
                        ELSE date_trunc('day', :since::timestamptz, 'UTC') + interval '1 day' END AS lo) AS l
), raw AS (
    SELECT created_at, endpoint, status_code, response_time_ms
      FROM error_api.usage_logs
     WHERE user_id = :user_id AND created_at >= :since AND created_at < (SELECT lo FROM b)
     UNION ALL
    SELECT created_at, endpoint, status_code, response_time_ms
      FROM error_api.usage_logs
     WHERE user_id = :user_id AND created_at >= (SELECT hi FROM b)
), rolled AS (
    SELECT d.day, d.endpoint, d.requests, d.errors, d.timed, d.sum_ms, d.min_ms, d.max_ms, d.latency_buckets, d.latency_counts
      FROM error_api.usage_daily AS d
     WHERE d.user_id = :user_id
       AND d.day >= ((SELECT lo FROM b) AT TIME ZONE 'UTC')::date AND d.day < ((SELECT hi FROM b) AT TIME ZONE 'UTC')::date
)
SELECT day,
       sum(requests)::bigint AS requests,
       sum(errors)::bigint AS errors
  FROM (SELECT day, requests, errors FROM rolled
         UNION ALL
        SELECT (created_at AT TIME ZONE 'UTC')::date, 1, (status_code >= 400)::int FROM raw) AS x
 GROUP BY day
 ORDER BY day;

-- name: rollup_usage_days(since, until)$
-- Recompute usage_daily for the whole UTC days in [since, until) from the raw requests of accounts (rows of days, accounts or endpoints without requests any more are removed) and move the watermark forward to until; returns the rows written or removed. Recomputes whole days, so a repeat writes the same.
WITH agg AS (
    SELECT user_id, day, endpoint, sum(requests)::bigint AS requests, sum(errors)::bigint AS errors,
           sum(timed)::bigint AS timed, coalesce(sum(sum_ms), 0)::double precision AS sum_ms,
           min(min_ms)::double precision AS min_ms, max(max_ms)::double precision AS max_ms,
           coalesce(array_agg(k ORDER BY k) FILTER (WHERE k IS NOT NULL), '{}') AS latency_buckets,
           coalesce(array_agg(timed::int ORDER BY k) FILTER (WHERE k IS NOT NULL), '{}') AS latency_counts
      FROM (SELECT user_id, (created_at AT TIME ZONE 'UTC')::date AS day, endpoint,
                   ops.latency_bucket(response_time_ms) AS k, count(*) AS requests,
                   count(*) FILTER (WHERE status_code >= 400) AS errors, count(response_time_ms) AS timed,
                   sum(response_time_ms) AS sum_ms, min(response_time_ms) AS min_ms, max(response_time_ms) AS max_ms
              FROM error_api.usage_logs
             WHERE created_at >= :since AND created_at < :until AND user_id IS NOT NULL
             GROUP BY 1, 2, 3, 4) AS per_bucket
     GROUP BY 1, 2, 3
), removed AS (
    DELETE FROM error_api.usage_daily AS d
     WHERE d.day >= (:since::timestamptz AT TIME ZONE 'UTC')::date AND d.day < (:until::timestamptz AT TIME ZONE 'UTC')::date
       AND NOT EXISTS (SELECT FROM agg AS a WHERE a.user_id = d.user_id AND a.day = d.day AND a.endpoint = d.endpoint)
    RETURNING 1
), written AS (
    INSERT INTO error_api.usage_daily AS d
           (user_id, day, endpoint, requests, errors, timed, sum_ms, min_ms, max_ms, latency_buckets, latency_counts)
    SELECT user_id, day, endpoint, requests, errors, timed, sum_ms, min_ms, max_ms, latency_buckets, latency_counts
      FROM agg
        ON CONFLICT ON CONSTRAINT usage_daily_pkey DO UPDATE
       SET requests = EXCLUDED.requests, errors = EXCLUDED.errors, timed = EXCLUDED.timed, sum_ms = EXCLUDED.sum_ms,
           min_ms = EXCLUDED.min_ms, max_ms = EXCLUDED.max_ms, latency_buckets = EXCLUDED.latency_buckets,
           latency_counts = EXCLUDED.latency_counts
     WHERE (d.requests, d.errors, d.timed, d.sum_ms, d.min_ms, d.max_ms, d.latency_buckets, d.latency_counts)
           IS DISTINCT FROM
           (EXCLUDED.requests, EXCLUDED.errors, EXCLUDED.timed, EXCLUDED.sum_ms, EXCLUDED.min_ms, EXCLUDED.max_ms,
            EXCLUDED.latency_buckets, EXCLUDED.latency_counts)
    RETURNING 1
), moved AS (
    INSERT INTO ops.rollup_watermarks AS w (rollup, rolled_until)
    VALUES ('error_api.usage_daily', :until)
        ON CONFLICT ON CONSTRAINT rollup_watermarks_pkey DO UPDATE
       SET rolled_until = greatest(w.rolled_until, EXCLUDED.rolled_until), updated_at = now()
)
SELECT ((SELECT count(*) FROM written) + (SELECT count(*) FROM removed))::bigint;

-- name: get_usage_rollup_state()^
-- Where usage_daily is complete up to (NULL before the first run) and the time of the oldest stored request (where a first run starts).
SELECT (SELECT rolled_until FROM ops.rollup_watermarks WHERE rollup = 'error_api.usage_daily') AS rolled_until,
       (SELECT min(created_at) FROM error_api.usage_logs) AS first_request_at;

-- name: delete_usage_daily_before(cutoff)$
-- Retention of the rollup: delete the days before cutoff; returns how many rows.
WITH deleted AS (
    DELETE FROM error_api.usage_daily WHERE day < :cutoff RETURNING 1
)
SELECT count(*)::bigint FROM deleted;

-- name: get_monitoring_summary(now)^
-- The seed's monitoring queries in one: active accounts, requests in the last 24 hours and their error rate (percent).
SELECT (SELECT count(*) FROM error_api.users WHERE is_active)::bigint AS active_users,
       count(*)::bigint AS requests_24h,
       coalesce(count(*) FILTER (WHERE status_code >= 400) * 100.0 / nullif(count(*), 0), 0)::double precision AS error_rate_percent_24h
  FROM error_api.usage_logs
 WHERE created_at >= :now::timestamptz - interval '24 hours';

-- name: check_rate_limit(user_id, now)^
-- Whether the account may make another request under its tier's per-minute and per-day limits, in one statement. The last minute is counted from the log (stopping at the limit); the day from the per-minute counters (at most 1,440 rows) plus the log for the part-minutes at both ends. When over a limit, retry_after_seconds says when the next request fits (to the minute, for the daily limit).
WITH account AS (
    SELECT u.id, t.tier, t.requests_per_minute, t.requests_per_day,
           :now::timestamptz AS now,
           date_bin('1 minute', :now::timestamptz - interval '1 day', timestamptz '2000-01-01 00:00:00+00') + interval '1 minute' AS day_from,
           date_bin('1 minute', :now::timestamptz, timestamptz '2000-01-01 00:00:00+00') AS this_minute
      FROM error_api.users AS u
      JOIN error_api.tiers AS t ON t.tier = u.subscription_tier
     WHERE u.id = :user_id
), minute AS MATERIALIZED (
    SELECT count(*)::bigint AS used
      FROM (SELECT 1 FROM error_api.usage_logs AS l
             WHERE l.user_id = :user_id AND l.created_at > :now::timestamptz - interval '1 minute'
               AND l.created_at <= :now::timestamptz
             LIMIT (SELECT requests_per_minute FROM account)) AS recent
), day AS MATERIALIZED (
    SELECT (SELECT coalesce(sum(m.requests), 0) FROM error_api.usage_minutes AS m
             WHERE m.user_id = :user_id AND m.minute >= a.day_from AND m.minute < a.this_minute)
         + (SELECT count(*) FROM error_api.usage_logs AS l
             WHERE l.user_id = :user_id AND l.created_at > a.now - interval '1 day' AND l.created_at < a.day_from)
         + (SELECT count(*) FROM error_api.usage_logs AS l
             WHERE l.user_id = :user_id AND l.created_at >= a.this_minute AND l.created_at <= a.now) AS used
      FROM account AS a
)
SELECT a.tier,
       a.requests_per_minute AS minute_limit, minute.used AS minute_used,
       a.requests_per_day AS day_limit, day.used::bigint AS day_used,
       (minute.used < a.requests_per_minute AND day.used < a.requests_per_day) AS allowed,
       greatest(
           CASE WHEN minute.used >= a.requests_per_minute THEN
                extract(epoch FROM (SELECT l.created_at FROM error_api.usage_logs AS l
                                     WHERE l.user_id = :user_id AND l.created_at > a.now - interval '1 minute'
                                       AND l.created_at <= a.now
                                     ORDER BY l.created_at DESC
                                     OFFSET a.requests_per_minute - 1 LIMIT 1) + interval '1 minute' - a.now)
           ELSE 0 END,
           CASE WHEN day.used >= a.requests_per_day THEN
                extract(epoch FROM (SELECT min(m.minute) FROM error_api.usage_minutes AS m
                                     WHERE m.user_id = :user_id AND m.minute >= a.day_from - interval '1 minute')
                                   + interval '1 day' + interval '1 minute' - a.now)
           ELSE 0 END
       )::double precision AS retry_after_seconds
  FROM account AS a, minute, day;

-- name: delete_old_usage_minutes(before)$
-- Forget per-minute request counters older than a time (the rate limit looks back one day); returns how many.
WITH deleted AS (
    DELETE FROM error_api.usage_minutes WHERE minute < :before RETURNING 1
)
SELECT count(*)::bigint FROM deleted;

-- name: list_usage_partitions()
-- The monthly partitions of usage_logs with their bounds and row estimates (catalog only: no lock on any partition).
SELECT c.relname::text AS name,
       pg_get_expr(c.relpartbound, 0) AS bounds,
       greatest(c.reltuples, 0)::bigint AS estimated_rows
  FROM pg_catalog.pg_inherits AS i
  JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'error_api.usage_logs'::regclass
 ORDER BY c.relname;

-- name: delete_usage_older_than(cutoff)$
-- Retention: delete the requests older than cutoff that sit in a partition not wholly old; returns how many.
WITH deleted AS (
    DELETE FROM error_api.usage_logs WHERE created_at < :cutoff RETURNING 1
)
SELECT count(*)::bigint FROM deleted;

-- name: log_request(request_id, user_id, api_key_id, endpoint, method, status_code, ip_address, user_agent, response_time_ms, error_type, error_message, created_at)$
-- Record one request under its client-generated request_id; true when stored, false when it already was (a retried log).
WITH stored AS (
    INSERT INTO error_api.usage_logs (request_id, user_id, api_key_id, endpoint, method, status_code, ip_address,
                                      user_agent, response_time_ms, error_type, error_message, created_at)
    VALUES (:request_id, :user_id, :api_key_id, :endpoint, :method, :status_code, :ip_address, :user_agent,
            :response_time_ms, :error_type, :error_message, :created_at)
        ON CONFLICT ON CONSTRAINT usage_logs_pkey DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM stored);

-- name: log_requests(request_ids, user_ids, api_key_ids, endpoints, methods, status_codes, ip_addresses, user_agents, response_times_ms, error_types, error_messages, created_ats)$
-- Record many requests in one statement; requests already stored are skipped; returns how many were new.
WITH stored AS (
    INSERT INTO error_api.usage_logs (request_id, user_id, api_key_id, endpoint, method, status_code, ip_address,
                                      user_agent, response_time_ms, error_type, error_message, created_at)
    SELECT * FROM unnest(:request_ids::uuid[], :user_ids::uuid[], :api_key_ids::uuid[], :endpoints::text[],
                         :methods::text[], :status_codes::smallint[], :ip_addresses::inet[], :user_agents::text[],
                         :response_times_ms::integer[], :error_types::text[], :error_messages::text[],
                         :created_ats::timestamptz[])
        ON CONFLICT ON CONSTRAINT usage_logs_pkey DO NOTHING
    RETURNING 1
)
SELECT count(*)::bigint FROM stored;

-- name: get_usage_summary(user_id, since)^
-- A user's requests since a time: count, errors (status 400 and up), error rate, mean and p95 response time.
SELECT count(*)::bigint AS requests,
       count(*) FILTER (WHERE status_code >= 400)::bigint AS errors,
       coalesce(count(*) FILTER (WHERE status_code >= 400)::double precision / nullif(count(*), 0), 0) AS error_rate,
       avg(response_time_ms)::double precision AS avg_response_ms,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms)::double precision AS p95_response_ms
  FROM error_api.usage_logs
 WHERE user_id = :user_id AND created_at >= :since;

-- name: list_top_endpoints(user_id, since, limit)
-- A user's most requested endpoints since a time, with their errors and mean response time.
SELECT endpoint,
       count(*)::bigint AS requests,
       count(*) FILTER (WHERE status_code >= 400)::bigint AS errors,
       avg(response_time_ms)::double precision AS avg_response_ms
  FROM error_api.usage_logs
 WHERE user_id = :user_id AND created_at >= :since
 GROUP BY endpoint
 ORDER BY requests DESC, endpoint
 LIMIT :limit;

-- name: list_usage_by_day(user_id, since)
-- A user's requests and errors per UTC day since a time (the dashboard's chart).
SELECT (date_trunc('day', created_at AT TIME ZONE 'UTC'))::date AS day,
       count(*)::bigint AS requests,
       count(*) FILTER (WHERE status_code >= 400)::bigint AS errors
  FROM error_api.usage_logs
 WHERE user_id = :user_id AND created_at >= :since
 GROUP BY 1
 ORDER BY 1;

-- name: get_monitoring_summary(now)^
-- The seed's monitoring queries in one: active accounts, requests in the last 24 hours and their error rate (percent).
SELECT (SELECT count(*) FROM error_api.users WHERE is_active)::bigint AS active_users,
       count(*)::bigint AS requests_24h,
       coalesce(count(*) FILTER (WHERE status_code >= 400) * 100.0 / nullif(count(*), 0), 0)::double precision AS error_rate_percent_24h
  FROM error_api.usage_logs
 WHERE created_at >= :now::timestamptz - interval '24 hours';

-- name: check_rate_limit(user_id, now)^
-- Whether the user may make another request under its tier's per-minute and per-day limits, in one statement. Each count stops at the limit (LIMIT), so a check costs at most limit + 1 index entries, however busy the user.
WITH account AS (
    SELECT u.id, t.tier, t.requests_per_minute, t.requests_per_day
      FROM error_api.users AS u
      JOIN error_api.tiers AS t ON t.tier = u.subscription_tier
     WHERE u.id = :user_id
), minute AS (
    SELECT count(*)::bigint AS used, min(created_at) AS oldest
      FROM (SELECT l.created_at
              FROM error_api.usage_logs AS l, account AS a
             WHERE l.user_id = a.id AND l.created_at > :now::timestamptz - interval '1 minute'
               AND l.created_at <= :now::timestamptz
             ORDER BY l.created_at DESC
             LIMIT (SELECT requests_per_minute FROM account)) AS recent
), day AS (
    SELECT count(*)::bigint AS used, min(created_at) AS oldest
      FROM (SELECT l.created_at
              FROM error_api.usage_logs AS l, account AS a
             WHERE l.user_id = a.id AND l.created_at > :now::timestamptz - interval '1 day'
               AND l.created_at <= :now::timestamptz
             ORDER BY l.created_at DESC
             LIMIT (SELECT requests_per_day FROM account)) AS recent
)
SELECT a.tier,
       a.requests_per_minute AS minute_limit, minute.used AS minute_used,
       a.requests_per_day AS day_limit, day.used AS day_used,
       (minute.used < a.requests_per_minute AND day.used < a.requests_per_day) AS allowed,
       greatest(
           CASE WHEN minute.used >= a.requests_per_minute
                THEN extract(epoch FROM minute.oldest + interval '1 minute' - :now::timestamptz) ELSE 0 END,
           CASE WHEN day.used >= a.requests_per_day
                THEN extract(epoch FROM day.oldest + interval '1 day' - :now::timestamptz) ELSE 0 END
       )::double precision AS retry_after_seconds
  FROM account AS a, minute, day;

-- name: ensure_usage_partition(month)$
-- Create the monthly usage_logs partition holding the given date unless it exists; true when created.
SELECT ops.ensure_monthly_partition('error_api.usage_logs', :month::date);

-- name: list_usage_partitions()
-- The monthly partitions of usage_logs with their bounds and row estimates.
SELECT c.relname::text AS name,
       pg_get_expr(c.relpartbound, c.oid) AS bounds,
       greatest(c.reltuples, 0)::bigint AS estimated_rows
  FROM pg_catalog.pg_inherits AS i
  JOIN pg_catalog.pg_class AS c ON c.oid = i.inhrelid
 WHERE i.inhparent = 'error_api.usage_logs'::regclass
 ORDER BY c.relname;

-- name: drop_usage_partitions_before(cutoff, max_lock_wait)
-- Retention: drop whole monthly partitions that end at or before cutoff, never waiting longer than max_lock_wait for a lock (then 55P03: try again later); returns the dropped names.
SELECT name::text
  FROM ops.drop_monthly_partitions_before('error_api.usage_logs', :cutoff, :max_lock_wait) AS name;

-- name: delete_usage_older_than(cutoff)$
-- Retention: delete the requests older than cutoff that sit in a partition not wholly old; returns how many.
WITH deleted AS (
    DELETE FROM error_api.usage_logs WHERE created_at < :cutoff RETURNING 1
)
SELECT count(*)::bigint FROM deleted;

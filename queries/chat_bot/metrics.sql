-- name: record_metrics(names, metric_values, tags, recorded_ats)$
-- Record many performance measurements in one statement; returns how many.
WITH recorded AS (
    INSERT INTO chat_bot.performance_metrics (metric_name, value, tags, recorded_at)
    SELECT * FROM unnest(:names::text[], :metric_values::double precision[], :tags::jsonb[], :recorded_ats::timestamptz[])
    RETURNING 1
)
SELECT count(*)::bigint FROM recorded;

-- name: get_metric_summary(metric_name, since)^
-- One metric since a time: how many measurements, mean, median, p95 and highest.
SELECT :metric_name::text AS metric_name,
       count(*)::bigint AS measurements,
       avg(value)::double precision AS mean,
       percentile_cont(0.5) WITHIN GROUP (ORDER BY value)::double precision AS p50,
       percentile_cont(0.95) WITHIN GROUP (ORDER BY value)::double precision AS p95,
       max(value)::double precision AS max
  FROM chat_bot.performance_metrics
 WHERE metric_name = :metric_name AND recorded_at >= :since;

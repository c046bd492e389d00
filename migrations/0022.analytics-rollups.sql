-- Analytics from rollups instead of sorting raw log rows (the "Performance at scale" review: at 3M api_usage rows
-- the daily report of one month sorted and spilled 49 MB, the monthly one of three months 142 MB, percentiles over
-- 30 days took 822 ms).
--
-- * twitter_bot.api_usage_hourly: calls per UTC hour, service and endpoint, with a latency histogram;
-- * error_api.usage_daily: requests per account, UTC day and endpoint, with the same histogram;
-- * ops.rollup_watermarks: how far each rollup is complete (every whole hour / day before rolled_until);
-- * ops.latency_bucket / histogram_percentile: the histogram's fixed buckets, shared by both.
--
-- Reports read the rollup below the watermark and raw rows above it (and at a range's ragged edges), so they stay
-- exact in counts and current; percentiles come from the buckets (within one bucket: at most 19% of the value).
-- The tables start empty, and no backfill runs here: the first `rollup` run (`twitter maintain`, `accounts
-- maintain`, `datalayer cleanup`) rolls everything up; until then reports read raw rows, as before.
-- Only new, empty tables and functions: no lock on any existing table.

-- == the histogram =================================================================================================
-- A histogram is stored sparse, as two parallel arrays: the buckets that hold a time, ascending, and their counts
-- (a report unnests 15 pairs per row instead of 66 counts). Bucket 1 holds [0, 1) ms; bucket 2 + j holds [2^(j/4), 2^((j+1)/4)) ms for j = 0 .. 63, i.e. four buckets per
-- doubling from 1 ms to 65.5 s (each 18.9% wide); bucket 66 holds 65,536 ms and more.
CREATE FUNCTION ops.latency_bucket(ms double precision) RETURNS integer
    LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
    RETURN CASE WHEN ms < 1 THEN 1 ELSE least(66, 2 + floor(4 * ln(ms) / ln(2)))::integer END;
COMMENT ON FUNCTION ops.latency_bucket(double precision) IS 'Histogram bucket (1-66) of a latency in ms: 1 = [0, 1) ms, 2 + j = [2^(j/4), 2^((j+1)/4)) ms, 66 = 65,536 ms and more. NULL for NULL.';

-- percentile_cont's rank p * (n - 1) is located in its bucket and interpolated linearly inside it, then clamped to
-- [min_ms, max_ms] (the group's true extremes): the answer lies in the same bucket as the exact one.
CREATE FUNCTION ops.histogram_percentile(buckets integer[], counts bigint[], p double precision,
                                         min_ms double precision, max_ms double precision)
    RETURNS double precision
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (SELECT least(max_ms, greatest(min_ms,
                       CASE WHEN c.b = 1 THEN 0 ELSE 2 ^ ((c.b - 2) / 4.0) END
                       + (CASE WHEN c.b = 1 THEN 1 WHEN c.b = 66 THEN greatest(max_ms, 65536) ELSE 2 ^ ((c.b - 1) / 4.0) END
                          - CASE WHEN c.b = 1 THEN 0 ELSE 2 ^ ((c.b - 2) / 4.0) END)
                         * ((p * (c.total - 1) - (c.upto - c.n) + 0.5) / c.n)))
              FROM (SELECT t.b, t.n, sum(t.n) OVER (ORDER BY t.b) AS upto, sum(t.n) OVER () AS total
                      FROM (SELECT u.b, sum(u.n) AS n FROM unnest(buckets, counts) AS u(b, n)
                             WHERE u.n > 0 GROUP BY u.b) AS t) AS c
             WHERE c.upto > p * (c.total - 1)
             ORDER BY c.b
             LIMIT 1);
COMMENT ON FUNCTION ops.histogram_percentile(integer[], bigint[], double precision, double precision, double precision) IS 'Approximate percentile_cont(p) of a latency histogram given as (bucket, count) pairs: interpolated inside the bucket holding the rank and clamped to [min_ms, max_ms], so it is off by less than that bucket''s width (18.9% of the value; 1 ms below 1 ms). NULL for an empty histogram.';

-- == watermarks ====================================================================================================
CREATE TABLE ops.rollup_watermarks (
    rollup       text        NOT NULL CONSTRAINT rollup_watermarks_pkey PRIMARY KEY
                             CONSTRAINT rollup_watermarks_rollup_known CHECK (rollup IN ('twitter_bot.api_usage_hourly', 'error_api.usage_daily')),
    rolled_until timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE ops.rollup_watermarks IS 'How far each analytics rollup is complete: every whole period before rolled_until is rolled up; reports read raw rows from there on.';
COMMENT ON COLUMN ops.rollup_watermarks.rollup IS 'The rollup table (schema.table).';
COMMENT ON COLUMN ops.rollup_watermarks.rolled_until IS 'End of the last period rolled up (an hour or a UTC midnight); only moves forward.';
COMMENT ON COLUMN ops.rollup_watermarks.updated_at IS 'When a rollup run last wrote it.';
COMMENT ON CONSTRAINT rollup_watermarks_pkey ON ops.rollup_watermarks IS 'One watermark per rollup.';
COMMENT ON CONSTRAINT rollup_watermarks_rollup_known ON ops.rollup_watermarks IS 'Only the rollups that exist.';

-- == twitter_bot ===================================================================================================
-- About (hours x service/endpoint pairs) rows: 3,720 a month for 5 pairs, however many calls; not partitioned.
CREATE TABLE twitter_bot.api_usage_hourly (
    hour              timestamptz      NOT NULL CONSTRAINT api_usage_hourly_whole_hour CHECK (extract(epoch FROM hour) % 3600 = 0),
    service           text             NOT NULL CONSTRAINT api_usage_hourly_service_length CHECK (char_length(service) <= 100),
    endpoint          text             NOT NULL CONSTRAINT api_usage_hourly_endpoint_length CHECK (char_length(endpoint) <= 500),
    calls             bigint           NOT NULL CONSTRAINT api_usage_hourly_calls_positive CHECK (calls > 0),
    successes         bigint           NOT NULL,
    timed             bigint           NOT NULL,
    sum_ms            double precision NOT NULL CONSTRAINT api_usage_hourly_sum_not_negative CHECK (sum_ms >= 0),
    min_ms            double precision,
    max_ms            double precision,
    latency_buckets   integer[]        NOT NULL,
    latency_counts    integer[]        NOT NULL,
    CONSTRAINT api_usage_hourly_histogram_shape CHECK (cardinality(latency_buckets) = cardinality(latency_counts) AND cardinality(latency_buckets) <= 66 AND (timed = 0) = (cardinality(latency_buckets) = 0)),
    CONSTRAINT api_usage_hourly_pkey PRIMARY KEY (hour, service, endpoint),
    CONSTRAINT api_usage_hourly_counts CHECK (successes BETWEEN 0 AND calls AND timed BETWEEN 0 AND calls),
    CONSTRAINT api_usage_hourly_extremes CHECK ((timed = 0) = (min_ms IS NULL) AND (min_ms IS NULL) = (max_ms IS NULL) AND min_ms <= max_ms)
);
COMMENT ON TABLE twitter_bot.api_usage_hourly IS 'Rollup of api_usage per UTC hour, service and endpoint (the reports'' dimensions), recomputed whole by rollup_api_usage_hours; complete before ops.rollup_watermarks.rolled_until. Kept as long as api_usage.';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.hour IS 'Start of the UTC hour.';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.service IS 'api_usage.service.';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.endpoint IS 'api_usage.endpoint.';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.calls IS 'Calls in the hour.';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.successes IS 'Successful calls.';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.timed IS 'Calls with a response time.';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.sum_ms IS 'Sum of their response times (ms): the mean is sum_ms / timed.';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.min_ms IS 'Shortest response time (NULL when none was measured).';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.max_ms IS 'Longest response time (NULL when none was measured).';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.latency_buckets IS 'The ops.latency_bucket numbers (1-66) that hold a timed call, ascending (p50/p95/p99 via ops.histogram_percentile).';
COMMENT ON COLUMN twitter_bot.api_usage_hourly.latency_counts IS 'Timed calls in each of latency_buckets (same positions).';
COMMENT ON CONSTRAINT api_usage_hourly_pkey ON twitter_bot.api_usage_hourly IS 'One row per hour and pair; reports read hour ranges.';
COMMENT ON CONSTRAINT api_usage_hourly_service_length ON twitter_bot.api_usage_hourly IS 'As api_usage: at most 100 characters (index key: bounded).';
COMMENT ON CONSTRAINT api_usage_hourly_endpoint_length ON twitter_bot.api_usage_hourly IS 'As api_usage: at most 500 characters (index key: bounded).';
COMMENT ON CONSTRAINT api_usage_hourly_whole_hour ON twitter_bot.api_usage_hourly IS 'Rows start on the hour.';
COMMENT ON CONSTRAINT api_usage_hourly_calls_positive ON twitter_bot.api_usage_hourly IS 'A pair without calls in an hour has no row.';
COMMENT ON CONSTRAINT api_usage_hourly_sum_not_negative ON twitter_bot.api_usage_hourly IS 'Response times are not negative.';
COMMENT ON CONSTRAINT api_usage_hourly_histogram_shape ON twitter_bot.api_usage_hourly IS 'One count per bucket, at most the 66 of ops.latency_bucket; a histogram exactly when a time was measured.';
COMMENT ON CONSTRAINT api_usage_hourly_counts ON twitter_bot.api_usage_hourly IS 'Successes and timed calls are among the calls.';
COMMENT ON CONSTRAINT api_usage_hourly_extremes ON twitter_bot.api_usage_hourly IS 'Extremes exist exactly when a time was measured, in order.';

-- == error_api =====================================================================================================
-- Per account: daily, not hourly, so a quiet account has few rows; the dashboard's ragged day is read raw.
CREATE TABLE error_api.usage_daily (
    user_id           uuid             NOT NULL CONSTRAINT usage_daily_user_fk REFERENCES error_api.users (id) ON DELETE CASCADE,
    day               date             NOT NULL,
    endpoint          text             NOT NULL CONSTRAINT usage_daily_endpoint_length CHECK (char_length(endpoint) <= 255),
    requests          bigint           NOT NULL CONSTRAINT usage_daily_requests_positive CHECK (requests > 0),
    errors            bigint           NOT NULL,
    timed             bigint           NOT NULL,
    sum_ms            double precision NOT NULL CONSTRAINT usage_daily_sum_not_negative CHECK (sum_ms >= 0),
    min_ms            double precision,
    max_ms            double precision,
    latency_buckets   integer[]        NOT NULL,
    latency_counts    integer[]        NOT NULL,
    CONSTRAINT usage_daily_histogram_shape CHECK (cardinality(latency_buckets) = cardinality(latency_counts) AND cardinality(latency_buckets) <= 66 AND (timed = 0) = (cardinality(latency_buckets) = 0)),
    CONSTRAINT usage_daily_pkey PRIMARY KEY (user_id, day, endpoint),
    CONSTRAINT usage_daily_counts CHECK (errors BETWEEN 0 AND requests AND timed BETWEEN 0 AND requests),
    CONSTRAINT usage_daily_extremes CHECK ((timed = 0) = (min_ms IS NULL) AND (min_ms IS NULL) = (max_ms IS NULL) AND min_ms <= max_ms)
);
COMMENT ON TABLE error_api.usage_daily IS 'Rollup of usage_logs (requests of an account) per UTC day and endpoint, recomputed whole by rollup_usage_days; complete before ops.rollup_watermarks.rolled_until; requests without an account are not in it. Kept as long as usage_logs.';
COMMENT ON COLUMN error_api.usage_daily.user_id IS 'The account; its rollup goes with it, like its logs.';
COMMENT ON COLUMN error_api.usage_daily.day IS 'The UTC day.';
COMMENT ON COLUMN error_api.usage_daily.endpoint IS 'usage_logs.endpoint.';
COMMENT ON COLUMN error_api.usage_daily.requests IS 'Requests that day.';
COMMENT ON COLUMN error_api.usage_daily.errors IS 'Requests answered with status 400 or more.';
COMMENT ON COLUMN error_api.usage_daily.timed IS 'Requests with a response time.';
COMMENT ON COLUMN error_api.usage_daily.sum_ms IS 'Sum of their response times (ms).';
COMMENT ON COLUMN error_api.usage_daily.min_ms IS 'Shortest response time (NULL when none was measured).';
COMMENT ON COLUMN error_api.usage_daily.max_ms IS 'Longest response time (NULL when none was measured).';
COMMENT ON COLUMN error_api.usage_daily.latency_buckets IS 'The ops.latency_bucket numbers (1-66) that hold a timed request, ascending.';
COMMENT ON COLUMN error_api.usage_daily.latency_counts IS 'Timed requests in each of latency_buckets (same positions).';
COMMENT ON CONSTRAINT usage_daily_pkey ON error_api.usage_daily IS 'One row per account, day and endpoint; leads with the foreign key (the dashboard reads one account''s days).';
COMMENT ON CONSTRAINT usage_daily_endpoint_length ON error_api.usage_daily IS 'As usage_logs: at most 255 characters (index key: bounded).';
COMMENT ON CONSTRAINT usage_daily_user_fk ON error_api.usage_daily IS 'A rollup belongs to an account and goes with it.';
COMMENT ON CONSTRAINT usage_daily_requests_positive ON error_api.usage_daily IS 'An endpoint without requests that day has no row.';
COMMENT ON CONSTRAINT usage_daily_sum_not_negative ON error_api.usage_daily IS 'Response times are not negative.';
COMMENT ON CONSTRAINT usage_daily_histogram_shape ON error_api.usage_daily IS 'One count per bucket, at most the 66 of ops.latency_bucket; a histogram exactly when a time was measured.';
COMMENT ON CONSTRAINT usage_daily_counts ON error_api.usage_daily IS 'Errors and timed requests are among the requests.';
COMMENT ON CONSTRAINT usage_daily_extremes ON error_api.usage_daily IS 'Extremes exist exactly when a time was measured, in order.';

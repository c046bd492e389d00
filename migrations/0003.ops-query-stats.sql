-- Per-query statistics that processes flush on close (Database.flush_query_stats), so `datalayer stats
-- queries` can show them beside pg_stat_statements'.

CREATE TABLE ops.query_stats (
    application_name text             NOT NULL,
    query_name       text             NOT NULL,
    calls            bigint           NOT NULL DEFAULT 0 CONSTRAINT query_stats_calls_not_negative CHECK (calls >= 0),
    errors           bigint           NOT NULL DEFAULT 0 CONSTRAINT query_stats_errors_not_negative CHECK (errors >= 0),
    retries          bigint           NOT NULL DEFAULT 0 CONSTRAINT query_stats_retries_not_negative CHECK (retries >= 0),
    rows             bigint           NOT NULL DEFAULT 0 CONSTRAINT query_stats_rows_not_negative CHECK (rows >= 0),
    total_ms         double precision NOT NULL DEFAULT 0 CONSTRAINT query_stats_total_not_negative CHECK (total_ms >= 0),
    max_ms           double precision NOT NULL DEFAULT 0 CONSTRAINT query_stats_max_not_negative CHECK (max_ms >= 0),
    buckets          bigint[]         NOT NULL,
    first_flushed_at timestamptz      NOT NULL DEFAULT now(),
    last_flushed_at  timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT query_stats_pkey PRIMARY KEY (application_name, query_name)
);
COMMENT ON TABLE ops.query_stats IS 'Running totals of the data layer''s own per-query statistics, flushed by each process (by application_name).';
COMMENT ON COLUMN ops.query_stats.application_name IS 'application_name of the processes that flushed (DATALAYER_APPLICATION_NAME).';
COMMENT ON COLUMN ops.query_stats.query_name IS 'Named query, as in queries/ (schema.query).';
COMMENT ON COLUMN ops.query_stats.calls IS 'Calls that finished (successes and failures).';
COMMENT ON COLUMN ops.query_stats.errors IS 'Calls that raised.';
COMMENT ON COLUMN ops.query_stats.retries IS 'Retries after a lost connection.';
COMMENT ON COLUMN ops.query_stats.rows IS 'Rows returned or affected.';
COMMENT ON COLUMN ops.query_stats.total_ms IS 'Client-side time in milliseconds, round trip and retries included.';
COMMENT ON COLUMN ops.query_stats.max_ms IS 'Slowest call in milliseconds.';
COMMENT ON COLUMN ops.query_stats.buckets IS 'Latency histogram counts; bucket bounds are datalayer.queries.BUCKETS_S.';
COMMENT ON COLUMN ops.query_stats.first_flushed_at IS 'First flush of this query by this application.';
COMMENT ON COLUMN ops.query_stats.last_flushed_at IS 'Latest flush.';
COMMENT ON CONSTRAINT query_stats_pkey ON ops.query_stats IS 'One running total per application and query.';
COMMENT ON CONSTRAINT query_stats_calls_not_negative ON ops.query_stats IS 'Counts are never negative.';
COMMENT ON CONSTRAINT query_stats_errors_not_negative ON ops.query_stats IS 'Counts are never negative.';
COMMENT ON CONSTRAINT query_stats_retries_not_negative ON ops.query_stats IS 'Counts are never negative.';
COMMENT ON CONSTRAINT query_stats_rows_not_negative ON ops.query_stats IS 'Counts are never negative.';
COMMENT ON CONSTRAINT query_stats_total_not_negative ON ops.query_stats IS 'Times are never negative.';
COMMENT ON CONSTRAINT query_stats_max_not_negative ON ops.query_stats IS 'Times are never negative.';

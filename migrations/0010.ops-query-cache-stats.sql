-- The repository read cache's figures per query, flushed with the rest of the per-query statistics.
SET lock_timeout = '5s';
ALTER TABLE ops.query_stats
    ADD COLUMN cache_hits          bigint NOT NULL DEFAULT 0 CONSTRAINT query_stats_cache_hits_not_negative CHECK (cache_hits >= 0),
    ADD COLUMN cache_misses        bigint NOT NULL DEFAULT 0 CONSTRAINT query_stats_cache_misses_not_negative CHECK (cache_misses >= 0),
    ADD COLUMN cache_evictions     bigint NOT NULL DEFAULT 0 CONSTRAINT query_stats_cache_evictions_not_negative CHECK (cache_evictions >= 0),
    ADD COLUMN cache_invalidations bigint NOT NULL DEFAULT 0 CONSTRAINT query_stats_cache_invalidations_not_negative CHECK (cache_invalidations >= 0),
    ADD COLUMN cache_redis_errors  bigint NOT NULL DEFAULT 0 CONSTRAINT query_stats_cache_redis_errors_not_negative CHECK (cache_redis_errors >= 0);
COMMENT ON COLUMN ops.query_stats.cache_hits IS 'Calls of a cached read served from the cache (no statement ran).';
COMMENT ON COLUMN ops.query_stats.cache_misses IS 'Calls of a cached read that ran the statement.';
COMMENT ON COLUMN ops.query_stats.cache_evictions IS 'Entries of a cached read pushed out of the in-process LRU.';
COMMENT ON COLUMN ops.query_stats.cache_invalidations IS 'Cache tags a write invalidated.';
COMMENT ON COLUMN ops.query_stats.cache_redis_errors IS 'Redis calls that failed or timed out (the read went to PostgreSQL).';
COMMENT ON CONSTRAINT query_stats_cache_hits_not_negative ON ops.query_stats IS 'A count is not negative.';
COMMENT ON CONSTRAINT query_stats_cache_misses_not_negative ON ops.query_stats IS 'A count is not negative.';
COMMENT ON CONSTRAINT query_stats_cache_evictions_not_negative ON ops.query_stats IS 'A count is not negative.';
COMMENT ON CONSTRAINT query_stats_cache_invalidations_not_negative ON ops.query_stats IS 'A count is not negative.';
COMMENT ON CONSTRAINT query_stats_cache_redis_errors_not_negative ON ops.query_stats IS 'A count is not negative.';

ALTER TABLE ops.query_stats
    DROP COLUMN cache_hits, DROP COLUMN cache_misses, DROP COLUMN cache_evictions,
    DROP COLUMN cache_invalidations, DROP COLUMN cache_redis_errors;

DROP TABLE ops.query_stats;

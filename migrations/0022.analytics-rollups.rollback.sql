-- Back to before 0022: reports read raw rows again (the rollups hold nothing that is not in the logs).
DROP TABLE error_api.usage_daily;
DROP TABLE twitter_bot.api_usage_hourly;
DROP TABLE ops.rollup_watermarks;
DROP FUNCTION ops.histogram_percentile(integer[], bigint[], double precision, double precision, double precision);
DROP FUNCTION ops.latency_bucket(double precision);

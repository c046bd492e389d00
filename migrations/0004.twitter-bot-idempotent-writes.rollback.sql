SET lock_timeout = '5s';

ALTER TABLE twitter_bot.api_usage ADD COLUMN import_key text;
COMMENT ON COLUMN twitter_bot.api_usage.import_key IS 'Identity of a record imported from logs/api_usage.json, so a re-import adds nothing; NULL for live calls.';
ALTER TABLE twitter_bot.api_usage ADD CONSTRAINT api_usage_import_key_unique UNIQUE (import_key, called_at);
COMMENT ON CONSTRAINT api_usage_import_key_unique ON twitter_bot.api_usage IS 'An imported record is stored once.';
ALTER TABLE twitter_bot.api_usage DROP CONSTRAINT api_usage_call_id_unique;
ALTER TABLE twitter_bot.api_usage DROP COLUMN call_id;

CREATE OR REPLACE FUNCTION twitter_bot.ensure_api_usage_partition(month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    lower_bound timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
    upper_bound timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    part text := format('api_usage_y%sm%s', to_char(month, 'YYYY'), to_char(month, 'MM'));
BEGIN
    IF to_regclass(format('twitter_bot.%I', part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Rows of that month may sit in the default partition: move them, then attach.
    EXECUTE format('CREATE TABLE twitter_bot.%I (LIKE twitter_bot.api_usage INCLUDING DEFAULTS INCLUDING CONSTRAINTS)', part);
    EXECUTE format(
        'WITH moved AS (DELETE FROM twitter_bot.api_usage_default WHERE called_at >= $1 AND called_at < $2 RETURNING *)
         INSERT INTO twitter_bot.%I SELECT * FROM moved', part) USING lower_bound, upper_bound;
    EXECUTE format('ALTER TABLE twitter_bot.api_usage ATTACH PARTITION twitter_bot.%I FOR VALUES FROM (%L) TO (%L)',
                   part, lower_bound, upper_bound);
    EXECUTE format('COMMENT ON TABLE twitter_bot.%I IS %L', part,
                   format('API calls of %s (UTC), a partition of api_usage.', to_char(month, 'YYYY-MM')));
    RETURN true;
END;
$$;
COMMENT ON FUNCTION twitter_bot.ensure_api_usage_partition(date) IS 'Create the api_usage partition of the month containing the date (UTC) unless it exists, moving its rows out of the default partition; true when created.';

COMMENT ON COLUMN twitter_bot.translations.claimed_by IS 'Worker holding the translation (claim_pending_translations).';

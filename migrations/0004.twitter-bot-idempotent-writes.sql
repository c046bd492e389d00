-- Writes that are harmless to repeat: API calls carry a client-generated call_id (a retried log is stored
-- once; an imported record's call_id is derived from its identity, so a corrected re-import replaces it);
-- concurrent creation of the same monthly partition no longer fails.

SET lock_timeout = '5s';

ALTER TABLE twitter_bot.api_usage ADD COLUMN call_id uuid;
COMMENT ON COLUMN twitter_bot.api_usage.call_id IS 'Client-generated id of the call: logging the same call again stores nothing new. Imported records: md5 of service|endpoint|epoch microseconds|occurrence.';

-- Imported rows get the id the importer now derives from the record's identity; live rows a random one.
WITH identity AS (
    SELECT id, called_at,
           md5(service || '|' || endpoint || '|' || (extract(epoch FROM called_at) * 1000000)::bigint || '|'
               || (row_number() OVER (PARTITION BY service, endpoint, called_at ORDER BY id) - 1))::uuid AS derived
      FROM twitter_bot.api_usage
     WHERE import_key IS NOT NULL
)
UPDATE twitter_bot.api_usage AS u
   SET call_id = identity.derived
  FROM identity
 WHERE u.id = identity.id AND u.called_at = identity.called_at;
UPDATE twitter_bot.api_usage SET call_id = gen_random_uuid() WHERE call_id IS NULL;

ALTER TABLE twitter_bot.api_usage ALTER COLUMN call_id SET NOT NULL;
ALTER TABLE twitter_bot.api_usage ADD CONSTRAINT api_usage_call_id_unique UNIQUE (call_id, called_at);
COMMENT ON CONSTRAINT api_usage_call_id_unique ON twitter_bot.api_usage IS 'A call is stored once (the partition key must be part of a unique key).';

ALTER TABLE twitter_bot.api_usage DROP CONSTRAINT api_usage_import_key_unique;
ALTER TABLE twitter_bot.api_usage DROP COLUMN import_key;

CREATE OR REPLACE FUNCTION twitter_bot.ensure_api_usage_partition(month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    lower_bound timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
    upper_bound timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    part text := format('api_usage_y%sm%s', to_char(month, 'YYYY'), to_char(month, 'MM'));
BEGIN
    -- Two sessions creating the same partition at once: the second waits here, then finds it.
    PERFORM pg_advisory_xact_lock(hashtext('twitter_bot.api_usage partitions'));
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
COMMENT ON FUNCTION twitter_bot.ensure_api_usage_partition(date) IS 'Create the api_usage partition of the month containing the date (UTC) unless it exists, moving its rows out of the default partition; true when created. Serialised by an advisory lock, so concurrent calls never fail.';

COMMENT ON COLUMN twitter_bot.translations.claimed_by IS 'Worker that holds (claimed_until in the future) or last held the translation; kept after it finishes, so a repeated finish by the same worker is recognised.';

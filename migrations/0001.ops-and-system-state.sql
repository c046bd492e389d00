-- Shared schema `ops` (extensions, the updated_at trigger) and the first slice: twitter_bot.system_state.

CREATE SCHEMA ops;
COMMENT ON SCHEMA ops IS 'Shared functions and extensions used by every bot schema.';

CREATE EXTENSION IF NOT EXISTS pg_stat_statements WITH SCHEMA ops;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA ops;

CREATE FUNCTION ops.set_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.updated_at := now();
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION ops.set_updated_at() IS 'BEFORE UPDATE trigger: keeps updated_at equal to the time of the last change.';

CREATE SCHEMA twitter_bot;
COMMENT ON SCHEMA twitter_bot IS 'Twitter translation bot: tweets, translations, API usage, cache, operators, state.';

CREATE TABLE twitter_bot.system_state (
    key        text        PRIMARY KEY CONSTRAINT system_state_key_not_blank CHECK (btrim(key) <> '' AND length(key) <= 200),
    value      jsonb       NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE twitter_bot.system_state IS 'Small named values that replace the old state files (last_tweet_id, counters).';
COMMENT ON COLUMN twitter_bot.system_state.key IS 'Name of the value, e.g. last_tweet_id.';
COMMENT ON COLUMN twitter_bot.system_state.value IS 'The value, any JSON.';
COMMENT ON COLUMN twitter_bot.system_state.updated_at IS 'When the value last changed (maintained by trigger).';
COMMENT ON CONSTRAINT system_state_key_not_blank ON twitter_bot.system_state IS 'A key is 1 to 200 characters and not only spaces.';

CREATE TRIGGER system_state_set_updated_at
    BEFORE UPDATE ON twitter_bot.system_state
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER system_state_set_updated_at ON twitter_bot.system_state IS 'Keeps updated_at current.';

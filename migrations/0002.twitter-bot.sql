-- Twitter translation bot: tweets, translations and their attempts, API usage (partitioned by month),
-- translation cache, operator accounts.

-- Immutable (so usable in generated columns): the UTF-8 bytes of a text do not depend on any setting.
CREATE FUNCTION ops.sha256_hex(value text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN encode(sha256(convert_to(value, 'UTF8')), 'hex');
COMMENT ON FUNCTION ops.sha256_hex(text) IS 'Hex SHA-256 of the UTF-8 bytes of a text (cache keys).';

-- == tweets ====================================================================================================
CREATE TABLE twitter_bot.tweets (
    id              bigint      PRIMARY KEY CONSTRAINT tweets_id_positive CHECK (id > 0),
    author_id       bigint      NOT NULL CONSTRAINT tweets_author_id_not_negative CHECK (author_id >= 0),
    author_username text        NOT NULL CONSTRAINT tweets_author_username_valid CHECK (author_username ~ '^[A-Za-z0-9_]{1,50}$'),
    text            text        NOT NULL CONSTRAINT tweets_text_not_empty CHECK (text <> ''),
    created_at      timestamptz NOT NULL,
    character_count integer     NOT NULL GENERATED ALWAYS AS (char_length(text)) STORED,
    language        text        CONSTRAINT tweets_language_code CHECK (language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    processed_at    timestamptz,
    metadata        jsonb       NOT NULL DEFAULT '{}' CONSTRAINT tweets_metadata_is_object CHECK (jsonb_typeof(metadata) = 'object'),
    fetched_at      timestamptz NOT NULL DEFAULT now(),
    search          tsvector    GENERATED ALWAYS AS (to_tsvector('english', text)) STORED
);
COMMENT ON TABLE twitter_bot.tweets IS 'Tweets of the watched account, as fetched; one row per tweet id.';
COMMENT ON COLUMN twitter_bot.tweets.id IS 'The tweet''s own id on Twitter.';
COMMENT ON COLUMN twitter_bot.tweets.author_id IS 'Twitter user id of the author (0 when unknown, e.g. imported drafts).';
COMMENT ON COLUMN twitter_bot.tweets.author_username IS 'Twitter handle of the author, without @.';
COMMENT ON COLUMN twitter_bot.tweets.text IS 'Full text of the tweet.';
COMMENT ON COLUMN twitter_bot.tweets.created_at IS 'When the tweet was posted on Twitter.';
COMMENT ON COLUMN twitter_bot.tweets.character_count IS 'Characters in text; generated, so it always equals char_length(text).';
COMMENT ON COLUMN twitter_bot.tweets.language IS 'Language of the tweet (BCP 47 code such as en or pt-BR), when known.';
COMMENT ON COLUMN twitter_bot.tweets.processed_at IS 'When the bot finished creating translations for it; NULL = still to do.';
COMMENT ON COLUMN twitter_bot.tweets.metadata IS 'Everything else the API returned (JSON object).';
COMMENT ON COLUMN twitter_bot.tweets.fetched_at IS 'When the bot first stored the tweet.';
COMMENT ON COLUMN twitter_bot.tweets.search IS 'English full-text vector of text (generated) for search_tweets.';
COMMENT ON CONSTRAINT tweets_id_positive ON twitter_bot.tweets IS 'Tweet ids are positive.';
COMMENT ON CONSTRAINT tweets_author_id_not_negative ON twitter_bot.tweets IS 'Author ids are 0 (unknown) or positive.';
COMMENT ON CONSTRAINT tweets_author_username_valid ON twitter_bot.tweets IS 'Handles are 1-50 letters, digits or underscores.';
COMMENT ON CONSTRAINT tweets_text_not_empty ON twitter_bot.tweets IS 'A tweet has text.';
COMMENT ON CONSTRAINT tweets_language_code ON twitter_bot.tweets IS 'Language is a lower-case BCP 47 code.';
COMMENT ON CONSTRAINT tweets_metadata_is_object ON twitter_bot.tweets IS 'metadata is a JSON object.';

CREATE INDEX tweets_created_at_idx ON twitter_bot.tweets (created_at DESC);
CREATE INDEX tweets_author_id_idx ON twitter_bot.tweets (author_id);
CREATE INDEX tweets_unprocessed_idx ON twitter_bot.tweets (created_at) WHERE processed_at IS NULL;
CREATE INDEX tweets_search_idx ON twitter_bot.tweets USING gin (search);
COMMENT ON INDEX twitter_bot.tweets_created_at_idx IS 'list_recent_tweets.';
COMMENT ON INDEX twitter_bot.tweets_author_id_idx IS 'Tweets by author.';
COMMENT ON INDEX twitter_bot.tweets_unprocessed_idx IS 'list_unprocessed_tweets: only rows still to do.';
COMMENT ON INDEX twitter_bot.tweets_search_idx IS 'Full-text search over tweet text.';

-- == translations ==============================================================================================
CREATE TABLE twitter_bot.translations (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tweet_id        bigint      NOT NULL CONSTRAINT translations_tweet_fk REFERENCES twitter_bot.tweets (id) ON DELETE CASCADE,
    target_language text        NOT NULL CONSTRAINT translations_target_language_code CHECK (target_language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    status          text        NOT NULL DEFAULT 'pending'
                                CONSTRAINT translations_status_valid CHECK (status IN ('pending', 'posted', 'failed', 'draft')),
    translated_text text        CONSTRAINT translations_text_not_blank CHECK (btrim(translated_text) <> ''),
    confidence      double precision CONSTRAINT translations_confidence_range CHECK (confidence BETWEEN 0 AND 1),
    posted_tweet_id bigint,
    retry_count     integer     NOT NULL DEFAULT 0 CONSTRAINT translations_retry_count_not_negative CHECK (retry_count >= 0),
    last_error      text,
    claimed_by      text,
    claimed_until   timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT translations_one_per_language UNIQUE (tweet_id, target_language),
    CONSTRAINT translations_posted_has_post CHECK (status <> 'posted' OR (posted_tweet_id IS NOT NULL AND translated_text IS NOT NULL)),
    CONSTRAINT translations_draft_has_text CHECK (status <> 'draft' OR translated_text IS NOT NULL)
);
COMMENT ON TABLE twitter_bot.translations IS 'The current translation of a tweet into one language, and where it stands.';
COMMENT ON COLUMN twitter_bot.translations.id IS 'Surrogate key.';
COMMENT ON COLUMN twitter_bot.translations.tweet_id IS 'The tweet translated.';
COMMENT ON COLUMN twitter_bot.translations.target_language IS 'Language translated into (BCP 47 code).';
COMMENT ON COLUMN twitter_bot.translations.status IS 'pending (to translate or to post), posted, failed, or draft (waiting for approval).';
COMMENT ON COLUMN twitter_bot.translations.translated_text IS 'The current translated text; NULL until translated.';
COMMENT ON COLUMN twitter_bot.translations.confidence IS 'Translator confidence between 0 and 1.';
COMMENT ON COLUMN twitter_bot.translations.posted_tweet_id IS 'Id of the tweet that published the translation.';
COMMENT ON COLUMN twitter_bot.translations.retry_count IS 'Failed attempts so far.';
COMMENT ON COLUMN twitter_bot.translations.last_error IS 'Error of the most recent failed attempt.';
COMMENT ON COLUMN twitter_bot.translations.claimed_by IS 'Worker holding the translation (claim_pending_translations).';
COMMENT ON COLUMN twitter_bot.translations.claimed_until IS 'End of that worker''s lease; after it another worker may claim the row.';
COMMENT ON COLUMN twitter_bot.translations.created_at IS 'When the translation was created.';
COMMENT ON COLUMN twitter_bot.translations.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT translations_tweet_fk ON twitter_bot.translations IS 'A translation belongs to a stored tweet.';
COMMENT ON CONSTRAINT translations_target_language_code ON twitter_bot.translations IS 'Target language is a lower-case BCP 47 code.';
COMMENT ON CONSTRAINT translations_status_valid ON twitter_bot.translations IS 'Status is pending, posted, failed or draft.';
COMMENT ON CONSTRAINT translations_text_not_blank ON twitter_bot.translations IS 'A translation text is not blank.';
COMMENT ON CONSTRAINT translations_confidence_range ON twitter_bot.translations IS 'Confidence lies in [0, 1].';
COMMENT ON CONSTRAINT translations_retry_count_not_negative ON twitter_bot.translations IS 'Retry count is never negative.';
COMMENT ON CONSTRAINT translations_one_per_language ON twitter_bot.translations IS 'One current translation per tweet and language.';
COMMENT ON CONSTRAINT translations_posted_has_post ON twitter_bot.translations IS 'A posted translation has its text and the id of the posting tweet.';
COMMENT ON CONSTRAINT translations_draft_has_text ON twitter_bot.translations IS 'A draft has text to approve.';

CREATE INDEX translations_pending_idx ON twitter_bot.translations (created_at) WHERE status = 'pending';
CREATE INDEX translations_status_idx ON twitter_bot.translations (status, target_language);
COMMENT ON INDEX twitter_bot.translations_pending_idx IS 'claim_pending_translations: oldest pending first.';
COMMENT ON INDEX twitter_bot.translations_status_idx IS 'Drafts, failed ones and statistics by status and language.';

CREATE TRIGGER translations_set_updated_at
    BEFORE UPDATE ON twitter_bot.translations
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER translations_set_updated_at ON twitter_bot.translations IS 'Keeps updated_at current.';

-- == translation_attempts ======================================================================================
CREATE TABLE twitter_bot.translation_attempts (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    translation_id  bigint      NOT NULL CONSTRAINT translation_attempts_translation_fk REFERENCES twitter_bot.translations (id) ON DELETE CASCADE,
    tweet_id        bigint      NOT NULL CONSTRAINT translation_attempts_tweet_fk REFERENCES twitter_bot.tweets (id) ON DELETE CASCADE,
    target_language text        NOT NULL,
    status          text        NOT NULL CONSTRAINT translation_attempts_status_valid
                                CHECK (status IN ('posted', 'failed', 'draft', 'approved', 'rolled_back', 'imported')),
    translated_text text,
    error           text,
    confidence      double precision CONSTRAINT translation_attempts_confidence_range CHECK (confidence BETWEEN 0 AND 1),
    attempted_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE twitter_bot.translation_attempts IS 'Audit trail: every attempt at a translation, append-only; the source for history and roll back.';
COMMENT ON COLUMN twitter_bot.translation_attempts.id IS 'Surrogate key, increasing with time.';
COMMENT ON COLUMN twitter_bot.translation_attempts.translation_id IS 'The translation this attempt was for.';
COMMENT ON COLUMN twitter_bot.translation_attempts.tweet_id IS 'The tweet (copied from the translation, for history per tweet).';
COMMENT ON COLUMN twitter_bot.translation_attempts.target_language IS 'Language of the attempt (copied from the translation).';
COMMENT ON COLUMN twitter_bot.translation_attempts.status IS 'Outcome: posted, failed, draft, approved, rolled_back or imported.';
COMMENT ON COLUMN twitter_bot.translation_attempts.translated_text IS 'Text produced by the attempt (NULL for failures).';
COMMENT ON COLUMN twitter_bot.translation_attempts.error IS 'Error of a failed attempt, or a note (roll back).';
COMMENT ON COLUMN twitter_bot.translation_attempts.confidence IS 'Translator confidence of the attempt, in [0, 1].';
COMMENT ON COLUMN twitter_bot.translation_attempts.attempted_at IS 'When the attempt happened.';
COMMENT ON CONSTRAINT translation_attempts_translation_fk ON twitter_bot.translation_attempts IS 'An attempt belongs to a translation.';
COMMENT ON CONSTRAINT translation_attempts_tweet_fk ON twitter_bot.translation_attempts IS 'An attempt belongs to a tweet.';
COMMENT ON CONSTRAINT translation_attempts_status_valid ON twitter_bot.translation_attempts IS 'Known attempt outcomes only.';
COMMENT ON CONSTRAINT translation_attempts_confidence_range ON twitter_bot.translation_attempts IS 'Confidence lies in [0, 1].';

CREATE INDEX translation_attempts_tweet_idx ON twitter_bot.translation_attempts (tweet_id, attempted_at);
CREATE INDEX translation_attempts_translation_idx ON twitter_bot.translation_attempts (translation_id);
CREATE INDEX translation_attempts_attempted_at_idx ON twitter_bot.translation_attempts (attempted_at);
COMMENT ON INDEX twitter_bot.translation_attempts_tweet_idx IS 'History per tweet, in order.';
COMMENT ON INDEX twitter_bot.translation_attempts_translation_idx IS 'Attempts of one translation (roll back, cascades).';
COMMENT ON INDEX twitter_bot.translation_attempts_attempted_at_idx IS 'Retention cleanup by age.';

-- == api_usage (partitioned by month) ==========================================================================
CREATE TABLE twitter_bot.api_usage (
    id               bigint      GENERATED ALWAYS AS IDENTITY,
    service          text        NOT NULL CONSTRAINT api_usage_service_not_blank CHECK (btrim(service) <> ''),
    endpoint         text        NOT NULL CONSTRAINT api_usage_endpoint_not_blank CHECK (btrim(endpoint) <> ''),
    called_at        timestamptz NOT NULL DEFAULT now(),
    success          boolean     NOT NULL,
    status_code      integer     CONSTRAINT api_usage_status_code_http CHECK (status_code BETWEEN 100 AND 599),
    response_time_ms double precision CONSTRAINT api_usage_response_time_not_negative CHECK (response_time_ms >= 0),
    error_type       text,
    error_message    text,
    import_key       text,
    PRIMARY KEY (id, called_at),
    CONSTRAINT api_usage_import_key_unique UNIQUE (import_key, called_at)
) PARTITION BY RANGE (called_at);
COMMENT ON TABLE twitter_bot.api_usage IS 'Every external API call the bot made. Partitioned by month of called_at; a DEFAULT partition catches months not created yet.';
COMMENT ON COLUMN twitter_bot.api_usage.id IS 'Surrogate key (unique together with called_at, the partition key).';
COMMENT ON COLUMN twitter_bot.api_usage.service IS 'API called: twitter, openai, deepl...';
COMMENT ON COLUMN twitter_bot.api_usage.endpoint IS 'Endpoint or operation within the service.';
COMMENT ON COLUMN twitter_bot.api_usage.called_at IS 'When the call was made (partition key).';
COMMENT ON COLUMN twitter_bot.api_usage.success IS 'Whether the call succeeded.';
COMMENT ON COLUMN twitter_bot.api_usage.status_code IS 'HTTP status code, when there was a response.';
COMMENT ON COLUMN twitter_bot.api_usage.response_time_ms IS 'Round-trip time in milliseconds (>= 0).';
COMMENT ON COLUMN twitter_bot.api_usage.error_type IS 'Class of error of a failed call (RateLimit, Timeout...).';
COMMENT ON COLUMN twitter_bot.api_usage.error_message IS 'Error text of a failed call.';
COMMENT ON COLUMN twitter_bot.api_usage.import_key IS 'Identity of a record imported from logs/api_usage.json, so a re-import adds nothing; NULL for live calls.';
COMMENT ON CONSTRAINT api_usage_service_not_blank ON twitter_bot.api_usage IS 'A call names its service.';
COMMENT ON CONSTRAINT api_usage_endpoint_not_blank ON twitter_bot.api_usage IS 'A call names its endpoint.';
COMMENT ON CONSTRAINT api_usage_status_code_http ON twitter_bot.api_usage IS 'Status codes are HTTP codes 100-599.';
COMMENT ON CONSTRAINT api_usage_response_time_not_negative ON twitter_bot.api_usage IS 'Response times are never negative.';
COMMENT ON CONSTRAINT api_usage_import_key_unique ON twitter_bot.api_usage IS 'An imported record is stored once.';

CREATE INDEX api_usage_called_at_idx ON twitter_bot.api_usage (called_at);
CREATE INDEX api_usage_service_idx ON twitter_bot.api_usage (service, endpoint, called_at);
COMMENT ON INDEX twitter_bot.api_usage_called_at_idx IS 'Time-range reports and retention.';
COMMENT ON INDEX twitter_bot.api_usage_service_idx IS 'Per-service reports and the rate-limit window.';

CREATE TABLE twitter_bot.api_usage_default PARTITION OF twitter_bot.api_usage DEFAULT;
COMMENT ON TABLE twitter_bot.api_usage_default IS 'Calls in months that have no partition yet; ensure_api_usage_partition moves them out.';

CREATE FUNCTION twitter_bot.ensure_api_usage_partition(month date) RETURNS boolean
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

CREATE FUNCTION twitter_bot.drop_api_usage_partitions_before(cutoff timestamptz) RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    FOR part IN
        SELECT c.oid::regclass::text AS name
          FROM pg_inherits AS i
          JOIN pg_class AS c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'twitter_bot.api_usage'::regclass
           AND c.relispartition
           AND pg_get_expr(c.relpartbound, c.oid) <> 'DEFAULT'
           AND (regexp_match(pg_get_expr(c.relpartbound, c.oid), 'TO \(''([^'']+)''\)'))[1]::timestamptz <= cutoff
         ORDER BY 1
    LOOP
        EXECUTE format('DROP TABLE %s', part.name);
        RETURN NEXT part.name;
    END LOOP;
END;
$$;
COMMENT ON FUNCTION twitter_bot.drop_api_usage_partitions_before(timestamptz) IS 'Drop every monthly api_usage partition that ends at or before cutoff; returns their names.';

-- This month and the next two exist from the start; the code creates later ones ahead of time.
DO $$
BEGIN
    PERFORM twitter_bot.ensure_api_usage_partition((date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m))::date)
       FROM generate_series(0, 2) AS m;
END;
$$;

-- == translation_cache =========================================================================================
CREATE TABLE twitter_bot.translation_cache (
    cache_key        text        GENERATED ALWAYS AS (
                                     ops.sha256_hex(source_language || ':' || target_language || ':' || original_text)
                                 ) STORED NOT NULL CONSTRAINT translation_cache_key_unique UNIQUE,
    source_language  text        NOT NULL CONSTRAINT translation_cache_source_language_code CHECK (source_language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$|^auto$'),
    target_language  text        NOT NULL CONSTRAINT translation_cache_target_language_code CHECK (target_language ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    original_text    text        NOT NULL CONSTRAINT translation_cache_original_not_empty CHECK (original_text <> ''),
    translated_text  text        NOT NULL CONSTRAINT translation_cache_translated_not_empty CHECK (translated_text <> ''),
    confidence       double precision CONSTRAINT translation_cache_confidence_range CHECK (confidence BETWEEN 0 AND 1),
    hit_count        integer     NOT NULL DEFAULT 0 CONSTRAINT translation_cache_hit_count_not_negative CHECK (hit_count >= 0),
    created_at       timestamptz NOT NULL DEFAULT now(),
    last_accessed_at timestamptz,
    expires_at       timestamptz NOT NULL,
    CONSTRAINT translation_cache_expires_after_creation CHECK (expires_at > created_at)
);
COMMENT ON TABLE twitter_bot.translation_cache IS 'Translations already paid for, reused until they expire.';
COMMENT ON COLUMN twitter_bot.translation_cache.cache_key IS 'sha256 of source:target:text (generated, so it always matches them).';
COMMENT ON COLUMN twitter_bot.translation_cache.source_language IS 'Language of original_text (or auto).';
COMMENT ON COLUMN twitter_bot.translation_cache.target_language IS 'Language of translated_text.';
COMMENT ON COLUMN twitter_bot.translation_cache.original_text IS 'Text that was translated.';
COMMENT ON COLUMN twitter_bot.translation_cache.translated_text IS 'Its translation.';
COMMENT ON COLUMN twitter_bot.translation_cache.confidence IS 'Translator confidence, in [0, 1].';
COMMENT ON COLUMN twitter_bot.translation_cache.hit_count IS 'How many lookups were answered from this entry.';
COMMENT ON COLUMN twitter_bot.translation_cache.created_at IS 'When the entry was (last) stored.';
COMMENT ON COLUMN twitter_bot.translation_cache.last_accessed_at IS 'Last lookup answered from this entry.';
COMMENT ON COLUMN twitter_bot.translation_cache.expires_at IS 'After this the entry is not served and purge_expired_cache deletes it.';
COMMENT ON CONSTRAINT translation_cache_key_unique ON twitter_bot.translation_cache IS 'One entry per text and language pair.';
COMMENT ON CONSTRAINT translation_cache_source_language_code ON twitter_bot.translation_cache IS 'Source is a BCP 47 code or auto.';
COMMENT ON CONSTRAINT translation_cache_target_language_code ON twitter_bot.translation_cache IS 'Target is a BCP 47 code.';
COMMENT ON CONSTRAINT translation_cache_original_not_empty ON twitter_bot.translation_cache IS 'Original text is not empty.';
COMMENT ON CONSTRAINT translation_cache_translated_not_empty ON twitter_bot.translation_cache IS 'Translated text is not empty.';
COMMENT ON CONSTRAINT translation_cache_confidence_range ON twitter_bot.translation_cache IS 'Confidence lies in [0, 1].';
COMMENT ON CONSTRAINT translation_cache_hit_count_not_negative ON twitter_bot.translation_cache IS 'Hit counts are never negative.';
COMMENT ON CONSTRAINT translation_cache_expires_after_creation ON twitter_bot.translation_cache IS 'An entry expires after it was stored (TTL > 0).';

CREATE INDEX translation_cache_expires_at_idx ON twitter_bot.translation_cache (expires_at);
CREATE INDEX translation_cache_language_pair_idx ON twitter_bot.translation_cache (source_language, target_language);
COMMENT ON INDEX twitter_bot.translation_cache_expires_at_idx IS 'purge_expired_cache.';
COMMENT ON INDEX twitter_bot.translation_cache_language_pair_idx IS 'Statistics per language pair.';

-- == users =====================================================================================================
CREATE TABLE twitter_bot.users (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username        text        NOT NULL CONSTRAINT users_username_unique UNIQUE
                                CONSTRAINT users_username_valid CHECK (username ~ '^[A-Za-z0-9_.-]{1,64}$'),
    display_name    text,
    settings        jsonb       NOT NULL DEFAULT '{}' CONSTRAINT users_settings_is_object CHECK (jsonb_typeof(settings) = 'object'),
    is_active       boolean     NOT NULL DEFAULT true,
    api_credentials bytea,
    last_active_at  timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE twitter_bot.users IS 'Operators of the bot, their settings and (encrypted) API credentials.';
COMMENT ON COLUMN twitter_bot.users.id IS 'Surrogate key.';
COMMENT ON COLUMN twitter_bot.users.username IS 'Login name, unique.';
COMMENT ON COLUMN twitter_bot.users.display_name IS 'Name shown to people.';
COMMENT ON COLUMN twitter_bot.users.settings IS 'Preferences (JSON object), merged by update_user_settings.';
COMMENT ON COLUMN twitter_bot.users.is_active IS 'False for disabled operators.';
COMMENT ON COLUMN twitter_bot.users.api_credentials IS 'API credentials encrypted by the application (Fernet: AES-128-CBC + HMAC-SHA256); the key is in DATALAYER_SECRET_KEY, never in the database.';
COMMENT ON COLUMN twitter_bot.users.last_active_at IS 'Last time the operator did something.';
COMMENT ON COLUMN twitter_bot.users.created_at IS 'When the account was created.';
COMMENT ON COLUMN twitter_bot.users.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT users_username_unique ON twitter_bot.users IS 'Usernames are unique.';
COMMENT ON CONSTRAINT users_username_valid ON twitter_bot.users IS 'Usernames are 1-64 letters, digits, dot, dash or underscore.';
COMMENT ON CONSTRAINT users_settings_is_object ON twitter_bot.users IS 'settings is a JSON object.';

CREATE TRIGGER users_set_updated_at
    BEFORE UPDATE ON twitter_bot.users
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER users_set_updated_at ON twitter_bot.users IS 'Keeps updated_at current.';

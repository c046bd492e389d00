-- AI error-translator API: accounts (argon2id password hashes), API keys (only an HMAC digest is stored),
-- Stripe subscriptions, request usage (partitioned by month, no DEFAULT partition), revoked tokens.
-- Shared: ops.ensure_monthly_partition / ops.drop_monthly_partitions_before, for every bot's monthly tables.

-- == shared partition machinery ================================================================================
CREATE FUNCTION ops.ensure_monthly_partition(parent regclass, month date) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
    lower_bound timestamptz := date_trunc('month', month::timestamp) AT TIME ZONE 'UTC';
    upper_bound timestamptz := (date_trunc('month', month::timestamp) + interval '1 month') AT TIME ZONE 'UTC';
    schema_name text;
    table_name text;
    part text;
BEGIN
    SELECT n.nspname, c.relname INTO schema_name, table_name
      FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
     WHERE c.oid = parent;
    part := format('%s_y%sm%s', table_name, to_char(month, 'YYYY'), to_char(month, 'MM'));
    -- Two sessions creating the same partition at once: the second waits here, then finds it.
    PERFORM pg_advisory_xact_lock(hashtext('ops.ensure_monthly_partition'), hashtext(parent::text));
    IF to_regclass(format('%I.%I', schema_name, part)) IS NOT NULL THEN
        RETURN false;
    END IF;
    -- Creating a partition locks the parent briefly; never queue behind a long lock while requests wait.
    PERFORM set_config('lock_timeout', '5s', true);
    EXECUTE format('CREATE TABLE %I.%I PARTITION OF %s FOR VALUES FROM (%L) TO (%L)',
                   schema_name, part, parent, lower_bound, upper_bound);
    EXECUTE format('COMMENT ON TABLE %I.%I IS %L', schema_name, part,
                   format('Rows of %s with a time in %s (UTC): a monthly partition.', parent, to_char(month, 'YYYY-MM')));
    RETURN true;
END;
$$;
COMMENT ON FUNCTION ops.ensure_monthly_partition(regclass, date) IS 'Create the monthly partition (UTC) of a table partitioned by range of a timestamptz that holds the given date, unless it exists; true when created. Concurrent calls never fail (advisory lock).';

CREATE FUNCTION ops.drop_monthly_partitions_before(parent regclass, cutoff timestamptz, max_lock_wait text DEFAULT '2s')
RETURNS SETOF text
LANGUAGE plpgsql AS $$
DECLARE
    part record;
BEGIN
    -- DROP of a partition locks its parent: give up (55P03) rather than stall the writers queued behind us.
    PERFORM set_config('lock_timeout', max_lock_wait, true);
    FOR part IN
        SELECT c.oid::regclass::text AS name
          FROM pg_inherits AS i
          JOIN pg_class AS c ON c.oid = i.inhrelid
         WHERE i.inhparent = parent
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
COMMENT ON FUNCTION ops.drop_monthly_partitions_before(regclass, timestamptz, text) IS 'Drop every monthly partition of parent that ends at or before cutoff, waiting at most max_lock_wait for each lock; returns their names.';

CREATE SCHEMA error_api;
COMMENT ON SCHEMA error_api IS 'AI error-translator API: accounts, API keys, subscriptions, request usage, revoked tokens.';

-- == tiers =====================================================================================================
CREATE TABLE error_api.tiers (
    tier                text    PRIMARY KEY CONSTRAINT tiers_name_valid CHECK (tier ~ '^[a-z][a-z0-9_]{1,30}$'),
    requests_per_minute integer NOT NULL CONSTRAINT tiers_per_minute_positive CHECK (requests_per_minute > 0),
    requests_per_day    integer NOT NULL CONSTRAINT tiers_per_day_positive CHECK (requests_per_day > 0),
    CONSTRAINT tiers_day_holds_a_minute CHECK (requests_per_day >= requests_per_minute)
);
COMMENT ON TABLE error_api.tiers IS 'Subscription tiers and their request limits (the rate-limit check reads them).';
COMMENT ON COLUMN error_api.tiers.tier IS 'Tier name, e.g. free or pro.';
COMMENT ON COLUMN error_api.tiers.requests_per_minute IS 'Requests allowed in any 60 seconds.';
COMMENT ON COLUMN error_api.tiers.requests_per_day IS 'Requests allowed in any 24 hours.';
COMMENT ON CONSTRAINT tiers_pkey ON error_api.tiers IS 'One row per tier.';
COMMENT ON CONSTRAINT tiers_name_valid ON error_api.tiers IS 'A tier name is 2-31 lower-case letters, digits or underscores.';
COMMENT ON CONSTRAINT tiers_per_minute_positive ON error_api.tiers IS 'A limit is positive.';
COMMENT ON CONSTRAINT tiers_per_day_positive ON error_api.tiers IS 'A limit is positive.';
COMMENT ON CONSTRAINT tiers_day_holds_a_minute ON error_api.tiers IS 'The daily limit is at least the per-minute limit.';
INSERT INTO error_api.tiers (tier, requests_per_minute, requests_per_day) VALUES
    ('free', 10, 1000), ('starter', 60, 20000), ('pro', 300, 200000), ('enterprise', 3000, 5000000);

-- == users =====================================================================================================
CREATE TABLE error_api.users (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    email              text        NOT NULL CONSTRAINT users_email_valid CHECK (email ~ '^[^@\s]+@[^@\s]+\.[^@\s]+$' AND char_length(email) <= 254),
    password_hash      text        CONSTRAINT users_password_hash_is_argon2id CHECK (password_hash ~ '^\$argon2id\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$'),
    full_name          text        CONSTRAINT users_full_name_length CHECK (char_length(full_name) BETWEEN 1 AND 255),
    subscription_tier  text        NOT NULL DEFAULT 'free' CONSTRAINT users_tier_fk REFERENCES error_api.tiers (tier) ON UPDATE CASCADE,
    stripe_customer_id text        CONSTRAINT users_stripe_customer_id_valid CHECK (stripe_customer_id ~ '^cus_[A-Za-z0-9]{1,250}$'),
    is_active          boolean     NOT NULL DEFAULT true,
    is_verified        boolean     NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    last_login         timestamptz,
    CONSTRAINT users_stripe_customer_id_unique UNIQUE (stripe_customer_id)
);
COMMENT ON TABLE error_api.users IS 'Accounts of the API. The password is stored only as an argon2id hash.';
COMMENT ON COLUMN error_api.users.id IS 'Random UUID made by the database (no sequential ids to guess).';
COMMENT ON COLUMN error_api.users.email IS 'Login e-mail as given; unique without regard to case (users_email_lower_unique).';
COMMENT ON COLUMN error_api.users.password_hash IS 'argon2id hash in PHC format (argon2-cffi); NULL for an account without a password. Never the password.';
COMMENT ON COLUMN error_api.users.full_name IS 'Display name.';
COMMENT ON COLUMN error_api.users.subscription_tier IS 'Tier the account is on (limits in error_api.tiers); follows the Stripe subscription.';
COMMENT ON COLUMN error_api.users.stripe_customer_id IS 'Stripe customer (cus_...), when the account has one.';
COMMENT ON COLUMN error_api.users.is_active IS 'A deactivated account cannot log in and its keys do not authenticate.';
COMMENT ON COLUMN error_api.users.is_verified IS 'The e-mail address was confirmed.';
COMMENT ON COLUMN error_api.users.created_at IS 'When the account was created.';
COMMENT ON COLUMN error_api.users.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON COLUMN error_api.users.last_login IS 'Last successful login; NULL = never.';
COMMENT ON CONSTRAINT users_pkey ON error_api.users IS 'Random UUID key.';
COMMENT ON CONSTRAINT users_email_valid ON error_api.users IS 'An e-mail address has one @, a dot in its domain, no spaces, and at most 254 characters.';
COMMENT ON CONSTRAINT users_password_hash_is_argon2id ON error_api.users IS 'Only an argon2id PHC string can be stored: a plain password is rejected by the database itself.';
COMMENT ON CONSTRAINT users_full_name_length ON error_api.users IS 'A full name is 1-255 characters.';
COMMENT ON CONSTRAINT users_tier_fk ON error_api.users IS 'The tier is one of error_api.tiers.';
COMMENT ON CONSTRAINT users_stripe_customer_id_valid ON error_api.users IS 'A Stripe customer id starts with cus_.';
COMMENT ON CONSTRAINT users_stripe_customer_id_unique ON error_api.users IS 'A Stripe customer belongs to one account.';
CREATE UNIQUE INDEX users_email_lower_unique ON error_api.users (lower(email));
CREATE INDEX users_subscription_tier_idx ON error_api.users (subscription_tier);
COMMENT ON INDEX error_api.users_email_lower_unique IS 'E-mail is unique without regard to case; get_user_by_email looks up lower(email).';
COMMENT ON INDEX error_api.users_subscription_tier_idx IS 'Foreign key to tiers (a tier rename or delete checks it).';
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON error_api.users
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER users_set_updated_at ON error_api.users IS 'Keeps updated_at current.';

-- == api_keys ==================================================================================================
CREATE TABLE error_api.api_keys (
    id         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    uuid        NOT NULL CONSTRAINT api_keys_user_fk REFERENCES error_api.users (id) ON DELETE CASCADE,
    name       text        NOT NULL CONSTRAINT api_keys_name_valid CHECK (btrim(name) <> '' AND char_length(name) <= 255),
    prefix     text        NOT NULL CONSTRAINT api_keys_prefix_valid CHECK (prefix ~ '^eak_[A-Za-z0-9_-]{8}$'),
    key_digest bytea       NOT NULL CONSTRAINT api_keys_digest_is_sha256 CHECK (octet_length(key_digest) = 32),
    is_active  boolean     NOT NULL DEFAULT true,
    last_used  timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    CONSTRAINT api_keys_digest_unique UNIQUE (key_digest),
    CONSTRAINT api_keys_expires_after_creation CHECK (expires_at > created_at)
);
COMMENT ON TABLE error_api.api_keys IS 'API keys. The key is shown once when made and never stored: only its HMAC-SHA256 digest under a server secret.';
COMMENT ON COLUMN error_api.api_keys.id IS 'Random UUID key.';
COMMENT ON COLUMN error_api.api_keys.user_id IS 'Owner; keys go with their owner.';
COMMENT ON COLUMN error_api.api_keys.name IS 'What the owner calls the key.';
COMMENT ON COLUMN error_api.api_keys.prefix IS 'The first 12 characters of the key (eak_ + 8), shown so an owner can tell keys apart; not enough to use it.';
COMMENT ON COLUMN error_api.api_keys.key_digest IS 'HMAC-SHA256 of the whole key under DATALAYER_API_KEY_SECRET: keys are 256-bit random tokens, so a keyed digest (not a slow password hash) is what makes a stolen table useless.';
COMMENT ON COLUMN error_api.api_keys.is_active IS 'A deactivated key does not authenticate.';
COMMENT ON COLUMN error_api.api_keys.last_used IS 'Last authentication, to the minute (written at most once a minute per key).';
COMMENT ON COLUMN error_api.api_keys.created_at IS 'When the key was made.';
COMMENT ON COLUMN error_api.api_keys.expires_at IS 'After this the key does not authenticate; NULL = never expires.';
COMMENT ON CONSTRAINT api_keys_pkey ON error_api.api_keys IS 'Random UUID key.';
COMMENT ON CONSTRAINT api_keys_user_fk ON error_api.api_keys IS 'A key belongs to a stored account; deleted with it.';
COMMENT ON CONSTRAINT api_keys_name_valid ON error_api.api_keys IS 'A key name is 1-255 characters and not only spaces.';
COMMENT ON CONSTRAINT api_keys_prefix_valid ON error_api.api_keys IS 'The visible prefix is eak_ and 8 URL-safe characters.';
COMMENT ON CONSTRAINT api_keys_digest_is_sha256 ON error_api.api_keys IS 'A digest is 32 bytes (SHA-256).';
COMMENT ON CONSTRAINT api_keys_digest_unique ON error_api.api_keys IS 'One row per key; authenticate_api_key looks the digest up through this index.';
COMMENT ON CONSTRAINT api_keys_expires_after_creation ON error_api.api_keys IS 'A key expires after it was made.';
CREATE INDEX api_keys_user_id_idx ON error_api.api_keys (user_id, created_at);
CREATE INDEX api_keys_expires_at_idx ON error_api.api_keys (expires_at) WHERE expires_at IS NOT NULL;
COMMENT ON INDEX error_api.api_keys_user_id_idx IS 'Foreign key to users; list_user_api_keys in creation order.';
COMMENT ON INDEX error_api.api_keys_expires_at_idx IS 'delete_expired_api_keys: only keys that expire.';

-- == subscriptions =============================================================================================
CREATE TABLE error_api.subscriptions (
    id                     uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id                uuid        NOT NULL CONSTRAINT subscriptions_user_fk REFERENCES error_api.users (id) ON DELETE CASCADE,
    stripe_subscription_id text        NOT NULL CONSTRAINT subscriptions_stripe_id_valid CHECK (stripe_subscription_id ~ '^sub_[A-Za-z0-9]{1,250}$'),
    stripe_price_id        text        CONSTRAINT subscriptions_stripe_price_valid CHECK (stripe_price_id ~ '^price_[A-Za-z0-9]{1,250}$'),
    tier                   text        NOT NULL CONSTRAINT subscriptions_tier_fk REFERENCES error_api.tiers (tier) ON UPDATE CASCADE,
    status                 text        NOT NULL
                                       CONSTRAINT subscriptions_status_valid CHECK (status IN ('incomplete', 'incomplete_expired', 'trialing', 'active', 'past_due', 'canceled', 'unpaid', 'paused')),
    current_period_start   timestamptz,
    current_period_end     timestamptz,
    canceled_at            timestamptz,
    stripe_event_at        timestamptz NOT NULL,
    created_at             timestamptz NOT NULL DEFAULT now(),
    updated_at             timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT subscriptions_stripe_id_unique UNIQUE (stripe_subscription_id),
    CONSTRAINT subscriptions_period_order CHECK (current_period_end > current_period_start)
);
COMMENT ON TABLE error_api.subscriptions IS 'Stripe subscriptions as the last billing event said; events applied out of order never move a subscription back.';
COMMENT ON COLUMN error_api.subscriptions.id IS 'Random UUID key.';
COMMENT ON COLUMN error_api.subscriptions.user_id IS 'The account billed; subscriptions go with it.';
COMMENT ON COLUMN error_api.subscriptions.stripe_subscription_id IS 'Stripe''s subscription id (sub_...): the natural key billing events are applied on.';
COMMENT ON COLUMN error_api.subscriptions.stripe_price_id IS 'Stripe price (price_...).';
COMMENT ON COLUMN error_api.subscriptions.tier IS 'Tier the subscription grants.';
COMMENT ON COLUMN error_api.subscriptions.status IS 'Stripe''s status: incomplete, incomplete_expired, trialing, active, past_due, canceled, unpaid or paused.';
COMMENT ON COLUMN error_api.subscriptions.current_period_start IS 'Start of the billing period.';
COMMENT ON COLUMN error_api.subscriptions.current_period_end IS 'End of the billing period (after its start).';
COMMENT ON COLUMN error_api.subscriptions.canceled_at IS 'When it was canceled, if it was.';
COMMENT ON COLUMN error_api.subscriptions.stripe_event_at IS 'Creation time of the Stripe event that set this state: an event that is not newer changes nothing.';
COMMENT ON COLUMN error_api.subscriptions.created_at IS 'When the first event for it arrived.';
COMMENT ON COLUMN error_api.subscriptions.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT subscriptions_pkey ON error_api.subscriptions IS 'Random UUID key.';
COMMENT ON CONSTRAINT subscriptions_user_fk ON error_api.subscriptions IS 'A subscription belongs to a stored account.';
COMMENT ON CONSTRAINT subscriptions_stripe_id_valid ON error_api.subscriptions IS 'A Stripe subscription id starts with sub_.';
COMMENT ON CONSTRAINT subscriptions_stripe_price_valid ON error_api.subscriptions IS 'A Stripe price id starts with price_.';
COMMENT ON CONSTRAINT subscriptions_tier_fk ON error_api.subscriptions IS 'The tier is one of error_api.tiers.';
COMMENT ON CONSTRAINT subscriptions_status_valid ON error_api.subscriptions IS 'Status is one of Stripe''s subscription statuses.';
COMMENT ON CONSTRAINT subscriptions_stripe_id_unique ON error_api.subscriptions IS 'One row per Stripe subscription: applying an event twice stores it once.';
COMMENT ON CONSTRAINT subscriptions_period_order ON error_api.subscriptions IS 'A billing period ends after it starts.';
CREATE INDEX subscriptions_user_id_idx ON error_api.subscriptions (user_id, stripe_event_at DESC);
CREATE INDEX subscriptions_tier_idx ON error_api.subscriptions (tier);
COMMENT ON INDEX error_api.subscriptions_user_id_idx IS 'Foreign key to users; get_current_subscription, newest first.';
COMMENT ON INDEX error_api.subscriptions_tier_idx IS 'Foreign key to tiers.';
CREATE TRIGGER subscriptions_set_updated_at BEFORE UPDATE ON error_api.subscriptions
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER subscriptions_set_updated_at ON error_api.subscriptions IS 'Keeps updated_at current.';

-- == usage_logs ================================================================================================
CREATE TABLE error_api.usage_logs (
    request_id       uuid        NOT NULL,
    user_id          uuid        CONSTRAINT usage_logs_user_fk REFERENCES error_api.users (id) ON DELETE CASCADE,
    api_key_id       uuid        CONSTRAINT usage_logs_api_key_fk REFERENCES error_api.api_keys (id) ON DELETE SET NULL,
    endpoint         text        NOT NULL CONSTRAINT usage_logs_endpoint_valid CHECK (endpoint ~ '^/' AND char_length(endpoint) <= 255),
    method           text        NOT NULL CONSTRAINT usage_logs_method_valid CHECK (method IN ('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS')),
    status_code      smallint    NOT NULL CONSTRAINT usage_logs_status_code_range CHECK (status_code BETWEEN 100 AND 599),
    ip_address       inet,
    user_agent       text        CONSTRAINT usage_logs_user_agent_length CHECK (char_length(user_agent) <= 1000),
    response_time_ms integer     CONSTRAINT usage_logs_response_time_not_negative CHECK (response_time_ms >= 0),
    error_type       text        CONSTRAINT usage_logs_error_type_length CHECK (char_length(error_type) <= 255),
    error_message    text        CONSTRAINT usage_logs_error_message_length CHECK (char_length(error_message) <= 2000),
    created_at       timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT usage_logs_pkey PRIMARY KEY (request_id, created_at)
) PARTITION BY RANGE (created_at);
COMMENT ON TABLE error_api.usage_logs IS 'One row per API request, partitioned by month of created_at (UTC); partitions are made ahead of time and there is no DEFAULT partition.';
COMMENT ON COLUMN error_api.usage_logs.request_id IS 'Client-generated id of the request: logging it again stores nothing new.';
COMMENT ON COLUMN error_api.usage_logs.user_id IS 'The account, when the request was authenticated.';
COMMENT ON COLUMN error_api.usage_logs.api_key_id IS 'The key used, when there was one (set to NULL when the key is deleted).';
COMMENT ON COLUMN error_api.usage_logs.endpoint IS 'Path of the endpoint, e.g. /v1/translate (at most 255 characters).';
COMMENT ON COLUMN error_api.usage_logs.method IS 'HTTP method.';
COMMENT ON COLUMN error_api.usage_logs.status_code IS 'HTTP status code of the response (100-599).';
COMMENT ON COLUMN error_api.usage_logs.ip_address IS 'Client address.';
COMMENT ON COLUMN error_api.usage_logs.user_agent IS 'Client User-Agent (at most 1000 characters).';
COMMENT ON COLUMN error_api.usage_logs.response_time_ms IS 'Time to respond in milliseconds.';
COMMENT ON COLUMN error_api.usage_logs.error_type IS 'Kind of error, when the request failed.';
COMMENT ON COLUMN error_api.usage_logs.error_message IS 'Error message (at most 2000 characters).';
COMMENT ON COLUMN error_api.usage_logs.created_at IS 'When the request was served; the partition key.';
COMMENT ON CONSTRAINT usage_logs_pkey ON error_api.usage_logs IS 'A request is stored once (the partition key must be part of every unique key).';
COMMENT ON CONSTRAINT usage_logs_user_fk ON error_api.usage_logs IS 'The account is stored; its usage goes with it.';
COMMENT ON CONSTRAINT usage_logs_api_key_fk ON error_api.usage_logs IS 'The key is stored, or NULL once deleted.';
COMMENT ON CONSTRAINT usage_logs_endpoint_valid ON error_api.usage_logs IS 'An endpoint is a path starting with / of at most 255 characters.';
COMMENT ON CONSTRAINT usage_logs_method_valid ON error_api.usage_logs IS 'The method is a standard HTTP method.';
COMMENT ON CONSTRAINT usage_logs_status_code_range ON error_api.usage_logs IS 'HTTP status codes are 100-599.';
COMMENT ON CONSTRAINT usage_logs_user_agent_length ON error_api.usage_logs IS 'A User-Agent is at most 1000 characters.';
COMMENT ON CONSTRAINT usage_logs_response_time_not_negative ON error_api.usage_logs IS 'A duration is not negative.';
COMMENT ON CONSTRAINT usage_logs_error_type_length ON error_api.usage_logs IS 'An error type is at most 255 characters.';
COMMENT ON CONSTRAINT usage_logs_error_message_length ON error_api.usage_logs IS 'An error message is at most 2000 characters.';
CREATE INDEX usage_logs_user_created_idx ON error_api.usage_logs (user_id, created_at);
CREATE INDEX usage_logs_api_key_id_idx ON error_api.usage_logs (api_key_id) WHERE api_key_id IS NOT NULL;
CREATE INDEX usage_logs_created_at_idx ON error_api.usage_logs (created_at);
COMMENT ON INDEX error_api.usage_logs_user_created_idx IS 'Foreign key to users; a user''s usage over a time range (dashboard, rate limit).';
COMMENT ON INDEX error_api.usage_logs_api_key_id_idx IS 'Foreign key to api_keys (a key delete sets these to NULL).';
COMMENT ON INDEX error_api.usage_logs_created_at_idx IS 'Monitoring over the last 24 hours across all users; retention.';

-- This month (UTC), the previous one (late requests) and the next three exist from the start;
-- `datalayer accounts maintain` (daily) keeps making them ahead.
-- (A DO block, not a SELECT: yoyo prints the rows a migration's SELECT returns, into `migrate --json`.)
DO $$
BEGIN
    PERFORM ops.ensure_monthly_partition('error_api.usage_logs', (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m))::date)
       FROM generate_series(-1, 3) AS m;
END;
$$;

-- == token_blacklist ===========================================================================================
CREATE TABLE error_api.token_blacklist (
    id                uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    token_jti         text        NOT NULL CONSTRAINT token_blacklist_jti_valid CHECK (btrim(token_jti) <> '' AND char_length(token_jti) <= 255),
    token_type        text        NOT NULL CONSTRAINT token_blacklist_type_valid CHECK (token_type IN ('access', 'refresh')),
    revoked_by        text        CONSTRAINT token_blacklist_revoked_by_length CHECK (char_length(revoked_by) <= 255),
    revocation_reason text        CONSTRAINT token_blacklist_reason_length CHECK (char_length(revocation_reason) <= 255),
    created_at        timestamptz NOT NULL DEFAULT now(),
    expires_at        timestamptz NOT NULL,
    CONSTRAINT token_blacklist_jti_unique UNIQUE (token_jti)
);
COMMENT ON TABLE error_api.token_blacklist IS 'Revoked JWTs, by their jti, kept until the token would have expired anyway.';
COMMENT ON COLUMN error_api.token_blacklist.id IS 'Random UUID key.';
COMMENT ON COLUMN error_api.token_blacklist.token_jti IS 'The token''s jti claim (its id), not the token.';
COMMENT ON COLUMN error_api.token_blacklist.token_type IS 'access or refresh.';
COMMENT ON COLUMN error_api.token_blacklist.revoked_by IS 'Who revoked it (a user id, admin, system).';
COMMENT ON COLUMN error_api.token_blacklist.revocation_reason IS 'Why (logout, password change, compromise).';
COMMENT ON COLUMN error_api.token_blacklist.created_at IS 'When it was revoked.';
COMMENT ON COLUMN error_api.token_blacklist.expires_at IS 'When the token expires; after that the row is useless and cleanup removes it.';
COMMENT ON CONSTRAINT token_blacklist_pkey ON error_api.token_blacklist IS 'Random UUID key.';
COMMENT ON CONSTRAINT token_blacklist_jti_valid ON error_api.token_blacklist IS 'A jti is 1-255 characters and not only spaces.';
COMMENT ON CONSTRAINT token_blacklist_type_valid ON error_api.token_blacklist IS 'A token is an access or a refresh token.';
COMMENT ON CONSTRAINT token_blacklist_revoked_by_length ON error_api.token_blacklist IS 'At most 255 characters.';
COMMENT ON CONSTRAINT token_blacklist_reason_length ON error_api.token_blacklist IS 'At most 255 characters.';
COMMENT ON CONSTRAINT token_blacklist_jti_unique ON error_api.token_blacklist IS 'A token is revoked once; is_token_revoked is a lookup in this index.';
CREATE INDEX token_blacklist_expires_at_idx ON error_api.token_blacklist (expires_at);
COMMENT ON INDEX error_api.token_blacklist_expires_at_idx IS 'delete_expired_tokens.';

-- AI conversation bot (Telegram): users, activity, sessions, conversations and messages with ML analysis,
-- AI personalities, risk assessment, runtime configuration with history, feature flags, rate limits, and an
-- append-only audit log (partitioned by month) with security events and performance metrics.

CREATE EXTENSION IF NOT EXISTS btree_gin WITH SCHEMA ops;

CREATE SCHEMA chat_bot;
COMMENT ON SCHEMA chat_bot IS 'AI conversation bot: users, sessions, conversations, messages, personalities, risk, configuration, flags, audit.';

-- == users =====================================================================================================
CREATE TABLE chat_bot.users (
    id               bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    telegram_id      bigint      CONSTRAINT users_telegram_id_positive CHECK (telegram_id > 0),
    username         text        CONSTRAINT users_username_valid CHECK (username ~ '^[A-Za-z][A-Za-z0-9_]{3,31}$'),
    first_name       text        CONSTRAINT users_first_name_length CHECK (char_length(first_name) BETWEEN 1 AND 64),
    last_name        text        CONSTRAINT users_last_name_length CHECK (char_length(last_name) BETWEEN 1 AND 64),
    language_code    text        CONSTRAINT users_language_code_valid CHECK (language_code ~ '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$'),
    is_premium       boolean     NOT NULL DEFAULT false,
    preferences      jsonb       NOT NULL DEFAULT '{}' CONSTRAINT users_preferences_is_object CHECK (jsonb_typeof(preferences) = 'object'),
    is_active        boolean     NOT NULL DEFAULT true,
    message_count    integer     NOT NULL DEFAULT 0 CONSTRAINT users_message_count_not_negative CHECK (message_count >= 0),
    last_activity_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now(),
    deleted_at       timestamptz,
    erased_at        timestamptz,
    CONSTRAINT users_telegram_id_unique UNIQUE (telegram_id),
    CONSTRAINT users_erased_has_no_identity CHECK (erased_at IS NULL OR (telegram_id IS NULL AND username IS NULL AND first_name IS NULL AND last_name IS NULL)),
    CONSTRAINT users_identified_unless_erased CHECK (erased_at IS NOT NULL OR telegram_id IS NOT NULL)
);
COMMENT ON TABLE chat_bot.users IS 'Telegram users of the bot; soft-deleted by deleted_at, erased (GDPR) by erased_at.';
COMMENT ON COLUMN chat_bot.users.id IS 'Surrogate key (other tables refer to it, never to the Telegram id).';
COMMENT ON COLUMN chat_bot.users.telegram_id IS 'Telegram''s user id; NULL only once erased.';
COMMENT ON COLUMN chat_bot.users.username IS 'Telegram @username without the @ (5-32 characters), when set.';
COMMENT ON COLUMN chat_bot.users.first_name IS 'First name as Telegram gives it.';
COMMENT ON COLUMN chat_bot.users.last_name IS 'Last name as Telegram gives it.';
COMMENT ON COLUMN chat_bot.users.language_code IS 'IETF language tag of the Telegram client.';
COMMENT ON COLUMN chat_bot.users.is_premium IS 'Premium user (other rate limits apply).';
COMMENT ON COLUMN chat_bot.users.preferences IS 'User preferences (JSON object), merged key by key by update_user_preferences.';
COMMENT ON COLUMN chat_bot.users.is_active IS 'An inactive user is not served.';
COMMENT ON COLUMN chat_bot.users.message_count IS 'Messages of the user, kept in step by add_message.';
COMMENT ON COLUMN chat_bot.users.last_activity_at IS 'Last message or activity.';
COMMENT ON COLUMN chat_bot.users.created_at IS 'When the user first wrote to the bot.';
COMMENT ON COLUMN chat_bot.users.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON COLUMN chat_bot.users.deleted_at IS 'Soft delete: set = invisible to every normal read; restore clears it.';
COMMENT ON COLUMN chat_bot.users.erased_at IS 'When the user''s personal data was erased (GDPR); the row stays for the aggregates.';
COMMENT ON CONSTRAINT users_pkey ON chat_bot.users IS 'Surrogate key.';
COMMENT ON CONSTRAINT users_telegram_id_positive ON chat_bot.users IS 'Telegram ids are positive.';
COMMENT ON CONSTRAINT users_username_valid ON chat_bot.users IS 'Telegram''s username rules: 5-32 letters, digits or underscores, starting with a letter.';
COMMENT ON CONSTRAINT users_first_name_length ON chat_bot.users IS 'A name is 1-64 characters.';
COMMENT ON CONSTRAINT users_last_name_length ON chat_bot.users IS 'A name is 1-64 characters.';
COMMENT ON CONSTRAINT users_language_code_valid ON chat_bot.users IS 'A lower-case IETF language tag.';
COMMENT ON CONSTRAINT users_preferences_is_object ON chat_bot.users IS 'preferences is a JSON object.';
COMMENT ON CONSTRAINT users_message_count_not_negative ON chat_bot.users IS 'A count is not negative.';
COMMENT ON CONSTRAINT users_telegram_id_unique ON chat_bot.users IS 'One row per Telegram user.';
COMMENT ON CONSTRAINT users_erased_has_no_identity ON chat_bot.users IS 'An erased user keeps no identifying field.';
COMMENT ON CONSTRAINT users_identified_unless_erased ON chat_bot.users IS 'A user has a Telegram id until erased.';
CREATE INDEX users_active_created_idx ON chat_bot.users (created_at, id) WHERE deleted_at IS NULL;
COMMENT ON INDEX chat_bot.users_active_created_idx IS 'find_users over live users in creation order (keyset pages).';
CREATE TRIGGER users_set_updated_at BEFORE UPDATE ON chat_bot.users
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER users_set_updated_at ON chat_bot.users IS 'Keeps updated_at current.';

-- == user_activities ===========================================================================================
CREATE TABLE chat_bot.user_activities (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id       bigint      NOT NULL CONSTRAINT user_activities_user_fk REFERENCES chat_bot.users (id) ON DELETE CASCADE,
    activity_type text        NOT NULL CONSTRAINT user_activities_type_valid CHECK (activity_type ~ '^[a-z][a-z0-9_.]{1,63}$'),
    details       jsonb       NOT NULL DEFAULT '{}' CONSTRAINT user_activities_details_is_object CHECK (jsonb_typeof(details) = 'object'),
    occurred_at   timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE chat_bot.user_activities IS 'What users did (messages, commands, logins): analytics and rate limits.';
COMMENT ON COLUMN chat_bot.user_activities.id IS 'Surrogate key.';
COMMENT ON COLUMN chat_bot.user_activities.user_id IS 'The user; activities go with the user.';
COMMENT ON COLUMN chat_bot.user_activities.activity_type IS 'Kind of activity, e.g. message or command.start (rate limits count by it).';
COMMENT ON COLUMN chat_bot.user_activities.details IS 'Anything else about it (JSON object).';
COMMENT ON COLUMN chat_bot.user_activities.occurred_at IS 'When it happened.';
COMMENT ON CONSTRAINT user_activities_pkey ON chat_bot.user_activities IS 'Surrogate key.';
COMMENT ON CONSTRAINT user_activities_user_fk ON chat_bot.user_activities IS 'An activity belongs to a stored user; deleted with it.';
COMMENT ON CONSTRAINT user_activities_type_valid ON chat_bot.user_activities IS 'An activity type is 2-64 lower-case letters, digits, _ or dots.';
COMMENT ON CONSTRAINT user_activities_details_is_object ON chat_bot.user_activities IS 'details is a JSON object.';
CREATE INDEX user_activities_user_type_idx ON chat_bot.user_activities (user_id, activity_type, occurred_at DESC);
COMMENT ON INDEX chat_bot.user_activities_user_type_idx IS 'Foreign key to users; check_chat_rate_limit counts a user''s events of one type in a window.';

-- == conversation_sessions =====================================================================================
CREATE TABLE chat_bot.conversation_sessions (
    id                   bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id              bigint      NOT NULL CONSTRAINT conversation_sessions_user_fk REFERENCES chat_bot.users (id) ON DELETE CASCADE,
    status               text        NOT NULL DEFAULT 'active' CONSTRAINT conversation_sessions_status_valid CHECK (status IN ('active', 'expired', 'closed')),
    started_at           timestamptz NOT NULL DEFAULT now(),
    last_activity_at     timestamptz NOT NULL DEFAULT now(),
    expires_at           timestamptz NOT NULL,
    ended_at             timestamptz,
    idle_timeout_seconds integer     NOT NULL DEFAULT 1800 CONSTRAINT conversation_sessions_timeout_positive CHECK (idle_timeout_seconds > 0),
    CONSTRAINT conversation_sessions_ended_when_not_active CHECK ((status = 'active') = (ended_at IS NULL))
);
COMMENT ON TABLE chat_bot.conversation_sessions IS 'A user''s session with the bot; it expires after idle_timeout_seconds without activity.';
COMMENT ON COLUMN chat_bot.conversation_sessions.id IS 'Surrogate key.';
COMMENT ON COLUMN chat_bot.conversation_sessions.user_id IS 'The user; sessions go with the user.';
COMMENT ON COLUMN chat_bot.conversation_sessions.status IS 'active, expired (idle too long) or closed.';
COMMENT ON COLUMN chat_bot.conversation_sessions.started_at IS 'When it started.';
COMMENT ON COLUMN chat_bot.conversation_sessions.last_activity_at IS 'Last activity in it (touch).';
COMMENT ON COLUMN chat_bot.conversation_sessions.expires_at IS 'last_activity_at + idle_timeout_seconds, written with them: what expiry scans by index.';
COMMENT ON COLUMN chat_bot.conversation_sessions.ended_at IS 'When it expired or was closed; NULL while active.';
COMMENT ON COLUMN chat_bot.conversation_sessions.idle_timeout_seconds IS 'Idle time after which it expires.';
COMMENT ON CONSTRAINT conversation_sessions_pkey ON chat_bot.conversation_sessions IS 'Surrogate key.';
COMMENT ON CONSTRAINT conversation_sessions_user_fk ON chat_bot.conversation_sessions IS 'A session belongs to a stored user; deleted with it.';
COMMENT ON CONSTRAINT conversation_sessions_status_valid ON chat_bot.conversation_sessions IS 'Status is active, expired or closed.';
COMMENT ON CONSTRAINT conversation_sessions_timeout_positive ON chat_bot.conversation_sessions IS 'A timeout is positive.';
COMMENT ON CONSTRAINT conversation_sessions_ended_when_not_active ON chat_bot.conversation_sessions IS 'A session has ended_at exactly when it is no longer active.';
CREATE INDEX conversation_sessions_user_idx ON chat_bot.conversation_sessions (user_id, started_at DESC);
CREATE INDEX conversation_sessions_active_idx ON chat_bot.conversation_sessions (expires_at) WHERE status = 'active';
COMMENT ON INDEX chat_bot.conversation_sessions_user_idx IS 'Foreign key to users; a user''s sessions, newest first.';
COMMENT ON INDEX chat_bot.conversation_sessions_active_idx IS 'expire_idle_sessions: only active sessions, by the time they expire.';

-- == conversations =============================================================================================
CREATE TABLE chat_bot.conversations (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id         bigint      NOT NULL CONSTRAINT conversations_user_fk REFERENCES chat_bot.users (id) ON DELETE CASCADE,
    session_id      bigint      CONSTRAINT conversations_session_fk REFERENCES chat_bot.conversation_sessions (id) ON DELETE SET NULL,
    title           text        CONSTRAINT conversations_title_length CHECK (char_length(title) BETWEEN 1 AND 200),
    status          text        NOT NULL DEFAULT 'active' CONSTRAINT conversations_status_valid CHECK (status IN ('active', 'paused', 'closed', 'archived')),
    message_count   integer     NOT NULL DEFAULT 0 CONSTRAINT conversations_message_count_not_negative CHECK (message_count >= 0),
    total_tokens    bigint      NOT NULL DEFAULT 0 CONSTRAINT conversations_total_tokens_not_negative CHECK (total_tokens >= 0),
    last_message_at timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE chat_bot.conversations IS 'A thematic conversation thread of a user; its counts are kept in step with its messages.';
COMMENT ON COLUMN chat_bot.conversations.id IS 'Surrogate key.';
COMMENT ON COLUMN chat_bot.conversations.user_id IS 'The user; conversations go with the user.';
COMMENT ON COLUMN chat_bot.conversations.session_id IS 'Session it started in (NULL once that session is deleted).';
COMMENT ON COLUMN chat_bot.conversations.title IS 'Short title (1-200 characters).';
COMMENT ON COLUMN chat_bot.conversations.status IS 'active, paused, closed or archived.';
COMMENT ON COLUMN chat_bot.conversations.message_count IS 'Messages in it (add_message keeps it in step, in the same statement).';
COMMENT ON COLUMN chat_bot.conversations.total_tokens IS 'Sum of its messages'' token counts.';
COMMENT ON COLUMN chat_bot.conversations.last_message_at IS 'Time of its last message.';
COMMENT ON COLUMN chat_bot.conversations.created_at IS 'When it started.';
COMMENT ON COLUMN chat_bot.conversations.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT conversations_pkey ON chat_bot.conversations IS 'Surrogate key.';
COMMENT ON CONSTRAINT conversations_user_fk ON chat_bot.conversations IS 'A conversation belongs to a stored user; deleted with it.';
COMMENT ON CONSTRAINT conversations_session_fk ON chat_bot.conversations IS 'The session, if still stored.';
COMMENT ON CONSTRAINT conversations_title_length ON chat_bot.conversations IS 'A title is 1-200 characters.';
COMMENT ON CONSTRAINT conversations_status_valid ON chat_bot.conversations IS 'Status is active, paused, closed or archived.';
COMMENT ON CONSTRAINT conversations_message_count_not_negative ON chat_bot.conversations IS 'A count is not negative.';
COMMENT ON CONSTRAINT conversations_total_tokens_not_negative ON chat_bot.conversations IS 'A count is not negative.';
CREATE INDEX conversations_user_status_idx ON chat_bot.conversations (user_id, status, last_message_at DESC NULLS LAST, id);
CREATE INDEX conversations_session_idx ON chat_bot.conversations (session_id) WHERE session_id IS NOT NULL;
COMMENT ON INDEX chat_bot.conversations_user_status_idx IS 'Foreign key to users; get_user_conversations by status, most recent first.';
COMMENT ON INDEX chat_bot.conversations_session_idx IS 'Foreign key to sessions (a session delete sets these to NULL).';
CREATE TRIGGER conversations_set_updated_at BEFORE UPDATE ON chat_bot.conversations
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER conversations_set_updated_at ON chat_bot.conversations IS 'Keeps updated_at current.';

-- == messages ==================================================================================================
CREATE TABLE chat_bot.messages (
    id              bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id      uuid        NOT NULL,
    conversation_id bigint      NOT NULL CONSTRAINT messages_conversation_fk REFERENCES chat_bot.conversations (id) ON DELETE CASCADE,
    user_id         bigint      NOT NULL CONSTRAINT messages_user_fk REFERENCES chat_bot.users (id) ON DELETE CASCADE,
    role            text        NOT NULL CONSTRAINT messages_role_valid CHECK (role IN ('user', 'assistant', 'system')),
    content         text        NOT NULL CONSTRAINT messages_content_not_empty CHECK (content <> '' AND char_length(content) <= 32000),
    token_count     integer     NOT NULL DEFAULT 0 CONSTRAINT messages_token_count_not_negative CHECK (token_count >= 0),
    sentiment       double precision CONSTRAINT messages_sentiment_range CHECK (sentiment BETWEEN -1 AND 1),
    intent          text        CONSTRAINT messages_intent_valid CHECK (intent ~ '^[a-z][a-z0-9_.]{0,63}$'),
    analysis        jsonb       NOT NULL DEFAULT '{}' CONSTRAINT messages_analysis_is_object CHECK (jsonb_typeof(analysis) = 'object'),
    created_at      timestamptz NOT NULL DEFAULT now(),
    search          tsvector    GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    CONSTRAINT messages_request_id_unique UNIQUE (request_id)
);
COMMENT ON TABLE chat_bot.messages IS 'Messages of conversations, with their ML analysis (tokens, sentiment, intent).';
COMMENT ON COLUMN chat_bot.messages.id IS 'Surrogate key.';
COMMENT ON COLUMN chat_bot.messages.request_id IS 'Client-generated id: adding the same message again stores (and counts) it once.';
COMMENT ON COLUMN chat_bot.messages.conversation_id IS 'The conversation; messages go with it.';
COMMENT ON COLUMN chat_bot.messages.user_id IS 'The user whose conversation it is (for per-user search and counts).';
COMMENT ON COLUMN chat_bot.messages.role IS 'user, assistant or system.';
COMMENT ON COLUMN chat_bot.messages.content IS 'Text of the message (1-32000 characters).';
COMMENT ON COLUMN chat_bot.messages.token_count IS 'Tokens of the message, not negative.';
COMMENT ON COLUMN chat_bot.messages.sentiment IS 'Sentiment between -1 (negative) and 1 (positive), when analysed.';
COMMENT ON COLUMN chat_bot.messages.intent IS 'Detected intent, e.g. question or greeting.';
COMMENT ON COLUMN chat_bot.messages.analysis IS 'The rest of the ML analysis (JSON object).';
COMMENT ON COLUMN chat_bot.messages.created_at IS 'When it was sent.';
COMMENT ON COLUMN chat_bot.messages.search IS 'English full-text vector of content (generated).';
COMMENT ON CONSTRAINT messages_pkey ON chat_bot.messages IS 'Surrogate key.';
COMMENT ON CONSTRAINT messages_conversation_fk ON chat_bot.messages IS 'A message belongs to a stored conversation; deleted with it.';
COMMENT ON CONSTRAINT messages_user_fk ON chat_bot.messages IS 'The user is stored; messages go with the user.';
COMMENT ON CONSTRAINT messages_role_valid ON chat_bot.messages IS 'Role is user, assistant or system.';
COMMENT ON CONSTRAINT messages_content_not_empty ON chat_bot.messages IS 'A message has 1-32000 characters.';
COMMENT ON CONSTRAINT messages_token_count_not_negative ON chat_bot.messages IS 'A token count is not negative.';
COMMENT ON CONSTRAINT messages_sentiment_range ON chat_bot.messages IS 'Sentiment is between -1 and 1.';
COMMENT ON CONSTRAINT messages_intent_valid ON chat_bot.messages IS 'An intent is 1-64 lower-case letters, digits, _ or dots.';
COMMENT ON CONSTRAINT messages_analysis_is_object ON chat_bot.messages IS 'analysis is a JSON object.';
COMMENT ON CONSTRAINT messages_request_id_unique ON chat_bot.messages IS 'A message is stored once per client request id.';
CREATE INDEX messages_conversation_idx ON chat_bot.messages (conversation_id, created_at, id);
CREATE INDEX messages_user_idx ON chat_bot.messages (user_id, created_at DESC);
-- btree_gin: one GIN index on (user, words), so a user's search never ranks other users' matches.
CREATE INDEX messages_user_search_idx ON chat_bot.messages USING gin (user_id, search);
COMMENT ON INDEX chat_bot.messages_conversation_idx IS 'Foreign key to conversations; a conversation''s messages in order.';
COMMENT ON INDEX chat_bot.messages_user_idx IS 'Foreign key to users; a user''s messages, newest first.';
COMMENT ON INDEX chat_bot.messages_user_search_idx IS 'search_user_messages: the user''s messages matching the words, in one GIN lookup (btree_gin).';

-- == conversation_analytics ====================================================================================
CREATE TABLE chat_bot.conversation_analytics (
    conversation_id    bigint           PRIMARY KEY CONSTRAINT conversation_analytics_conversation_fk REFERENCES chat_bot.conversations (id) ON DELETE CASCADE,
    user_messages      integer          NOT NULL DEFAULT 0 CONSTRAINT conversation_analytics_user_messages_not_negative CHECK (user_messages >= 0),
    assistant_messages integer          NOT NULL DEFAULT 0 CONSTRAINT conversation_analytics_assistant_messages_not_negative CHECK (assistant_messages >= 0),
    avg_sentiment      double precision CONSTRAINT conversation_analytics_sentiment_range CHECK (avg_sentiment BETWEEN -1 AND 1),
    total_tokens       bigint           NOT NULL DEFAULT 0 CONSTRAINT conversation_analytics_tokens_not_negative CHECK (total_tokens >= 0),
    top_intents        jsonb            NOT NULL DEFAULT '[]' CONSTRAINT conversation_analytics_top_intents_is_array CHECK (jsonb_typeof(top_intents) = 'array'),
    refreshed_at       timestamptz      NOT NULL DEFAULT now()
);
COMMENT ON TABLE chat_bot.conversation_analytics IS 'Insights per conversation, refreshed from its messages by refresh_conversation_analytics.';
COMMENT ON COLUMN chat_bot.conversation_analytics.conversation_id IS 'The conversation; its analytics go with it.';
COMMENT ON COLUMN chat_bot.conversation_analytics.user_messages IS 'Messages by the user.';
COMMENT ON COLUMN chat_bot.conversation_analytics.assistant_messages IS 'Messages by the assistant.';
COMMENT ON COLUMN chat_bot.conversation_analytics.avg_sentiment IS 'Mean sentiment of the analysed messages.';
COMMENT ON COLUMN chat_bot.conversation_analytics.total_tokens IS 'Sum of token counts.';
COMMENT ON COLUMN chat_bot.conversation_analytics.top_intents IS 'The five commonest intents with their counts (JSON array).';
COMMENT ON COLUMN chat_bot.conversation_analytics.refreshed_at IS 'When computed.';
COMMENT ON CONSTRAINT conversation_analytics_pkey ON chat_bot.conversation_analytics IS 'One row per conversation.';
COMMENT ON CONSTRAINT conversation_analytics_conversation_fk ON chat_bot.conversation_analytics IS 'The conversation is stored; deleted with it.';
COMMENT ON CONSTRAINT conversation_analytics_user_messages_not_negative ON chat_bot.conversation_analytics IS 'A count is not negative.';
COMMENT ON CONSTRAINT conversation_analytics_assistant_messages_not_negative ON chat_bot.conversation_analytics IS 'A count is not negative.';
COMMENT ON CONSTRAINT conversation_analytics_sentiment_range ON chat_bot.conversation_analytics IS 'Sentiment is between -1 and 1.';
COMMENT ON CONSTRAINT conversation_analytics_tokens_not_negative ON chat_bot.conversation_analytics IS 'A count is not negative.';
COMMENT ON CONSTRAINT conversation_analytics_top_intents_is_array ON chat_bot.conversation_analytics IS 'top_intents is a JSON array.';

-- == personalities =============================================================================================
CREATE TABLE chat_bot.personality_traits (
    name          text             PRIMARY KEY CONSTRAINT personality_traits_name_valid CHECK (name ~ '^[a-z][a-z0-9_]{1,63}$'),
    description   text             NOT NULL CONSTRAINT personality_traits_description_not_blank CHECK (btrim(description) <> ''),
    min_value     double precision NOT NULL DEFAULT 0,
    max_value     double precision NOT NULL DEFAULT 1,
    default_value double precision NOT NULL DEFAULT 0.5,
    CONSTRAINT personality_traits_range CHECK (min_value < max_value AND default_value BETWEEN min_value AND max_value)
);
COMMENT ON TABLE chat_bot.personality_traits IS 'Configurable personality dimensions (e.g. warmth, formality) and their ranges.';
COMMENT ON COLUMN chat_bot.personality_traits.name IS 'Trait name, e.g. warmth.';
COMMENT ON COLUMN chat_bot.personality_traits.description IS 'What the trait changes.';
COMMENT ON COLUMN chat_bot.personality_traits.min_value IS 'Lowest value.';
COMMENT ON COLUMN chat_bot.personality_traits.max_value IS 'Highest value.';
COMMENT ON COLUMN chat_bot.personality_traits.default_value IS 'Value when a profile does not set it.';
COMMENT ON CONSTRAINT personality_traits_pkey ON chat_bot.personality_traits IS 'One row per trait.';
COMMENT ON CONSTRAINT personality_traits_name_valid ON chat_bot.personality_traits IS 'A trait name is 2-64 lower-case letters, digits or underscores.';
COMMENT ON CONSTRAINT personality_traits_description_not_blank ON chat_bot.personality_traits IS 'A trait is described.';
COMMENT ON CONSTRAINT personality_traits_range ON chat_bot.personality_traits IS 'min < max, and the default lies between them.';

CREATE TABLE chat_bot.personality_profiles (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        text        NOT NULL CONSTRAINT personality_profiles_name_valid CHECK (btrim(name) <> '' AND char_length(name) <= 100),
    description text,
    traits      jsonb       NOT NULL DEFAULT '{}' CONSTRAINT personality_profiles_traits_is_object CHECK (jsonb_typeof(traits) = 'object'),
    is_active   boolean     NOT NULL DEFAULT true,
    created_at  timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT personality_profiles_name_unique UNIQUE (name)
);
COMMENT ON TABLE chat_bot.personality_profiles IS 'Pre-defined AI personalities: a value per trait.';
COMMENT ON COLUMN chat_bot.personality_profiles.id IS 'Surrogate key.';
COMMENT ON COLUMN chat_bot.personality_profiles.name IS 'Profile name, unique.';
COMMENT ON COLUMN chat_bot.personality_profiles.description IS 'What it is like.';
COMMENT ON COLUMN chat_bot.personality_profiles.traits IS 'Trait name -> value (JSON object of numbers).';
COMMENT ON COLUMN chat_bot.personality_profiles.is_active IS 'Offered to users.';
COMMENT ON COLUMN chat_bot.personality_profiles.created_at IS 'When defined.';
COMMENT ON CONSTRAINT personality_profiles_pkey ON chat_bot.personality_profiles IS 'Surrogate key.';
COMMENT ON CONSTRAINT personality_profiles_name_valid ON chat_bot.personality_profiles IS 'A name is 1-100 characters and not only spaces.';
COMMENT ON CONSTRAINT personality_profiles_traits_is_object ON chat_bot.personality_profiles IS 'traits is a JSON object.';
COMMENT ON CONSTRAINT personality_profiles_name_unique ON chat_bot.personality_profiles IS 'Profile names are unique.';

CREATE TABLE chat_bot.user_personality_mappings (
    user_id       bigint           NOT NULL CONSTRAINT user_personality_mappings_user_fk REFERENCES chat_bot.users (id) ON DELETE CASCADE,
    profile_id    bigint           NOT NULL CONSTRAINT user_personality_mappings_profile_fk REFERENCES chat_bot.personality_profiles (id) ON DELETE RESTRICT,
    adaptations   jsonb            NOT NULL DEFAULT '{}' CONSTRAINT user_personality_mappings_adaptations_is_object CHECK (jsonb_typeof(adaptations) = 'object'),
    effectiveness double precision CONSTRAINT user_personality_mappings_effectiveness_range CHECK (effectiveness BETWEEN 0 AND 1),
    updated_at    timestamptz      NOT NULL DEFAULT now(),
    CONSTRAINT user_personality_mappings_pkey PRIMARY KEY (user_id, profile_id)
);
COMMENT ON TABLE chat_bot.user_personality_mappings IS 'A user''s adaptation of a personality profile.';
COMMENT ON COLUMN chat_bot.user_personality_mappings.user_id IS 'The user; mappings go with the user.';
COMMENT ON COLUMN chat_bot.user_personality_mappings.profile_id IS 'The profile (a profile in use cannot be deleted).';
COMMENT ON COLUMN chat_bot.user_personality_mappings.adaptations IS 'Trait adjustments for this user (JSON object).';
COMMENT ON COLUMN chat_bot.user_personality_mappings.effectiveness IS 'How well it works for the user, 0-1.';
COMMENT ON COLUMN chat_bot.user_personality_mappings.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT user_personality_mappings_pkey ON chat_bot.user_personality_mappings IS 'One mapping per user and profile; its index leads with the user foreign key.';
COMMENT ON CONSTRAINT user_personality_mappings_user_fk ON chat_bot.user_personality_mappings IS 'The user is stored; deleted with it.';
COMMENT ON CONSTRAINT user_personality_mappings_profile_fk ON chat_bot.user_personality_mappings IS 'A profile in use cannot be deleted.';
COMMENT ON CONSTRAINT user_personality_mappings_adaptations_is_object ON chat_bot.user_personality_mappings IS 'adaptations is a JSON object.';
COMMENT ON CONSTRAINT user_personality_mappings_effectiveness_range ON chat_bot.user_personality_mappings IS 'Effectiveness is between 0 and 1.';
CREATE INDEX user_personality_mappings_profile_idx ON chat_bot.user_personality_mappings (profile_id);
COMMENT ON INDEX chat_bot.user_personality_mappings_profile_idx IS 'Foreign key to profiles (a profile delete checks it).';
CREATE TRIGGER user_personality_mappings_set_updated_at BEFORE UPDATE ON chat_bot.user_personality_mappings
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER user_personality_mappings_set_updated_at ON chat_bot.user_personality_mappings IS 'Keeps updated_at current.';

-- == risk ======================================================================================================
CREATE TABLE chat_bot.risk_factors (
    name      text             PRIMARY KEY CONSTRAINT risk_factors_name_valid CHECK (name ~ '^[a-z][a-z0-9_]{1,63}$'),
    category  text             NOT NULL CONSTRAINT risk_factors_category_valid CHECK (category IN ('content', 'behaviour', 'security', 'wellbeing')),
    weight    double precision NOT NULL CONSTRAINT risk_factors_weight_range CHECK (weight BETWEEN 0 AND 1),
    pattern   text,
    is_active boolean          NOT NULL DEFAULT true
);
COMMENT ON TABLE chat_bot.risk_factors IS 'Configurable risk detection rules.';
COMMENT ON COLUMN chat_bot.risk_factors.name IS 'Rule name.';
COMMENT ON COLUMN chat_bot.risk_factors.category IS 'content, behaviour, security or wellbeing.';
COMMENT ON COLUMN chat_bot.risk_factors.weight IS 'How much it counts, 0-1.';
COMMENT ON COLUMN chat_bot.risk_factors.pattern IS 'Detection pattern (interpreted by the bot).';
COMMENT ON COLUMN chat_bot.risk_factors.is_active IS 'Applied to new messages.';
COMMENT ON CONSTRAINT risk_factors_pkey ON chat_bot.risk_factors IS 'One row per rule.';
COMMENT ON CONSTRAINT risk_factors_name_valid ON chat_bot.risk_factors IS 'A rule name is 2-64 lower-case letters, digits or underscores.';
COMMENT ON CONSTRAINT risk_factors_category_valid ON chat_bot.risk_factors IS 'Category is content, behaviour, security or wellbeing.';
COMMENT ON CONSTRAINT risk_factors_weight_range ON chat_bot.risk_factors IS 'A weight is between 0 and 1.';

CREATE TABLE chat_bot.risk_assessments (
    id              bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    conversation_id bigint           NOT NULL CONSTRAINT risk_assessments_conversation_fk REFERENCES chat_bot.conversations (id) ON DELETE CASCADE,
    message_id      bigint           CONSTRAINT risk_assessments_message_fk REFERENCES chat_bot.messages (id) ON DELETE CASCADE,
    user_id         bigint           NOT NULL CONSTRAINT risk_assessments_user_fk REFERENCES chat_bot.users (id) ON DELETE CASCADE,
    risk_score      double precision NOT NULL CONSTRAINT risk_assessments_score_range CHECK (risk_score BETWEEN 0 AND 1),
    risk_level      text             NOT NULL GENERATED ALWAYS AS (
                                         CASE WHEN risk_score >= 0.9 THEN 'critical' WHEN risk_score >= 0.7 THEN 'high'
                                              WHEN risk_score >= 0.4 THEN 'medium' ELSE 'low' END) STORED,
    factors         jsonb            NOT NULL DEFAULT '[]' CONSTRAINT risk_assessments_factors_is_array CHECK (jsonb_typeof(factors) = 'array'),
    assessed_at     timestamptz      NOT NULL DEFAULT now()
);
COMMENT ON TABLE chat_bot.risk_assessments IS 'Risk assessments of individual messages (or whole conversations).';
COMMENT ON COLUMN chat_bot.risk_assessments.id IS 'Surrogate key.';
COMMENT ON COLUMN chat_bot.risk_assessments.conversation_id IS 'The conversation assessed; assessments go with it.';
COMMENT ON COLUMN chat_bot.risk_assessments.message_id IS 'The message assessed, when it is one message.';
COMMENT ON COLUMN chat_bot.risk_assessments.user_id IS 'The conversation''s user.';
COMMENT ON COLUMN chat_bot.risk_assessments.risk_score IS 'Risk between 0 and 1.';
COMMENT ON COLUMN chat_bot.risk_assessments.risk_level IS 'low (<0.4), medium, high (>=0.7), critical (>=0.9): generated from risk_score.';
COMMENT ON COLUMN chat_bot.risk_assessments.factors IS 'Names of the risk factors that fired (JSON array).';
COMMENT ON COLUMN chat_bot.risk_assessments.assessed_at IS 'When assessed.';
COMMENT ON CONSTRAINT risk_assessments_pkey ON chat_bot.risk_assessments IS 'Surrogate key.';
COMMENT ON CONSTRAINT risk_assessments_conversation_fk ON chat_bot.risk_assessments IS 'The conversation is stored; deleted with it.';
COMMENT ON CONSTRAINT risk_assessments_message_fk ON chat_bot.risk_assessments IS 'The message is stored; deleted with it.';
COMMENT ON CONSTRAINT risk_assessments_user_fk ON chat_bot.risk_assessments IS 'The user is stored; deleted with it.';
COMMENT ON CONSTRAINT risk_assessments_score_range ON chat_bot.risk_assessments IS 'A risk score is between 0 and 1.';
COMMENT ON CONSTRAINT risk_assessments_factors_is_array ON chat_bot.risk_assessments IS 'factors is a JSON array.';
CREATE INDEX risk_assessments_conversation_idx ON chat_bot.risk_assessments (conversation_id);
CREATE INDEX risk_assessments_message_idx ON chat_bot.risk_assessments (message_id) WHERE message_id IS NOT NULL;
CREATE INDEX risk_assessments_user_idx ON chat_bot.risk_assessments (user_id);
CREATE INDEX risk_assessments_assessed_idx ON chat_bot.risk_assessments (assessed_at);
CREATE INDEX risk_assessments_high_idx ON chat_bot.risk_assessments (assessed_at DESC) WHERE risk_score >= 0.5;
COMMENT ON INDEX chat_bot.risk_assessments_conversation_idx IS 'Foreign key to conversations.';
COMMENT ON INDEX chat_bot.risk_assessments_message_idx IS 'Foreign key to messages.';
COMMENT ON INDEX chat_bot.risk_assessments_user_idx IS 'Foreign key to users.';
COMMENT ON INDEX chat_bot.risk_assessments_assessed_idx IS 'get_assessment_statistics over a time window.';
COMMENT ON INDEX chat_bot.risk_assessments_high_idx IS 'get_high_risk_assessments: only the risky ones (score >= 0.5), newest first.';

CREATE TABLE chat_bot.conversation_risks (
    conversation_id  bigint           PRIMARY KEY CONSTRAINT conversation_risks_conversation_fk REFERENCES chat_bot.conversations (id) ON DELETE CASCADE,
    risk_score       double precision NOT NULL CONSTRAINT conversation_risks_score_range CHECK (risk_score BETWEEN 0 AND 1),
    max_score        double precision NOT NULL CONSTRAINT conversation_risks_max_range CHECK (max_score BETWEEN 0 AND 1),
    assessments      integer          NOT NULL CONSTRAINT conversation_risks_assessments_positive CHECK (assessments > 0),
    last_assessed_at timestamptz      NOT NULL
);
COMMENT ON TABLE chat_bot.conversation_risks IS 'Conversation-level risk: it rises with every assessment (1 - product of (1 - score)), never falls.';
COMMENT ON COLUMN chat_bot.conversation_risks.conversation_id IS 'The conversation; deleted with it.';
COMMENT ON COLUMN chat_bot.conversation_risks.risk_score IS 'Combined risk 0-1: 1 - (1 - previous) * (1 - new score), so each risky message raises it.';
COMMENT ON COLUMN chat_bot.conversation_risks.max_score IS 'Highest single assessment.';
COMMENT ON COLUMN chat_bot.conversation_risks.assessments IS 'Assessments so far.';
COMMENT ON COLUMN chat_bot.conversation_risks.last_assessed_at IS 'Latest assessment.';
COMMENT ON CONSTRAINT conversation_risks_pkey ON chat_bot.conversation_risks IS 'One row per conversation.';
COMMENT ON CONSTRAINT conversation_risks_conversation_fk ON chat_bot.conversation_risks IS 'The conversation is stored; deleted with it.';
COMMENT ON CONSTRAINT conversation_risks_score_range ON chat_bot.conversation_risks IS 'A risk is between 0 and 1.';
COMMENT ON CONSTRAINT conversation_risks_max_range ON chat_bot.conversation_risks IS 'A risk is between 0 and 1.';
COMMENT ON CONSTRAINT conversation_risks_assessments_positive ON chat_bot.conversation_risks IS 'A row exists once assessed.';

-- == configuration =============================================================================================
CREATE TABLE chat_bot.system_configurations (
    key         text        PRIMARY KEY CONSTRAINT system_configurations_key_valid CHECK (key ~ '^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$' AND char_length(key) <= 200),
    value       jsonb       NOT NULL,
    description text,
    updated_by  text,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE chat_bot.system_configurations IS 'Runtime configuration: one JSON value per dotted key; every change is in configuration_history.';
COMMENT ON COLUMN chat_bot.system_configurations.key IS 'Dotted key, e.g. conversation.max_history_length.';
COMMENT ON COLUMN chat_bot.system_configurations.value IS 'The value (any JSON).';
COMMENT ON COLUMN chat_bot.system_configurations.description IS 'What it controls.';
COMMENT ON COLUMN chat_bot.system_configurations.updated_by IS 'Who changed it last.';
COMMENT ON COLUMN chat_bot.system_configurations.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT system_configurations_pkey ON chat_bot.system_configurations IS 'One value per key.';
COMMENT ON CONSTRAINT system_configurations_key_valid ON chat_bot.system_configurations IS 'A key is two or more dotted lower-case names, at most 200 characters.';
CREATE TRIGGER system_configurations_set_updated_at BEFORE UPDATE ON chat_bot.system_configurations
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER system_configurations_set_updated_at ON chat_bot.system_configurations IS 'Keeps updated_at current.';

CREATE TABLE chat_bot.configuration_history (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key           text        NOT NULL CONSTRAINT configuration_history_key_fk REFERENCES chat_bot.system_configurations (key) ON DELETE CASCADE,
    old_value     jsonb,
    new_value     jsonb       NOT NULL,
    change_reason text        NOT NULL CONSTRAINT configuration_history_reason_not_blank CHECK (btrim(change_reason) <> '' AND char_length(change_reason) <= 500),
    changed_by    text,
    changed_at    timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE chat_bot.configuration_history IS 'Every change of a configuration value, written by the statement that changes it.';
COMMENT ON COLUMN chat_bot.configuration_history.id IS 'Surrogate key (also the order of changes).';
COMMENT ON COLUMN chat_bot.configuration_history.key IS 'The key changed.';
COMMENT ON COLUMN chat_bot.configuration_history.old_value IS 'Value before (NULL: the key was new).';
COMMENT ON COLUMN chat_bot.configuration_history.new_value IS 'Value after.';
COMMENT ON COLUMN chat_bot.configuration_history.change_reason IS 'Why (required).';
COMMENT ON COLUMN chat_bot.configuration_history.changed_by IS 'Who.';
COMMENT ON COLUMN chat_bot.configuration_history.changed_at IS 'When.';
COMMENT ON CONSTRAINT configuration_history_pkey ON chat_bot.configuration_history IS 'Surrogate key.';
COMMENT ON CONSTRAINT configuration_history_key_fk ON chat_bot.configuration_history IS 'The key is stored.';
COMMENT ON CONSTRAINT configuration_history_reason_not_blank ON chat_bot.configuration_history IS 'Every change says why (1-500 characters).';
CREATE INDEX configuration_history_key_idx ON chat_bot.configuration_history (key, id DESC);
COMMENT ON INDEX chat_bot.configuration_history_key_idx IS 'Foreign key to system_configurations; a key''s history, newest first.';

CREATE TABLE chat_bot.feature_flags (
    key                text        PRIMARY KEY CONSTRAINT feature_flags_key_valid CHECK (key ~ '^[a-z][a-z0-9_.]{1,99}$'),
    description        text,
    is_enabled         boolean     NOT NULL DEFAULT false,
    rollout_percentage integer     NOT NULL DEFAULT 0 CONSTRAINT feature_flags_rollout_range CHECK (rollout_percentage BETWEEN 0 AND 100),
    targeting_rules    jsonb       NOT NULL DEFAULT '[]' CONSTRAINT feature_flags_rules_is_array CHECK (jsonb_typeof(targeting_rules) = 'array'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE chat_bot.feature_flags IS 'Feature flags: on or off, targeting rules on user attributes, and a deterministic percentage rollout.';
COMMENT ON COLUMN chat_bot.feature_flags.key IS 'Flag key, e.g. personality_adaptation.';
COMMENT ON COLUMN chat_bot.feature_flags.description IS 'What it turns on.';
COMMENT ON COLUMN chat_bot.feature_flags.is_enabled IS 'A disabled flag is off for everyone.';
COMMENT ON COLUMN chat_bot.feature_flags.rollout_percentage IS 'Share of users (0-100) it is on for, by a stable hash of (flag, user).';
COMMENT ON COLUMN chat_bot.feature_flags.targeting_rules IS 'Rules on user attributes that must all hold (JSON array of {attribute, operator, value}).';
COMMENT ON COLUMN chat_bot.feature_flags.created_at IS 'When created.';
COMMENT ON COLUMN chat_bot.feature_flags.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT feature_flags_pkey ON chat_bot.feature_flags IS 'One row per flag.';
COMMENT ON CONSTRAINT feature_flags_key_valid ON chat_bot.feature_flags IS 'A flag key is 2-100 lower-case letters, digits, _ or dots.';
COMMENT ON CONSTRAINT feature_flags_rollout_range ON chat_bot.feature_flags IS 'A percentage is 0-100.';
COMMENT ON CONSTRAINT feature_flags_rules_is_array ON chat_bot.feature_flags IS 'targeting_rules is a JSON array.';
CREATE TRIGGER feature_flags_set_updated_at BEFORE UPDATE ON chat_bot.feature_flags
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER feature_flags_set_updated_at ON chat_bot.feature_flags IS 'Keeps updated_at current.';

CREATE FUNCTION chat_bot.rollout_bucket(flag_key text, user_key text) RETURNS integer
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN (('x' || left(encode(sha256(convert_to(flag_key || ':' || user_key, 'UTF8')), 'hex'), 8))::bit(32)::bigint % 100)::integer;
COMMENT ON FUNCTION chat_bot.rollout_bucket(text, text) IS 'Stable bucket 0-99 of a user for a flag: the user is in the rollout when bucket < rollout_percentage, so raising the percentage only adds users.';

CREATE TABLE chat_bot.rate_limit_configs (
    name           text        PRIMARY KEY CONSTRAINT rate_limit_configs_name_valid CHECK (name ~ '^[a-z][a-z0-9_.]{1,63}$'),
    activity_type  text        NOT NULL CONSTRAINT rate_limit_configs_activity_valid CHECK (activity_type ~ '^[a-z][a-z0-9_.]{1,63}$'),
    applies_to     text        NOT NULL CONSTRAINT rate_limit_configs_applies_to_valid CHECK (applies_to IN ('everyone', 'premium')),
    max_events     integer     NOT NULL CONSTRAINT rate_limit_configs_max_positive CHECK (max_events > 0),
    window_seconds integer     NOT NULL CONSTRAINT rate_limit_configs_window_positive CHECK (window_seconds > 0 AND window_seconds <= 86400),
    is_active      boolean     NOT NULL DEFAULT true,
    CONSTRAINT rate_limit_configs_one_per_audience UNIQUE (activity_type, applies_to)
);
COMMENT ON TABLE chat_bot.rate_limit_configs IS 'Rate limits per activity type: one for everyone, and optionally another for premium users.';
COMMENT ON COLUMN chat_bot.rate_limit_configs.name IS 'Limit name.';
COMMENT ON COLUMN chat_bot.rate_limit_configs.activity_type IS 'The user_activities type it counts.';
COMMENT ON COLUMN chat_bot.rate_limit_configs.applies_to IS 'everyone, or premium (which wins for premium users).';
COMMENT ON COLUMN chat_bot.rate_limit_configs.max_events IS 'Events allowed in the window.';
COMMENT ON COLUMN chat_bot.rate_limit_configs.window_seconds IS 'Window length in seconds (at most a day).';
COMMENT ON COLUMN chat_bot.rate_limit_configs.is_active IS 'Applied.';
COMMENT ON CONSTRAINT rate_limit_configs_pkey ON chat_bot.rate_limit_configs IS 'One row per limit.';
COMMENT ON CONSTRAINT rate_limit_configs_name_valid ON chat_bot.rate_limit_configs IS 'A name is 2-64 lower-case letters, digits, _ or dots.';
COMMENT ON CONSTRAINT rate_limit_configs_activity_valid ON chat_bot.rate_limit_configs IS 'An activity type as in user_activities.';
COMMENT ON CONSTRAINT rate_limit_configs_applies_to_valid ON chat_bot.rate_limit_configs IS 'everyone or premium.';
COMMENT ON CONSTRAINT rate_limit_configs_max_positive ON chat_bot.rate_limit_configs IS 'A limit is positive.';
COMMENT ON CONSTRAINT rate_limit_configs_window_positive ON chat_bot.rate_limit_configs IS 'A window is 1 second to a day.';
COMMENT ON CONSTRAINT rate_limit_configs_one_per_audience ON chat_bot.rate_limit_configs IS 'At most one limit per activity type and audience.';

-- == audit, security, performance ==============================================================================
CREATE TABLE chat_bot.audit_logs (
    id          bigint      GENERATED ALWAYS AS IDENTITY,
    request_id  uuid        NOT NULL,
    actor       text        NOT NULL CONSTRAINT audit_logs_actor_valid CHECK (btrim(actor) <> '' AND char_length(actor) <= 200),
    action      text        NOT NULL CONSTRAINT audit_logs_action_valid CHECK (action ~ '^[a-z][a-z0-9_.]{1,99}$'),
    entity_type text        NOT NULL CONSTRAINT audit_logs_entity_type_valid CHECK (entity_type ~ '^[a-z][a-z0-9_]{1,63}$'),
    entity_id   text        NOT NULL CONSTRAINT audit_logs_entity_id_valid CHECK (entity_id <> '' AND char_length(entity_id) <= 200),
    before      jsonb,
    after       jsonb,
    occurred_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT audit_logs_pkey PRIMARY KEY (id, occurred_at),
    CONSTRAINT audit_logs_request_unique UNIQUE (request_id, occurred_at)
) PARTITION BY RANGE (occurred_at);
COMMENT ON TABLE chat_bot.audit_logs IS 'Append-only audit trail (a trigger refuses UPDATE and DELETE; only GDPR erasure may redact), partitioned by month; partitions are made ahead and there is no DEFAULT partition.';
COMMENT ON COLUMN chat_bot.audit_logs.id IS 'Surrogate key (with occurred_at: the partition key must be in every unique key).';
COMMENT ON COLUMN chat_bot.audit_logs.request_id IS 'Client-generated id of the entry: appending it again stores it once.';
COMMENT ON COLUMN chat_bot.audit_logs.actor IS 'Who: a user id (user:42), admin:<name> or system.';
COMMENT ON COLUMN chat_bot.audit_logs.action IS 'What, e.g. user.create or config.set.';
COMMENT ON COLUMN chat_bot.audit_logs.entity_type IS 'Kind of thing acted on, e.g. user.';
COMMENT ON COLUMN chat_bot.audit_logs.entity_id IS 'Its id.';
COMMENT ON COLUMN chat_bot.audit_logs.before IS 'The thing before (JSON), when it existed.';
COMMENT ON COLUMN chat_bot.audit_logs.after IS 'The thing after (JSON), when it still exists.';
COMMENT ON COLUMN chat_bot.audit_logs.occurred_at IS 'When; the partition key.';
COMMENT ON CONSTRAINT audit_logs_pkey ON chat_bot.audit_logs IS 'Surrogate key with the partition key.';
COMMENT ON CONSTRAINT audit_logs_request_unique ON chat_bot.audit_logs IS 'An entry is stored once per request id.';
COMMENT ON CONSTRAINT audit_logs_actor_valid ON chat_bot.audit_logs IS 'An actor is 1-200 characters and not only spaces.';
COMMENT ON CONSTRAINT audit_logs_action_valid ON chat_bot.audit_logs IS 'An action is 2-100 lower-case letters, digits, _ or dots.';
COMMENT ON CONSTRAINT audit_logs_entity_type_valid ON chat_bot.audit_logs IS 'An entity type is 2-64 lower-case letters, digits or _.';
COMMENT ON CONSTRAINT audit_logs_entity_id_valid ON chat_bot.audit_logs IS 'An entity id is 1-200 characters.';
CREATE INDEX audit_logs_entity_idx ON chat_bot.audit_logs (entity_type, entity_id, occurred_at DESC);
CREATE INDEX audit_logs_actor_idx ON chat_bot.audit_logs (actor, occurred_at DESC);
CREATE INDEX audit_logs_occurred_idx ON chat_bot.audit_logs (occurred_at);
COMMENT ON INDEX chat_bot.audit_logs_entity_idx IS 'list_audit_by_entity, newest first.';
COMMENT ON INDEX chat_bot.audit_logs_actor_idx IS 'list_audit_by_actor, newest first.';
COMMENT ON INDEX chat_bot.audit_logs_occurred_idx IS 'list_audit_between.';

CREATE FUNCTION chat_bot.audit_logs_append_only() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND current_setting('chat_bot.erasing', true) = 'on' THEN
        RETURN NEW;  -- GDPR erasure redacts personal data; nothing else may change an entry
    END IF;
    RAISE EXCEPTION 'chat_bot.audit_logs is append-only: % refused', TG_OP
        USING ERRCODE = 'insufficient_privilege', HINT = 'append a new entry instead';
END;
$$;
COMMENT ON FUNCTION chat_bot.audit_logs_append_only() IS 'Refuses UPDATE and DELETE on audit_logs, except the redaction of GDPR erasure (chat_bot.erasing = on, set locally by erase_user). Retention drops whole partitions.';
CREATE TRIGGER audit_logs_append_only BEFORE UPDATE OR DELETE ON chat_bot.audit_logs
    FOR EACH ROW EXECUTE FUNCTION chat_bot.audit_logs_append_only();
COMMENT ON TRIGGER audit_logs_append_only ON chat_bot.audit_logs IS 'The audit trail is append-only.';

DO $$
BEGIN
    PERFORM ops.ensure_monthly_partition('chat_bot.audit_logs', (date_trunc('month', now() AT TIME ZONE 'UTC') + make_interval(months => m))::date)
       FROM generate_series(-1, 3) AS m;
END;
$$;

CREATE TABLE chat_bot.security_events (
    id          bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint      CONSTRAINT security_events_user_fk REFERENCES chat_bot.users (id) ON DELETE SET NULL,
    event_type  text        NOT NULL CONSTRAINT security_events_type_valid CHECK (event_type ~ '^[a-z][a-z0-9_.]{1,99}$'),
    severity    text        NOT NULL CONSTRAINT security_events_severity_valid CHECK (severity IN ('low', 'medium', 'high', 'critical')),
    source_ip   inet,
    details     jsonb       NOT NULL DEFAULT '{}' CONSTRAINT security_events_details_is_object CHECK (jsonb_typeof(details) = 'object'),
    occurred_at timestamptz NOT NULL DEFAULT now(),
    resolved_at timestamptz
);
COMMENT ON TABLE chat_bot.security_events IS 'Security incidents (abuse, injection attempts, brute force), open until resolved.';
COMMENT ON COLUMN chat_bot.security_events.id IS 'Surrogate key.';
COMMENT ON COLUMN chat_bot.security_events.user_id IS 'The user involved, if known (NULL once the user is deleted).';
COMMENT ON COLUMN chat_bot.security_events.event_type IS 'Kind of event, e.g. prompt_injection.';
COMMENT ON COLUMN chat_bot.security_events.severity IS 'low, medium, high or critical.';
COMMENT ON COLUMN chat_bot.security_events.source_ip IS 'Where it came from, if known.';
COMMENT ON COLUMN chat_bot.security_events.details IS 'Anything else (JSON object).';
COMMENT ON COLUMN chat_bot.security_events.occurred_at IS 'When it happened.';
COMMENT ON COLUMN chat_bot.security_events.resolved_at IS 'When it was dealt with; NULL = open.';
COMMENT ON CONSTRAINT security_events_pkey ON chat_bot.security_events IS 'Surrogate key.';
COMMENT ON CONSTRAINT security_events_user_fk ON chat_bot.security_events IS 'The user, if still stored.';
COMMENT ON CONSTRAINT security_events_type_valid ON chat_bot.security_events IS 'An event type is 2-100 lower-case letters, digits, _ or dots.';
COMMENT ON CONSTRAINT security_events_severity_valid ON chat_bot.security_events IS 'Severity is low, medium, high or critical.';
COMMENT ON CONSTRAINT security_events_details_is_object ON chat_bot.security_events IS 'details is a JSON object.';
CREATE INDEX security_events_user_idx ON chat_bot.security_events (user_id) WHERE user_id IS NOT NULL;
CREATE INDEX security_events_occurred_idx ON chat_bot.security_events (occurred_at DESC);
CREATE INDEX security_events_open_idx ON chat_bot.security_events (severity, occurred_at DESC) WHERE resolved_at IS NULL;
COMMENT ON INDEX chat_bot.security_events_user_idx IS 'Foreign key to users.';
COMMENT ON INDEX chat_bot.security_events_occurred_idx IS 'list_security_events over a time range.';
COMMENT ON INDEX chat_bot.security_events_open_idx IS 'list_open_security_events: only open events.';

CREATE TABLE chat_bot.performance_metrics (
    id          bigint           GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    metric_name text             NOT NULL CONSTRAINT performance_metrics_name_valid CHECK (metric_name ~ '^[a-z][a-z0-9_.]{1,99}$'),
    value       double precision NOT NULL,
    tags        jsonb            NOT NULL DEFAULT '{}' CONSTRAINT performance_metrics_tags_is_object CHECK (jsonb_typeof(tags) = 'object'),
    recorded_at timestamptz      NOT NULL DEFAULT now()
);
COMMENT ON TABLE chat_bot.performance_metrics IS 'Performance measurements of the bot (latencies, queue sizes), by name and time.';
COMMENT ON COLUMN chat_bot.performance_metrics.id IS 'Surrogate key.';
COMMENT ON COLUMN chat_bot.performance_metrics.metric_name IS 'Metric, e.g. reply.latency_ms.';
COMMENT ON COLUMN chat_bot.performance_metrics.value IS 'Measured value.';
COMMENT ON COLUMN chat_bot.performance_metrics.tags IS 'Dimensions (JSON object).';
COMMENT ON COLUMN chat_bot.performance_metrics.recorded_at IS 'When measured.';
COMMENT ON CONSTRAINT performance_metrics_pkey ON chat_bot.performance_metrics IS 'Surrogate key.';
COMMENT ON CONSTRAINT performance_metrics_name_valid ON chat_bot.performance_metrics IS 'A metric name is 2-100 lower-case letters, digits, _ or dots.';
COMMENT ON CONSTRAINT performance_metrics_tags_is_object ON chat_bot.performance_metrics IS 'tags is a JSON object.';
CREATE INDEX performance_metrics_name_idx ON chat_bot.performance_metrics (metric_name, recorded_at DESC);
COMMENT ON INDEX chat_bot.performance_metrics_name_idx IS 'get_metric_summary: one metric over a time range.';

-- Discord reminder bot: guilds, their members, events (messages whose reactions are watched), reactions,
-- and the log of reminders. A reminder is claimed by one worker with a lease and recorded once per interval.

CREATE SCHEMA discord_bot;
COMMENT ON SCHEMA discord_bot IS 'Discord reminder bot: guilds, members, watched event messages, reactions, reminder log.';

-- == guilds ====================================================================================================
CREATE TABLE discord_bot.guilds (
    guild_id   bigint      PRIMARY KEY CONSTRAINT guilds_id_positive CHECK (guild_id > 0),
    name       text        NOT NULL CONSTRAINT guilds_name_valid CHECK (btrim(name) <> '' AND char_length(name) <= 100),
    settings   jsonb       NOT NULL DEFAULT '{}' CONSTRAINT guilds_settings_is_object CHECK (jsonb_typeof(settings) = 'object'),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE discord_bot.guilds IS 'Discord servers (guilds) the bot is in.';
COMMENT ON COLUMN discord_bot.guilds.guild_id IS 'Discord''s id of the guild (a snowflake).';
COMMENT ON COLUMN discord_bot.guilds.name IS 'Guild name as Discord shows it (1-100 characters).';
COMMENT ON COLUMN discord_bot.guilds.settings IS 'Per-guild bot settings (JSON object), merged key by key by update_guild_settings.';
COMMENT ON COLUMN discord_bot.guilds.created_at IS 'When the bot first stored the guild.';
COMMENT ON COLUMN discord_bot.guilds.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT guilds_id_positive ON discord_bot.guilds IS 'Discord ids are positive.';
COMMENT ON CONSTRAINT guilds_name_valid ON discord_bot.guilds IS 'A guild name is 1-100 characters and not only spaces.';
COMMENT ON CONSTRAINT guilds_settings_is_object ON discord_bot.guilds IS 'settings is a JSON object.';
COMMENT ON CONSTRAINT guilds_pkey ON discord_bot.guilds IS 'One row per Discord guild id.';
CREATE TRIGGER guilds_set_updated_at BEFORE UPDATE ON discord_bot.guilds
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER guilds_set_updated_at ON discord_bot.guilds IS 'Keeps updated_at current.';

-- == members ===================================================================================================
CREATE TABLE discord_bot.members (
    guild_id   bigint      NOT NULL CONSTRAINT members_guild_fk REFERENCES discord_bot.guilds (guild_id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL CONSTRAINT members_user_id_positive CHECK (user_id > 0),
    username   text        NOT NULL CONSTRAINT members_username_valid CHECK (btrim(username) <> '' AND char_length(username) <= 100),
    is_bot     boolean     NOT NULL DEFAULT false,
    last_seen  timestamptz,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT members_pkey PRIMARY KEY (guild_id, user_id)
);
COMMENT ON TABLE discord_bot.members IS 'A Discord user as a member of one guild (the same user in two guilds is two rows).';
COMMENT ON COLUMN discord_bot.members.guild_id IS 'The guild; members go with their guild.';
COMMENT ON COLUMN discord_bot.members.user_id IS 'Discord''s id of the user.';
COMMENT ON COLUMN discord_bot.members.username IS 'Display name in that guild (1-100 characters).';
COMMENT ON COLUMN discord_bot.members.is_bot IS 'A bot account: never reminded.';
COMMENT ON COLUMN discord_bot.members.last_seen IS 'Last activity the bot saw; NULL = never.';
COMMENT ON COLUMN discord_bot.members.created_at IS 'When the bot first stored the member.';
COMMENT ON COLUMN discord_bot.members.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT members_guild_fk ON discord_bot.members IS 'A member belongs to a stored guild; deleted with it.';
COMMENT ON CONSTRAINT members_user_id_positive ON discord_bot.members IS 'Discord ids are positive.';
COMMENT ON CONSTRAINT members_username_valid ON discord_bot.members IS 'A username is 1-100 characters and not only spaces.';
COMMENT ON CONSTRAINT members_pkey ON discord_bot.members IS 'One row per (guild, user); its index leads with the guild foreign key.';
CREATE TRIGGER members_set_updated_at BEFORE UPDATE ON discord_bot.members
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER members_set_updated_at ON discord_bot.members IS 'Keeps updated_at current.';

-- == events ====================================================================================================
-- Is every element of a JSON array a non-empty string? (A CHECK cannot hold a subquery; a function can.)
CREATE FUNCTION discord_bot.is_emoji_list(value jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
RETURN jsonb_typeof(value) = 'array'
   AND jsonb_array_length(value) <= 20
   AND NOT jsonb_path_exists(value, '$[*] ? (@.type() != "string" || @ == "")');
COMMENT ON FUNCTION discord_bot.is_emoji_list(jsonb) IS 'True for a JSON array of at most 20 non-empty strings (required_reactions).';

CREATE TABLE discord_bot.events (
    id                 bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    message_id         bigint      NOT NULL CONSTRAINT events_message_id_positive CHECK (message_id > 0),
    channel_id         bigint      NOT NULL CONSTRAINT events_channel_id_positive CHECK (channel_id > 0),
    guild_id           bigint      NOT NULL CONSTRAINT events_guild_fk REFERENCES discord_bot.guilds (guild_id) ON DELETE CASCADE,
    title              text        NOT NULL CONSTRAINT events_title_not_blank CHECK (btrim(title) <> '' AND char_length(title) <= 256),
    description        text        CONSTRAINT events_description_length CHECK (char_length(description) <= 4096),
    interval_minutes   integer     NOT NULL DEFAULT 1440
                                   CONSTRAINT events_interval_range CHECK (interval_minutes > 0 AND interval_minutes <= 525600),
    is_paused          boolean     NOT NULL DEFAULT false,
    last_reminder      timestamptz NOT NULL DEFAULT now(),
    next_reminder_at   timestamptz NOT NULL,
    required_reactions jsonb       NOT NULL DEFAULT '[]' CONSTRAINT events_required_reactions_emoji_list CHECK (discord_bot.is_emoji_list(required_reactions)),
    claimed_by         text        CONSTRAINT events_claimed_by_valid CHECK (btrim(claimed_by) <> '' AND char_length(claimed_by) <= 200),
    claimed_until      timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT events_message_id_unique UNIQUE (message_id),
    CONSTRAINT events_claim_complete CHECK ((claimed_by IS NULL) = (claimed_until IS NULL))
);
COMMENT ON TABLE discord_bot.events IS 'A message whose reactions the bot watches: members who have not reacted are reminded every interval_minutes.';
COMMENT ON COLUMN discord_bot.events.id IS 'Surrogate key.';
COMMENT ON COLUMN discord_bot.events.message_id IS 'Discord''s id of the watched message.';
COMMENT ON COLUMN discord_bot.events.channel_id IS 'Channel the message is in (reminders go there).';
COMMENT ON COLUMN discord_bot.events.guild_id IS 'Guild of the channel; events go with their guild.';
COMMENT ON COLUMN discord_bot.events.title IS 'Short title shown in reminders (1-256 characters).';
COMMENT ON COLUMN discord_bot.events.description IS 'Optional longer text (up to 4096 characters).';
COMMENT ON COLUMN discord_bot.events.interval_minutes IS 'Minutes between reminders, 1 to 525600 (a year).';
COMMENT ON COLUMN discord_bot.events.is_paused IS 'A paused event is never due.';
COMMENT ON COLUMN discord_bot.events.last_reminder IS 'When the last reminder went out (or was attempted); the creation time before the first.';
COMMENT ON COLUMN discord_bot.events.next_reminder_at IS 'last_reminder + interval_minutes, kept by trigger (timestamptz + interval is not immutable, so it cannot be a generated column); what the due-events index sorts on.';
COMMENT ON COLUMN discord_bot.events.required_reactions IS 'JSON array of emoji a member must all react with to stop being reminded; empty = any reaction counts.';
COMMENT ON COLUMN discord_bot.events.claimed_by IS 'Worker holding the claim on the current reminder (NULL when none).';
COMMENT ON COLUMN discord_bot.events.claimed_until IS 'End of that worker''s lease; after it another worker may claim the reminder.';
COMMENT ON COLUMN discord_bot.events.created_at IS 'When the event was stored.';
COMMENT ON COLUMN discord_bot.events.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT events_message_id_positive ON discord_bot.events IS 'Discord ids are positive.';
COMMENT ON CONSTRAINT events_channel_id_positive ON discord_bot.events IS 'Discord ids are positive.';
COMMENT ON CONSTRAINT events_guild_fk ON discord_bot.events IS 'An event belongs to a stored guild; deleted with it.';
COMMENT ON CONSTRAINT events_title_not_blank ON discord_bot.events IS 'A title is 1-256 characters and not only spaces.';
COMMENT ON CONSTRAINT events_description_length ON discord_bot.events IS 'A description is at most 4096 characters (Discord''s embed limit).';
COMMENT ON CONSTRAINT events_interval_range ON discord_bot.events IS 'The interval is 1 minute to 525600 minutes (a year).';
COMMENT ON CONSTRAINT events_required_reactions_emoji_list ON discord_bot.events IS 'required_reactions is a JSON array of at most 20 non-empty strings.';
COMMENT ON CONSTRAINT events_claimed_by_valid ON discord_bot.events IS 'A worker name is 1-200 characters and not only spaces.';
COMMENT ON CONSTRAINT events_message_id_unique ON discord_bot.events IS 'A message is watched once.';
COMMENT ON CONSTRAINT events_claim_complete ON discord_bot.events IS 'A claim has both a worker and a lease end, or neither.';

COMMENT ON CONSTRAINT events_pkey ON discord_bot.events IS 'Surrogate key.';

CREATE FUNCTION discord_bot.set_next_reminder_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.next_reminder_at := NEW.last_reminder + make_interval(mins => NEW.interval_minutes);
    RETURN NEW;
END;
$$;
COMMENT ON FUNCTION discord_bot.set_next_reminder_at() IS 'BEFORE INSERT OR UPDATE trigger on events: next_reminder_at = last_reminder + interval_minutes.';
CREATE TRIGGER events_set_next_reminder_at BEFORE INSERT OR UPDATE OF last_reminder, interval_minutes ON discord_bot.events
    FOR EACH ROW EXECUTE FUNCTION discord_bot.set_next_reminder_at();
COMMENT ON TRIGGER events_set_next_reminder_at ON discord_bot.events IS 'Keeps next_reminder_at equal to last_reminder + interval_minutes.';
CREATE TRIGGER events_set_updated_at BEFORE UPDATE ON discord_bot.events
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER events_set_updated_at ON discord_bot.events IS 'Keeps updated_at current.';

CREATE INDEX events_due_idx ON discord_bot.events (next_reminder_at) WHERE NOT is_paused;
CREATE INDEX events_guild_id_idx ON discord_bot.events (guild_id);
CREATE INDEX events_claims_idx ON discord_bot.events (claimed_by) WHERE claimed_by IS NOT NULL;
COMMENT ON INDEX discord_bot.events_due_idx IS 'claim_due_events / list_due_events: unpaused events in due order; the scan stops after the first limit due rows.';
COMMENT ON INDEX discord_bot.events_guild_id_idx IS 'Foreign key to guilds; events of a guild.';
COMMENT ON INDEX discord_bot.events_claims_idx IS 'claim_due_events: the reminders a worker already holds (only claimed rows are indexed).';

-- == reactions =================================================================================================
CREATE TABLE discord_bot.reactions (
    event_id   bigint      NOT NULL CONSTRAINT reactions_event_fk REFERENCES discord_bot.events (id) ON DELETE CASCADE,
    user_id    bigint      NOT NULL CONSTRAINT reactions_user_id_positive CHECK (user_id > 0),
    emoji      text        NOT NULL CONSTRAINT reactions_emoji_valid CHECK (emoji <> '' AND char_length(emoji) <= 100),
    reacted_at timestamptz NOT NULL DEFAULT now(),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reactions_pkey PRIMARY KEY (event_id, user_id, emoji)
);
COMMENT ON TABLE discord_bot.reactions IS 'A user''s reaction with one emoji to an event message.';
COMMENT ON COLUMN discord_bot.reactions.event_id IS 'The event; reactions are deleted with it.';
COMMENT ON COLUMN discord_bot.reactions.user_id IS 'Discord''s id of the user who reacted.';
COMMENT ON COLUMN discord_bot.reactions.emoji IS 'The emoji: a Unicode character or a custom emoji as <:name:id>.';
COMMENT ON COLUMN discord_bot.reactions.reacted_at IS 'When the user reacted.';
COMMENT ON COLUMN discord_bot.reactions.created_at IS 'When the bot stored the reaction.';
COMMENT ON COLUMN discord_bot.reactions.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT reactions_event_fk ON discord_bot.reactions IS 'A reaction belongs to a stored event; deleted with it.';
COMMENT ON CONSTRAINT reactions_user_id_positive ON discord_bot.reactions IS 'Discord ids are positive.';
COMMENT ON CONSTRAINT reactions_emoji_valid ON discord_bot.reactions IS 'An emoji is 1-100 characters.';
COMMENT ON CONSTRAINT reactions_pkey ON discord_bot.reactions IS 'One row per (event, user, emoji); its index leads with the event foreign key.';
CREATE TRIGGER reactions_set_updated_at BEFORE UPDATE ON discord_bot.reactions
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER reactions_set_updated_at ON discord_bot.reactions IS 'Keeps updated_at current.';

-- == reminder_logs =============================================================================================
CREATE TABLE discord_bot.reminder_logs (
    id             bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id       bigint      NOT NULL CONSTRAINT reminder_logs_event_fk REFERENCES discord_bot.events (id) ON DELETE CASCADE,
    scheduled_at   timestamptz NOT NULL,
    worker         text        NOT NULL CONSTRAINT reminder_logs_worker_valid CHECK (btrim(worker) <> '' AND char_length(worker) <= 200),
    status         text        NOT NULL DEFAULT 'pending'
                               CONSTRAINT reminder_logs_status_valid CHECK (status IN ('pending', 'sent', 'failed')),
    sent_at        timestamptz,
    users_notified integer     NOT NULL DEFAULT 0 CONSTRAINT reminder_logs_users_notified_not_negative CHECK (users_notified >= 0),
    error_message  text        CONSTRAINT reminder_logs_error_message_length CHECK (char_length(error_message) <= 2000),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT reminder_logs_one_per_interval UNIQUE (event_id, scheduled_at),
    CONSTRAINT reminder_logs_sent_has_sent_at CHECK (status <> 'sent' OR sent_at IS NOT NULL),
    CONSTRAINT reminder_logs_failed_has_error CHECK (status <> 'failed' OR error_message IS NOT NULL)
);
COMMENT ON TABLE discord_bot.reminder_logs IS 'One reminder of one event for one interval: claimed (pending), then sent or failed.';
COMMENT ON COLUMN discord_bot.reminder_logs.id IS 'Surrogate key.';
COMMENT ON COLUMN discord_bot.reminder_logs.event_id IS 'The event reminded; logs go with their event.';
COMMENT ON COLUMN discord_bot.reminder_logs.scheduled_at IS 'When the reminder was due (the event''s next_reminder_at when claimed): identifies the interval.';
COMMENT ON COLUMN discord_bot.reminder_logs.worker IS 'Worker that claimed it last, and so the only one that may record it.';
COMMENT ON COLUMN discord_bot.reminder_logs.status IS 'pending (claimed, not yet recorded), sent, or failed.';
COMMENT ON COLUMN discord_bot.reminder_logs.sent_at IS 'When it was sent (sent) or attempted (failed).';
COMMENT ON COLUMN discord_bot.reminder_logs.users_notified IS 'Members mentioned by the reminder.';
COMMENT ON COLUMN discord_bot.reminder_logs.error_message IS 'Why sending failed (up to 2000 characters).';
COMMENT ON COLUMN discord_bot.reminder_logs.created_at IS 'When it was first claimed.';
COMMENT ON COLUMN discord_bot.reminder_logs.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON CONSTRAINT reminder_logs_event_fk ON discord_bot.reminder_logs IS 'A log belongs to a stored event; deleted with it.';
COMMENT ON CONSTRAINT reminder_logs_worker_valid ON discord_bot.reminder_logs IS 'A worker name is 1-200 characters and not only spaces.';
COMMENT ON CONSTRAINT reminder_logs_status_valid ON discord_bot.reminder_logs IS 'Status is pending, sent or failed.';
COMMENT ON CONSTRAINT reminder_logs_users_notified_not_negative ON discord_bot.reminder_logs IS 'A count of members is not negative.';
COMMENT ON CONSTRAINT reminder_logs_error_message_length ON discord_bot.reminder_logs IS 'An error message is at most 2000 characters.';
COMMENT ON CONSTRAINT reminder_logs_one_per_interval ON discord_bot.reminder_logs IS 'At most one reminder per event and interval: what makes a second send impossible to record.';
COMMENT ON CONSTRAINT reminder_logs_sent_has_sent_at ON discord_bot.reminder_logs IS 'A sent reminder has its sent_at.';
COMMENT ON CONSTRAINT reminder_logs_failed_has_error ON discord_bot.reminder_logs IS 'A failed reminder says why.';
COMMENT ON CONSTRAINT reminder_logs_pkey ON discord_bot.reminder_logs IS 'Surrogate key.';
CREATE TRIGGER reminder_logs_set_updated_at BEFORE UPDATE ON discord_bot.reminder_logs
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER reminder_logs_set_updated_at ON discord_bot.reminder_logs IS 'Keeps updated_at current.';

-- The unique (event_id, scheduled_at) index serves the foreign key and list_reminder_history (read backwards).
CREATE INDEX reminder_logs_sent_at_idx ON discord_bot.reminder_logs (sent_at);
CREATE INDEX reminder_logs_failed_idx ON discord_bot.reminder_logs (sent_at) WHERE status = 'failed';
COMMENT ON INDEX discord_bot.reminder_logs_sent_at_idx IS 'reminder_stats: reminders sent or attempted since a time.';
COMMENT ON INDEX discord_bot.reminder_logs_failed_idx IS 'list_recent_failures: only failed reminders.';

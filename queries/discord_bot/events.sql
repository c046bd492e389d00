-- name: create_event(message_id, channel_id, guild_id, title, description, interval_minutes, required_reactions)^
-- Start watching a message (Conflict when it is already watched); the first reminder is due one interval from now.
INSERT INTO discord_bot.events (message_id, channel_id, guild_id, title, description, interval_minutes, required_reactions)
VALUES (:message_id, :channel_id, :guild_id, :title, :description, :interval_minutes, :required_reactions::jsonb)
RETURNING id, message_id, channel_id, guild_id, title, description, interval_minutes, is_paused, last_reminder,
          next_reminder_at, required_reactions, claimed_by, claimed_until, created_at, updated_at;

-- name: upsert_event(message_id, channel_id, guild_id, title, description, interval_minutes, is_paused, last_reminder, required_reactions, created_at, first_seen)^
-- Store an event with every field given (import, seed): created when new, else set to these values. A NULL
-- created_at or last_reminder means the source does not say: a new event takes created_at = first_seen (or now)
-- and last_reminder = created_at, an existing one keeps its own. last_reminder never moves back (an older snapshot
-- must not make an event due again); says whether it was inserted or changed.
WITH written AS (
    INSERT INTO discord_bot.events AS e (message_id, channel_id, guild_id, title, description, interval_minutes,
                                         is_paused, last_reminder, required_reactions, created_at)
    VALUES (:message_id, :channel_id, :guild_id, :title, :description, :interval_minutes, :is_paused,
            COALESCE(:last_reminder::timestamptz, :created_at::timestamptz, :first_seen::timestamptz, now()),
            :required_reactions::jsonb, COALESCE(:created_at::timestamptz, :first_seen::timestamptz, now()))
        ON CONFLICT ON CONSTRAINT events_message_id_unique DO UPDATE
       SET channel_id = EXCLUDED.channel_id, guild_id = EXCLUDED.guild_id, title = EXCLUDED.title,
           description = EXCLUDED.description, interval_minutes = EXCLUDED.interval_minutes,
           is_paused = EXCLUDED.is_paused,
           last_reminder = GREATEST(e.last_reminder, COALESCE(:last_reminder::timestamptz, :created_at::timestamptz)),
           required_reactions = EXCLUDED.required_reactions,
           created_at = COALESCE(:created_at::timestamptz, e.created_at)
     WHERE (e.channel_id, e.guild_id, e.title, e.description, e.interval_minutes, e.is_paused, e.last_reminder,
            e.required_reactions, e.created_at)
           IS DISTINCT FROM
           (EXCLUDED.channel_id, EXCLUDED.guild_id, EXCLUDED.title, EXCLUDED.description, EXCLUDED.interval_minutes,
            EXCLUDED.is_paused, GREATEST(e.last_reminder, COALESCE(:last_reminder::timestamptz, :created_at::timestamptz)),
            EXCLUDED.required_reactions, COALESCE(:created_at::timestamptz, e.created_at))
    RETURNING e.id, (e.xmax = 0) AS inserted
)
SELECT id, inserted, true AS changed FROM written
 UNION ALL
SELECT id, false, false
  FROM discord_bot.events
 WHERE message_id = :message_id AND NOT EXISTS (SELECT 1 FROM written);

-- name: get_event(id)^
-- One event by its id.
SELECT id, message_id, channel_id, guild_id, title, description, interval_minutes, is_paused, last_reminder,
       next_reminder_at, required_reactions, claimed_by, claimed_until, created_at, updated_at
  FROM discord_bot.events
 WHERE id = :id;

-- name: get_event_by_message_id(message_id)^
-- One event by the Discord id of its message.
SELECT id, message_id, channel_id, guild_id, title, description, interval_minutes, is_paused, last_reminder,
       next_reminder_at, required_reactions, claimed_by, claimed_until, created_at, updated_at
  FROM discord_bot.events
 WHERE message_id = :message_id;

-- name: list_guild_events(guild_id, limit)
-- A guild's events, the next due first.
SELECT id, message_id, channel_id, guild_id, title, description, interval_minutes, is_paused, last_reminder,
       next_reminder_at, required_reactions, claimed_by, claimed_until, created_at, updated_at
  FROM discord_bot.events
 WHERE guild_id = :guild_id
 ORDER BY next_reminder_at, id
 LIMIT :limit;

-- name: set_event_paused(message_id, is_paused)^
-- Pause or resume an event; a resumed event is due again one interval after its last reminder.
UPDATE discord_bot.events
   SET is_paused = :is_paused
 WHERE message_id = :message_id
RETURNING id, message_id, channel_id, guild_id, title, description, interval_minutes, is_paused, last_reminder,
          next_reminder_at, required_reactions, claimed_by, claimed_until, created_at, updated_at;

-- name: set_event_interval(message_id, interval_minutes)^
-- Change how often an event reminds; the next reminder moves to last reminder + the new interval.
UPDATE discord_bot.events
   SET interval_minutes = :interval_minutes
 WHERE message_id = :message_id
RETURNING id, message_id, channel_id, guild_id, title, description, interval_minutes, is_paused, last_reminder,
          next_reminder_at, required_reactions, claimed_by, claimed_until, created_at, updated_at;

-- name: delete_event(message_id)$
-- Stop watching a message: the event goes with its reactions and reminder log; true when it existed.
WITH deleted AS (
    DELETE FROM discord_bot.events WHERE message_id = :message_id RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM deleted);

-- name: list_due_events(now, limit)
-- Unpaused events whose next reminder is due at now, the most overdue first, claimed or not (read only: workers use claim_due_events).
SELECT id, message_id, channel_id, guild_id, title, description, interval_minutes, is_paused, last_reminder,
       next_reminder_at, required_reactions, claimed_by, claimed_until, created_at, updated_at
  FROM discord_bot.events
 WHERE NOT is_paused AND next_reminder_at <= :now
 ORDER BY next_reminder_at, id
 LIMIT :limit;

-- name: count_due_events(now)$
-- How many unpaused events are due at now.
SELECT count(*)::bigint FROM discord_bot.events WHERE NOT is_paused AND next_reminder_at <= :now;

-- name: list_integrity_problems(now)
-- Every kind of orphaned or inconsistent row the constraints should prevent (they can be bypassed: disabled triggers, NOT VALID constraints, restored dumps), with a count and up to five examples each; a healthy database has rows = 0 everywhere.
WITH problems AS (
    SELECT 'members_without_guild' AS problem, m.guild_id::text || '/' || m.user_id AS example
      FROM discord_bot.members AS m
     WHERE NOT EXISTS (SELECT 1 FROM discord_bot.guilds AS g WHERE g.guild_id = m.guild_id)
    UNION ALL
    SELECT 'events_without_guild', e.message_id::text
      FROM discord_bot.events AS e
     WHERE NOT EXISTS (SELECT 1 FROM discord_bot.guilds AS g WHERE g.guild_id = e.guild_id)
    UNION ALL
    SELECT 'reactions_without_event', r.event_id::text || '/' || r.user_id || '/' || r.emoji
      FROM discord_bot.reactions AS r
     WHERE NOT EXISTS (SELECT 1 FROM discord_bot.events AS e WHERE e.id = r.event_id)
    UNION ALL
    SELECT 'reminders_without_event', l.id::text
      FROM discord_bot.reminder_logs AS l
     WHERE NOT EXISTS (SELECT 1 FROM discord_bot.events AS e WHERE e.id = l.event_id)
    UNION ALL
    SELECT 'next_reminder_wrong', e.message_id::text
      FROM discord_bot.events AS e
     WHERE e.next_reminder_at IS DISTINCT FROM e.last_reminder + make_interval(mins => e.interval_minutes)
    UNION ALL
    SELECT 'last_reminder_in_future', e.message_id::text
      FROM discord_bot.events AS e
     WHERE e.last_reminder > :now::timestamptz + interval '5 minutes'
    UNION ALL
    SELECT 'event_behind_its_log', e.message_id::text
      FROM discord_bot.events AS e
     WHERE EXISTS (SELECT 1 FROM discord_bot.reminder_logs AS l
                    WHERE l.event_id = e.id AND l.status IN ('sent', 'failed') AND l.sent_at > e.last_reminder)
    UNION ALL
    SELECT 'claim_incomplete', e.message_id::text
      FROM discord_bot.events AS e
     WHERE (e.claimed_by IS NULL) <> (e.claimed_until IS NULL)
    UNION ALL
    SELECT 'required_reactions_invalid', e.message_id::text
      FROM discord_bot.events AS e
     WHERE NOT coalesce(discord_bot.is_emoji_list(e.required_reactions), false)
    UNION ALL
    SELECT 'sent_without_sent_at', l.id::text
      FROM discord_bot.reminder_logs AS l
     WHERE l.status = 'sent' AND l.sent_at IS NULL
    UNION ALL
    SELECT 'reminder_stuck_pending', l.id::text
      FROM discord_bot.reminder_logs AS l
      JOIN discord_bot.events AS e ON e.id = l.event_id
     WHERE l.status = 'pending' AND l.created_at < :now - interval '1 day'
       AND (e.claimed_until IS NULL OR e.claimed_until < :now) AND e.next_reminder_at <> l.scheduled_at
    UNION ALL
    SELECT 'guild_settings_not_object', g.guild_id::text
      FROM discord_bot.guilds AS g
     WHERE jsonb_typeof(g.settings) IS DISTINCT FROM 'object'
), kinds (problem, description) AS (
    VALUES ('members_without_guild', 'members whose guild is not stored'),
           ('events_without_guild', 'events whose guild is not stored'),
           ('reactions_without_event', 'reactions whose event is not stored'),
           ('reminders_without_event', 'reminder log entries whose event is not stored'),
           ('next_reminder_wrong', 'events whose next_reminder_at is not last_reminder + interval_minutes'),
           ('last_reminder_in_future', 'events reminded more than 5 minutes after now (a clock or import error)'),
           ('event_behind_its_log', 'events whose last_reminder is older than a reminder recorded for them (they would be reminded again)'),
           ('claim_incomplete', 'events with a claim worker but no lease end, or the reverse'),
           ('required_reactions_invalid', 'events whose required_reactions is not an array of emoji strings'),
           ('sent_without_sent_at', 'reminders marked sent without a sent_at'),
           ('reminder_stuck_pending', 'reminders claimed more than a day ago and never recorded, on an event nobody holds'),
           ('guild_settings_not_object', 'guilds whose settings is not a JSON object')
)
SELECT k.problem, k.description,
       count(p.example)::bigint AS rows,
       -- `[1 : 5]` with spaces: aiosql would read `:5` as a parameter.
       coalesce((array_agg(p.example ORDER BY p.example) FILTER (WHERE p.example IS NOT NULL))[1 : 5], '{}') AS examples
  FROM kinds AS k
  LEFT JOIN problems AS p ON p.problem = k.problem
 GROUP BY k.problem, k.description
 ORDER BY k.problem;

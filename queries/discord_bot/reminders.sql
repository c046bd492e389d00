-- name: claim_due_events(now, limit, worker, lease_seconds)
-- Lease up to limit due reminders to a worker and log each as pending, in one statement: first those it already holds, then unpaused events due at now whose lease is free (SKIP LOCKED: two workers never get the same one).
WITH lease AS (
    SELECT :now::timestamptz + make_interval(secs => :lease_seconds::double precision) AS until
), held AS (
    SELECT id
      FROM discord_bot.events
     WHERE claimed_by = :worker AND claimed_until >= :now AND NOT is_paused
     ORDER BY next_reminder_at, id
     LIMIT :limit
       FOR UPDATE SKIP LOCKED
), free AS (
    SELECT id
      FROM discord_bot.events
     WHERE NOT is_paused AND next_reminder_at <= :now AND (claimed_until IS NULL OR claimed_until < :now)
     ORDER BY next_reminder_at, id
     LIMIT greatest(:limit - (SELECT count(*) FROM held), 0)  -- none when the held ones fill the limit
       FOR UPDATE SKIP LOCKED
), chosen AS (
    SELECT id FROM (SELECT id, 0 AS rank FROM held UNION ALL SELECT id, 1 FROM free) AS both_kinds
     ORDER BY rank
     LIMIT :limit
), claimed AS (
    UPDATE discord_bot.events AS e
       SET claimed_by = :worker, claimed_until = lease.until
      FROM chosen, lease
     WHERE e.id = chosen.id
    RETURNING e.id, e.message_id, e.channel_id, e.guild_id, e.title, e.description, e.interval_minutes,
              e.required_reactions, e.next_reminder_at
), logged AS (
    INSERT INTO discord_bot.reminder_logs AS l (event_id, scheduled_at, worker)
    SELECT id, next_reminder_at, :worker FROM claimed
        ON CONFLICT ON CONSTRAINT reminder_logs_one_per_interval DO UPDATE SET worker = EXCLUDED.worker
     WHERE l.status = 'pending'
    RETURNING l.id, l.event_id, l.scheduled_at
)
SELECT logged.id AS reminder_id, c.id AS event_id, c.message_id, c.channel_id, c.guild_id, c.title, c.description,
       c.interval_minutes, c.required_reactions, logged.scheduled_at, lease.until AS claimed_until
  FROM claimed AS c
  JOIN logged ON logged.event_id = c.id
 CROSS JOIN lease
 ORDER BY logged.scheduled_at, c.id;

-- name: record_reminder_sent(reminder_id, worker, users_notified, now)^
-- Record a sent reminder, only for the worker holding an unexpired claim on its pending interval: the log becomes sent, the event's last reminder moves to now and its claim ends; otherwise (and on a repeat) the log as it is.
WITH target AS (
    SELECT l.id, l.event_id
      FROM discord_bot.reminder_logs AS l
      JOIN discord_bot.events AS e ON e.id = l.event_id
     WHERE l.id = :reminder_id AND l.status = 'pending' AND l.worker = :worker
       AND e.claimed_by = :worker AND e.claimed_until >= :now AND e.next_reminder_at = l.scheduled_at
       FOR UPDATE OF l, e
), recorded AS (
    UPDATE discord_bot.reminder_logs AS l
       SET status = 'sent', sent_at = :now, users_notified = :users_notified
      FROM target
     WHERE l.id = target.id
    RETURNING l.id, l.event_id, l.scheduled_at, l.worker, l.status, l.sent_at, l.users_notified, l.error_message,
              l.created_at, l.updated_at
), advanced AS (
    UPDATE discord_bot.events AS e
       SET last_reminder = greatest(e.last_reminder, :now), claimed_by = NULL, claimed_until = NULL
      FROM target
     WHERE e.id = target.event_id
)
SELECT id, event_id, scheduled_at, worker, status, sent_at, users_notified, error_message, created_at, updated_at
  FROM recorded
 UNION ALL
SELECT id, event_id, scheduled_at, worker, status, sent_at, users_notified, error_message, created_at, updated_at
  FROM discord_bot.reminder_logs
 WHERE id = :reminder_id AND NOT EXISTS (SELECT 1 FROM recorded);

-- name: record_reminder_failed(reminder_id, worker, error_message, now)^
-- Record a reminder that could not be sent, only for the worker holding an unexpired claim on its pending interval: the log becomes failed with the error, the event's next reminder is one interval from now and its claim ends; otherwise (and on a repeat) the log as it is.
WITH target AS (
    SELECT l.id, l.event_id
      FROM discord_bot.reminder_logs AS l
      JOIN discord_bot.events AS e ON e.id = l.event_id
     WHERE l.id = :reminder_id AND l.status = 'pending' AND l.worker = :worker
       AND e.claimed_by = :worker AND e.claimed_until >= :now AND e.next_reminder_at = l.scheduled_at
       FOR UPDATE OF l, e
), recorded AS (
    UPDATE discord_bot.reminder_logs AS l
       SET status = 'failed', sent_at = :now, error_message = :error_message
      FROM target
     WHERE l.id = target.id
    RETURNING l.id, l.event_id, l.scheduled_at, l.worker, l.status, l.sent_at, l.users_notified, l.error_message,
              l.created_at, l.updated_at
), advanced AS (
    UPDATE discord_bot.events AS e
       SET last_reminder = greatest(e.last_reminder, :now), claimed_by = NULL, claimed_until = NULL
      FROM target
     WHERE e.id = target.event_id
)
SELECT id, event_id, scheduled_at, worker, status, sent_at, users_notified, error_message, created_at, updated_at
  FROM recorded
 UNION ALL
SELECT id, event_id, scheduled_at, worker, status, sent_at, users_notified, error_message, created_at, updated_at
  FROM discord_bot.reminder_logs
 WHERE id = :reminder_id AND NOT EXISTS (SELECT 1 FROM recorded);

-- name: release_reminder_claims(worker)$
-- A worker that stops gives back the reminders it claimed but did not send: they are due again for any worker at once; returns how many.
WITH released AS (
    UPDATE discord_bot.events
       SET claimed_by = NULL, claimed_until = NULL
     WHERE claimed_by = :worker
    RETURNING 1
)
SELECT count(*)::bigint FROM released;

-- name: get_reminder(id)^
-- One reminder log entry.
SELECT id, event_id, scheduled_at, worker, status, sent_at, users_notified, error_message, created_at, updated_at
  FROM discord_bot.reminder_logs
 WHERE id = :id;

-- name: list_reminder_history(event_id, limit)
-- An event's reminders, newest interval first.
SELECT id, event_id, scheduled_at, worker, status, sent_at, users_notified, error_message, created_at, updated_at
  FROM discord_bot.reminder_logs
 WHERE event_id = :event_id
 ORDER BY scheduled_at DESC
 LIMIT :limit;

-- name: list_recent_failures(limit)
-- The latest reminders that failed, with their event.
SELECT l.id, l.event_id, e.message_id, e.guild_id, e.title, l.sent_at, l.error_message
  FROM discord_bot.reminder_logs AS l
  JOIN discord_bot.events AS e ON e.id = l.event_id
 WHERE l.status = 'failed'
 ORDER BY l.sent_at DESC
 LIMIT :limit;

-- name: reminder_stats(since)
-- Per guild since a time: reminders sent and failed, members notified, failure rate, and the latest error (looked up once per guild through the failed-reminders index rather than carried through an ordered aggregate, which forced a sort of every row).
WITH per_guild AS (
    SELECT e.guild_id,
           count(*) FILTER (WHERE l.status = 'sent')::bigint AS sent,
           count(*) FILTER (WHERE l.status = 'failed')::bigint AS failed,
           coalesce(sum(l.users_notified) FILTER (WHERE l.status = 'sent'), 0)::bigint AS users_notified,
           (count(*) FILTER (WHERE l.status = 'failed'))::double precision / count(*) AS failure_rate,
           max(l.sent_at) FILTER (WHERE l.status = 'failed') AS last_failure_at
      FROM discord_bot.reminder_logs AS l
      JOIN discord_bot.events AS e ON e.id = l.event_id
     WHERE l.sent_at >= :since
     GROUP BY e.guild_id
)
SELECT p.guild_id, p.sent, p.failed, p.users_notified, p.failure_rate, p.last_failure_at,
       (SELECT f.error_message
          FROM discord_bot.reminder_logs AS f
          JOIN discord_bot.events AS fe ON fe.id = f.event_id
         WHERE f.status = 'failed' AND f.sent_at = p.last_failure_at AND fe.guild_id = p.guild_id
         ORDER BY f.id DESC
         LIMIT 1) AS last_error
  FROM per_guild AS p
 ORDER BY p.guild_id;

-- name: record_security_event(user_id, event_type, severity, source_ip, details, occurred_at)^
-- Record a security incident (open until resolved).
INSERT INTO chat_bot.security_events (user_id, event_type, severity, source_ip, details, occurred_at)
VALUES (:user_id, :event_type, :severity, :source_ip, :details::jsonb, :occurred_at)
RETURNING id, user_id, event_type, severity, source_ip, details, occurred_at, resolved_at;

-- name: list_security_events(since, until, limit)
-- Security events in a time range, newest first.
SELECT id, user_id, event_type, severity, source_ip, details, occurred_at, resolved_at FROM chat_bot.security_events
 WHERE occurred_at >= :since AND occurred_at < :until
 ORDER BY occurred_at DESC, id DESC
 LIMIT :limit;

-- name: list_open_security_events(limit)
-- Unresolved security events, the most severe and newest first.
SELECT id, user_id, event_type, severity, source_ip, details, occurred_at, resolved_at FROM chat_bot.security_events
 WHERE resolved_at IS NULL
 ORDER BY array_position(ARRAY['critical', 'high', 'medium', 'low'], severity), occurred_at DESC
 LIMIT :limit;

-- name: resolve_security_event(id, at)^
-- Mark an event dealt with (a repeat keeps the first time).
UPDATE chat_bot.security_events SET resolved_at = coalesce(resolved_at, :at) WHERE id = :id
RETURNING id, user_id, event_type, severity, source_ip, details, occurred_at, resolved_at;

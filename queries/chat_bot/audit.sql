-- name: append_audit(request_id, actor, action, entity_type, entity_id, before, after, occurred_at)^
-- Append an audit entry under its client-generated request_id (a repeat returns the stored entry). The only write of the audit log: a trigger refuses UPDATE and DELETE.
WITH appended AS (
    INSERT INTO chat_bot.audit_logs (request_id, actor, action, entity_type, entity_id, before, after, occurred_at)
    VALUES (:request_id, :actor, :action, :entity_type, :entity_id, :before::jsonb, :after::jsonb, :occurred_at)
        ON CONFLICT ON CONSTRAINT audit_logs_request_unique DO NOTHING
    RETURNING id, request_id, actor, action, entity_type, entity_id, before, after, occurred_at
)
SELECT id, request_id, actor, action, entity_type, entity_id, before, after, occurred_at FROM appended
 UNION ALL
SELECT id, request_id, actor, action, entity_type, entity_id, before, after, occurred_at FROM chat_bot.audit_logs
 WHERE request_id = :request_id AND occurred_at = :occurred_at AND NOT EXISTS (SELECT 1 FROM appended);

-- name: list_audit_by_entity(entity_type, entity_id, limit)
-- The audit trail of one thing, newest first.
SELECT id, request_id, actor, action, entity_type, entity_id, before, after, occurred_at FROM chat_bot.audit_logs
 WHERE entity_type = :entity_type AND entity_id = :entity_id
 ORDER BY occurred_at DESC, id DESC
 LIMIT :limit;

-- name: list_audit_by_actor(actor, limit)
-- What one actor did, newest first.
SELECT id, request_id, actor, action, entity_type, entity_id, before, after, occurred_at FROM chat_bot.audit_logs
 WHERE actor = :actor
 ORDER BY occurred_at DESC, id DESC
 LIMIT :limit;

-- name: list_audit_between(since, until, limit)
-- Audit entries in a time range, oldest first.
SELECT id, request_id, actor, action, entity_type, entity_id, before, after, occurred_at FROM chat_bot.audit_logs
 WHERE occurred_at >= :since AND occurred_at < :until
 ORDER BY occurred_at, id
 LIMIT :limit;

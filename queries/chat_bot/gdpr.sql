-- name: export_user_data(user_id)$
-- Every row about one user as one JSON document (GDPR access request): the user, activities, sessions, conversations with their messages, analytics and risks, personality mappings, risk assessments, security events, and the audit entries about or by the user.
SELECT jsonb_build_object(
    'user', (SELECT to_jsonb(u) - 'search' FROM chat_bot.users AS u WHERE u.id = :user_id),
    'activities', coalesce((SELECT jsonb_agg(to_jsonb(a) ORDER BY a.occurred_at, a.id) FROM chat_bot.user_activities AS a WHERE a.user_id = :user_id), '[]'),
    'sessions', coalesce((SELECT jsonb_agg(to_jsonb(s) ORDER BY s.started_at, s.id) FROM chat_bot.conversation_sessions AS s WHERE s.user_id = :user_id), '[]'),
    'conversations', coalesce((
        SELECT jsonb_agg(to_jsonb(c) || jsonb_build_object(
                   'messages', coalesce((SELECT jsonb_agg(to_jsonb(m) - 'search' ORDER BY m.created_at, m.id)
                                           FROM chat_bot.messages AS m WHERE m.conversation_id = c.id), '[]'),
                   'analytics', (SELECT to_jsonb(an) FROM chat_bot.conversation_analytics AS an WHERE an.conversation_id = c.id),
                   'risk', (SELECT to_jsonb(r) FROM chat_bot.conversation_risks AS r WHERE r.conversation_id = c.id))
                 ORDER BY c.created_at, c.id)
          FROM chat_bot.conversations AS c WHERE c.user_id = :user_id), '[]'),
    'personalities', coalesce((SELECT jsonb_agg(to_jsonb(p)) FROM chat_bot.user_personality_mappings AS p WHERE p.user_id = :user_id), '[]'),
    'risk_assessments', coalesce((SELECT jsonb_agg(to_jsonb(r) ORDER BY r.assessed_at, r.id) FROM chat_bot.risk_assessments AS r WHERE r.user_id = :user_id), '[]'),
    'security_events', coalesce((SELECT jsonb_agg(to_jsonb(e) ORDER BY e.occurred_at, e.id) FROM chat_bot.security_events AS e WHERE e.user_id = :user_id), '[]'),
    'audit', coalesce((SELECT jsonb_agg(to_jsonb(l) ORDER BY l.occurred_at, l.id) FROM chat_bot.audit_logs AS l
                        WHERE (l.entity_type = 'user' AND l.entity_id = :user_id::text) OR l.actor = 'user:' || :user_id), '[]'),
    'exported_at', now()
)
 WHERE EXISTS (SELECT 1 FROM chat_bot.users WHERE id = :user_id);

-- name: erase_user(user_id, at)^
-- GDPR erasure, in one statement: the user's identifying fields and preferences, the text and analysis of the user's messages, conversation titles, activity details, personality adaptations, the address and details of security events, and the audit entries about or by the user are removed; counts, tokens, sentiment and risk scores stay for the aggregates. Call it inside a transaction that set chat_bot.erasing (the audit log refuses updates otherwise).
WITH account AS (
    UPDATE chat_bot.users
       SET telegram_id = NULL, username = NULL, first_name = NULL, last_name = NULL, preferences = '{}',
           language_code = NULL, is_active = false, erased_at = coalesce(erased_at, :at)
     WHERE id = :user_id
    RETURNING id, erased_at
), messages AS (
    UPDATE chat_bot.messages SET content = '[erased]', analysis = '{}', intent = NULL
     WHERE user_id = :user_id AND (content <> '[erased]' OR analysis <> '{}' OR intent IS NOT NULL)
    RETURNING 1
), conversations AS (
    UPDATE chat_bot.conversations SET title = NULL WHERE user_id = :user_id AND title IS NOT NULL RETURNING 1
), activities AS (
    UPDATE chat_bot.user_activities SET details = '{}' WHERE user_id = :user_id AND details <> '{}' RETURNING 1
), personalities AS (
    UPDATE chat_bot.user_personality_mappings SET adaptations = '{}' WHERE user_id = :user_id AND adaptations <> '{}' RETURNING 1
), security AS (
    UPDATE chat_bot.security_events SET source_ip = NULL, details = '{}'
     WHERE user_id = :user_id AND (source_ip IS NOT NULL OR details <> '{}')
    RETURNING 1
), audit AS (
    UPDATE chat_bot.audit_logs
       SET before = CASE WHEN before IS NULL THEN NULL ELSE '{"erased": true}'::jsonb END,
           after = CASE WHEN after IS NULL THEN NULL ELSE '{"erased": true}'::jsonb END
     WHERE ((entity_type = 'user' AND entity_id = :user_id::text) OR actor = 'user:' || :user_id)
       AND (before IS DISTINCT FROM '{"erased": true}'::jsonb AND before IS NOT NULL
            OR after IS DISTINCT FROM '{"erased": true}'::jsonb AND after IS NOT NULL)
    RETURNING 1
)
SELECT a.id AS user_id, a.erased_at,
       (SELECT count(*) FROM messages)::bigint AS messages,
       (SELECT count(*) FROM conversations)::bigint AS conversations,
       (SELECT count(*) FROM activities)::bigint AS activities,
       (SELECT count(*) FROM personalities)::bigint AS personalities,
       (SELECT count(*) FROM security)::bigint AS security_events,
       (SELECT count(*) FROM audit)::bigint AS audit_entries
  FROM account AS a;

-- name: allow_audit_redaction()$
-- For the rest of this transaction, let erase_user redact audit entries (the append-only trigger checks this setting).
SELECT set_config('chat_bot.erasing', 'on', true) = 'on';

-- name: record_risk_assessment(conversation_id, message_id, risk_score, factors, assessed_at)^
-- Record an assessment and, in the same statement, raise the conversation's risk: 1 - (1 - risk)(1 - score), so it rises with each risky message and never falls.
WITH conversation AS (
    SELECT id, user_id FROM chat_bot.conversations WHERE id = :conversation_id
), recorded AS (
    INSERT INTO chat_bot.risk_assessments (conversation_id, message_id, user_id, risk_score, factors, assessed_at)
    SELECT c.id, :message_id, c.user_id, :risk_score, :factors::jsonb, :assessed_at FROM conversation AS c
    RETURNING id, conversation_id, message_id, user_id, risk_score, risk_level, factors, assessed_at
), raised AS (
    INSERT INTO chat_bot.conversation_risks AS cr (conversation_id, risk_score, max_score, assessments, last_assessed_at)
    SELECT conversation_id, risk_score, risk_score, 1, assessed_at FROM recorded
        ON CONFLICT (conversation_id) DO UPDATE
       SET risk_score = 1 - (1 - cr.risk_score) * (1 - EXCLUDED.risk_score),
           max_score = greatest(cr.max_score, EXCLUDED.max_score),
           assessments = cr.assessments + 1,
           last_assessed_at = greatest(cr.last_assessed_at, EXCLUDED.last_assessed_at)
)
SELECT id, conversation_id, message_id, user_id, risk_score, risk_level, factors, assessed_at FROM recorded;

-- name: list_high_risk_assessments(since, min_risk_score, limit)
-- Assessments since a time with at least min_risk_score, newest first (min_risk_score >= 0.5 reads only the risky part of the index).
SELECT id, conversation_id, message_id, user_id, risk_score, risk_level, factors, assessed_at
  FROM chat_bot.risk_assessments
 WHERE assessed_at >= :since AND risk_score >= :min_risk_score AND (:min_risk_score < 0.5 OR risk_score >= 0.5)
 ORDER BY assessed_at DESC, id DESC
 LIMIT :limit;

-- name: get_assessment_statistics(since)^
-- Assessments since a time: how many, mean and highest score, and how many at each level.
SELECT count(*)::bigint AS assessments,
       avg(risk_score)::double precision AS avg_score,
       max(risk_score)::double precision AS max_score,
       count(*) FILTER (WHERE risk_level = 'low')::bigint AS low,
       count(*) FILTER (WHERE risk_level = 'medium')::bigint AS medium,
       count(*) FILTER (WHERE risk_level = 'high')::bigint AS high,
       count(*) FILTER (WHERE risk_level = 'critical')::bigint AS critical,
       count(DISTINCT conversation_id)::bigint AS conversations
  FROM chat_bot.risk_assessments
 WHERE assessed_at >= :since;

-- name: get_conversation_risk(conversation_id)^
-- A conversation's combined risk.
SELECT conversation_id, risk_score, max_score, assessments, last_assessed_at
  FROM chat_bot.conversation_risks
 WHERE conversation_id = :conversation_id;

-- name: upsert_risk_factor(name, category, weight, pattern, is_active)^
-- Define or change a risk factor.
INSERT INTO chat_bot.risk_factors AS f (name, category, weight, pattern, is_active)
VALUES (:name, :category, :weight, :pattern, :is_active)
    ON CONFLICT (name) DO UPDATE
   SET category = EXCLUDED.category, weight = EXCLUDED.weight, pattern = EXCLUDED.pattern, is_active = EXCLUDED.is_active
RETURNING name, category, weight, pattern, is_active;

-- name: list_risk_factors()
-- Active risk factors, heaviest first.
SELECT name, category, weight, pattern, is_active
  FROM chat_bot.risk_factors
 WHERE is_active
 ORDER BY weight DESC, name;

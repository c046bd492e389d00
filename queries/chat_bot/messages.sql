-- name: add_message(request_id, conversation_id, role, content, token_count, sentiment, intent, analysis)^
-- Add a message under its client-generated request_id and, in the same statement, count it in its conversation (messages, tokens, last message) and its user; a repeat returns the stored message and counts nothing. The conversation's row lock orders concurrent adds, so no count is lost.
WITH conversation AS (
    SELECT id, user_id FROM chat_bot.conversations WHERE id = :conversation_id
), added AS (
    INSERT INTO chat_bot.messages (request_id, conversation_id, user_id, role, content, token_count, sentiment, intent, analysis)
    SELECT :request_id, c.id, c.user_id, :role, :content, :token_count, :sentiment, :intent, :analysis::jsonb
      FROM conversation AS c
        ON CONFLICT ON CONSTRAINT messages_request_id_unique DO NOTHING
    RETURNING id, request_id, conversation_id, user_id, role, content, token_count, sentiment, intent, analysis, created_at
), counted AS (
    UPDATE chat_bot.conversations AS c
       SET message_count = c.message_count + 1, total_tokens = c.total_tokens + a.token_count,
           last_message_at = greatest(c.last_message_at, a.created_at)
      FROM added AS a WHERE c.id = a.conversation_id
), user_counted AS (
    UPDATE chat_bot.users AS u
       SET message_count = u.message_count + 1, last_activity_at = greatest(u.last_activity_at, a.created_at)
      FROM added AS a WHERE u.id = a.user_id
)
SELECT id, request_id, conversation_id, user_id, role, content, token_count, sentiment, intent, analysis, created_at FROM added
 UNION ALL
SELECT id, request_id, conversation_id, user_id, role, content, token_count, sentiment, intent, analysis, created_at FROM chat_bot.messages WHERE request_id = :request_id AND NOT EXISTS (SELECT 1 FROM added);

-- name: add_messages(request_ids, conversation_ids, roles, contents, token_counts, sentiments, intents, created_ats)$
-- Add many messages in one statement, counted in their conversations and users as add_message does; messages already stored are skipped; returns how many were new.
WITH incoming AS (
    SELECT i.*, c.user_id
      FROM unnest(:request_ids::uuid[], :conversation_ids::bigint[], :roles::text[], :contents::text[],
                  :token_counts::integer[], :sentiments::double precision[], :intents::text[], :created_ats::timestamptz[])
           AS i(request_id, conversation_id, role, content, token_count, sentiment, intent, created_at)
      JOIN chat_bot.conversations AS c ON c.id = i.conversation_id
), added AS (
    INSERT INTO chat_bot.messages (request_id, conversation_id, user_id, role, content, token_count, sentiment, intent, created_at)
    SELECT request_id, conversation_id, user_id, role, content, token_count, sentiment, intent, created_at FROM incoming
        ON CONFLICT ON CONSTRAINT messages_request_id_unique DO NOTHING
    RETURNING conversation_id, user_id, token_count, created_at
), per_conversation AS (
    UPDATE chat_bot.conversations AS c
       SET message_count = c.message_count + a.n, total_tokens = c.total_tokens + a.tokens,
           last_message_at = greatest(c.last_message_at, a.last_at)
      FROM (SELECT conversation_id, count(*) AS n, sum(token_count) AS tokens, max(created_at) AS last_at
              FROM added GROUP BY conversation_id) AS a
     WHERE c.id = a.conversation_id
), per_user AS (
    UPDATE chat_bot.users AS u
       SET message_count = u.message_count + a.n, last_activity_at = greatest(u.last_activity_at, a.last_at)
      FROM (SELECT user_id, count(*) AS n, max(created_at) AS last_at FROM added GROUP BY user_id) AS a
     WHERE u.id = a.user_id
)
SELECT count(*)::bigint FROM added;

-- name: list_conversation_messages(conversation_id, limit)
-- A conversation's messages in order (the first limit).
SELECT id, request_id, conversation_id, user_id, role, content, token_count, sentiment, intent, analysis, created_at
  FROM chat_bot.messages
 WHERE conversation_id = :conversation_id
 ORDER BY created_at, id
 LIMIT :limit;

-- name: get_message_analytics(conversation_id)^
-- One conversation's messages per role, mean sentiment (of analysed messages), tokens, first and last message.
SELECT :conversation_id::bigint AS conversation_id,
       count(*)::bigint AS messages,
       count(*) FILTER (WHERE role = 'user')::bigint AS user_messages,
       count(*) FILTER (WHERE role = 'assistant')::bigint AS assistant_messages,
       count(*) FILTER (WHERE role = 'system')::bigint AS system_messages,
       avg(sentiment)::double precision AS avg_sentiment,
       coalesce(sum(token_count), 0)::bigint AS total_tokens,
       min(created_at) AS first_message_at,
       max(created_at) AS last_message_at
  FROM chat_bot.messages
 WHERE conversation_id = :conversation_id;

-- name: search_user_messages(user_id, query, limit)
-- Ranked full-text search of one user's messages (web-search syntax) with a highlighted snippet; one GIN lookup on (user, words), and only the user's newest 1000 matches are ranked.
WITH q AS (
    SELECT websearch_to_tsquery('english', :query) AS tsq
), candidates AS (
    SELECT m.id, m.conversation_id, m.role, m.content, m.created_at, m.search
      FROM chat_bot.messages AS m, q
     WHERE m.user_id = :user_id AND m.search @@ q.tsq
     ORDER BY m.id DESC
     LIMIT 1000
), ranked AS (
    SELECT c.*, ts_rank(c.search, q.tsq)::double precision AS rank
      FROM candidates AS c, q
     ORDER BY rank DESC, c.id DESC
     LIMIT :limit
)
SELECT r.id, r.conversation_id, r.role, r.created_at, r.rank,
       ts_headline('english', r.content, q.tsq, 'StartSel=<<, StopSel=>>, MaxWords=25, MinWords=8') AS snippet
  FROM ranked AS r, q
 ORDER BY r.rank DESC, r.id DESC;

-- name: refresh_conversation_analytics(conversation_id)^
-- Recompute a conversation's insights from its messages (idempotent).
INSERT INTO chat_bot.conversation_analytics AS a
       (conversation_id, user_messages, assistant_messages, avg_sentiment, total_tokens, top_intents, refreshed_at)
SELECT c.id,
       count(m.id) FILTER (WHERE m.role = 'user'),
       count(m.id) FILTER (WHERE m.role = 'assistant'),
       avg(m.sentiment),
       coalesce(sum(m.token_count), 0),
       coalesce((SELECT jsonb_agg(jsonb_build_object('intent', t.intent, 'messages', t.n) ORDER BY t.n DESC, t.intent)
                   FROM (SELECT intent, count(*) AS n FROM chat_bot.messages
                          WHERE conversation_id = c.id AND intent IS NOT NULL
                          GROUP BY intent ORDER BY count(*) DESC, intent LIMIT 5) AS t), '[]'::jsonb),
       now()
  FROM chat_bot.conversations AS c
  LEFT JOIN chat_bot.messages AS m ON m.conversation_id = c.id
 WHERE c.id = :conversation_id
 GROUP BY c.id
    ON CONFLICT (conversation_id) DO UPDATE
   SET user_messages = EXCLUDED.user_messages, assistant_messages = EXCLUDED.assistant_messages,
       avg_sentiment = EXCLUDED.avg_sentiment, total_tokens = EXCLUDED.total_tokens,
       top_intents = EXCLUDED.top_intents, refreshed_at = EXCLUDED.refreshed_at
RETURNING conversation_id, user_messages, assistant_messages, avg_sentiment, total_tokens, top_intents, refreshed_at;

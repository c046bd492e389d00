-- name: add_reaction(message_id, user_id, emoji, reacted_at)^
-- Record a reaction to a watched message; watched is false when no event watches it, added false when it was already there.
WITH event AS (
    SELECT id FROM discord_bot.events WHERE message_id = :message_id
), added AS (
    INSERT INTO discord_bot.reactions (event_id, user_id, emoji, reacted_at)
    SELECT id, :user_id, :emoji, :reacted_at FROM event
        ON CONFLICT ON CONSTRAINT reactions_pkey DO NOTHING
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM event) AS watched, EXISTS (SELECT 1 FROM added) AS changed;

-- name: remove_reaction(message_id, user_id, emoji)^
-- Forget a removed reaction; watched is false when no event watches the message, changed false when there was none.
WITH event AS (
    SELECT id FROM discord_bot.events WHERE message_id = :message_id
), removed AS (
    DELETE FROM discord_bot.reactions AS r
     USING event
     WHERE r.event_id = event.id AND r.user_id = :user_id AND r.emoji = :emoji
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM event) AS watched, EXISTS (SELECT 1 FROM removed) AS changed;

-- name: replace_event_reactions(event_id, user_ids, emojis, reacted_at)^
-- Make an event's reactions exactly the given (user, emoji) pairs (import): missing ones added, others removed.
WITH wanted AS (
    SELECT DISTINCT w.user_id, w.emoji
      FROM unnest(:user_ids::bigint[], :emojis::text[]) AS w(user_id, emoji)
), removed AS (
    DELETE FROM discord_bot.reactions AS r
     WHERE r.event_id = :event_id
       AND NOT EXISTS (SELECT 1 FROM wanted WHERE wanted.user_id = r.user_id AND wanted.emoji = r.emoji)
    RETURNING 1
), added AS (
    INSERT INTO discord_bot.reactions (event_id, user_id, emoji, reacted_at)
    SELECT :event_id, user_id, emoji, :reacted_at FROM wanted
        ON CONFLICT ON CONSTRAINT reactions_pkey DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM added)::bigint AS added, (SELECT count(*) FROM removed)::bigint AS removed;

-- name: list_reactions(event_id)
-- An event's reactions, in the order they came.
SELECT event_id, user_id, emoji, reacted_at
  FROM discord_bot.reactions
 WHERE event_id = :event_id
 ORDER BY reacted_at, user_id, emoji;

-- name: list_members_to_remind(event_id)
-- The event guild's members who are not bots and have not reacted with every required emoji (with none required: not at all), with what each still lacks.
SELECT m.user_id, m.username, lacking.missing_reactions
  FROM discord_bot.events AS e
  JOIN discord_bot.members AS m ON m.guild_id = e.guild_id AND NOT m.is_bot
 CROSS JOIN LATERAL (
       SELECT coalesce(jsonb_agg(req.emoji ORDER BY req.position), '[]'::jsonb) AS missing_reactions
         FROM jsonb_array_elements_text(e.required_reactions) WITH ORDINALITY AS req(emoji, position)
        WHERE NOT EXISTS (SELECT 1 FROM discord_bot.reactions AS r
                           WHERE r.event_id = e.id AND r.user_id = m.user_id AND r.emoji = req.emoji)
       ) AS lacking
 WHERE e.id = :event_id
   AND CASE WHEN jsonb_array_length(e.required_reactions) = 0
            THEN NOT EXISTS (SELECT 1 FROM discord_bot.reactions AS r WHERE r.event_id = e.id AND r.user_id = m.user_id)
            ELSE lacking.missing_reactions <> '[]'::jsonb
       END
 ORDER BY m.user_id;

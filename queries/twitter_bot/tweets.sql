-- name: upsert_tweet(id, author_id, author_username, text, created_at, language, metadata)^
-- Store a fetched tweet; fetching it again updates its content but keeps processed_at and fetched_at.
INSERT INTO twitter_bot.tweets AS t (id, author_id, author_username, text, created_at, language, metadata)
VALUES (:id, :author_id, :author_username, :text, :created_at, :language, :metadata)
    ON CONFLICT (id) DO UPDATE
   SET author_id = EXCLUDED.author_id,
       author_username = EXCLUDED.author_username,
       text = EXCLUDED.text,
       created_at = EXCLUDED.created_at,
       language = EXCLUDED.language,
       metadata = EXCLUDED.metadata
RETURNING id, author_id, author_username, text, created_at, character_count, language, processed_at, metadata, fetched_at;

-- name: get_tweet(id)^
-- One tweet by id.
SELECT id, author_id, author_username, text, created_at, character_count, language, processed_at, metadata, fetched_at
  FROM twitter_bot.tweets
 WHERE id = :id;

-- name: list_recent_tweets(limit)
-- The newest tweets first.
SELECT id, author_id, author_username, text, created_at, character_count, language, processed_at, metadata, fetched_at
  FROM twitter_bot.tweets
 ORDER BY created_at DESC, id DESC
 LIMIT :limit;

-- name: list_unprocessed_tweets(limit)
-- Tweets not processed yet, oldest first.
SELECT id, author_id, author_username, text, created_at, character_count, language, processed_at, metadata, fetched_at
  FROM twitter_bot.tweets
 WHERE processed_at IS NULL
 ORDER BY created_at, id
 LIMIT :limit;

-- name: mark_tweet_processed(id)^
-- Mark a tweet processed (the first time only); returns it, or nothing when there is no such tweet.
UPDATE twitter_bot.tweets
   SET processed_at = coalesce(processed_at, now())
 WHERE id = :id
RETURNING id, author_id, author_username, text, created_at, character_count, language, processed_at, metadata, fetched_at;

-- name: search_tweets(query, limit, max_candidates)
-- Full-text search (web-search syntax: words, "phrases", -exclusions, OR), best match first, with a highlighted snippet. Only the newest max_candidates matches are ranked (an older match can then be missed: the price of a bounded cost), read newest first in time windows so a common word stops early.
WITH q AS (
    SELECT websearch_to_tsquery('english', :query) AS query
), top AS (
    SELECT max(created_at) AS top FROM twitter_bot.tweets  -- one probe of tweets_created_at_idx
), candidates AS (
    -- Windows back from the newest tweet, each through the full-text index ANDed with the created_at index, so only
    -- matches inside the window are fetched; UNION ALL runs its branches in order and the LIMIT stops at the first
    -- max_candidates matches, so a common word reads one or two windows and a rare one reads them all through
    -- the full-text index (each window's bitmap holds only its matches). The last branch has no ORDER BY/LIMIT of
    -- its own: with one, a generic plan walked the created_at index over every old tweet for a rare word (1.1 s).
    (SELECT w.* FROM q, top,
            (VALUES (interval '0', interval '1 day'), (interval '1 day', interval '7 days'),
                    (interval '7 days', interval '30 days'), (interval '30 days', interval '120 days')) AS k(near, far),
            LATERAL (SELECT t.id, t.author_username, t.created_at, t.text, t.search
                       FROM twitter_bot.tweets AS t
                      WHERE t.search @@ q.query
                        AND t.created_at <= top.top - k.near AND t.created_at > top.top - k.far
                      ORDER BY t.created_at DESC) AS w)
    UNION ALL
    (SELECT t.id, t.author_username, t.created_at, t.text, t.search
       FROM twitter_bot.tweets AS t, q, top
      WHERE t.search @@ q.query AND t.created_at <= top.top - interval '120 days')
    LIMIT :max_candidates
), ranked AS (
    SELECT c.*, ts_rank_cd(c.search, q.query)::double precision AS rank
      FROM candidates AS c, q
     ORDER BY rank DESC, c.created_at DESC
     LIMIT :limit
)
SELECT r.id, r.author_username, r.created_at, r.rank,
       ts_headline('english', r.text, q.query, 'StartSel=<<, StopSel=>>, MaxFragments=2, MinWords=5, MaxWords=20') AS snippet
  FROM ranked AS r, q
 ORDER BY r.rank DESC, r.created_at DESC;

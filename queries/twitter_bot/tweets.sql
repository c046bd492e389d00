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

-- name: search_tweets(query, limit)
-- Full-text search (web-search syntax: words, "phrases", -exclusions, OR), best match first, with a highlighted snippet.
SELECT t.id,
       t.author_username,
       t.created_at,
       ts_rank_cd(t.search, q.query)::double precision AS rank,
       ts_headline('english', t.text, q.query, 'StartSel=<<, StopSel=>>, MaxFragments=2, MinWords=5, MaxWords=20') AS snippet
  FROM twitter_bot.tweets AS t,
       websearch_to_tsquery('english', :query) AS q(query)
 WHERE t.search @@ q.query
 ORDER BY rank DESC, t.created_at DESC
 LIMIT :limit;

-- name: upsert_post(id, subreddit, title, content, author, score, created_at)^
-- Store a fetched post, or refresh its title, content and score (processed_at kept); a deleted post stays deleted.
INSERT INTO reddit_bot.posts AS p (id, subreddit, title, content, author, score, created_at)
VALUES (:id, :subreddit, :title, :content, :author, :score, :created_at)
    ON CONFLICT (id) DO UPDATE
   SET title = EXCLUDED.title, content = EXCLUDED.content, author = EXCLUDED.author, score = EXCLUDED.score
RETURNING id, subreddit, title, content, author, score, created_at, processed_at, updated_at, deleted_at;

-- name: get_post(id)^
-- One live post.
SELECT id, subreddit, title, content, author, score, created_at, processed_at, updated_at, deleted_at
  FROM reddit_bot.posts
 WHERE id = :id AND deleted_at IS NULL;

-- name: list_recent_posts(subreddit, limit)
-- A subreddit's live posts, newest first.
SELECT id, subreddit, title, content, author, score, created_at, processed_at, updated_at, deleted_at
  FROM reddit_bot.posts
 WHERE subreddit = :subreddit AND deleted_at IS NULL
 ORDER BY created_at DESC
 LIMIT :limit;

-- name: list_unprocessed_posts(limit)
-- Live posts the bot has not finished with, oldest first.
SELECT id, subreddit, title, content, author, score, created_at, processed_at, updated_at, deleted_at
  FROM reddit_bot.posts
 WHERE processed_at IS NULL AND deleted_at IS NULL
 ORDER BY created_at, id
 LIMIT :limit;

-- name: mark_post_processed(id, at)^
-- Record that the bot finished with a live post (the first time only: a repeat keeps the first time).
UPDATE reddit_bot.posts
   SET processed_at = coalesce(processed_at, :at)
 WHERE id = :id AND deleted_at IS NULL
RETURNING id, subreddit, title, content, author, score, created_at, processed_at, updated_at, deleted_at;

-- name: delete_post(id, at)$
-- Soft-delete a live post and its live comments (same deleted_at, so a restore brings exactly those back); true when it was live.
WITH post AS (
    UPDATE reddit_bot.posts SET deleted_at = :at WHERE id = :id AND deleted_at IS NULL RETURNING id
), comments AS (
    UPDATE reddit_bot.comments AS c SET deleted_at = :at
      FROM post WHERE c.post_id = post.id AND c.deleted_at IS NULL
)
SELECT EXISTS (SELECT 1 FROM post);

-- name: restore_post(id)^
-- Undo a soft delete: the post and the comments deleted with it come back.
WITH post AS (
    SELECT id, deleted_at FROM reddit_bot.posts WHERE id = :id AND deleted_at IS NOT NULL FOR UPDATE
), comments AS (
    UPDATE reddit_bot.comments AS c SET deleted_at = NULL
      FROM post WHERE c.post_id = post.id AND c.deleted_at = post.deleted_at
), restored AS (
    UPDATE reddit_bot.posts AS p SET deleted_at = NULL FROM post WHERE p.id = post.id
    RETURNING p.id, p.subreddit, p.title, p.content, p.author, p.score, p.created_at, p.processed_at, p.updated_at, p.deleted_at
)
SELECT id, subreddit, title, content, author, score, created_at, processed_at, updated_at, deleted_at FROM restored;

-- name: purge_deleted_posts(before)$
-- Remove for good the posts soft-deleted before a time (their comments go with them); returns how many.
WITH purged AS (
    DELETE FROM reddit_bot.posts WHERE deleted_at < :before RETURNING 1
)
SELECT count(*)::bigint FROM purged;

-- name: search_posts(query, limit, max_candidates)
-- Full-text search of live posts (web-search syntax) ranked by relevance then score, with a highlighted snippet. Only the newest max_candidates matches are ranked, so a common word never ranks every post.
WITH q AS (
    SELECT websearch_to_tsquery('english', :query) AS tsq
), candidates AS (
    SELECT p.id, p.subreddit, p.title, p.content, p.score, p.created_at, p.search
      FROM reddit_bot.posts AS p, q
     WHERE p.search @@ q.tsq AND p.deleted_at IS NULL
     ORDER BY p.created_at DESC
     LIMIT :max_candidates
), ranked AS (
    SELECT c.*, ts_rank(c.search, q.tsq)::double precision AS rank
      FROM candidates AS c, q
     ORDER BY rank DESC, c.score DESC, c.created_at DESC
     LIMIT :limit
)
SELECT r.id, r.subreddit, r.title, r.score, r.created_at, r.rank,
       ts_headline('english', r.title || ' ' || coalesce(r.content, ''), q.tsq,
                   'StartSel=<<, StopSel=>>, MaxWords=25, MinWords=8') AS snippet
  FROM ranked AS r, q
 ORDER BY r.rank DESC, r.score DESC, r.created_at DESC;

-- name: subreddit_stats()
-- Per subreddit: live posts, posts still to process, comments by status, mean karma of posted comments, live patterns.
WITH p AS (
    SELECT subreddit, count(*)::bigint AS posts, count(*) FILTER (WHERE processed_at IS NULL)::bigint AS unprocessed
      FROM reddit_bot.posts WHERE deleted_at IS NULL GROUP BY subreddit
), c AS (
    SELECT p.subreddit,
           count(*) FILTER (WHERE c.status IN ('pending', 'approved'))::bigint AS queued,
           count(*) FILTER (WHERE c.status = 'posted')::bigint AS posted,
           count(*) FILTER (WHERE c.status = 'failed')::bigint AS failed,
           count(*) FILTER (WHERE c.status IN ('rejected', 'skipped'))::bigint AS not_posted,
           avg(c.karma_score) FILTER (WHERE c.status = 'posted')::double precision AS avg_karma
      FROM reddit_bot.comments AS c JOIN reddit_bot.posts AS p ON p.id = c.post_id
     WHERE c.deleted_at IS NULL AND p.deleted_at IS NULL
     GROUP BY p.subreddit
), s AS (
    SELECT subreddit, count(*)::bigint AS patterns FROM reddit_bot.successful_patterns WHERE deleted_at IS NULL GROUP BY subreddit
)
SELECT n.subreddit,
       coalesce(p.posts, 0) AS posts, coalesce(p.unprocessed, 0) AS unprocessed,
       coalesce(c.queued, 0) AS queued, coalesce(c.posted, 0) AS posted, coalesce(c.failed, 0) AS failed,
       coalesce(c.not_posted, 0) AS not_posted, c.avg_karma, coalesce(s.patterns, 0) AS patterns
  FROM (SELECT subreddit FROM p UNION SELECT subreddit FROM c UNION SELECT subreddit FROM s) AS n
  LEFT JOIN p ON p.subreddit = n.subreddit
  LEFT JOIN c ON c.subreddit = n.subreddit
  LEFT JOIN s ON s.subreddit = n.subreddit
 ORDER BY n.subreddit;

-- Reddit bot: posts it reads, comments it writes (a queue: claimed with a lease, posted once), and the
-- successful comment patterns it learns from. Soft deletes everywhere: normal reads leave deleted rows out,
-- and their indexes only hold live rows.

CREATE SCHEMA reddit_bot;
COMMENT ON SCHEMA reddit_bot IS 'Reddit bot: posts, the comments it writes, and successful comment patterns.';

-- == posts =====================================================================================================
CREATE TABLE reddit_bot.posts (
    id           text        PRIMARY KEY CONSTRAINT posts_id_valid CHECK (id ~ '^t3_[a-z0-9]{1,13}$'),
    subreddit    text        NOT NULL CONSTRAINT posts_subreddit_valid CHECK (subreddit ~ '^[A-Za-z0-9_]{3,21}$'),
    title        text        NOT NULL CONSTRAINT posts_title_valid CHECK (btrim(title) <> '' AND char_length(title) <= 300),
    content      text        CONSTRAINT posts_content_length CHECK (char_length(content) <= 40000),
    author       text        NOT NULL CONSTRAINT posts_author_valid CHECK (author ~ '^[A-Za-z0-9_-]{3,20}$' OR author = '[deleted]'),
    score        integer     NOT NULL DEFAULT 0,
    created_at   timestamptz NOT NULL,
    processed_at timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz,
    search       tsvector    GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || coalesce(content, ''))) STORED
);
COMMENT ON TABLE reddit_bot.posts IS 'Reddit posts the bot has read; soft-deleted by deleted_at.';
COMMENT ON COLUMN reddit_bot.posts.id IS 'Reddit''s fullname of the post (t3_ and its base-36 id).';
COMMENT ON COLUMN reddit_bot.posts.subreddit IS 'Subreddit name without r/ (Reddit''s rules: 3-21 letters, digits or underscores).';
COMMENT ON COLUMN reddit_bot.posts.title IS 'Post title (at most 300 characters, as on Reddit).';
COMMENT ON COLUMN reddit_bot.posts.content IS 'Self-text; NULL for a link post.';
COMMENT ON COLUMN reddit_bot.posts.author IS 'Reddit username of the author, or [deleted].';
COMMENT ON COLUMN reddit_bot.posts.score IS 'Score when last fetched (may be negative).';
COMMENT ON COLUMN reddit_bot.posts.created_at IS 'When the post was made on Reddit.';
COMMENT ON COLUMN reddit_bot.posts.processed_at IS 'When the bot finished with it; NULL = still to do.';
COMMENT ON COLUMN reddit_bot.posts.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON COLUMN reddit_bot.posts.deleted_at IS 'Soft delete: set = deleted (normal reads leave it out); purge removes it for good after a retention.';
COMMENT ON COLUMN reddit_bot.posts.search IS 'English full-text vector of title and content (generated).';
COMMENT ON CONSTRAINT posts_pkey ON reddit_bot.posts IS 'One row per Reddit post.';
COMMENT ON CONSTRAINT posts_id_valid ON reddit_bot.posts IS 'A post id is t3_ followed by 1-13 base-36 characters.';
COMMENT ON CONSTRAINT posts_subreddit_valid ON reddit_bot.posts IS 'Reddit''s subreddit name rules: 3-21 letters, digits or underscores.';
COMMENT ON CONSTRAINT posts_title_valid ON reddit_bot.posts IS 'A title is 1-300 characters and not only spaces.';
COMMENT ON CONSTRAINT posts_content_length ON reddit_bot.posts IS 'Self-text is at most 40000 characters (Reddit''s limit).';
COMMENT ON CONSTRAINT posts_author_valid ON reddit_bot.posts IS 'Reddit''s username rules (3-20 letters, digits, _ or -), or [deleted].';
CREATE TRIGGER posts_set_updated_at BEFORE UPDATE ON reddit_bot.posts
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER posts_set_updated_at ON reddit_bot.posts IS 'Keeps updated_at current.';

CREATE INDEX posts_subreddit_created_idx ON reddit_bot.posts (subreddit, created_at DESC) WHERE deleted_at IS NULL;
CREATE INDEX posts_unprocessed_idx ON reddit_bot.posts (created_at, id) WHERE processed_at IS NULL AND deleted_at IS NULL;
CREATE INDEX posts_deleted_idx ON reddit_bot.posts (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX posts_search_idx ON reddit_bot.posts USING gin (search) WHERE deleted_at IS NULL;
COMMENT ON INDEX reddit_bot.posts_subreddit_created_idx IS 'list_recent_posts and per-subreddit reads: live posts only.';
COMMENT ON INDEX reddit_bot.posts_unprocessed_idx IS 'list_unprocessed_posts: live posts still to do.';
COMMENT ON INDEX reddit_bot.posts_deleted_idx IS 'purge_deleted_posts: only deleted posts.';
COMMENT ON INDEX reddit_bot.posts_search_idx IS 'search_posts over live posts.';

-- == comments ==================================================================================================
CREATE TABLE reddit_bot.comments (
    id            bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id    uuid        NOT NULL,
    reddit_id     text        CONSTRAINT comments_reddit_id_valid CHECK (reddit_id ~ '^t1_[a-z0-9]{1,13}$'),
    post_id       text        NOT NULL CONSTRAINT comments_post_fk REFERENCES reddit_bot.posts (id) ON DELETE CASCADE,
    content       text        NOT NULL CONSTRAINT comments_content_not_empty CHECK (btrim(content) <> '' AND char_length(content) <= 10000),
    karma_score   integer     NOT NULL DEFAULT 0 CONSTRAINT comments_karma_not_negative CHECK (karma_score >= 0),
    status        text        NOT NULL DEFAULT 'pending'
                              CONSTRAINT comments_status_valid CHECK (status IN ('pending', 'approved', 'rejected', 'posted', 'failed', 'skipped')),
    attempts      integer     NOT NULL DEFAULT 0 CONSTRAINT comments_attempts_not_negative CHECK (attempts >= 0),
    last_error    text        CONSTRAINT comments_last_error_length CHECK (char_length(last_error) <= 2000),
    claimed_by    text        CONSTRAINT comments_claimed_by_valid CHECK (btrim(claimed_by) <> '' AND char_length(claimed_by) <= 200),
    claimed_until timestamptz,
    posted_at     timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    deleted_at    timestamptz,
    search        tsvector    GENERATED ALWAYS AS (to_tsvector('english', content)) STORED,
    CONSTRAINT comments_request_id_unique UNIQUE (request_id),
    CONSTRAINT comments_reddit_id_unique UNIQUE (reddit_id),
    CONSTRAINT comments_posted_has_reddit_id CHECK (status <> 'posted' OR (reddit_id IS NOT NULL AND posted_at IS NOT NULL))
);
COMMENT ON TABLE reddit_bot.comments IS 'Comments the bot writes: a queue (pending/approved are claimed by a worker with a lease and posted once), and their karma afterwards; soft-deleted by deleted_at.';
COMMENT ON COLUMN reddit_bot.comments.id IS 'Surrogate key.';
COMMENT ON COLUMN reddit_bot.comments.request_id IS 'Client-generated id of the comment: creating it again returns the stored one.';
COMMENT ON COLUMN reddit_bot.comments.reddit_id IS 'Reddit''s fullname (t1_...) once posted.';
COMMENT ON COLUMN reddit_bot.comments.post_id IS 'The post commented on; comments go with it when it is purged.';
COMMENT ON COLUMN reddit_bot.comments.content IS 'Text of the comment (1-10000 characters, not only spaces).';
COMMENT ON COLUMN reddit_bot.comments.karma_score IS 'Karma on Reddit, never negative (the seed''s rule: negative karma is recorded as 0).';
COMMENT ON COLUMN reddit_bot.comments.status IS 'pending (to post), approved (a moderator cleared it; to post), rejected, posted, failed (gave up), skipped.';
COMMENT ON COLUMN reddit_bot.comments.attempts IS 'Failed posting attempts so far.';
COMMENT ON COLUMN reddit_bot.comments.last_error IS 'Why the last attempt failed, or why it was skipped.';
COMMENT ON COLUMN reddit_bot.comments.claimed_by IS 'Worker that holds (claimed_until in the future) or last held the comment; kept after it finishes, so a repeated finish is recognised.';
COMMENT ON COLUMN reddit_bot.comments.claimed_until IS 'End of the worker''s lease.';
COMMENT ON COLUMN reddit_bot.comments.posted_at IS 'When it was posted on Reddit.';
COMMENT ON COLUMN reddit_bot.comments.created_at IS 'When the bot wrote it.';
COMMENT ON COLUMN reddit_bot.comments.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON COLUMN reddit_bot.comments.deleted_at IS 'Soft delete: set = deleted (normal reads leave it out).';
COMMENT ON COLUMN reddit_bot.comments.search IS 'English full-text vector of content (generated).';
COMMENT ON CONSTRAINT comments_pkey ON reddit_bot.comments IS 'Surrogate key.';
COMMENT ON CONSTRAINT comments_reddit_id_valid ON reddit_bot.comments IS 'A comment id is t1_ followed by 1-13 base-36 characters.';
COMMENT ON CONSTRAINT comments_post_fk ON reddit_bot.comments IS 'A comment belongs to a stored post; purged with it.';
COMMENT ON CONSTRAINT comments_content_not_empty ON reddit_bot.comments IS 'A comment has text: 1-10000 characters, not only spaces.';
COMMENT ON CONSTRAINT comments_karma_not_negative ON reddit_bot.comments IS 'Karma is never negative.';
COMMENT ON CONSTRAINT comments_status_valid ON reddit_bot.comments IS 'Status is pending, approved, rejected, posted, failed or skipped.';
COMMENT ON CONSTRAINT comments_attempts_not_negative ON reddit_bot.comments IS 'A count is not negative.';
COMMENT ON CONSTRAINT comments_last_error_length ON reddit_bot.comments IS 'An error is at most 2000 characters.';
COMMENT ON CONSTRAINT comments_claimed_by_valid ON reddit_bot.comments IS 'A worker name is 1-200 characters and not only spaces.';
COMMENT ON CONSTRAINT comments_request_id_unique ON reddit_bot.comments IS 'A comment is created once per client request id.';
COMMENT ON CONSTRAINT comments_reddit_id_unique ON reddit_bot.comments IS 'A Reddit comment is recorded once: two posts of one row are impossible to record.';
COMMENT ON CONSTRAINT comments_posted_has_reddit_id ON reddit_bot.comments IS 'A posted comment has its Reddit id and posting time.';
CREATE TRIGGER comments_set_updated_at BEFORE UPDATE ON reddit_bot.comments
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER comments_set_updated_at ON reddit_bot.comments IS 'Keeps updated_at current.';

CREATE INDEX comments_post_id_idx ON reddit_bot.comments (post_id, created_at);
CREATE INDEX comments_queue_idx ON reddit_bot.comments (created_at, id) WHERE status IN ('pending', 'approved') AND deleted_at IS NULL;
CREATE INDEX comments_claims_idx ON reddit_bot.comments (claimed_by, created_at) WHERE status IN ('pending', 'approved') AND deleted_at IS NULL;
CREATE INDEX comments_deleted_idx ON reddit_bot.comments (deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX comments_search_idx ON reddit_bot.comments USING gin (search) WHERE deleted_at IS NULL;
COMMENT ON INDEX reddit_bot.comments_post_id_idx IS 'Foreign key to posts; list_post_comments in order.';
COMMENT ON INDEX reddit_bot.comments_queue_idx IS 'claim_pending_comments: only the queue (pending and approved, live).';
COMMENT ON INDEX reddit_bot.comments_claims_idx IS 'claim_pending_comments: the queued comments a worker already holds.';
COMMENT ON INDEX reddit_bot.comments_deleted_idx IS 'purge_deleted_comments: only deleted comments.';
COMMENT ON INDEX reddit_bot.comments_search_idx IS 'search_comments over live comments.';

-- == successful_patterns =======================================================================================
CREATE TABLE reddit_bot.successful_patterns (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subreddit    text        NOT NULL CONSTRAINT successful_patterns_subreddit_valid CHECK (subreddit ~ '^[A-Za-z0-9_]{3,21}$'),
    pattern_text text        NOT NULL CONSTRAINT successful_patterns_text_length CHECK (char_length(pattern_text) BETWEEN 10 AND 10000),
    pattern_hash text        NOT NULL GENERATED ALWAYS AS (ops.sha256_hex(pattern_text)) STORED,
    score        integer     NOT NULL DEFAULT 0 CONSTRAINT successful_patterns_score_not_negative CHECK (score >= 0),
    extracted_at timestamptz NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    deleted_at   timestamptz,
    CONSTRAINT successful_patterns_one_per_subreddit UNIQUE (subreddit, pattern_hash)
);
COMMENT ON TABLE reddit_bot.successful_patterns IS 'Comment patterns that did well in a subreddit, learned from top comments; soft-deleted by deleted_at.';
COMMENT ON COLUMN reddit_bot.successful_patterns.id IS 'Surrogate key.';
COMMENT ON COLUMN reddit_bot.successful_patterns.subreddit IS 'Subreddit the pattern did well in.';
COMMENT ON COLUMN reddit_bot.successful_patterns.pattern_text IS 'The pattern (10-10000 characters).';
COMMENT ON COLUMN reddit_bot.successful_patterns.pattern_hash IS 'SHA-256 of pattern_text (generated): the unique key, since a B-tree cannot hold long texts.';
COMMENT ON COLUMN reddit_bot.successful_patterns.score IS 'How well it did (the score of its comment), never negative.';
COMMENT ON COLUMN reddit_bot.successful_patterns.extracted_at IS 'When it was learned.';
COMMENT ON COLUMN reddit_bot.successful_patterns.created_at IS 'When it was first stored.';
COMMENT ON COLUMN reddit_bot.successful_patterns.updated_at IS 'Last change (maintained by trigger).';
COMMENT ON COLUMN reddit_bot.successful_patterns.deleted_at IS 'Soft delete: set = deleted (normal reads leave it out; saving it again does not bring it back).';
COMMENT ON CONSTRAINT successful_patterns_pkey ON reddit_bot.successful_patterns IS 'Surrogate key.';
COMMENT ON CONSTRAINT successful_patterns_subreddit_valid ON reddit_bot.successful_patterns IS 'Reddit''s subreddit name rules: 3-21 letters, digits or underscores.';
COMMENT ON CONSTRAINT successful_patterns_text_length ON reddit_bot.successful_patterns IS 'A pattern is 10-10000 characters.';
COMMENT ON CONSTRAINT successful_patterns_score_not_negative ON reddit_bot.successful_patterns IS 'A score is never negative.';
COMMENT ON CONSTRAINT successful_patterns_one_per_subreddit ON reddit_bot.successful_patterns IS 'No duplicate pattern per subreddit: saving one again updates it.';
CREATE TRIGGER successful_patterns_set_updated_at BEFORE UPDATE ON reddit_bot.successful_patterns
    FOR EACH ROW EXECUTE FUNCTION ops.set_updated_at();
COMMENT ON TRIGGER successful_patterns_set_updated_at ON reddit_bot.successful_patterns IS 'Keeps updated_at current.';

CREATE INDEX successful_patterns_top_idx ON reddit_bot.successful_patterns (subreddit, score DESC, id) WHERE deleted_at IS NULL;
CREATE INDEX successful_patterns_deleted_idx ON reddit_bot.successful_patterns (deleted_at) WHERE deleted_at IS NOT NULL;
COMMENT ON INDEX reddit_bot.successful_patterns_top_idx IS 'list_top_patterns: a subreddit''s live patterns, best first.';
COMMENT ON INDEX reddit_bot.successful_patterns_deleted_idx IS 'purge_deleted_patterns: only deleted patterns.';

"""Aggregate `posts` (queries/reddit_bot/posts.sql): Reddit posts the bot reads, soft-deleted.

Every read leaves deleted posts (and their comments) out; `delete` soft-deletes a post with its live comments,
`restore` brings back exactly those, `purge_deleted` removes for good what was deleted before a retention."""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import Field

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment, shown

SUBREDDIT = Field(pattern=r"^[A-Za-z0-9_]{3,21}$")
MAX_CANDIDATES = 1000


def _now() -> datetime:
    return datetime.now(UTC)


class Post(Row):
    id: str
    subreddit: str
    title: str
    content: str | None
    author: str
    score: int
    created_at: datetime
    processed_at: datetime | None
    updated_at: datetime
    deleted_at: datetime | None


class UpsertPostParams(Params):
    id: str = Field(pattern=r"^t3_[a-z0-9]{1,13}$")
    subreddit: str = SUBREDDIT
    title: str = Field(min_length=1, max_length=300, pattern=r"\S")
    content: str | None = Field(default=None, max_length=40_000)
    author: str = Field(pattern=r"^([A-Za-z0-9_-]{3,20}|\[deleted\])$")
    score: int = Field(default=0, ge=-(2**31), lt=2**31)
    created_at: Moment


class ListRecentPostsParams(Params):
    subreddit: str = SUBREDDIT
    limit: int = Field(ge=1, le=10_000)


class PostAtParams(Params):
    id: str
    at: Moment


class SearchParams(Params):
    query: str = Field(min_length=1, max_length=500)
    limit: int = Field(ge=1, le=1000)
    max_candidates: int = Field(ge=1, le=100_000)


class SearchPostsRow(Row):
    id: str
    subreddit: str
    title: str
    score: int
    created_at: datetime
    rank: float
    snippet: str


class SubredditStatsRow(Row):
    subreddit: str
    posts: int
    unprocessed: int
    queued: int
    posted: int
    failed: int
    not_posted: int
    avg_karma: float | None
    patterns: int


_UPSERT = q.one("reddit_bot.upsert_post", Post, UpsertPostParams, retry=True)
_GET = q.one("reddit_bot.get_post", Post, (str,))
_RECENT = q.many("reddit_bot.list_recent_posts", Post, ListRecentPostsParams)
_UNPROCESSED = q.many("reddit_bot.list_unprocessed_posts", Post, (int,))
_PROCESSED = q.one("reddit_bot.mark_post_processed", Post, PostAtParams, retry=True)
_DELETE = q.value("reddit_bot.delete_post", bool, PostAtParams, retry=True)
_RESTORE = q.one("reddit_bot.restore_post", Post, (str,), retry=True)
_PURGE = q.value("reddit_bot.purge_deleted_posts", int, (datetime,), retry=True)
# Planned for each query's words: a generic plan cannot tell a rare word from a common one (0.5 s vs 13 ms).
_SEARCH = q.many("reddit_bot.search_posts", SearchPostsRow, SearchParams, replica=True, custom_plan=True)
_STATS = q.many("reddit_bot.subreddit_stats", SubredditStatsRow, replica=True)


class PostRepository(Repository):
    async def upsert(self, p: UpsertPostParams) -> Post:
        """Store a fetched post, or refresh its title, content and score (processed_at and a soft delete
        are kept). Retry-safe."""
        row = await self._x.one(_UPSERT, p)
        assert row is not None  # INSERT … ON CONFLICT DO UPDATE … RETURNING: always a row
        return row

    async def get(self, post_id: str) -> Post | None:
        """A live post (None when deleted)."""
        return await self._x.one(_GET, post_id)

    async def list_recent(self, subreddit: str, limit: int = 25) -> list[Post]:
        return await self._x.many(_RECENT, params(ListRecentPostsParams, subreddit=subreddit, limit=limit))

    async def list_unprocessed(self, limit: int = 100) -> list[Post]:
        return await self._x.many(_UNPROCESSED, limit)

    async def mark_processed(self, post_id: str, at: datetime | None = None) -> Post:
        """Record that the bot finished with a live post; a repeat keeps the first time. Retry-safe."""
        row = await self._x.one(_PROCESSED, params(PostAtParams, id=post_id, at=at or _now()))
        return found(row, f"no live post {shown(post_id)}")

    async def delete(self, post_id: str, at: datetime | None = None) -> bool:
        """Soft-delete a live post with its live comments; False when it was not live. Retry-safe."""
        return await self._x.value(_DELETE, params(PostAtParams, id=post_id, at=at or _now()))

    async def restore(self, post_id: str) -> Post:
        """Bring back a soft-deleted post and the comments deleted with it. Retry-safe (a repeat finds it live
        and returns it)."""
        row = await self._x.one(_RESTORE, post_id)
        if row is None:
            row = await self._x.one(_GET, post_id)
        return found(row, f"no post {shown(post_id)}")

    async def purge_deleted(self, older_than: datetime) -> int:
        """Remove for good the posts deleted before `older_than`, with their comments. Retry-safe."""
        return await self._x.value(_PURGE, older_than)

    async def search(
        self, query: str, limit: int = 10, *, max_candidates: int = MAX_CANDIDATES
    ) -> list[SearchPostsRow]:
        """Live posts matching `query` (web-search syntax), ranked by relevance then score, with a snippet.
        Only the newest `max_candidates` matches are ranked: a common word costs at most that many rows,
        at the price of not ranking older matches."""
        p = params(SearchParams, query=query, limit=limit, max_candidates=max_candidates)
        return await self._x.many(_SEARCH, p)

    async def stats(self) -> list[SubredditStatsRow]:
        """Per subreddit: live posts, unprocessed, comments queued / posted / failed / not posted, mean karma,
        patterns."""
        return await self._x.many(_STATS)

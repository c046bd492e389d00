"""Aggregate `tweets` (queries/twitter_bot/tweets.sql): the watched account's tweets and their search."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, JsonValue

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, found, params

LANGUAGE = r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$"
USERNAME = r"^[A-Za-z0-9_]{1,50}$"


class Tweet(Row):
    id: int
    author_id: int
    author_username: str
    text: str
    created_at: datetime
    character_count: int
    language: str | None
    processed_at: datetime | None
    metadata: dict[str, JsonValue]
    fetched_at: datetime


class UpsertTweetParams(Params):
    id: int = Field(gt=0)
    author_id: int = Field(ge=0)
    author_username: str = Field(pattern=USERNAME)
    text: str = Field(min_length=1)
    created_at: datetime
    language: str | None = Field(default=None, pattern=LANGUAGE, max_length=35)
    metadata: dict[str, JsonValue] = Field(default_factory=dict)


class SearchTweetsParams(Params):
    query: str
    limit: int = Field(ge=1, le=1000)
    max_candidates: int = Field(ge=1, le=100_000)


class SearchTweetsRow(Row):
    id: int
    author_username: str
    created_at: datetime
    rank: float
    snippet: str


_UPSERT_TWEET = q.one("twitter_bot.upsert_tweet", Tweet, UpsertTweetParams, retry=True)
_GET_TWEET = q.one("twitter_bot.get_tweet", Tweet, (int,))
_LIST_RECENT_TWEETS = q.many("twitter_bot.list_recent_tweets", Tweet, (int,))
_LIST_UNPROCESSED_TWEETS = q.many("twitter_bot.list_unprocessed_tweets", Tweet, (int,))
_MARK_TWEET_PROCESSED = q.one("twitter_bot.mark_tweet_processed", Tweet, (int,), retry=True)
# Planned for each query's words: a generic plan cannot tell a rare word from a common one (0.5 s vs 13 ms).
_SEARCH_TWEETS = q.many(
    "twitter_bot.search_tweets", SearchTweetsRow, SearchTweetsParams, replica=True, custom_plan=True
)
MAX_CANDIDATES = 1000  # matches ranked at most: a common word costs about this many rows, not all of its matches


class TweetRepository(Repository):
    async def upsert(self, p: UpsertTweetParams) -> Tweet:
        """Store a fetched tweet (re-fetching updates its content, keeps processed_at). Retry-safe."""
        row = await self._x.one(_UPSERT_TWEET, p)
        assert row is not None
        return row

    async def get(self, tweet_id: int) -> Tweet | None:
        return await self._x.one(_GET_TWEET, tweet_id)

    async def list_recent(self, limit: int = 20) -> list[Tweet]:
        return await self._x.many(_LIST_RECENT_TWEETS, limit)

    async def list_unprocessed(self, limit: int = 100) -> list[Tweet]:
        return await self._x.many(_LIST_UNPROCESSED_TWEETS, limit)

    async def mark_processed(self, tweet_id: int) -> Tweet:
        """Mark a tweet processed (the first time only). Retry-safe: a repeat keeps the first time."""
        return found(await self._x.one(_MARK_TWEET_PROCESSED, tweet_id), f"no tweet with id {tweet_id}")

    async def search(
        self, query: str, limit: int = 20, *, max_candidates: int = MAX_CANDIDATES
    ) -> list[SearchTweetsRow]:
        """Web-search syntax (`word "a phrase" -not or`); snippets mark matches with << >>. Only the newest
        `max_candidates` matches are ranked: a common word costs at most about that many rows, at the price of
        not ranking older matches (a better-ranked old tweet is left out when newer matches fill the cap)."""
        p = params(SearchTweetsParams, query=query, limit=limit, max_candidates=max_candidates)
        return await self._x.many(_SEARCH_TWEETS, p)

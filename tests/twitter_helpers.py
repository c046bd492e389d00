from __future__ import annotations

from datetime import UTC, datetime

from datalayer import Database
from datalayer.twitter_bot import Tweet, TweetRepository, UpsertTweetParams


async def make_tweet(
    db: Database, tweet_id: int = 1, text: str = "Hello translators of the world", **extra: object
) -> Tweet:
    params = UpsertTweetParams.model_validate(
        {
            "id": tweet_id,
            "author_id": 99,
            "author_username": "watched",
            "text": text,
            "created_at": datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
            "language": "en",
            **extra,
        }
    )
    return await TweetRepository(db).upsert(params)

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from datalayer import Database, InvalidData, NotFound
from datalayer.twitter_bot import SystemStateRepository, TweetRepository, UpsertTweetParams
from tests.twitter_helpers import make_tweet


async def test_upsert_is_idempotent_and_keeps_processed_at(db: Database) -> None:
    tweets = TweetRepository(db)
    first = await make_tweet(db, 10, "first text", metadata={"likes": 1})
    assert first.character_count == len("first text")
    processed = await tweets.mark_processed(10)
    assert processed.processed_at is not None
    again = await make_tweet(db, 10, "edited text, longer", metadata={"likes": 5})
    assert again.text == "edited text, longer" and again.character_count == len("edited text, longer")
    assert again.metadata == {"likes": 5}
    assert again.processed_at == processed.processed_at
    assert again.fetched_at == first.fetched_at
    assert await tweets.get(10) == again
    assert await tweets.get(11) is None


async def test_character_count_is_kept_by_the_database(db: Database) -> None:
    await make_tweet(db, 12, "🙂 emoji counts once")
    assert (await TweetRepository(db).get(12)).character_count == len("🙂 emoji counts once")  # type: ignore[union-attr]


async def test_recent_and_unprocessed(db: Database) -> None:
    tweets = TweetRepository(db)
    for i in range(1, 5):
        await make_tweet(db, i, f"tweet {i}", created_at=datetime(2026, 11, i, tzinfo=UTC))
    assert [t.id for t in await tweets.list_recent(3)] == [4, 3, 2]
    await tweets.mark_processed(1)
    assert [t.id for t in await tweets.list_unprocessed(10)] == [2, 3, 4]
    with pytest.raises(NotFound, match="no tweet with id 404"):
        await tweets.mark_processed(404)


async def test_full_text_search_ranks_and_highlights(db: Database) -> None:
    await make_tweet(db, 1, "Translation bots translate tweets into Spanish every morning")
    await make_tweet(db, 2, "Nothing to see here, only cats")
    await make_tweet(db, 3, "A translated tweet about translation and more translation")
    hits = await TweetRepository(db).search("translation", 10)
    assert [h.id for h in hits] == [3, 1]
    assert hits[0].rank >= hits[1].rank
    assert "<<translation>>" in hits[0].snippet.lower()
    assert await TweetRepository(db).search('"only cats" -dogs', 10) != []
    assert await TweetRepository(db).search("zebra", 10) == []


async def test_invalid_tweet_is_rejected_by_params_and_by_database(db: Database) -> None:
    with pytest.raises(InvalidData, match="invalid input for UpsertTweetParams: author_username"):
        UpsertTweetParams(id=1, author_id=1, author_username="has space", text="x", created_at="2026-01-01T00:00:00Z")  # type: ignore[arg-type]
    # Bypass the model's own validation to prove the database enforces the rule as well.
    bad = UpsertTweetParams.model_construct(
        id=5, author_id=1, author_username="ok", text="x", created_at=datetime(2026, 1, 1, tzinfo=UTC),
        language="English", metadata={},
    )  # fmt: skip
    with pytest.raises(InvalidData, match="tweets_language_code"):
        await TweetRepository(db).upsert(bad)


async def test_last_tweet_id_never_moves_backwards(db: Database) -> None:
    state = SystemStateRepository(db)
    assert await state.last_tweet_id() is None
    assert await state.advance_last_tweet_id(100) == 100
    assert await state.advance_last_tweet_id(50) == 100
    assert await state.advance_last_tweet_id(1_900_000_000_000_000_001) == 1_900_000_000_000_000_001
    assert await state.last_tweet_id() == 1_900_000_000_000_000_001


async def test_counters(db: Database) -> None:
    state = SystemStateRepository(db)
    assert await state.increment("api_calls") == 1
    assert await state.increment("api_calls", 5) == 6

"""`datalayer seed twitter-bot`: realistic sample data through the repositories. Ids are derived from `--seed`,
so running it again adds no rows (API calls are dated from today's midnight: the same day, a re-run writes
nothing; another day adds that day's sample)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from datalayer.db import Database
from datalayer.twitter_bot.api_usage import ApiUsageRepository, LogApiCallParams
from datalayer.twitter_bot.cache import PutCachedTranslationParams, TranslationCacheRepository
from datalayer.twitter_bot.translations import TranslationRepository
from datalayer.twitter_bot.tweets import TweetRepository, UpsertTweetParams
from datalayer.twitter_bot.users import UserRepository

BASE_ID = 1_860_000_000_000_000_000  # tweet snowflakes of late 2024
AUTHORS = ["nasa", "bbcworld", "elonmusk", "who", "unesco", "natgeo", "github", "python_tip"]
PHRASES = ["Good morning, everyone", "Launch window opens tomorrow", "New research on ocean currents",
           "Our API is back to normal", "Five tips for cleaner code", "Heatwave warning for the weekend",
           "The exhibition opens on Friday", "Thanks for a great conference"]  # fmt: skip
LANGUAGES = ["es", "fr", "de", "ja"]
ENDPOINTS = ["/2/tweets", "/2/users/by", "/2/tweets/search/recent"]


@dataclass
class SeedReport:
    tweets: int
    translations: int
    api_calls: int
    cache_entries: int
    operators: int


async def seed(db: Database, *, tweets: int = 200, seed: int = 1) -> SeedReport:
    """Tweets, a translation of most of them (posted, failed, pending), 30 days of API calls, cache entries
    and two operators."""
    rng = random.Random(seed)
    base = BASE_ID + seed * 10_000_000
    today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    repo, translations = TweetRepository(db), TranslationRepository(db)
    made = 0
    for i in range(tweets):
        author = rng.randrange(len(AUTHORS))
        text = f"{rng.choice(PHRASES)} #{i}"
        await repo.upsert(UpsertTweetParams(id=base + i, author_id=10_000 + author, author_username=AUTHORS[author],
                                            text=text, created_at=today - timedelta(minutes=7 * i), language="en"))  # fmt: skip
        if i % 10 != 9:  # most tweets get one translation
            await translations.ensure(base + i, LANGUAGES[i % len(LANGUAGES)])
            made += 1
    counts = await translations.count_by_status()
    if not counts.get("posted") and not counts.get("failed"):  # first run: work some of the queue off
        claimed = await translations.claim_pending(f"seed-{seed}", limit=made * 2 // 3)
        for n, t in enumerate(claimed):
            if n % 6 == 5:
                await translations.mark_failed(t.id, f"seed-{seed}", "rate limited by the translation API",
                                               claim_id=t.claim_id)  # fmt: skip
            else:
                await translations.mark_posted(t.id, f"seed-{seed}", f"[{t.target_language}] tweet {t.tweet_id}",
                                               base + 5_000_000 + n, confidence=0.9, claim_id=t.claim_id)  # fmt: skip
    calls = []
    for day in range(30):
        for k in range(10):
            ok = rng.random() > 0.05
            at = today - timedelta(days=day) + timedelta(minutes=137 * k)
            calls.append(LogApiCallParams(
                call_id=uuid.uuid5(uuid.NAMESPACE_URL, f"datalayer-seed/{seed}/{at.isoformat()}/{k}"),
                service="twitter", endpoint=ENDPOINTS[k % len(ENDPOINTS)], called_at=at, success=ok,
                status_code=200 if ok else 429, response_time_ms=round(rng.uniform(40, 900), 1),
                error_type=None if ok else "RateLimited", error_message=None if ok else "Too Many Requests",
            ))  # fmt: skip
    usage = ApiUsageRepository(db)
    await usage.ensure_partitions_ahead(2, today.date())  # import_calls makes the past months it needs
    logged = await usage.log_many(calls)  # a call_id logged before is skipped
    cache = TranslationCacheRepository(db)
    for i in range(20):
        await cache.put(PutCachedTranslationParams(source_language="en", target_language=LANGUAGES[i % 4],
                                                   original_text=PHRASES[i % len(PHRASES)] + f" ({i})",
                                                   translated_text=f"[{LANGUAGES[i % 4]}] {i}", confidence=0.8))  # fmt: skip
    users, operators = UserRepository(db), 0
    for name in ("alice_ops", "bob_ops"):
        if await users.get_by_username(name) is None:
            await users.create(name, name.split("_")[0].title())
            operators += 1
    return SeedReport(tweets=tweets, translations=made, api_calls=logged, cache_entries=20, operators=operators)

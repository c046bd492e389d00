"""`datalayer seed reddit-bot`: sample posts, queued and posted comments, and successful patterns, through the
repositories. Ids come from `--seed` and times from the start of the UTC day, so running it again adds no rows and,
the same day, writes none: a post that exists is left as it is (with its comments)."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from datalayer.db import Database
from datalayer.reddit_bot.comments import CommentRepository, CreateCommentParams
from datalayer.reddit_bot.patterns import NewPattern, PatternRepository
from datalayer.reddit_bot.posts import PostRepository, UpsertPostParams

SUBREDDITS = ["learnpython", "Python", "programming", "datascience", "rust"]
TOPICS = ["async generators", "type hints", "virtual environments", "list comprehensions", "decorators",
          "dataclasses", "pattern matching", "context managers", "unit testing", "packaging"]  # fmt: skip
OPENERS = ["Great question!", "I had the same problem last week.", "Short answer: yes.", "It depends on",
           "The docs explain this well:", "A trick that helped me:"]  # fmt: skip


@dataclass
class SeedReport:
    posts: int
    posts_created: int
    comments_created: int
    patterns_written: int


def _base36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


async def seed(db: Database, *, posts: int = 50, seed: int = 1) -> SeedReport:
    anchor = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    namespace = uuid.UUID(int=seed + 1000)
    p_repo, c_repo, s_repo = PostRepository(db), CommentRepository(db), PatternRepository(db)
    created = comments = 0
    for n in range(posts):
        rng = random.Random(f"{seed}/{n}")  # per post: post n is the same whichever posts already exist
        post_id = f"t3_{_base36(seed * 100_000 + n)}"
        if await p_repo.get(post_id) is not None:
            continue
        topic = rng.choice(TOPICS)
        sub = rng.choice(SUBREDDITS)
        post = await p_repo.upsert(UpsertPostParams(
            id=post_id, subreddit=sub, title=f"How do {topic} work in practice?",
            content=f"I am learning about {topic} and I am confused about the details.",
            author=f"user_{rng.randrange(1000, 9999)}", score=rng.randrange(0, 500),
            created_at=anchor - timedelta(hours=rng.randrange(1, 24 * 14)),
        ))  # fmt: skip
        created += 1
        for k in range(rng.randrange(0, 3)):
            await c_repo.create(CreateCommentParams(
                request_id=uuid.uuid5(namespace, f"{n}/{k}"), post_id=post.id,
                content=f"{rng.choice(OPENERS)} With {topic}, start from the smallest example that works.",
            ))  # fmt: skip
            comments += 1
    rng = random.Random(f"{seed}/patterns")
    patterns = [
        NewPattern(subreddit=sub, pattern_text=f"{opener} Explain {topic} with one small runnable example.",
                   score=rng.randrange(1, 2000), extracted_at=anchor)
        for sub in SUBREDDITS for opener in OPENERS for topic in TOPICS[:6]
    ]  # fmt: skip
    written = await s_repo.bulk_save(patterns)
    return SeedReport(posts=posts, posts_created=created, comments_created=comments, patterns_written=written)

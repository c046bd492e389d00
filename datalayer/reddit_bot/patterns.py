"""Aggregate `patterns` (queries/reddit_bot/patterns.sql): successful comment patterns per subreddit.

`top(subreddit)` is the hot read (every comment the bot writes asks for it): cached for 10 minutes, per
subreddit, and invalidated by every write of patterns (`bulk_save` for the subreddits it touched; a delete
or restore for all). `bulk_save` is one statement for any number of patterns, idempotent on duplicates."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from pydantic import Field, model_validator

from datalayer import queries as q
from datalayer.cache import Cached
from datalayer.reddit_bot.posts import SUBREDDIT
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment

ALL = "reddit_bot.patterns"


def subreddit_tag(subreddit: object) -> str:
    return f"{ALL}:{subreddit}"


class SuccessfulPattern(Row):
    id: int
    subreddit: str
    pattern_text: str
    score: int
    extracted_at: datetime
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class NewPattern(Params):
    """One pattern to save."""

    subreddit: str = SUBREDDIT
    pattern_text: str = Field(min_length=10, max_length=10_000)
    score: int = Field(default=0, ge=0, lt=2**31)
    extracted_at: Moment = Field(default_factory=lambda: datetime.now(UTC))


class SavePatternsParams(Params):
    subreddits: list[str]
    pattern_texts: list[str]
    scores: list[int]
    extracted_ats: list[datetime]

    @model_validator(mode="after")
    def _same_lengths(self) -> SavePatternsParams:
        if not len(self.subreddits) == len(self.pattern_texts) == len(self.scores) == len(self.extracted_ats):
            raise ValueError("the four lists must have the same length")
        return self

    @classmethod
    def of(cls, patterns: Sequence[NewPattern]) -> SavePatternsParams:
        return cls(
            subreddits=[p.subreddit for p in patterns], pattern_texts=[p.pattern_text for p in patterns],
            scores=[p.score for p in patterns], extracted_ats=[p.extracted_at for p in patterns],
        )  # fmt: skip


class ListTopPatternsParams(Params):
    subreddit: str = SUBREDDIT
    limit: int = Field(ge=1, le=1000)


class PatternAtParams(Params):
    id: int
    at: Moment


def _saved(args: tuple[object, ...]) -> tuple[str, ...]:
    (p,) = args
    assert isinstance(p, SavePatternsParams)
    return tuple(subreddit_tag(s) for s in dict.fromkeys(p.subreddits))


_SAVE = q.value("reddit_bot.save_patterns", int, SavePatternsParams, retry=True, invalidates=_saved)
_TOP = q.many(
    "reddit_bot.list_top_patterns", SuccessfulPattern, ListTopPatternsParams,
    cache=Cached(ttl=600, tags=lambda a: (subreddit_tag(a[0].subreddit), ALL)),  # type: ignore[attr-defined]
)  # fmt: skip
_GET = q.one("reddit_bot.get_pattern", SuccessfulPattern, (int,))
_DELETE = q.one("reddit_bot.delete_pattern", SuccessfulPattern, PatternAtParams, retry=True, invalidates=(ALL,))
_RESTORE = q.one("reddit_bot.restore_pattern", SuccessfulPattern, (int,), retry=True, invalidates=(ALL,))
_PURGE = q.value("reddit_bot.purge_deleted_patterns", int, (datetime,), retry=True)


class PatternRepository(Repository):
    async def bulk_save(self, patterns: Sequence[NewPattern]) -> int:
        """Save any number of patterns in one statement (one round trip); a pattern already stored for its
        subreddit keeps the better score; returns the rows written. Retry-safe (idempotent on duplicates)."""
        if not patterns:
            return 0
        return await self._x.value(_SAVE, SavePatternsParams.of(patterns))

    async def top(self, subreddit: str, limit: int = 5) -> list[SuccessfulPattern]:
        """A subreddit's best live patterns. Cached 10 minutes; every pattern write invalidates it."""
        return await self._x.many(_TOP, params(ListTopPatternsParams, subreddit=subreddit, limit=limit))

    async def get(self, pattern_id: int) -> SuccessfulPattern | None:
        return await self._x.one(_GET, pattern_id)

    async def delete(self, pattern_id: int, at: datetime | None = None) -> SuccessfulPattern | None:
        """Soft-delete a live pattern; None when it was not live. Retry-safe."""
        return await self._x.one(_DELETE, params(PatternAtParams, id=pattern_id, at=at or datetime.now(UTC)))

    async def restore(self, pattern_id: int) -> SuccessfulPattern:
        """Undo a soft delete. Retry-safe (a repeat finds it live and returns it)."""
        row = await self._x.one(_RESTORE, pattern_id)
        if row is None:
            row = await self._x.one(_GET, pattern_id)
        return found(row, f"no pattern {pattern_id}")

    async def purge_deleted(self, older_than: datetime) -> int:
        """Remove for good the patterns deleted before `older_than`. Retry-safe."""
        return await self._x.value(_PURGE, older_than)

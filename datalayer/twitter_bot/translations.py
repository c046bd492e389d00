"""Aggregate `translations` (queries/twitter_bot/translations.sql): translations, their life cycle
(pending → posted / failed / draft), worker claims, and the audit trail of attempts.

Workers lease pending translations with `claim_pending`; only the worker holding an unexpired claim may
finish one (`mark_posted`, `mark_failed`, `save_draft`), and only from `pending`. Finishing is retry-safe: a
repeat of the same call by the same worker returns the row as it is, without a second audit-trail entry.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from datalayer import queries as q
from datalayer.errors import StateConflict
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.twitter_bot.tweets import LANGUAGE, USERNAME

WORKER = Field(min_length=1, max_length=200)


class Translation(Row):
    id: int
    tweet_id: int
    target_language: str
    status: str
    translated_text: str | None
    confidence: float | None
    posted_tweet_id: int | None
    retry_count: int
    last_error: str | None
    claimed_by: str | None
    claimed_until: datetime | None
    created_at: datetime
    updated_at: datetime


class TranslationAttempt(Row):
    id: int
    translation_id: int
    tweet_id: int
    target_language: str
    status: str
    translated_text: str | None
    error: str | None
    confidence: float | None
    attempted_at: datetime


class ListDraftsRow(Row):
    id: int
    tweet_id: int
    target_language: str
    translated_text: str | None
    confidence: float | None
    created_at: datetime
    author_username: str
    original_text: str


class TranslationStatsRow(Row):
    target_language: str
    status: str
    translations: int
    avg_confidence: float | None


class CountTranslationsByStatusRow(Row):
    status: str
    translations: int


class ClaimPendingTranslationsParams(Params):
    worker: str = WORKER
    limit: int = Field(ge=0)
    lease_seconds: float = Field(gt=0)


class MarkTranslationPostedParams(Params):
    id: int
    worker: str = WORKER
    translated_text: str = Field(min_length=1)
    confidence: float | None = None
    posted_tweet_id: int = Field(gt=0)


class MarkTranslationFailedParams(Params):
    id: int
    worker: str = WORKER
    error: str = Field(min_length=1)


class SaveTranslationDraftParams(Params):
    id: int
    worker: str = WORKER
    translated_text: str = Field(min_length=1)
    confidence: float | None = None


class ImportDraftParams(Params):
    tweet_id: int = Field(gt=0)
    author_id: int = Field(default=0, ge=0)
    author_username: str = Field(default="unknown", pattern=USERNAME)
    original_text: str = Field(min_length=1)
    tweet_created_at: datetime
    target_language: str = Field(pattern=LANGUAGE, max_length=35)
    translated_text: str = Field(min_length=1)
    confidence: float | None = Field(default=None, ge=0, le=1)
    created_at: datetime


_CREATE_TRANSLATION = q.one("twitter_bot.create_translation", Translation, (int, str), retry=False)
_ENSURE_TRANSLATION = q.one("twitter_bot.ensure_translation", Translation, (int, str), retry=True)
_GET_TRANSLATION = q.one("twitter_bot.get_translation", Translation, (int,))
_CLAIM_PENDING = q.many(
    "twitter_bot.claim_pending_translations", Translation, ClaimPendingTranslationsParams, retry=True
)
_MARK_POSTED = q.one("twitter_bot.mark_translation_posted", Translation, MarkTranslationPostedParams, retry=True)
_MARK_FAILED = q.one("twitter_bot.mark_translation_failed", Translation, MarkTranslationFailedParams, retry=True)
_SAVE_DRAFT = q.one("twitter_bot.save_translation_draft", Translation, SaveTranslationDraftParams, retry=True)
_LIST_DRAFTS = q.many("twitter_bot.list_drafts", ListDraftsRow, (int,))
_APPROVE_DRAFT = q.one("twitter_bot.approve_draft", Translation, (int,), retry=False)
_HISTORY = q.many("twitter_bot.list_translation_history", TranslationAttempt, (int,))
_ROLLBACK_TO_ATTEMPT = q.one("twitter_bot.rollback_translation_to_attempt", Translation, (int,), retry=False)
_RETRY_FAILED = q.many("twitter_bot.retry_failed_translations", Translation, (int, int), retry=True)
_TRANSLATION_STATS = q.many("twitter_bot.translation_stats", TranslationStatsRow)
_COUNT_BY_STATUS = q.many("twitter_bot.count_translations_by_status", CountTranslationsByStatusRow)
_IMPORT_DRAFT = q.value("twitter_bot.import_draft", bool, ImportDraftParams, retry=True)
_DELETE_OLD_ATTEMPTS = q.value("twitter_bot.delete_attempts_older_than", int, (datetime,), retry=True)


def _finished_or_conflict(
    row: Translation | None, translation_id: int, worker: str, done: bool, verb: str
) -> Translation:
    """The row after a guarded finish: itself when this worker's finish took effect (now or on an earlier
    try), else StateConflict saying why nothing changed."""
    row = found(row, f"no translation with id {translation_id}")
    if done:
        return row
    if row.status == "pending" and row.claimed_by == worker:
        why = f"the claim of worker {worker} expired at {row.claimed_until}; claim it again"
    elif row.status == "pending":
        why = f"worker {worker} holds no claim on it (claimed by {row.claimed_by or 'nobody'})"
    else:
        why = f"it is already {row.status} (last claimed by {row.claimed_by or 'nobody'})"
    raise StateConflict(f"cannot {verb} translation {translation_id}: {why}; nothing was changed")


class TranslationRepository(Repository):
    async def create(self, tweet_id: int, target_language: str) -> Translation:
        """A new pending translation; Conflict when that tweet already has one into the language.
        Not retry-safe (a repeat raises Conflict); `ensure` is."""
        row = await self._x.one(_CREATE_TRANSLATION, tweet_id, target_language)
        assert row is not None
        return row

    async def ensure(self, tweet_id: int, target_language: str) -> Translation:
        """The translation of a tweet into a language, created pending when missing. Retry-safe."""
        return await self._settled(_ENSURE_TRANSLATION, tweet_id, target_language)

    async def get(self, translation_id: int) -> Translation | None:
        return await self._x.one(_GET_TRANSLATION, translation_id)

    async def claim_pending(self, worker: str, limit: int = 10, lease_seconds: float = 300) -> list[Translation]:
        """Lease up to `limit` pending translations to `worker` for `lease_seconds`: first those it already
        holds, then free ones; concurrent workers never get the same one. Use one worker name per concurrent
        claimer. Retry-safe: a repeat hands back the rows the lost call had leased."""
        p = params(ClaimPendingTranslationsParams, worker=worker, limit=limit, lease_seconds=lease_seconds)
        return await self._x.many(_CLAIM_PENDING, p)

    async def mark_posted(
        self,
        translation_id: int,
        worker: str,
        translated_text: str,
        posted_tweet_id: int,
        confidence: float | None = None,
    ) -> Translation:
        """Record that `worker`, holding an unexpired claim, posted the translation. Retry-safe: a repeat
        returns the posted row; StateConflict when another worker finished it or the claim expired."""
        p = params(
            MarkTranslationPostedParams, id=translation_id, worker=worker, translated_text=translated_text,
            confidence=confidence, posted_tweet_id=posted_tweet_id,
        )  # fmt: skip
        row = await self._x.one(_MARK_POSTED, p)
        done = row is not None and (row.status, row.claimed_by, row.posted_tweet_id) == (
            "posted",
            worker,
            posted_tweet_id,
        )
        return _finished_or_conflict(row, translation_id, worker, done, "post")

    async def mark_failed(self, translation_id: int, worker: str, error: str) -> Translation:
        """Record a failed attempt by `worker` (retry_count + 1). Retry-safe: a repeat returns the failed row
        without counting again; StateConflict when the worker holds no unexpired claim."""
        p = params(MarkTranslationFailedParams, id=translation_id, worker=worker, error=error)
        row = await self._x.one(_MARK_FAILED, p)
        done = row is not None and (row.status, row.claimed_by, row.last_error) == ("failed", worker, error)
        return _finished_or_conflict(row, translation_id, worker, done, "fail")

    async def save_draft(
        self, translation_id: int, worker: str, translated_text: str, confidence: float | None = None
    ) -> Translation:
        """Keep the translation as a draft for review instead of posting it. Retry-safe: a repeat returns the
        draft; StateConflict when the worker holds no unexpired claim."""
        p = params(
            SaveTranslationDraftParams, id=translation_id, worker=worker, translated_text=translated_text,
            confidence=confidence,
        )  # fmt: skip
        row = await self._x.one(_SAVE_DRAFT, p)
        done = row is not None and (row.status, row.claimed_by, row.translated_text) == (
            "draft",
            worker,
            translated_text,
        )
        return _finished_or_conflict(row, translation_id, worker, done, "save a draft of")

    async def list_drafts(self, limit: int = 50) -> list[ListDraftsRow]:
        return await self._x.many(_LIST_DRAFTS, limit)

    async def approve_draft(self, translation_id: int) -> Translation:
        """A draft becomes pending (ready to post, text kept). Not retry-safe: a repeat finds no draft."""
        row = await self._x.one(_APPROVE_DRAFT, translation_id)
        return found(row, f"translation {translation_id} does not exist or is not a draft")

    async def history(self, tweet_id: int) -> list[TranslationAttempt]:
        return await self._x.many(_HISTORY, tweet_id)

    async def rollback_to_attempt(self, attempt_id: int) -> Translation:
        """Restore an earlier attempt's text; the translation becomes a draft to approve again.
        Not retry-safe: a repeat adds a second roll-back entry to the audit trail."""
        row = await self._x.one(_ROLLBACK_TO_ATTEMPT, attempt_id)
        return found(row, f"attempt {attempt_id} does not exist or produced no text to roll back to")

    async def retry_failed(self, max_retries: int = 3, limit: int = 100) -> list[Translation]:
        """Put up to `limit` failed translations that failed fewer than `max_retries` times back to pending.
        Retry-safe: a repeat may move a further batch, which is what the next call would do; nothing is lost
        or doubled."""
        return await self._x.many(_RETRY_FAILED, max_retries, limit)

    async def stats(self) -> list[TranslationStatsRow]:
        return await self._x.many(_TRANSLATION_STATS)

    async def count_by_status(self) -> dict[str, int]:
        return {row.status: row.translations for row in await self._x.many(_COUNT_BY_STATUS)}

    async def import_draft(self, p: ImportDraftParams) -> bool:
        """True when the draft was new; False when that tweet already had a translation into the language.
        Retry-safe (ON CONFLICT DO NOTHING)."""
        return await self._x.value(_IMPORT_DRAFT, p)

    async def delete_attempts_older_than(self, cutoff: datetime) -> int:
        """Retention: delete audit-trail attempts older than cutoff. Retry-safe."""
        return await self._x.value(_DELETE_OLD_ATTEMPTS, cutoff)

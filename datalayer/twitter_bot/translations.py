"""Aggregate `translations` (queries/twitter_bot/translations.sql): translations, their life cycle
(pending → posted / failed / draft), worker claims, and the audit trail of attempts.

Workers lease pending translations with `claim_pending`: each lease of a free row gets a new `claim_id` (the
claimed row carries it). Only the worker holding that unexpired claim may finish the translation (`mark_posted`,
`mark_failed`, `save_draft`, passing `claim_id=`), and only from `pending`. The finish writes its audit-trail
attempt under the claim_id, so it is retry-safe: a repeat of the same finish under the same claim finds that
attempt and returns the row as it is now (without a second entry), even when the row has since been put back in
the queue and claimed by another worker; a finish under a stale claim that never took effect is a StateConflict.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

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
    claim_id: UUID | None  # the current or last lease: pass it to the finish
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
    claim_id: UUID | None  # the lease a worker's finish was recorded under
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
    claim_id: UUID | None = None


class MarkTranslationFailedParams(Params):
    id: int
    worker: str = WORKER
    error: str = Field(min_length=1)
    claim_id: UUID | None = None


class SaveTranslationDraftParams(Params):
    id: int
    worker: str = WORKER
    translated_text: str = Field(min_length=1)
    confidence: float | None = None
    claim_id: UUID | None = None


class TranslationFinishedUnderClaimParams(Params):
    id: int
    claim_id: UUID
    status: Literal["posted", "failed", "draft"]
    value: str  # the finish's error (failed) or text (posted, draft)


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
_FINISHED_UNDER_CLAIM = q.value("twitter_bot.find_translation_finish", bool, TranslationFinishedUnderClaimParams)
_LIST_DRAFTS = q.many("twitter_bot.list_drafts", ListDraftsRow, (int,))
_APPROVE_DRAFT = q.one("twitter_bot.approve_draft", Translation, (int,), retry=False)
_HISTORY = q.many("twitter_bot.list_translation_history", TranslationAttempt, (int,))
_ROLLBACK_TO_ATTEMPT = q.one("twitter_bot.rollback_translation_to_attempt", Translation, (int,), retry=False)
_RETRY_FAILED = q.many("twitter_bot.retry_failed_translations", Translation, (int, int), retry=True)
_TRANSLATION_STATS = q.many("twitter_bot.translation_stats", TranslationStatsRow, replica=True)
_COUNT_BY_STATUS = q.many("twitter_bot.count_translations_by_status", CountTranslationsByStatusRow)
_IMPORT_DRAFT = q.value("twitter_bot.import_draft", bool, ImportDraftParams, retry=True)
_DELETE_OLD_ATTEMPTS = q.value("twitter_bot.delete_attempts_older_than", int, (datetime,), retry=True)


def _finished_or_put_back(row: Translation, status: str) -> bool:
    """The row is in the state a finish left it in: `status`, or already back in the queue after it (pending
    with no lease: `retry_failed` moved a failed one back, `approve_draft` a draft)."""
    return row.status == status or (row.status == "pending" and row.claimed_until is None)


def _conflict(row: Translation, translation_id: int, worker: str, claim_id: UUID | None, verb: str) -> StateConflict:
    if row.status == "pending" and row.claimed_by == worker and claim_id is not None and row.claim_id != claim_id:
        why = f"claim {claim_id} of worker {worker} is not its lease any more (that is claim {row.claim_id})"
    elif row.status == "pending" and row.claimed_by == worker:
        why = f"the claim of worker {worker} expired at {row.claimed_until}; claim it again"
    elif row.status == "pending":
        why = f"worker {worker} holds no claim on it (claimed by {row.claimed_by or 'nobody'})"
    else:
        why = f"it is already {row.status} (last claimed by {row.claimed_by or 'nobody'})"
    return StateConflict(f"cannot {verb} translation {translation_id}: {why}; nothing was changed")


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
        holds (each keeps its `claim_id`), then free ones (each with a new `claim_id`, the token its finish
        takes); concurrent workers never get the same one. Use one worker name per concurrent claimer.
        Retry-safe: a repeat hands back the rows the lost call had leased, with the same claim_ids."""
        p = params(ClaimPendingTranslationsParams, worker=worker, limit=limit, lease_seconds=lease_seconds)
        return await self._x.many(_CLAIM_PENDING, p)

    async def mark_posted(
        self,
        translation_id: int,
        worker: str,
        translated_text: str,
        posted_tweet_id: int,
        confidence: float | None = None,
        *,
        claim_id: UUID | None = None,
    ) -> Translation:
        """Record that `worker`, holding the unexpired claim `claim_id` (the claimed row's), posted the
        translation. Retry-safe: the finish records its attempt under `claim_id`, and a repeat finds it and
        returns the posted row, with no second entry. StateConflict when the claim expired or is not the
        current one, or another worker finished the translation. Without `claim_id` the worker's current claim
        is taken and a repeat is recognised only while the row still shows this worker's post."""
        p = params(
            MarkTranslationPostedParams, id=translation_id, worker=worker, translated_text=translated_text,
            confidence=confidence, posted_tweet_id=posted_tweet_id, claim_id=claim_id,
        )  # fmt: skip
        row = found(await self._x.one(_MARK_POSTED, p), f"no translation with id {translation_id}")
        done = (row.status, row.claimed_by, row.posted_tweet_id) == ("posted", worker, posted_tweet_id)
        return await self._settle(row, translation_id, worker, claim_id, done, "posted", translated_text, "post")

    async def mark_failed(
        self, translation_id: int, worker: str, error: str, *, claim_id: UUID | None = None
    ) -> Translation:
        """Record a failed attempt by `worker` under its unexpired claim `claim_id` (retry_count + 1).
        Retry-safe: the attempt is recorded under `claim_id`, and a repeat finds it and returns the row as it
        is now without counting again: failed, back in the queue (`retry_failed`), or even claimed by another
        worker meanwhile. StateConflict when the claim expired or is not the current one. Without `claim_id`
        a repeat is recognised only while the row still shows this worker's failure."""
        p = params(MarkTranslationFailedParams, id=translation_id, worker=worker, error=error, claim_id=claim_id)
        row = found(await self._x.one(_MARK_FAILED, p), f"no translation with id {translation_id}")
        done = (row.claimed_by, row.last_error) == (worker, error) and _finished_or_put_back(row, "failed")
        return await self._settle(row, translation_id, worker, claim_id, done, "failed", error, "fail")

    async def save_draft(
        self,
        translation_id: int,
        worker: str,
        translated_text: str,
        confidence: float | None = None,
        *,
        claim_id: UUID | None = None,
    ) -> Translation:
        """Keep the translation as a draft for review instead of posting it, under the unexpired claim
        `claim_id`. Retry-safe: the draft attempt is recorded under `claim_id`, and a repeat finds it and
        returns the row as it is now (the draft, or pending once approved, or claimed again meanwhile).
        StateConflict when the claim expired or is not the current one. Without `claim_id` a repeat is
        recognised only while the row still shows this worker's draft."""
        p = params(
            SaveTranslationDraftParams, id=translation_id, worker=worker, translated_text=translated_text,
            confidence=confidence, claim_id=claim_id,
        )  # fmt: skip
        row = found(await self._x.one(_SAVE_DRAFT, p), f"no translation with id {translation_id}")
        done = (row.claimed_by, row.translated_text) == (worker, translated_text) and _finished_or_put_back(
            row, "draft"
        )
        return await self._settle(
            row, translation_id, worker, claim_id, done, "draft", translated_text, "save a draft of"
        )

    async def _settle(
        self,
        row: Translation,
        translation_id: int,
        worker: str,
        claim_id: UUID | None,
        done: bool,
        status: Literal["posted", "failed", "draft"],
        value: str,
        verb: str,
    ) -> Translation:
        """The row after a guarded finish: itself when this finish took effect, now or on an earlier try (the
        row still shows it under this claim, or its attempt under `claim_id`, with this outcome and `value`, is
        on record: the row moved on since, put back and claimed by another worker); else StateConflict saying
        why nothing changed. The
        record is looked up only when the row does not show the finish (a repeat after the row moved on, or a
        real conflict)."""
        if done and (claim_id is None or row.claim_id == claim_id):
            return row
        if claim_id is not None:
            p = params(
                TranslationFinishedUnderClaimParams, id=translation_id, claim_id=claim_id, status=status, value=value
            )
            if await self._x.value(_FINISHED_UNDER_CLAIM, p):
                return row
        raise _conflict(row, translation_id, worker, claim_id, verb)

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
        """Take up to `limit` failed translations, oldest first: those that failed fewer than `max_retries`
        times go back to pending and are returned; the others become `abandoned` (final: never retried, so
        later calls do not read them again). Fewer than `limit` come back when some were abandoned: call again.
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

"""Aggregate `comments` (queries/reddit_bot/comments.sql): the comments the bot writes, a queue.

A comment is created `pending` under a client-generated `request_id` (a repeat returns it), may be approved or
rejected by a moderator, and is posted by a worker: `claim_pending` leases queued (pending or approved) comments
with `FOR UPDATE SKIP LOCKED`, each lease of a free comment with a new `claim_id` (the claimed row carries it);
only the worker holding that unexpired claim may finish one (`mark_posted`, `mark_failed`, `mark_skipped`,
passing `claim_id=`). Each finish is logged under its claim_id (reddit_bot.comment_finishes), so a repeat of the
same finish returns the comment as it is now, even after it went back in the queue and another worker claimed it;
a finish under a stale claim that never took effect is a StateConflict. The Reddit id is unique, so a second post
of one comment cannot even be recorded."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

from pydantic import Field

from datalayer import queries as q
from datalayer.errors import StateConflict
from datalayer.reddit_bot.posts import MAX_CANDIDATES, SearchParams
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment, shown

WORKER = Field(min_length=1, max_length=200, pattern=r"\S")


class Comment(Row):
    id: int
    request_id: UUID
    reddit_id: str | None
    post_id: str
    content: str
    karma_score: int
    status: str
    attempts: int
    last_error: str | None
    claimed_by: str | None
    claimed_until: datetime | None
    claim_id: UUID | None  # the current or last lease: pass it to the finish
    posted_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class CreateCommentParams(Params):
    request_id: UUID = Field(default_factory=uuid4)
    post_id: str = Field(pattern=r"^t3_[a-z0-9]{1,13}$")
    content: str = Field(min_length=1, max_length=10_000, pattern=r"\S")


class ClaimPendingCommentsParams(Params):
    worker: str = WORKER
    limit: int = Field(ge=1, le=1000)
    lease_seconds: float = Field(gt=0, le=86_400)


class MarkCommentPostedParams(Params):
    id: int
    worker: str = WORKER
    reddit_id: str = Field(pattern=r"^t1_[a-z0-9]{1,13}$")
    claim_id: UUID | None = None


class MarkCommentFailedParams(Params):
    id: int
    worker: str = WORKER
    error: str = Field(min_length=1, max_length=2000)
    max_attempts: int = Field(ge=1, le=100)
    claim_id: UUID | None = None


class MarkCommentSkippedParams(Params):
    id: int
    worker: str = WORKER
    reason: str = Field(min_length=1, max_length=2000)
    claim_id: UUID | None = None


class CommentFinishedUnderClaimParams(Params):
    id: int
    claim_id: UUID
    outcome: Literal["posted", "failed", "skipped"]
    detail: str  # the Reddit id posted, the error, or the reason


class SetCommentReviewParams(Params):
    id: int
    status: Literal["approved", "rejected"]


class UpdateCommentKarmaParams(Params):
    reddit_id: str = Field(pattern=r"^t1_[a-z0-9]{1,13}$")
    karma_score: int = Field(ge=-(2**31), lt=2**31)


class CommentAtParams(Params):
    id: int
    at: Moment


class SearchCommentsRow(Row):
    id: int
    post_id: str
    karma_score: int
    status: str
    created_at: datetime
    rank: float
    snippet: str


class CountCommentsByStatusRow(Row):
    status: str
    comments: int


_CREATE = q.one("reddit_bot.create_comment", Comment, CreateCommentParams, retry=True)
_GET = q.one("reddit_bot.get_comment", Comment, (int,))
_LIST = q.many("reddit_bot.list_post_comments", Comment, (str,))
_CLAIM = q.many("reddit_bot.claim_pending_comments", Comment, ClaimPendingCommentsParams, retry=True)
_POSTED = q.one("reddit_bot.mark_comment_posted", Comment, MarkCommentPostedParams, retry=True)
_FAILED = q.one("reddit_bot.mark_comment_failed", Comment, MarkCommentFailedParams, retry=True)
_SKIPPED = q.one("reddit_bot.mark_comment_skipped", Comment, MarkCommentSkippedParams, retry=True)
_FINISHED_UNDER_CLAIM = q.value("reddit_bot.find_comment_finish", bool, CommentFinishedUnderClaimParams)
_REVIEW = q.one("reddit_bot.set_comment_review", Comment, SetCommentReviewParams, retry=True)
_KARMA = q.one("reddit_bot.update_comment_karma", Comment, UpdateCommentKarmaParams, retry=True)
_DELETE = q.value("reddit_bot.delete_comment", bool, CommentAtParams, retry=True)
_RESTORE = q.one("reddit_bot.restore_comment", Comment, (int,), retry=True)
_PURGE = q.value("reddit_bot.purge_deleted_comments", int, (datetime,), retry=True)
# Planned for each query's words: a generic plan cannot tell a rare word from a common one (0.5 s vs 13 ms).
_SEARCH = q.many("reddit_bot.search_comments", SearchCommentsRow, SearchParams, replica=True, custom_plan=True)
_COUNT = q.many("reddit_bot.count_comments_by_status", CountCommentsByStatusRow)


def _conflict(row: Comment, comment_id: int, worker: str, claim_id: UUID | None, verb: str) -> StateConflict:
    queued = row.status in ("pending", "approved")
    if row.deleted_at is not None:
        why = "it is deleted"
    elif queued and row.claimed_by == worker and claim_id is not None and row.claim_id != claim_id:
        why = f"claim {claim_id} of worker {worker} is not its lease any more (that is claim {row.claim_id})"
    elif queued and row.claimed_by == worker:
        why = f"the claim of worker {worker} expired at {row.claimed_until}; claim it again"
    elif queued:
        why = f"worker {worker} holds no claim on it (claimed by {row.claimed_by or 'nobody'})"
    else:
        why = f"it is already {row.status} (last claimed by {row.claimed_by or 'nobody'})"
    return StateConflict(f"cannot {verb} comment {comment_id}: {why}; nothing was changed")


class CommentRepository(Repository):
    async def create(self, p: CreateCommentParams) -> Comment:
        """Queue a comment for a live post. Retry-safe: build `p` once (its request_id is fixed then) and a
        repeat returns the stored comment. NotFound when the post is not live."""
        row = await self._x.one(_CREATE, p)
        if row is None:
            row = await self._x.one(_CREATE, p)  # a concurrent create of the same request_id had not committed
        return found(row, f"no live post {p.post_id} to comment on")

    async def get(self, comment_id: int) -> Comment | None:
        """A live comment (None when deleted)."""
        return await self._x.one(_GET, comment_id)

    async def list_for_post(self, post_id: str) -> list[Comment]:
        return await self._x.many(_LIST, post_id)

    async def claim_pending(self, worker: str, limit: int = 10, lease_seconds: float = 300) -> list[Comment]:
        """Lease queued comments to `worker`: first those it holds (each keeps its `claim_id`), then free ones
        (each with a new `claim_id`, the token its finish takes); concurrent workers never get the same one.
        Retry-safe: a repeat hands back what the lost call leased, with the same claim_ids."""
        p = params(ClaimPendingCommentsParams, worker=worker, limit=limit, lease_seconds=lease_seconds)
        return await self._x.many(_CLAIM, p)

    async def mark_posted(
        self, comment_id: int, worker: str, reddit_id: str, *, claim_id: UUID | None = None
    ) -> Comment:
        """Record that `worker`, holding the unexpired claim `claim_id` (the claimed comment's), posted the
        comment as `reddit_id`. Retry-safe: the finish is logged under `claim_id`, and a repeat finds it and
        returns the posted comment; StateConflict when another worker finished it or the claim expired or is
        not the current one. Without `claim_id` the worker's current claim is taken and a repeat is recognised
        only while the comment still shows this worker's post."""
        p = params(MarkCommentPostedParams, id=comment_id, worker=worker, reddit_id=reddit_id, claim_id=claim_id)
        row = found(await self._x.one(_POSTED, p), f"no comment {comment_id}")
        done = (row.status, row.claimed_by, row.reddit_id) == ("posted", worker, reddit_id)
        return await self._settle(row, comment_id, worker, claim_id, done, "posted", reddit_id, "post")

    async def mark_failed(
        self, comment_id: int, worker: str, error: str, max_attempts: int = 3, *, claim_id: UUID | None = None
    ) -> Comment:
        """Record a failed attempt under the unexpired claim `claim_id`: back in the queue, or `failed` for good
        after `max_attempts` (a terminal state: the queue never fills with hopeless rows). Retry-safe: the
        finish is logged under `claim_id`, and a repeat finds it and returns the comment as it is now without
        counting again, even when another worker has claimed it since; StateConflict when the claim expired or
        is not the current one. Without `claim_id` a repeat is recognised only while the comment still shows
        this worker's released claim and error."""
        p = params(MarkCommentFailedParams, id=comment_id, worker=worker, error=error, max_attempts=max_attempts,
                   claim_id=claim_id)  # fmt: skip
        row = found(await self._x.one(_FAILED, p), f"no comment {comment_id}")
        done = row.claimed_by == worker and row.claimed_until is None and row.last_error == error
        return await self._settle(row, comment_id, worker, claim_id, done, "failed", error, "fail")

    async def mark_skipped(self, comment_id: int, worker: str, reason: str, *, claim_id: UUID | None = None) -> Comment:
        """The worker holding the claim `claim_id` decided not to post. Retry-safe: the finish is logged under
        `claim_id`, and a repeat finds it and returns the skipped comment; StateConflict as for `mark_posted`."""
        p = params(MarkCommentSkippedParams, id=comment_id, worker=worker, reason=reason, claim_id=claim_id)
        row = found(await self._x.one(_SKIPPED, p), f"no comment {comment_id}")
        done = (row.status, row.claimed_by, row.last_error) == ("skipped", worker, reason)
        return await self._settle(row, comment_id, worker, claim_id, done, "skipped", reason, "skip")

    async def _settle(
        self,
        row: Comment,
        comment_id: int,
        worker: str,
        claim_id: UUID | None,
        done: bool,
        outcome: Literal["posted", "failed", "skipped"],
        detail: str,
        verb: str,
    ) -> Comment:
        """The comment after a guarded finish: itself when this finish took effect, now or on an earlier try
        (the comment still shows it under this claim, or its log entry under `claim_id`, with this outcome and
        `detail`, exists: the comment
        moved on since, back in the queue and claimed by another worker); else StateConflict saying why nothing
        changed. The log is read only when the comment does not show the finish."""
        if done and (claim_id is None or row.claim_id == claim_id):
            return row
        if claim_id is not None:
            p = params(
                CommentFinishedUnderClaimParams, id=comment_id, claim_id=claim_id, outcome=outcome, detail=detail
            )
            if await self._x.value(_FINISHED_UNDER_CLAIM, p):
                return row
        raise _conflict(row, comment_id, worker, claim_id, verb)

    async def review(self, comment_id: int, decision: Literal["approved", "rejected"]) -> Comment:
        """A moderator approves or rejects a pending comment. Retry-safe: the same decision again returns it;
        StateConflict when the comment is no longer pending for another reason."""
        row = await self._x.one(_REVIEW, params(SetCommentReviewParams, id=comment_id, status=decision))
        row = found(row, f"no live comment {comment_id}")
        if row.status != decision:
            raise StateConflict(f"cannot mark comment {comment_id} {decision}: it is {row.status}; nothing was changed")
        return row

    async def update_karma(self, reddit_id: str, karma_score: int) -> Comment:
        """Record a posted comment's karma as last fetched (negative becomes 0). Retry-safe."""
        p = params(UpdateCommentKarmaParams, reddit_id=reddit_id, karma_score=karma_score)
        return found(await self._x.one(_KARMA, p), f"no live comment {shown(reddit_id)}")

    async def delete(self, comment_id: int, at: datetime | None = None) -> bool:
        """Soft-delete a live comment; False when it was not live. Retry-safe."""
        return await self._x.value(_DELETE, params(CommentAtParams, id=comment_id, at=at or datetime.now(UTC)))

    async def restore(self, comment_id: int) -> Comment:
        """Undo a soft delete (NotFound while its post is deleted: restore the post). Retry-safe."""
        row = await self._x.one(_RESTORE, comment_id)
        if row is None:
            row = await self._x.one(_GET, comment_id)
        return found(row, f"no comment {comment_id} to restore (or its post is deleted)")

    async def purge_deleted(self, older_than: datetime) -> int:
        """Remove for good the comments deleted before `older_than`. Retry-safe."""
        return await self._x.value(_PURGE, older_than)

    async def search(
        self, query: str, limit: int = 10, *, max_candidates: int = MAX_CANDIDATES
    ) -> list[SearchCommentsRow]:
        """Live comments matching `query` (web-search syntax), ranked by relevance then karma, with a snippet.
        Only the newest `max_candidates` matches are ranked: a common word costs at most that many rows, at the
        price of not ranking older matches."""
        p = params(SearchParams, query=query, limit=limit, max_candidates=max_candidates)
        return await self._x.many(_SEARCH, p)

    async def count_by_status(self) -> dict[str, int]:
        return {r.status: r.comments for r in await self._x.many(_COUNT)}

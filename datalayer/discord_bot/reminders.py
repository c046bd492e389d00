"""Aggregate `reminders` (queries/discord_bot/reminders.sql): due reminders claimed by workers, and their log.

A reminder is one event's reminder for one interval, identified by (event, scheduled_at). The protocol:

1. `claim_due(worker)` leases due events to the worker and logs each as `pending`, in one statement, with
   `FOR UPDATE SKIP LOCKED`: concurrent workers never get the same event. A repeat (say after a lost reply)
   hands the worker back what it already holds, so a retried claim loses nothing.
2. The worker sends the reminder to Discord (only while its lease runs: `ClaimedReminder.claimed_until`).
3. `record_sent` / `record_failed`: only the worker holding an unexpired claim on that pending interval may
   record it; the event's last reminder moves to now and its claim ends. A repeat returns the log as it is.

A worker that dies after claiming and before recording leaves the lease to expire; then any worker claims
the same interval again (the same log row) and the late worker's record is refused (`StateConflict`). The
one window left is a worker that sent on Discord and died before recording: the reminder goes out again
after the lease. Keep that window short by recording right after sending, and the lease longer than a send.

Unlike the Twitter and Reddit queues, a record needs no claim token to recognise its own repeat: it finishes the
log row of one interval (`reminder_id`), which leaves `pending` for good (a later claim of the event logs a new
interval; a claim's upsert changes a log's worker only while it is pending), so a retry whose first try
committed always finds that row `sent`/`failed` by its own worker, whatever happened to the event since.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from datalayer import queries as q
from datalayer.discord_bot.events import now_or
from datalayer.errors import StateConflict
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment

WORKER = Field(min_length=1, max_length=200, pattern=r"\S")


class ClaimedReminder(Row):
    """A due reminder leased to a worker: send it before `claimed_until`, then record it by `reminder_id`."""

    reminder_id: int
    event_id: int
    message_id: int
    channel_id: int
    guild_id: int
    title: str
    description: str | None
    interval_minutes: int
    required_reactions: list[str]
    scheduled_at: datetime
    claimed_until: datetime


class ReminderLog(Row):
    id: int
    event_id: int
    scheduled_at: datetime
    worker: str
    status: str
    sent_at: datetime | None
    users_notified: int
    error_message: str | None
    created_at: datetime
    updated_at: datetime


class ListRecentFailuresRow(Row):
    id: int
    event_id: int
    message_id: int
    guild_id: int
    title: str
    sent_at: datetime | None
    error_message: str | None


class ReminderStatsRow(Row):
    guild_id: int
    sent: int
    failed: int
    users_notified: int
    failure_rate: float
    last_failure_at: datetime | None
    last_error: str | None


class ClaimDueEventsParams(Params):
    now: Moment
    limit: int = Field(ge=1, le=10_000)
    worker: str = WORKER
    lease_seconds: float = Field(gt=0, le=86_400)


class RecordReminderSentParams(Params):
    reminder_id: int
    worker: str = WORKER
    users_notified: int = Field(ge=0)
    now: Moment


class RecordReminderFailedParams(Params):
    reminder_id: int
    worker: str = WORKER
    error_message: str = Field(min_length=1, max_length=2000)
    now: Moment


class ListReminderHistoryParams(Params):
    event_id: int
    limit: int = Field(default=50, ge=1, le=10_000)


_CLAIM_DUE = q.many("discord_bot.claim_due_events", ClaimedReminder, ClaimDueEventsParams, retry=True)
_RECORD_SENT = q.one("discord_bot.record_reminder_sent", ReminderLog, RecordReminderSentParams, retry=True)
_RECORD_FAILED = q.one("discord_bot.record_reminder_failed", ReminderLog, RecordReminderFailedParams, retry=True)
_RELEASE = q.value("discord_bot.release_reminder_claims", int, (str,), retry=True)
_GET_REMINDER = q.one("discord_bot.get_reminder", ReminderLog, (int,))
_HISTORY = q.many("discord_bot.list_reminder_history", ReminderLog, ListReminderHistoryParams)
_RECENT_FAILURES = q.many("discord_bot.list_recent_failures", ListRecentFailuresRow, (int,))
_STATS = q.many("discord_bot.reminder_stats", ReminderStatsRow, (datetime,), replica=True)


def _recorded_or_conflict(row: ReminderLog | None, reminder_id: int, worker: str, status: str) -> ReminderLog:
    row = found(row, f"no reminder with id {reminder_id}")
    if row.status == status and row.worker == worker:
        return row  # this call, or an earlier try of it, recorded it
    if row.status == "pending" and row.worker == worker:
        why = f"the claim of worker {worker} has expired (or the event changed); claim it again"
    elif row.status == "pending":
        why = f"worker {row.worker} holds it now"
    else:
        why = f"it is already {row.status} by worker {row.worker}"
    raise StateConflict(f"cannot record reminder {reminder_id} as {status}: {why}; nothing was changed")


class ReminderRepository(Repository):
    async def claim_due(
        self, worker: str, limit: int = 10, *, now: datetime | None = None, lease_seconds: float = 120
    ) -> list[ClaimedReminder]:
        """Lease up to `limit` reminders due at `now` (default: this machine's clock) to `worker` for
        `lease_seconds`, logging each as pending. Concurrent workers never get the same event; use one
        worker name per concurrent claimer. Retry-safe: a repeat hands back what the lost call leased."""
        p = params(ClaimDueEventsParams, now=now_or(now), limit=limit, worker=worker, lease_seconds=lease_seconds)
        return await self._x.many(_CLAIM_DUE, p)

    async def record_sent(
        self, reminder_id: int, worker: str, users_notified: int, *, now: datetime | None = None
    ) -> ReminderLog:
        """Record that `worker`, holding an unexpired claim, sent the reminder to `users_notified` members.
        Retry-safe: a repeat returns the sent log; StateConflict when the claim expired or another worker
        holds or recorded it."""
        p = params(RecordReminderSentParams, reminder_id=reminder_id, worker=worker, users_notified=users_notified,
                   now=now_or(now))  # fmt: skip
        return _recorded_or_conflict(await self._x.one(_RECORD_SENT, p), reminder_id, worker, "sent")

    async def record_failed(
        self, reminder_id: int, worker: str, error_message: str, *, now: datetime | None = None
    ) -> ReminderLog:
        """Record that sending failed; the event is next due one interval from now (not at once: a channel
        that refuses now would be hammered). Retry-safe: a repeat returns the failed log; StateConflict as
        for `record_sent`."""
        p = params(RecordReminderFailedParams, reminder_id=reminder_id, worker=worker, error_message=error_message,
                   now=now_or(now))  # fmt: skip
        return _recorded_or_conflict(await self._x.one(_RECORD_FAILED, p), reminder_id, worker, "failed")

    async def release(self, worker: str) -> int:
        """On shutdown: give back the reminders `worker` claimed but did not record; they are due for any
        worker at once. Returns how many. Retry-safe."""
        return await self._x.value(_RELEASE, worker)

    async def get(self, reminder_id: int) -> ReminderLog | None:
        return await self._x.one(_GET_REMINDER, reminder_id)

    async def history(self, event_id: int, limit: int = 50) -> list[ReminderLog]:
        """An event's reminders, newest interval first."""
        return await self._x.many(_HISTORY, params(ListReminderHistoryParams, event_id=event_id, limit=limit))

    async def recent_failures(self, limit: int = 20) -> list[ListRecentFailuresRow]:
        return await self._x.many(_RECENT_FAILURES, limit)

    async def stats(self, since: datetime) -> list[ReminderStatsRow]:
        """Per guild since `since`: sent, failed, members notified, failure rate, latest error."""
        return await self._x.many(_STATS, since)

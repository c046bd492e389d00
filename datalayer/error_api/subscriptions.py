"""Aggregate `subscriptions` (queries/error_api/subscriptions.sql): Stripe subscriptions, kept as the newest
billing event says. Stripe delivers events more than once and out of order: each carries its creation time,
and an event that is not newer than the one applied changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import Field, model_validator

from datalayer import queries as q
from datalayer.error_api.users import TIER
from datalayer.repository import Params, Repository, Row
from datalayer.validation import Moment

Status = Literal["incomplete", "incomplete_expired", "trialing", "active", "past_due", "canceled", "unpaid", "paused"]


class Subscription(Row):
    id: UUID
    user_id: UUID
    stripe_subscription_id: str
    stripe_price_id: str | None
    tier: str
    status: str
    current_period_start: datetime | None
    current_period_end: datetime | None
    canceled_at: datetime | None
    stripe_event_at: datetime
    created_at: datetime
    updated_at: datetime


class UpsertSubscriptionRow(Subscription):
    """The subscription after the event, and whether the event changed it (False: a repeat or an older event)."""

    applied: bool


class UpsertSubscriptionParams(Params):
    """What a `customer.subscription.*` event says; `stripe_event_at` is the event's `created` time."""

    user_id: UUID
    stripe_subscription_id: str = Field(pattern=r"^sub_[A-Za-z0-9]{1,250}$")
    stripe_price_id: str | None = Field(default=None, pattern=r"^price_[A-Za-z0-9]{1,250}$")
    tier: str = TIER
    status: Status
    current_period_start: Moment | None = None
    current_period_end: Moment | None = None
    canceled_at: Moment | None = None
    stripe_event_at: Moment

    @model_validator(mode="after")
    def _period(self) -> UpsertSubscriptionParams:
        start, end = self.current_period_start, self.current_period_end
        if start is not None and end is not None and end <= start:
            raise ValueError("current_period_end must be after current_period_start")
        return self


_UPSERT = q.one("error_api.upsert_subscription", UpsertSubscriptionRow, UpsertSubscriptionParams, retry=True)
_CURRENT = q.one("error_api.get_current_subscription", Subscription, (UUID,))


class SubscriptionRepository(Repository):
    async def apply_event(self, p: UpsertSubscriptionParams) -> UpsertSubscriptionRow:
        """Apply a billing event: created or updated when it is newer than what was applied, and the
        account's tier follows it (its tier while active, trialing or past due; free otherwise). Retry-safe:
        a repeat, or an older event arriving late, returns the current state with `applied` False."""
        return await self._settled(_UPSERT, p)

    async def current_for_user(self, user_id: UUID) -> Subscription | None:
        """The user's subscription as the newest event left it."""
        return await self._x.one(_CURRENT, user_id)

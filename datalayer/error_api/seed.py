"""`datalayer seed error-api --users N`: sample accounts, keys, subscriptions and a month of requests.

Passwords: every sample account has the password `sample-password` (hashed once, so seeding is fast; each
account stores that one argon2id hash). Keys are made but their plaintext is not kept: sample data needs none.
E-mails come from `--seed`; an account's key and requests are made with it, so running it again adds no rows."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Address

from datalayer.db import Database
from datalayer.error_api.api_keys import ApiKeyRepository, KeyDigester
from datalayer.error_api.subscriptions import SubscriptionRepository, UpsertSubscriptionParams
from datalayer.error_api.usage import LogRequestParams, UsageRepository
from datalayer.error_api.users import _CREATE, HASHER, CreateUserParams, UserRepository
from datalayer.errors import Conflict

ENDPOINTS = ["/v1/translate", "/v1/explain", "/v1/languages", "/v1/batch", "/users/me", "/users/me/usage"]
ERRORS = [(400, "ValidationError", "unknown language code"), (401, "AuthError", "invalid API key"),
          (429, "RateLimited", "too many requests"), (500, "UpstreamError", "model timeout")]  # fmt: skip
SAMPLE_PASSWORD = "sample-password"


@dataclass
class SeedReport:
    users: int
    api_keys: int
    subscriptions: int
    requests: int


async def seed(
    db: Database, digester: KeyDigester, *, users: int = 20, requests_per_user: int = 200, seed: int = 1
) -> SeedReport:
    namespace = uuid.UUID(int=seed)
    now = datetime.now(UTC).replace(microsecond=0)
    shared_hash = HASHER.hash(SAMPLE_PASSWORD)
    report = SeedReport(0, 0, 0, 0)
    repo, keys, subs, usage = (
        UserRepository(db),
        ApiKeyRepository(db, digester),
        SubscriptionRepository(db),
        UsageRepository(db),
    )
    for n in range(users):
        # One generator per user: what user n gets never depends on which users already existed (a re-run then
        # draws the same tier for each, so it adds no subscription).
        rng = random.Random(f"{seed}/{n}")
        email = f"user{n}.seed{seed}@example.com"
        user = await repo.get_by_email(email)
        new = user is None
        if user is None:
            try:
                user = await db.executor.one(
                    _CREATE, CreateUserParams(email=email, password_hash=shared_hash, full_name=f"Sample User {n}")
                )
            except Conflict:
                user = await repo.get_by_email(email)
            assert user is not None
            await keys.create(user.id, "default")
            report.api_keys += 1
        report.users += 1
        tier = rng.choice(["free", "free", "starter", "pro"])
        if tier != "free":
            await subs.apply_event(UpsertSubscriptionParams(
                user_id=user.id, stripe_subscription_id=f"sub_seed{seed}u{n}", stripe_price_id=f"price_{tier}",
                tier=tier, status="active", current_period_start=now - timedelta(days=10),
                current_period_end=now + timedelta(days=20), stripe_event_at=now - timedelta(days=10),
            ))  # fmt: skip
            report.subscriptions += 1
        if not new:
            continue  # its key and requests were made with it: a re-run adds nothing
        rows = []
        for i in range(requests_per_user):
            status, error_type, message = (200, None, None)
            if rng.random() < 0.07:
                status, error_type, message = rng.choice(ERRORS)
            rows.append(LogRequestParams(
                request_id=uuid.uuid5(namespace, f"{n}/{i}"), user_id=user.id, endpoint=rng.choice(ENDPOINTS),
                method="POST" if rng.random() < 0.7 else "GET", status_code=status,
                ip_address=IPv4Address(f"10.0.{n % 250}.{i % 250 + 1}"), user_agent="sample-client/1.0",
                response_time_ms=int(rng.lognormvariate(5, 0.6)), error_type=error_type, error_message=message,
                created_at=now - timedelta(minutes=rng.randrange(1, 30 * 24 * 60)),
            ))  # fmt: skip
        report.requests += await usage.log_many(rows)
    return report

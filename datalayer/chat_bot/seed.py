"""`datalayer seed chat-bot --users N`: the seed's `init --sample-data`: traits and profiles, risk factors,
configuration, feature flags and rate limits, then N users with sessions, conversations, messages (with
sentiment and intent), activities, risk assessments and audit entries — with a progress bar. Idempotent:
Telegram ids and request ids come from `--seed`; a user that exists is skipped, definitions are upserts."""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from datalayer.chat_bot.activities import ActivityRepository
from datalayer.chat_bot.audit import AppendAuditParams, AuditRepository
from datalayer.chat_bot.config import ConfigRepository
from datalayer.chat_bot.conversations import ConversationRepository
from datalayer.chat_bot.flags import FeatureFlagRepository, UpsertFeatureFlagParams
from datalayer.chat_bot.messages import MessageRepository, NewMessage
from datalayer.chat_bot.personalities import (
    PersonalityRepository,
    UpsertPersonalityProfileParams,
    UpsertPersonalityTraitParams,
)
from datalayer.chat_bot.rate_limits import RateLimitRepository, UpsertRateLimitParams
from datalayer.chat_bot.risk import RecordRiskAssessmentParams, RiskRepository, UpsertRiskFactorParams
from datalayer.chat_bot.sessions import SessionRepository
from datalayer.chat_bot.users import CreateUserParams, UserRepository
from datalayer.db import Database

FIRST = ["Ada", "Linus", "Grace", "Guido", "Barbara", "Ken", "Margaret", "Dennis", "Frances", "Alan"]
LAST = ["Lovelace", "Torvalds", "Hopper", "Rossum", "Liskov", "Thompson", "Hamilton", "Ritchie", "Allen", "Turing"]
USER_LINES = ["How do I reset my password?", "Tell me a joke about databases", "I feel a bit stressed today",
              "What's the weather like for a picnic?", "Can you explain transactions in simple words?",
              "Recommend a book about history", "I love this bot, thanks!", "Why is my query slow?"]  # fmt: skip
BOT_LINES = ["Sure, here is how to do it step by step.", "Here is one: a SQL query walks into a bar...",
             "I'm sorry to hear that. Want to talk about it?", "Sunny with a light breeze, perfect for a picnic.",
             "A transaction is all or nothing: either every change happens, or none does.",
             "Try 'The Guns of August' by Barbara Tuchman.", "Thank you! I'm glad to help.",
             "Let's look at its plan with EXPLAIN ANALYZE."]  # fmt: skip
INTENTS = ["question", "joke", "support", "smalltalk", "explain", "recommend", "praise", "debug"]


@dataclass
class SeedReport:
    users: int
    created: int
    messages: int


async def seed_definitions(db: Database) -> None:
    personalities = PersonalityRepository(db)
    for name, description in (("warmth", "How warm and friendly replies are"), ("formality", "How formal the language is"),
                              ("humor", "How often replies joke"), ("verbosity", "How long replies are")):  # fmt: skip
        await personalities.upsert_trait(UpsertPersonalityTraitParams(name=name, description=description))
    for name, traits in (("friendly", {"warmth": 0.9, "formality": 0.2, "humor": 0.6}),
                         ("professional", {"warmth": 0.5, "formality": 0.9, "verbosity": 0.4}),
                         ("playful", {"humor": 0.95, "warmth": 0.8, "formality": 0.1})):  # fmt: skip
        await personalities.upsert_profile(UpsertPersonalityProfileParams(name=name, traits=traits))
    risk = RiskRepository(db)
    for name, category, weight in (("self_harm", "wellbeing", 0.95), ("harassment", "content", 0.7),
                                   ("prompt_injection", "security", 0.8), ("spam", "behaviour", 0.3)):  # fmt: skip
        await risk.upsert_factor(UpsertRiskFactorParams(name=name, category=category, weight=weight))  # type: ignore[arg-type]
    config = ConfigRepository(db)
    for key, value in (("conversation.max_history_length", 50), ("rate_limiting.messages_per_minute", 20),
                       ("ai.default_personality", "friendly"), ("risk.alert_threshold", 0.7)):  # fmt: skip
        # Only where unset: what an operator has set since (`datalayer chat config set`) stays, with no history row.
        if await config.get(key) is None:
            await config.set_config_value(key, value, "sample data", changed_by="seed")
    flags = FeatureFlagRepository(db)
    for flag in (
        UpsertFeatureFlagParams(key="personality_adaptation", is_enabled=True, rollout_percentage=50,
                                targeting_rules=[{"attribute": "premium", "operator": "eq", "value": True}]),
        UpsertFeatureFlagParams(key="voice_messages", is_enabled=True, rollout_percentage=10),
        UpsertFeatureFlagParams(key="new_onboarding", is_enabled=False, rollout_percentage=100),
    ):  # fmt: skip
        if await flags.get(flag.key) is None:  # likewise: a flag changed since keeps its settings
            await flags.set(flag)
    limits = RateLimitRepository(db)
    await limits.upsert(
        UpsertRateLimitParams(name="messages.default", activity_type="message", max_events=20, window_seconds=60)
    )
    await limits.upsert(UpsertRateLimitParams(name="messages.premium", activity_type="message", applies_to="premium",
                                              max_events=60, window_seconds=60))  # fmt: skip


async def seed(
    db: Database, *, users: int = 20, seed: int = 1, progress: Callable[[int], None] | None = None
) -> SeedReport:
    namespace = uuid.UUID(int=seed + 5000)
    now = datetime.now(UTC).replace(microsecond=0)
    await seed_definitions(db)
    report = SeedReport(users=users, created=0, messages=0)
    profiles = await PersonalityRepository(db).profiles()
    for n in range(users):
        rng = random.Random(f"{seed}/{n}")  # per user: user n is the same person whichever users already exist
        telegram_id = 7_000_000_000 + seed * 100_000 + n
        if await UserRepository(db).get_by_telegram_id(telegram_id) is not None:
            if progress:
                progress(1)
            continue
        async with db.transaction() as tx:
            first, last = rng.choice(FIRST), rng.choice(LAST)
            user = await UserRepository(tx).create(CreateUserParams(
                telegram_id=telegram_id, username=f"{first.lower()}_{n}_{seed}", first_name=first, last_name=last,
                language_code=rng.choice(["en", "de", "fr", "es"]), is_premium=rng.random() < 0.2,
                preferences={"theme": rng.choice(["dark", "light"]), "notifications": rng.random() < 0.7},
            ))  # fmt: skip
            started = now - timedelta(days=rng.randrange(1, 30))
            session = await SessionRepository(tx).start(user.id, at=started)
            await PersonalityRepository(tx).set_for_user(
                user.id, rng.choice(profiles).id, {"warmth": 0.1}, round(rng.random(), 2)
            )
            batch = []
            for c in range(rng.randrange(1, 4)):
                conversation = await ConversationRepository(tx).create(
                    user.id, session_id=session.id, title=f"Chat {c + 1}"
                )
                at = started + timedelta(minutes=c * 30)
                for turn in range(rng.randrange(2, 8)):
                    k = rng.randrange(len(USER_LINES))
                    for role, text in (("user", USER_LINES[k]), ("assistant", BOT_LINES[k])):
                        at += timedelta(seconds=rng.randrange(5, 90))
                        batch.append(NewMessage(
                            request_id=uuid.uuid5(namespace, f"{n}/{c}/{turn}/{role}"), conversation_id=conversation.id,
                            role=role, content=text, token_count=len(text.split()) * 2,  # type: ignore[arg-type]
                            sentiment=round(rng.uniform(-0.6, 0.9), 2) if role == "user" else None,
                            intent=INTENTS[k] if role == "user" else None, created_at=at,
                        ))  # fmt: skip
                if rng.random() < 0.15:
                    await RiskRepository(tx).record(RecordRiskAssessmentParams(
                        conversation_id=conversation.id, risk_score=round(rng.uniform(0.3, 0.99), 2),
                        factors=["spam"], assessed_at=at))  # fmt: skip
            report.messages += await MessageRepository(tx).add_many(batch)
            for _ in range(rng.randrange(1, 5)):
                await ActivityRepository(tx).record(
                    user.id, "message", {"source": "seed"}, at=now - timedelta(seconds=rng.randrange(1, 3600))
                )
            await AuditRepository(tx).append(AppendAuditParams(
                request_id=uuid.uuid5(namespace, f"audit/{n}"), actor="system", action="user.create", entity_type="user",
                entity_id=str(user.id), after={"telegram_id": telegram_id}, occurred_at=started,
            ))  # fmt: skip
            report.created += 1
        if progress:
            progress(1)
    return report

"""`datalayer seed discord-bot`: realistic sample data through the repositories. Ids are derived from
`--seed`, so running it again adds no rows: it only moves the reminder times to the new "now" (a third of
the events are due whenever it ran)."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from datalayer.db import Database
from datalayer.discord_bot.events import EventRepository, UpsertEventParams
from datalayer.discord_bot.guilds import GuildRepository
from datalayer.discord_bot.members import MemberRepository
from datalayer.discord_bot.reactions import ReactionRepository

BASE_ID = 1_150_000_000_000_000_000  # Discord snowflakes of late 2023
TITLES = ["Weekly meeting", "Raid night", "Book club", "Sprint review", "Movie night", "Tournament check-in",
          "Office hours", "Community call", "Game jam kickoff", "Study group"]  # fmt: skip
NAMES = ["ada", "linus", "grace", "guido", "barbara", "ken", "margaret", "dennis", "frances", "alan", "radia",
         "edsger", "hedy", "tim", "katherine", "donald"]  # fmt: skip
EMOJI_SETS = [["✅"], ["✅", "❌"], ["👍", "👎", "🤷"], []]


@dataclass
class SeedReport:
    guilds: int
    members: int
    events: int
    reactions: int


async def seed(db: Database, *, guilds: int = 3, members: int = 40, events: int = 10, seed: int = 1) -> SeedReport:
    """Guilds, members (a few bots among them), events with required reactions, and reactions from about
    half of the members; about a third of the events are due now."""
    rng = random.Random(seed)
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    base = BASE_ID + seed * 10_000_000
    total_reactions = 0
    async with db.transaction() as tx:
        g_repo, m_repo, e_repo, r_repo = (
            GuildRepository(tx),
            MemberRepository(tx),
            EventRepository(tx),
            ReactionRepository(tx),
        )
        for g in range(guilds):
            guild_id = base + g * 100_000
            await g_repo.upsert(guild_id, f"{rng.choice(['Pixel', 'Nebula', 'Cozy', 'Rust', 'Lunar'])} {g + 1}")
            people = [(guild_id + 10_000 + i, f"{rng.choice(NAMES)}{i}", i % 15 == 14) for i in range(members)]
            await m_repo.upsert_many(guild_id, people)
            for e in range(events):
                interval = rng.choice([30, 60, 240, 1440])
                overdue = e % 3 == 0
                last = now - timedelta(minutes=interval + 5 if overdue else rng.randrange(1, interval))
                emoji = EMOJI_SETS[rng.randrange(len(EMOJI_SETS))]
                written = await e_repo.upsert(
                    UpsertEventParams(
                        message_id=guild_id + 50_000 + e,
                        channel_id=guild_id + 1 + e % 3,
                        guild_id=guild_id,
                        title=rng.choice(TITLES),
                        description=None,
                        interval_minutes=interval,
                        is_paused=e % 7 == 6,
                        last_reminder=last,
                        required_reactions=emoji,
                        created_at=last - timedelta(days=rng.randrange(1, 30)),
                        first_seen=now,
                    )
                )
                pairs = [(user, em) for user, _n, bot in people if not bot and rng.random() < 0.5
                         for em in (emoji or ["✅"]) if rng.random() < 0.8]  # fmt: skip
                await r_repo.replace_for_event(written.id, pairs, last)
                total_reactions += len(set(pairs))
    return SeedReport(guilds=guilds, members=guilds * members, events=guilds * events, reactions=total_reactions)

"""The benchmark's data: generated server-side (INSERT … SELECT generate_series), in a scratch database that is
kept between runs and named by a hash of this file, the migrations and the sizes, so a run reuses it when none of
them changed and drops the stale ones of its scale.

Every value is a function of the row number (hashint8 of it), so the same sizes give the same data on every
machine. Dates are fixed (2025), not relative to today, so a cached data set stays valid."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from datalayer.db import Database
from datalayer.migrate import Migrator
from datalayer.twitter_bot import ApiUsageRepository
from tests.conftest import with_database

ROOT = Path(__file__).resolve().parent.parent
PREFIX = "datalayer_bench"


@dataclass(frozen=True)
class Scale:
    name: str
    tweets: int  # full-text search over tweets, PK reads, the export
    comments: int  # full-text search over Reddit comments
    events: int  # Discord events, of which `due` are due at CLAIM_AT
    due: int
    usage: int  # api_usage rows over the 12 months of 2025 (the analytics)
    bulk: int  # rows per bulk ingest
    export_small: int
    export_large: int
    ops: int  # operations per round for the fast workloads
    rounds: int
    seconds: float  # time budget per method and round for the slow workloads (search, analytics)


SCALES = {
    "full": Scale("full", 1_000_000, 1_000_000, 1_000_000, 2_000, 10_000_000, 100_000, 10_000, 1_000_000, 2000, 5, 1.0),
    "quick": Scale("quick", 100_000, 100_000, 100_000, 500, 1_000_000, 20_000, 10_000, 100_000, 300, 3, 0.4),
    "tiny": Scale("tiny", 3_000, 3_000, 3_000, 200, 30_000, 500, 300, 3_000, 20, 1, 0.05),
}

# The vocabulary of the generated texts. COMMON is in every third text; RARE in one in 10,000 (and at least 3).
WORDS = (
    "the quick brown fox jumps over lazy dog while every small river carries old stones toward distant "
    "green hills where quiet farmers plant bright summer grain under silver morning clouds and travellers "
    "share warm bread with patient children beside ancient stone bridges near busy harbour markets"
).split()
COMMON = "translation"
RARE = "zeppelin"
CLAIM_AT = datetime(2026, 1, 1, tzinfo=UTC)  # the `now` of the reminder claims
USAGE_YEAR = 2025
ANALYTICS_MONTH = datetime(2025, 11, 1, tzinfo=UTC)  # the month the analytics read (one of 12)
SCRATCH_MONTH = datetime(2020, 1, 1, tzinfo=UTC)  # writes of the insert and bulk workloads; truncated after each


def text_sql(g: str, salt: int) -> str:
    """SQL for a 12-word text of row `g`, with COMMON in a third of rows and RARE in one in 10,000."""
    words = "ARRAY[" + ", ".join(f"'{w}'" for w in WORDS) + "]"
    picks = " || ' ' || ".join(
        f"({words})[1 + abs(hashint8({g} * {7 + k} + {salt})) % {len(WORDS)}]" for k in range(12)
    )
    return (
        f"{picks} || CASE WHEN {g} % 3 = 0 THEN ' {COMMON}' ELSE '' END"
        f" || CASE WHEN {g} % 10000 = 7 OR {g} IN (11, 22, 33) THEN ' {RARE}' ELSE '' END"
    )


def _uuid(g: str, kind: int) -> str:
    """A deterministic uuid growing with g (so unique indexes are filled in order)."""
    return f"(lpad(to_hex({kind}), 8, '0') || lpad(to_hex({g}), 24, '0'))::uuid"


def usage_month_sql(month: int, first: int, last: int, per_month: int) -> str:
    start = f"timestamptz '{USAGE_YEAR}-{month:02d}-01 00:00:00+00'"
    return f"""
    INSERT INTO twitter_bot.api_usage (call_id, service, endpoint, called_at, success, status_code, response_time_ms,
                                       error_type, error_message)
    SELECT {_uuid("g", 1)},
           (ARRAY['twitter', 'openai', 'deepl', 'google'])[1 + g % 4],
           (ARRAY['tweets', 'search', 'users', 'translate', 'complete'])[1 + (g / 4) % 5],
           {start} + (g - {first}) * (interval '28 days' / {per_month}),
           g % 20 <> 0,
           CASE WHEN g % 20 = 0 THEN 500 ELSE 200 END,
           (abs(hashint8(g)) % 100000) / 100.0 + CASE WHEN g % 50 = 0 THEN 2000 ELSE 0 END,
           CASE WHEN g % 20 = 0 THEN 'ServerError' END,
           CASE WHEN g % 20 = 0 THEN 'upstream answered 500' END
      FROM generate_series({first}, {last}) AS g"""


def generators(s: Scale) -> list[tuple[str, list[str]]]:
    """(what, statements) in order; each runs in its own transaction."""
    tweets = f"""
    INSERT INTO twitter_bot.tweets (id, author_id, author_username, text, created_at, language)
    SELECT g, g % 5000, 'user_' || (g % 5000), 'tweet ' || g || ' ' || {text_sql("g", 1)},
           timestamptz '2025-01-01 00:00:00+00' + g * interval '7 seconds', 'en'
      FROM generate_series(1, {s.tweets}) AS g"""
    posts = max(1, s.comments // 100)
    comments = [
        f"""INSERT INTO reddit_bot.posts (id, subreddit, title, content, author, score, created_at)
            SELECT 't3_' || g, 'learnpython', 'post ' || g, NULL, 'author_' || (g % 100), g % 50,
                   timestamptz '2025-01-01 00:00:00+00' + g * interval '1 hour'
              FROM generate_series(1, {posts}) AS g""",
        f"""INSERT INTO reddit_bot.comments (request_id, post_id, content, karma_score, status, created_at)
            SELECT {_uuid("g", 2)}, 't3_' || (1 + g % {posts}), 'comment ' || g || ' ' || {text_sql("g", 2)},
                   g % 1000, (ARRAY['pending', 'approved', 'rejected', 'skipped'])[1 + g % 4],
                   timestamptz '2025-01-01 00:00:00+00' + g * interval '7 seconds'
              FROM generate_series(1, {s.comments}) AS g""",
    ]
    every = max(1, s.events // s.due)
    events = [
        """INSERT INTO discord_bot.guilds (guild_id, name) SELECT g, 'guild ' || g FROM generate_series(1, 100) AS g""",
        f"""INSERT INTO discord_bot.events (message_id, channel_id, guild_id, title, interval_minutes, last_reminder)
            SELECT g, 1 + g % 1000, 1 + g % 100, 'event ' || g, 1440, {event_last_reminder_sql("g", every)}
              FROM generate_series(1, {s.events}) AS g""",
    ]
    months = 12
    per_month = s.usage // months
    usage = [usage_month_sql(m, (m - 1) * per_month + 1, m * per_month, per_month) for m in range(1, months + 1)]
    return [("tweets", [tweets]), ("comments", comments), ("events", events), ("api_usage", usage)]


def event_last_reminder_sql(g: str, every: int) -> str:
    """Due at CLAIM_AT (next_reminder_at = last_reminder + 1 day <= CLAIM_AT) for one row in `every`, else not."""
    return (
        f"CASE WHEN {g} % {every} = 0 THEN timestamptz '{CLAIM_AT.isoformat()}' - interval '2 days' "
        f"ELSE timestamptz '{CLAIM_AT.isoformat()}' + ({g} % 1000) * interval '1 minute' END"
    )


def fingerprint(s: Scale) -> str:
    h = hashlib.blake2b(digest_size=5)
    h.update(Path(__file__).read_bytes())
    for f in sorted((ROOT / "migrations").glob("*.sql")):
        h.update(f.name.encode() + f.read_bytes())
    h.update(repr((s.name, s.tweets, s.comments, s.events, s.due, s.usage)).encode())  # the data, not the timing
    return h.hexdigest()


def db_name(s: Scale) -> str:
    return f"{PREFIX}_{s.name}_{fingerprint(s)}"


# Secondary indexes of the big tables are dropped while they load and made again after (as their migrations
# defined them, read from the catalog), which is several times faster than maintaining them row by row.
_REBUILT = ("twitter_bot.tweets", "reddit_bot.comments", "twitter_bot.api_usage")


async def prepare(server_url: str, s: Scale, *, fresh: bool, log: Callable[[str], None]) -> tuple[str, bool]:
    """The URL of the scale's data set, generated unless cached; (url, reused). Stale data sets are dropped."""
    name = db_name(s)
    admin = await asyncpg.connect(server_url)
    try:
        present = {
            r["datname"]
            for r in await admin.fetch(
                "SELECT datname FROM pg_database WHERE datname LIKE $1", f"{PREFIX}\\_{s.name}\\_%"
            )
        }
        for stale in sorted(present - {name} | ({name} & present if fresh else set())):
            log(f"dropping stale data set {stale}")
            await admin.execute(f'DROP DATABASE IF EXISTS "{stale}" WITH (FORCE)')
        if name in present and not fresh:
            url = with_database(server_url, name)
            conn = await asyncpg.connect(url)
            try:
                done = await conn.fetchval(
                    "SELECT obj_description('public'::regnamespace) = 'datalayer bench: complete'"
                )
            finally:
                await conn.close()
            if done:
                return url, True
            await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    url = with_database(server_url, name)
    async with Migrator(url) as m:
        await m.apply()
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET maintenance_work_mem = '256MB'")
        await conn.execute("SET synchronous_commit = off")
        usage = ApiUsageRepository(Database.on_connection(conn))
        for month in [*(datetime(USAGE_YEAR, m, 1, tzinfo=UTC) for m in range(1, 13)), SCRATCH_MONTH]:
            await usage.ensure_partition(month)
        dropped = []
        for table in _REBUILT:
            for r in await conn.fetch(
                """SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS def
                     FROM pg_index AS i
                    WHERE i.indrelid = $1::regclass
                      AND NOT EXISTS (SELECT FROM pg_constraint AS c WHERE c.conindid = i.indexrelid)""",
                table,
            ):
                dropped.append(r["def"])
                await conn.execute(f"DROP INDEX {r['name']}")
        for what, statements in generators(s):
            started = time.perf_counter()
            for sql in statements:
                await conn.execute(sql)
            log(f"generated {what} in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        for definition in dropped:
            await conn.execute(definition.replace(" ON ONLY ", " ON ", 1))
        log(f"rebuilt {len(dropped)} indexes in {time.perf_counter() - started:.1f} s")
        started = time.perf_counter()
        await conn.execute("VACUUM (ANALYZE)")
        log(f"VACUUM (ANALYZE) in {time.perf_counter() - started:.1f} s")
        await conn.execute("COMMENT ON SCHEMA public IS 'datalayer bench: complete'")
    finally:
        await conn.close()
    return url, False


async def drop(server_url: str, url: str) -> None:
    admin = await asyncpg.connect(server_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{urlsplit(url).path.lstrip("/")}" WITH (FORCE)')
    finally:
        await admin.close()

"""The data layer at scale, and the cost of its machinery, measured side by side in one run.

Each workload runs through (a) our repository method, (b) raw asyncpg with the same SQL, (c) aiosql called
directly, (d) SQLAlchemy 2 (async ORM, or Core for the bulk insert) written idiomatically, and where it applies
(e) `pgbench` with a script of the same SQL, the ceiling for any client. Methods run interleaved in rounds, in
alternating order, so a noisy neighbour hits every method alike; each ratio is taken within a round against that
round's (b), and the table shows the median of those paired ratios.

(b) does the work our method does: where ours returns models, (b) builds the same model the cheapest way there
is (object.__new__ and the row's dict, no checks: what our trusted path does, less its NULL and width checks);
"raw asyncpg, Record only" shows what building the model costs at all.

    make bench          # full sizes (1M tweets, comments, events; 10M log rows); data cached between runs
    make bench-quick    # small sizes, about a minute
    python -m bench.run --scale tiny --no-cache   # what tests/test_bench.py runs
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosql
import asyncpg
from pydantic import BaseModel
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench import data, pgbench
from bench.data import CLAIM_AT, COMMON, RARE, SCRATCH_MONTH, Scale
from bench.orm import ApiUsageORM, PatternORM, TweetORM
from datalayer import queries as q
from datalayer.cache import Cached
from datalayer.config import Settings
from datalayer.db import Database, init_connection, resolve_url
from datalayer.discord_bot import ReminderRepository
from datalayer.reddit_bot import CommentRepository, NewPattern, PatternRepository
from datalayer.reddit_bot.posts import MAX_CANDIDATES
from datalayer.twitter_bot import ApiUsage, ApiUsageRepository, LogApiCallParams, Tweet, TweetRepository
from datalayer.twitter_bot.tweets import MAX_CANDIDATES as TWEET_CANDIDATES
from tests.pgbouncer_helpers import PgBouncer, pgbouncer_missing

console = Console(width=160)
Sample = tuple[float, list[float]]  # (operations or rows per second, latencies in seconds)
Method = Callable[[], Awaitable[Sample]]


@dataclass
class Result:
    workload: str
    method: str
    ops_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    ratio_to_raw: float = math.nan


@dataclass
class Target:
    text: str
    value: float
    goal: str
    met: bool


@dataclass
class Run:
    scale: Scale
    samples: dict[tuple[str, str], list[Sample]] = field(default_factory=dict)
    reference: dict[str, str] = field(default_factory=dict)  # workload -> its (b) method
    notes: dict[str, Any] = field(default_factory=dict)

    async def measure(self, workload: str, methods: dict[str, Method], reference: str, rounds: int) -> None:
        """Run every method once per round, in alternating order."""
        self.reference[workload] = reference
        order = list(methods.items())
        for n in range(rounds):
            for method, fn in order if n % 2 == 0 else reversed(order):
                self.samples.setdefault((workload, method), []).append(await fn())


# -- timing ------------------------------------------------------------------------------------------------------
async def serial(fn: Callable[[int], Awaitable[Any]], ops: int) -> Sample:
    lat = []
    start = time.perf_counter()
    for i in range(ops):
        t0 = time.perf_counter()
        await fn(i)
        lat.append(time.perf_counter() - t0)
    return ops / (time.perf_counter() - start), lat


async def concurrent(fn: Callable[[int], Awaitable[Any]], ops: int, tasks: int = 8) -> Sample:
    lat: list[float] = []

    async def worker(w: int) -> None:
        for i in range(w, ops, tasks):
            t0 = time.perf_counter()
            await fn(i)
            lat.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(tasks)))
    return ops / (time.perf_counter() - start), lat


async def budgeted(fn: Callable[[int], Awaitable[Any]], seconds: float, max_ops: int = 200, min_ops: int = 3) -> Sample:
    """Serial calls until `seconds` have passed (at least min_ops, at most max_ops): for the slow workloads."""
    lat = []
    start = time.perf_counter()
    i = 0
    while i < min_ops or (i < max_ops and time.perf_counter() - start < seconds):
        t0 = time.perf_counter()
        await fn(i)
        lat.append(time.perf_counter() - t0)
        i += 1
    return i / (time.perf_counter() - start), lat


def model_fast_path(model: type[BaseModel]) -> Callable[[Any], Any]:
    """The cheapest way to turn a Record into `model` (no checks at all): what (b) does."""
    new, set_attr, fields = object.__new__, object.__setattr__, set(model.model_fields)

    def build(row: Any) -> Any:
        obj = new(model)
        set_attr(obj, "__dict__", dict(row))
        set_attr(obj, "__pydantic_fields_set__", fields)
        set_attr(obj, "__pydantic_extra__", None)
        set_attr(obj, "__pydantic_private__", None)
        return obj

    return build


def raw(name: str, **values: Any) -> tuple[str, tuple[Any, ...]]:
    """A named query's SQL and its `$n` arguments, for the raw asyncpg client."""
    query = q.load()[name]
    return query.sql, tuple(values[n] for n in query.numbered)


async def collect(rows: Any) -> list[Any]:
    """aiosql 15 hands a many-row query's rows over as an async generator."""
    return [r async for r in rows]


def call_params(i: int) -> LogApiCallParams:
    """A logged call in the scratch month (truncated after each workload, so the cached data set stays as made)."""
    return LogApiCallParams(
        service="twitter", endpoint="tweets", success=i % 10 != 0, status_code=200,
        response_time_ms=float(i % 500), called_at=SCRATCH_MONTH + timedelta(microseconds=i),
    )  # fmt: skip


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(8).startswith(b"+PONG")
    except OSError:
        return False


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


# -- the run -----------------------------------------------------------------------------------------------------
async def main(scale: Scale, out: Path, *, fresh: bool, keep: bool) -> Run:
    started = time.perf_counter()
    server = resolve_url(Settings())
    url, reused = await data.prepare(server, scale, fresh=fresh, log=lambda m: console.print(f"  {m}"))
    generated = time.perf_counter() - started
    console.print(f"data set {data.db_name(scale)}: {'reused' if reused else 'generated'} in {generated:.1f} s")
    run = Run(scale)
    run.notes["data"] = {"database": data.db_name(scale), "reused": reused, "seconds": round(generated, 1)}
    try:
        await workloads(run, url, server)
    finally:
        if not keep:
            await data.drop(server, url)
    run.notes["total_seconds"] = round(time.perf_counter() - started, 1)
    report(run, out)
    return run


async def workloads(run: Run, url: str, server: str) -> None:
    settings = Settings(pool_min_size=8, pool_max_size=8, slow_query_ms=0)
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    pool = await asyncpg.create_pool(
        url, min_size=8, max_size=8, init=init_connection,
        command_timeout=settings.command_timeout, statement_cache_size=settings.statement_cache_size,
    )  # fmt: skip
    assert pool is not None
    sa_url = url.replace("postgresql://", "postgresql+asyncpg://")
    sa_one = create_async_engine(sa_url, pool_size=1, max_overflow=0)
    sa_pool = create_async_engine(sa_url, pool_size=8, max_overflow=0)
    s_one = async_sessionmaker(sa_one, expire_on_commit=False)
    s_pool = async_sessionmaker(sa_pool, expire_on_commit=False)
    aq = aiosql.from_path(q.queries_dir(), "asyncpg")
    on_conn = Database.on_connection(conn, settings)
    scratch = await conn.fetchval(
        """SELECT c.oid::regclass::text FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'twitter_bot.api_usage'::regclass AND pg_get_expr(c.relpartbound, c.oid) LIKE $1""",
        f"%'{SCRATCH_MONTH:%Y-%m-%d}%",
    )
    assert scratch, "the scratch month's partition is missing"
    try:
        async with Database.connect(settings, url) as db, contextlib.AsyncExitStack() as stack:
            steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                ("1-2", lambda: pk_and_insert(run, url, conn, pool, on_conn, db, s_one, s_pool, aq, scratch)),
                ("3", lambda: bulk(run, conn, on_conn, s_one, scratch)),
                ("4", lambda: search(run, url, conn, pool, db, aq)),
                ("5", lambda: claims(run, conn, pool, db, aq)),
                ("6", lambda: analytics(run, url, conn, aq)),
                ("7", lambda: export(run, url)),
                ("8", lambda: startup(run)),
                ("9", lambda: bouncer(run, url, server, conn, pool)),
                ("extras", lambda: extras(run, conn, pool, on_conn, db, s_one, stack, settings, url)),
            ]
            took = run.notes.setdefault("seconds_per_workload", {})
            for label, step in steps:
                t0 = time.perf_counter()
                await step()
                took[label] = round(time.perf_counter() - t0, 1)
    finally:
        await conn.execute(f"TRUNCATE {scratch}")
        await sa_one.dispose()
        await sa_pool.dispose()
        await pool.close()
        await conn.close()


async def pk_and_insert(
    run: Run, url: str, conn: asyncpg.Connection, pool: asyncpg.Pool, on_conn: Database, db: Database,
    s_one: async_sessionmaker[Any], s_pool: async_sessionmaker[Any], aq: Any, scratch: str,
) -> None:  # fmt: skip
    """Workloads 1 and 2: a primary-key read returning one model; an insert returning the model."""
    s = run.scale
    console.print("[bold]1–2[/bold] primary-key read, insert returning the model")
    get_sql = q.load()["twitter_bot.get_tweet"].sql
    tweet = model_fast_path(Tweet)
    usage = model_fast_path(ApiUsage)
    tweets_conn, tweets_pool, usage_conn = TweetRepository(on_conn), TweetRepository(db), ApiUsageRepository(on_conn)

    def key(i: int) -> int:
        return (i * 7919) % s.tweets + 1

    async def sa_get(maker: async_sessionmaker[Any], i: int) -> Any:
        async with maker() as session:
            return await session.get(TweetORM, key(i))

    async def sa_insert(i: int) -> Any:
        row = ApiUsageORM(**call_params(i).model_dump())
        async with s_one() as session, session.begin():
            session.add(row)
        return row

    async def raw_get(target: Any, i: int) -> Tweet:
        return tweet(await target.fetchrow(get_sql, key(i)))  # type: ignore[no-any-return]

    async def aiosql_get(target: Any, i: int) -> Tweet:
        return Tweet.model_validate(dict(await aq.twitter_bot.get_tweet(target, id=key(i))))

    async def raw_insert(i: int) -> ApiUsage:
        sql, args = raw("twitter_bot.log_api_call", **call_params(i).model_dump())
        return usage(await conn.fetchrow(sql, *args))  # type: ignore[no-any-return]

    async def aiosql_insert(i: int) -> ApiUsage:
        return ApiUsage.model_validate(dict(await aq.twitter_bot.log_api_call(conn, **call_params(i).model_dump())))

    bench_s = 3 if s.name == "full" else 1
    txs = None if s.name != "tiny" else s.ops
    secs = None if s.name == "tiny" else bench_s
    pk_script = pgbench.script("twitter_bot.get_tweet", {"id": ":id"}, f"\\set id random(1, {s.tweets})\n")
    ins_values = {
        "call_id": "gen_random_uuid()", "service": "'twitter'", "endpoint": "'tweets'",
        "called_at": f"timestamptz '{SCRATCH_MONTH.isoformat()}' + random() * interval '1 day'", "success": "true",
        "status_code": "200", "response_time_ms": "12.5", "error_type": "NULL::text", "error_message": "NULL::text",
    }  # fmt: skip
    ins_script = pgbench.script("twitter_bot.log_api_call", ins_values)
    have_pgbench = pgbench.binary() is not None
    if not have_pgbench:
        console.print("no pgbench binary: the (e) rows are left out")

    def pgb(text: str, clients: int) -> Method:
        return lambda: pgbench.run(url, text, clients=clients, seconds=secs, transactions=txs)

    def ser(fn: Callable[[int], Awaitable[Any]]) -> Method:
        return lambda: serial(fn, s.ops)

    def conc(fn: Callable[[int], Awaitable[Any]]) -> Method:
        return lambda: concurrent(fn, s.ops)

    one: dict[str, Method] = {
        "repository": ser(lambda i: tweets_conn.get(key(i))),
        "raw asyncpg + model": ser(lambda i: raw_get(conn, i)),
        "raw asyncpg, Record only": ser(lambda i: conn.fetchrow(get_sql, key(i))),
        "aiosql + model_validate": ser(lambda i: aiosql_get(conn, i)),
        "sqlalchemy orm": ser(lambda i: sa_get(s_one, i)),
    }
    pooled: dict[str, Method] = {
        "repository": conc(lambda i: tweets_pool.get(key(i))),
        "raw asyncpg + model": conc(lambda i: raw_get(pool, i)),
        "raw asyncpg, Record only": conc(lambda i: pool.fetchrow(get_sql, key(i))),
        "aiosql + model_validate": conc(lambda i: aiosql_get(pool, i)),
        "sqlalchemy orm": conc(lambda i: sa_get(s_pool, i)),
    }
    inserts: dict[str, Method] = {
        "repository": ser(lambda i: usage_conn.log(call_params(i))),
        "raw asyncpg + model": ser(raw_insert),
        "aiosql + model_validate": ser(aiosql_insert),
        "sqlalchemy orm": ser(sa_insert),
    }
    if have_pgbench:
        one["pgbench (C client, 1 connection)"] = pgb(pk_script, 1)
        pooled["pgbench (C client, 8 connections)"] = pgb(pk_script, 8)
        inserts["pgbench (C client, 1 connection)"] = pgb(ins_script, 1)
    for name, methods in (("1. pk read (1 connection)", one), ("1. pk read (8 tasks, pool)", pooled),
                          ("2. insert returning model", inserts)):  # fmt: skip
        for fn in methods.values():  # warm-up: prepared statements, pools, caches
            await fn()
        await run.measure(name, methods, "raw asyncpg + model", s.rounds)
    await conn.execute(f"TRUNCATE {scratch}")


async def bulk(
    run: Run, conn: asyncpg.Connection, on_conn: Database, s_one: async_sessionmaker[Any], scratch: str
) -> None:
    """Workload 3: bulk ingest through log_many vs raw COPY vs SQLAlchemy Core insert of a list of dicts."""
    s = run.scale
    console.print(f"[bold]3[/bold] bulk ingest of {s.bulk:,} log rows")
    usage = ApiUsageRepository(on_conn)
    params = [call_params(i) for i in range(s.bulk)]
    cols = ["call_id", "service", "endpoint", "called_at", "success", "status_code", "response_time_ms",
            "error_type", "error_message"]  # fmt: skip
    table = ApiUsageORM.__table__

    def once(fn: Callable[[], Awaitable[Any]]) -> Method:
        async def measured() -> Sample:
            await conn.execute(f"TRUNCATE {scratch}")  # every method starts from an empty partition
            t0 = time.perf_counter()
            await fn()
            elapsed = time.perf_counter() - t0
            return s.bulk / elapsed, [elapsed]

        return measured

    async def repo() -> Any:
        return await usage.log_many(params)

    async def copy() -> Any:
        # The records are built from the same params inside the timing, as log_many builds its arrays.
        records = [tuple(getattr(p, c) for c in cols) for p in params]
        return await conn.copy_records_to_table("api_usage", schema_name="twitter_bot", records=records, columns=cols)

    async def core() -> Any:
        async with s_one() as session, session.begin():
            await session.execute(insert(table), [p.model_dump() for p in params])

    methods = {
        "repository log_many (unnest, idempotent)": once(repo),
        "raw asyncpg COPY": once(copy),
        "sqlalchemy core insert(list of dicts)": once(core),
    }
    await run.measure(f"3. bulk ingest {s.bulk} rows (rows/s)", methods, "raw asyncpg COPY", s.rounds)
    await conn.execute(f"TRUNCATE {scratch}")


def _plan_nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    nodes = [plan]
    for child in plan.get("Plans", []):
        nodes += _plan_nodes(child)
    return nodes


async def search(run: Run, url: str, conn: asyncpg.Connection, pool: asyncpg.Pool, db: Database, aq: Any) -> None:
    """Workload 4: full-text search, top 20 with snippets, rare and common term, over tweets and comments; ILIKE."""
    s = run.scale
    console.print(f"[bold]4[/bold] full-text search over {s.tweets:,} tweets and {s.comments:,} comments")
    tweets, comments = TweetRepository(db), CommentRepository(db)
    plans: dict[str, Any] = {}
    for term in (RARE, COMMON):
        cases = {
            f"4. search {s.tweets} tweets, {'rare' if term == RARE else 'common'} '{term}'": (
                "twitter_bot.search_tweets", {"query": term, "limit": 20, "max_candidates": TWEET_CANDIDATES},
                lambda t=term: tweets.search(t, 20),
                lambda t=term: collect(
                    aq.twitter_bot.search_tweets(pool, query=t, limit=20, max_candidates=TWEET_CANDIDATES)
                ),
                "SELECT id, author_username, created_at, 0::double precision AS rank, left(text, 120) AS snippet "
                "FROM twitter_bot.tweets WHERE text ILIKE $1 ORDER BY created_at DESC LIMIT 20",
            ),
            f"4. search {s.comments} comments, {'rare' if term == RARE else 'common'} '{term}'": (
                "reddit_bot.search_comments", {"query": term, "limit": 20, "max_candidates": MAX_CANDIDATES},
                lambda t=term: comments.search(t, 20),
                lambda t=term: collect(
                    aq.reddit_bot.search_comments(pool, query=t, limit=20, max_candidates=MAX_CANDIDATES)
                ),
                "SELECT id, post_id, karma_score, status, created_at, 0::double precision AS rank, "
                "left(content, 120) AS snippet FROM reddit_bot.comments WHERE content ILIKE $1 AND deleted_at IS NULL "
                "ORDER BY id DESC LIMIT 20",
            ),
        }  # fmt: skip
        for workload, (name, values, repo, aio, ilike) in cases.items():
            sql, args = raw(name, **values)
            explained = await conn.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *args)
            plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]
            nodes = _plan_nodes(plan["Plan"])
            gin = sorted({n["Index Name"] for n in nodes if n.get("Index Name", "").endswith("search_idx")})
            plans[workload] = {
                "gin_index": gin, "execution_ms": plan["Execution Time"],
                "shared_hit": plan["Plan"].get("Shared Hit Blocks"), "shared_read": plan["Plan"].get("Shared Read Blocks"),
            }  # fmt: skip
            literal = values | {"query": "'" + term + "'"}
            methods: dict[str, Method] = {
                "repository": lambda r=repo: budgeted(lambda _: r(), s.seconds),
                "raw asyncpg": lambda sql=sql, args=args: budgeted(lambda _: pool.fetch(sql, *args), s.seconds),
                "aiosql": lambda a=aio: budgeted(lambda _: a(), s.seconds),
                "raw asyncpg, ILIKE (contrast)": lambda sql=ilike, pattern=f"%{term}%": budgeted(
                    lambda _: pool.fetch(sql, pattern), s.seconds, max_ops=20
                ),
            }
            if pgbench.binary():
                text = pgbench.script(name, {k: str(v) for k, v in literal.items()})
                methods["pgbench (C client, 1 connection)"] = lambda text=text: pgbench.run(
                    url, text, clients=1, seconds=None, transactions=max(3, min(200, round(s.seconds * 50)))
                )
            await run.measure(workload, methods, "raw asyncpg", min(s.rounds, 3))  # slow: fewer rounds
    run.notes["search_plans"] = plans
    for workload, p in plans.items():
        console.print(f"  {workload}: GIN {', '.join(p['gin_index']) or 'NOT used'}; EXPLAIN ANALYZE "
                      f"{p['execution_ms']:.1f} ms, shared hit {p['shared_hit']}, read {p['shared_read']}")  # fmt: skip


_RESET_CLAIMS = """
WITH touched AS (DELETE FROM discord_bot.reminder_logs RETURNING event_id)
UPDATE discord_bot.events AS e
   SET last_reminder = {last}, claimed_by = NULL, claimed_until = NULL
 WHERE e.id IN (SELECT event_id FROM touched) OR e.claimed_by IS NOT NULL"""


async def claims(run: Run, conn: asyncpg.Connection, pool: asyncpg.Pool, db: Database, aq: Any) -> None:
    """Workload 5: 4 workers claim due reminders (and record each sent) until none is due; none claimed twice."""
    s = run.scale
    every = max(1, s.events // s.due)
    console.print(f"[bold]5[/bold] claim {s.events // every:,} due reminders of {s.events:,} with 4 workers")
    reset = _RESET_CLAIMS.format(last=data.event_last_reminder_sql("e.message_id", every))
    reminders = ReminderRepository(db)
    batch, lease = 50, 600.0
    claim_sql = q.load()["discord_bot.claim_due_events"]
    sent_sql = q.load()["discord_bot.record_reminder_sent"]

    async def repo_claim(worker: str) -> list[tuple[int, int]]:
        got = await reminders.claim_due(worker, batch, now=CLAIM_AT, lease_seconds=lease)
        for r in got:
            await reminders.record_sent(r.reminder_id, worker, 1, now=CLAIM_AT)
        return [(r.event_id, r.reminder_id) for r in got]

    async def raw_claim(worker: str) -> list[tuple[int, int]]:
        sql, args = raw(claim_sql.name, now=CLAIM_AT, limit=batch, worker=worker, lease_seconds=lease)
        got = await pool.fetch(sql, *args)
        for r in got:
            sql2, args2 = raw(
                sent_sql.name, reminder_id=r["reminder_id"], worker=worker, users_notified=1, now=CLAIM_AT
            )
            await pool.fetchrow(sql2, *args2)
        return [(r["event_id"], r["reminder_id"]) for r in got]

    async def aiosql_claim(worker: str) -> list[tuple[int, int]]:
        got = await collect(
            aq.discord_bot.claim_due_events(pool, now=CLAIM_AT, limit=batch, worker=worker, lease_seconds=lease)
        )
        for r in got:
            await aq.discord_bot.record_reminder_sent(
                pool, reminder_id=r["reminder_id"], worker=worker, users_notified=1, now=CLAIM_AT
            )
        return [(r["event_id"], r["reminder_id"]) for r in got]

    checks: list[dict[str, Any]] = []

    def drain(name: str, claim: Callable[[str], Awaitable[list[tuple[int, int]]]]) -> Method:
        async def measured() -> Sample:
            await conn.execute(reset)
            due = await conn.fetchval(
                "SELECT count(*) FROM discord_bot.events WHERE NOT is_paused AND next_reminder_at <= $1", CLAIM_AT
            )
            lat: list[float] = []
            seen: list[int] = []

            async def worker(w: int) -> None:
                while True:
                    t0 = time.perf_counter()
                    got = await claim(f"bench-worker-{w}")
                    lat.append(time.perf_counter() - t0)
                    if not got:
                        return
                    seen.extend(event for event, _ in got)

            t0 = time.perf_counter()
            await asyncio.gather(*(worker(w) for w in range(4)))
            elapsed = time.perf_counter() - t0
            logged = await conn.fetchval("SELECT count(*) FROM discord_bot.reminder_logs WHERE status = 'sent'")
            twice = len(seen) - len(set(seen))
            checks.append({"method": name, "due": due, "claimed": len(seen), "claimed_twice": twice, "logged": logged})
            assert twice == 0, f"{name}: {twice} reminders were claimed twice"
            assert len(seen) == due == logged, f"{name}: {due} due, {len(seen)} claimed, {logged} logged as sent"
            return len(seen) / elapsed, lat

        return measured

    methods = {"repository": drain("repository", repo_claim), "raw asyncpg": drain("raw asyncpg", raw_claim),
               "aiosql": drain("aiosql", aiosql_claim)}  # fmt: skip
    await run.measure(f"5. claim+record due reminders of {s.events} (4 workers, reminders/s)", methods,
                      "raw asyncpg", min(s.rounds, 3))  # fmt: skip
    await conn.execute(reset)
    run.notes["claims"] = checks
    console.print(f"  every round: claimed twice = {max(c['claimed_twice'] for c in checks)}, "
                  f"{checks[0]['due']} due = claimed = logged as sent")  # fmt: skip


async def analytics(run: Run, url: str, conn: asyncpg.Connection, aq: Any) -> None:
    """Workload 6: one month's daily breakdown and p95 per endpoint over the 12 partitioned months."""
    s = run.scale
    console.print(f"[bold]6[/bold] usage analytics over {s.usage:,} partitioned rows (one month)")
    since = data.ANALYTICS_MONTH
    until = datetime(since.year + (since.month == 12), since.month % 12 + 1, 1, tzinfo=UTC)
    daily_sql, daily_args = raw("twitter_bot.api_usage_by_period", period="day", since=since, until=until)
    p95_sql, p95_args = raw("twitter_bot.api_response_time_percentiles", since=since, until=until)
    own = await asyncpg.connect(url)  # one connection for all three: each statement's plan cache is the same
    await init_connection(own)
    usage = ApiUsageRepository(Database.on_connection(own, Settings(slow_query_ms=0)))
    # What `twitter maintain` does daily: the hourly rollup the reports read (a backfill the first time, kept with
    # the cached data set; then only the last day is recomputed).
    started = time.perf_counter()
    await usage.rollup()
    console.print(f"  rollup of the usage log brought up to date in {time.perf_counter() - started:.1f} s")

    async def repo(_: int) -> Any:
        return await usage.daily(since, until), await usage.response_time_percentiles(since, until)

    async def raw_(_: int) -> Any:
        return await own.fetch(daily_sql, *daily_args), await own.fetch(p95_sql, *p95_args)

    async def aio(_: int) -> Any:
        return (await collect(aq.twitter_bot.api_usage_by_period(own, period="day", since=since, until=until)),
                await collect(aq.twitter_bot.api_response_time_percentiles(own, since=since, until=until)))  # fmt: skip

    # The first runs of a prepared statement get custom plans; from the sixth PostgreSQL may switch to a generic
    # plan, which prunes partitions at executor start-up instead. First runs, then the rest after ten.
    first = [0.0] * 5
    for i in range(5):
        t0 = time.perf_counter()
        await repo(i)
        first[i] = time.perf_counter() - t0
    for i in range(5, 10):
        await repo(i)
    await raw_(0)
    await aio(0)
    for _ in range(9):
        await raw_(0)
        await aio(0)
    methods: dict[str, Method] = {
        "repository (daily + p95)": lambda: budgeted(repo, s.seconds * 2, max_ops=30),
        "raw asyncpg (daily + p95)": lambda: budgeted(raw_, s.seconds * 2, max_ops=30),
        "aiosql (daily + p95)": lambda: budgeted(aio, s.seconds * 2, max_ops=30),
    }
    workload = f"6. usage analytics, 1 month of {s.usage} rows (after 10 runs)"
    await run.measure(workload, methods, "raw asyncpg (daily + p95)", min(s.rounds, 3))
    generic = await conn.fetchval("SELECT setting FROM pg_settings WHERE name = 'plan_cache_mode'")
    plans = {}
    for label, sql, args in (("daily", daily_sql, daily_args), ("p95 per endpoint", p95_sql, p95_args)):
        for mode in ("custom", "generic"):
            await own.execute(f"SET plan_cache_mode = force_{mode}_plan")
            explained = await own.fetchval(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}", *args)
            plan = (json.loads(explained) if isinstance(explained, str) else explained)[0]
            nodes = _plan_nodes(plan["Plan"])
            plans[f"{label}, {mode} plan"] = {
                # Relations the executor really scanned (runtime pruning leaves the others "never executed").
                "tables_read": sorted({n["Relation Name"] for n in nodes if "Relation Name" in n and n.get("Actual Loops")}),
                "partitions_read": sorted({n["Relation Name"] for n in nodes if n.get("Actual Loops")
                                           and str(n.get("Relation Name", "")).startswith("api_usage_y")}),
                "subplans_removed": sum(n.get("Subplans Removed", 0) for n in nodes),
                "shared_hit": plan["Plan"].get("Shared Hit Blocks"), "shared_read": plan["Plan"].get("Shared Read Blocks"),
                "temp_written": plan["Plan"].get("Temp Written Blocks"), "execution_ms": plan["Execution Time"],
            }  # fmt: skip
    await own.execute(f"SET plan_cache_mode = {generic}")
    await own.close()
    first_sorted = sorted(first)
    run.notes["analytics"] = {
        "month": f"{since:%Y-%m}", "first_5_runs_ms": [round(x * 1000, 1) for x in first],
        "first_5_runs_p95_ms": round(first_sorted[-1] * 1000, 1), "plans": plans,
    }  # fmt: skip
    console.print(f"  first 5 runs (custom plans): {', '.join(f'{x * 1000:.0f}' for x in first)} ms")
    for label, p in plans.items():
        console.print(f"  {label}: reads {', '.join(p['tables_read'])} (subplans removed: {p['subplans_removed']}); "
                      f"shared hit {p['shared_hit']}, read {p['shared_read']}, temp written {p['temp_written']}; "
                      f"{p['execution_ms']:.0f} ms")  # fmt: skip


async def export(run: Run, url: str) -> None:
    """Workload 7: the peak memory of exporting 10k and 1M rows, in fresh processes."""
    s = run.scale
    console.print(f"[bold]7[/bold] export of {s.export_small:,} and {s.export_large:,} tweets: peak memory")

    async def probe(method: str, rows: int) -> dict[str, Any]:
        done = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.probe", "export", url, method, str(rows),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=data.ROOT,
        )  # fmt: skip
        out, err = await done.communicate()
        if done.returncode != 0:
            raise RuntimeError(f"export probe failed: {err.decode()[-2000:]}")
        return {"method": method, **json.loads(out)}

    cases = [(m, n) for m in ("repository", "cursor") for n in (s.export_small, s.export_large)]
    if s.name == "tiny":  # each process measures its own peak: at the tiny scale they may share the machine
        found = list(await asyncio.gather(*(probe(m, n) for m, n in cases)))
    else:
        found = [await probe(m, n) for m, n in cases]
    run.notes["export"] = found
    for f in found:
        console.print(f"  {f['method']:>10}: {f['rows']:>9,} rows in {f['seconds']:.2f} s "
                      f"({f['rows'] / f['seconds']:,.0f} rows/s), peak RSS +{f['peak_growth_mb']:.0f} MB")  # fmt: skip


async def startup(run: Run) -> None:
    """Workload 8: importing datalayer, every repository, and loading all queries, in fresh processes."""
    # As deployed: with bytecode cached (the first process writes it, to a cache of the bench's own, not the
    # checkout); and cold, without bytecode, as under PYTHONDONTWRITEBYTECODE=1 (this machine's default).
    cache = Path(tempfile.gettempdir()) / "datalayer-bench-pycache"
    warm_env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {
        "PYTHONPYCACHEPREFIX": str(cache)
    }
    cold_env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPYCACHEPREFIX": str(cache / "none")}

    def probe(env: dict[str, str]) -> tuple[dict[str, Any], float]:
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "bench.probe", "startup"], cwd=data.ROOT, capture_output=True,
                              text=True, check=True, env=env)  # fmt: skip
        return json.loads(done.stdout), (time.perf_counter() - t0) * 1000

    probe(warm_env)  # writes the bytecode
    n = 5 if run.scale.name != "tiny" else 1
    warm = [probe(warm_env) for _ in range(n)]
    cold = [probe(cold_env) for _ in range(max(1, n // 2))]
    median = statistics.median(p["ms"] for p, _ in warm)
    run.notes["startup"] = {
        "ms": [round(p["ms"], 1) for p, _ in warm], "median_ms": round(median, 1),
        "process_wall_median_ms": round(statistics.median(w for _, w in warm), 1),
        "cold_no_bytecode_median_ms": round(statistics.median(p["ms"] for p, _ in cold), 1),
        "queries": warm[0][0]["queries"],
    }  # fmt: skip
    console.print(f"[bold]8[/bold] start-up: import + import_repositories() + load() of {warm[0][0]['queries']} "
                  f"queries: median {median:.0f} ms with bytecode cached (whole process "
                  f"{run.notes['startup']['process_wall_median_ms']:.0f} ms); without bytecode "
                  f"{run.notes['startup']['cold_no_bytecode_median_ms']:.0f} ms")  # fmt: skip


async def bouncer(run: Run, url: str, server: str, conn: asyncpg.Connection, pool: asyncpg.Pool) -> None:
    """Workload 9: workload 1 behind a real PgBouncer in transaction mode (statement_cache_size=0)."""
    s = run.scale
    missing = pgbouncer_missing()
    if missing:
        console.print(f"[bold]9[/bold] {missing}")
        run.notes["pgbouncer"] = missing
        return
    console.print("[bold]9[/bold] primary-key read behind PgBouncer (transaction mode, statement_cache_size=0)")
    pb = PgBouncer(server_url=server, pool_size=8).start()
    try:
        via = pb.url(url)
        settings = Settings(pool_min_size=8, pool_max_size=8, slow_query_ms=0, statement_cache_size=0)
        get_sql = q.load()["twitter_bot.get_tweet"].sql
        tweet = model_fast_path(Tweet)
        b_conn = await asyncpg.connect(via, statement_cache_size=0)
        await init_connection(b_conn)
        b_pool = await asyncpg.create_pool(via, min_size=8, max_size=8, init=init_connection, statement_cache_size=0)
        d_nocache = await asyncpg.connect(url, statement_cache_size=0)
        await init_connection(d_nocache)
        assert b_pool is not None
        async with Database.connect(settings, via) as b_db:
            b_repo_conn = TweetRepository(Database.on_connection(b_conn, settings))
            b_repo_pool = TweetRepository(b_db)

            def key(i: int) -> int:
                return (i * 7919) % s.tweets + 1

            async def get(target: Any, i: int) -> Any:
                return tweet(await target.fetchrow(get_sql, key(i)))

            one: dict[str, Method] = {
                "repository via PgBouncer": lambda: serial(lambda i: b_repo_conn.get(key(i)), s.ops),
                "raw asyncpg + model via PgBouncer": lambda: serial(lambda i: get(b_conn, i), s.ops),
                "raw asyncpg + model direct, statement cache off": lambda: serial(lambda i: get(d_nocache, i), s.ops),
                "raw asyncpg + model direct": lambda: serial(lambda i: get(conn, i), s.ops),
            }
            pooled: dict[str, Method] = {
                "repository via PgBouncer": lambda: concurrent(lambda i: b_repo_pool.get(key(i)), s.ops),
                "raw asyncpg + model via PgBouncer": lambda: concurrent(lambda i: get(b_pool, i), s.ops),
                "raw asyncpg + model direct": lambda: concurrent(lambda i: get(pool, i), s.ops),
            }
            for name, methods in (("9. pk read via PgBouncer (1 connection)", one),
                                  ("9. pk read via PgBouncer (8 tasks, pool)", pooled)):  # fmt: skip
                for fn in methods.values():
                    await fn()
                await run.measure(name, methods, "raw asyncpg + model direct", s.rounds)
        await b_pool.close()
        await b_conn.close()
        await d_nocache.close()
    finally:
        pb.stop()


_GET_TWEET_CACHED = q.one("twitter_bot.get_tweet", Tweet, (int,), cache=Cached(ttl=3600))
_GET_TWEET_UNCACHED = q.one("twitter_bot.get_tweet", Tweet, (int,))


async def extras(
    run: Run, conn: asyncpg.Connection, pool: asyncpg.Pool, on_conn: Database, db: Database,
    s_one: async_sessionmaker[Any], stack: contextlib.AsyncExitStack, settings: Settings, url: str,
) -> None:  # fmt: skip
    """Earlier issues' figures, kept: the read cache (issue 7) and the Reddit bot's pattern seeding (issue 9)."""
    s = run.scale
    console.print("[bold]+[/bold] read cache; saving 180 patterns")
    get_sql = q.load()["twitter_bot.get_tweet"].sql

    def hot(i: int) -> int:
        return i % 100 + 1

    cached: dict[str, Method] = {
        "raw asyncpg, Record only": lambda: serial(lambda i: pool.fetchrow(get_sql, hot(i)), s.ops),
        "repository, uncached": lambda: serial(lambda i: db.executor.one(_GET_TWEET_UNCACHED, hot(i)), s.ops),
        "repository, cached in-process": lambda: serial(lambda i: db.executor.one(_GET_TWEET_CACHED, hot(i)), s.ops),
    }
    redis_url = os.environ.get("REDIS_URL") or ("redis://127.0.0.1:6379/0" if _answers(6379) else "")
    if redis_url:
        redis_db = await stack.enter_async_context(
            Database.connect(settings.with_overrides(redis_url=redis_url, cache_size=1), url)
        )
        cached["repository, cached in Redis"] = lambda: serial(
            lambda i: redis_db.executor.one(_GET_TWEET_CACHED, hot(i)), s.ops
        )
    for fn in cached.values():
        await fn()
    await run.measure("+ pk read, read cache (pool, serial)", cached, "raw asyncpg, Record only", s.rounds)

    now = datetime.now(UTC)
    patterns = [NewPattern(subreddit="learnpython", pattern_text=f"A pattern that did well, number {i}",
                           score=i, extracted_at=now) for i in range(180)]  # fmt: skip
    repo = PatternRepository(on_conn)
    rows = [(p.subreddit, p.pattern_text, p.score, p.extracted_at) for p in patterns]
    insert_sql = ("INSERT INTO reddit_bot.successful_patterns (subreddit, pattern_text, score, extracted_at) "
                  "VALUES ($1, $2, $3, $4)")  # fmt: skip

    def once(fn: Callable[[], Awaitable[Any]]) -> Method:
        async def measured() -> Sample:
            await conn.execute("TRUNCATE reddit_bot.successful_patterns")
            t0 = time.perf_counter()
            await fn()
            elapsed = time.perf_counter() - t0
            return 1 / elapsed, [elapsed]

        return measured

    async def row_by_row() -> None:
        for p in patterns:
            await repo.bulk_save([p])

    async def sa() -> None:
        async with s_one() as session, session.begin():
            await session.run_sync(lambda sync: sync.bulk_insert_mappings(PatternORM, [  # type: ignore[arg-type]
                {"subreddit": p.subreddit, "pattern_text": p.pattern_text, "score": p.score,
                 "extracted_at": p.extracted_at} for p in patterns]))  # fmt: skip

    methods = {
        "repository bulk_save (one statement)": once(lambda: repo.bulk_save(patterns)),
        "repository, row by row (180 statements)": once(row_by_row),
        "raw asyncpg executemany": once(lambda: conn.executemany(insert_sql, rows)),
        "sqlalchemy bulk_insert_mappings": once(sa),
    }
    await run.measure("+ save 180 patterns", methods, "raw asyncpg executemany", s.rounds * 3)
    await conn.execute("TRUNCATE reddit_bot.successful_patterns")


# -- the report --------------------------------------------------------------------------------------------------
def percentile(sorted_values: list[float], fraction: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * fraction))]


def results_of(run: Run) -> list[Result]:
    results = []
    for (workload, method), runs in run.samples.items():
        lat = sorted(x for _, ls in runs for x in ls)
        ref = run.samples[(workload, run.reference[workload])]
        # Paired: each round's figure against the same round's (b), then the median of those ratios.
        ratio = statistics.median(a / b for (a, _), (b, _) in zip(runs, ref, strict=True))
        results.append(Result(
            workload, method, statistics.median(r for r, _ in runs), percentile(lat, 0.50) * 1000,
            percentile(lat, 0.95) * 1000, percentile(lat, 0.99) * 1000, ratio,
        ))  # fmt: skip
    return results


def targets_of(run: Run, results: list[Result]) -> list[Target]:
    s = run.scale

    def get(workload: str, method: str) -> Result:
        return next(r for r in results if r.workload == workload and r.method == method)

    def at_least(text: str, value: float, goal: float) -> Target:
        return Target(text, value, f"≥ {goal:g}", value >= goal)

    def at_most(text: str, value: float, goal: float, unit: str) -> Target:
        return Target(text, value, f"≤ {goal:g} {unit}", value <= goal)

    out = []
    for w in ("1. pk read (1 connection)", "1. pk read (8 tasks, pool)", "2. insert returning model"):
        repo, sa = get(w, "repository").ratio_to_raw, get(w, "sqlalchemy orm").ratio_to_raw
        out.append(at_least(f"{w}: repository × raw asyncpg + model", repo, 0.90))
        out.append(at_least(f"{w}: repository × SQLAlchemy ORM", repo / sa, 3.0))
    bw = f"3. bulk ingest {s.bulk} rows (rows/s)"
    repo = get(bw, "repository log_many (unnest, idempotent)").ratio_to_raw
    core = get(bw, "sqlalchemy core insert(list of dicts)").ratio_to_raw
    out.append(at_least(f"{bw}: log_many × raw COPY", repo, 0.80))
    out.append(at_least(f"{bw}: log_many × SQLAlchemy Core", repo / core, 5.0))
    for w, p in run.notes["search_plans"].items():
        out.append(at_most(f"{w}: repository p95", get(w, "repository").p95_ms, 20, "ms"))
        out.append(
            Target(f"{w}: the plan uses the GIN index", float(bool(p["gin_index"])), "yes", bool(p["gin_index"]))
        )
    twice = max(c["claimed_twice"] for c in run.notes["claims"])
    out.append(Target("5. claims: reminders claimed twice (every round, every client)", twice, "= 0", twice == 0))
    aw = f"6. usage analytics, 1 month of {s.usage} rows (after 10 runs)"
    out.append(at_most(f"{aw}: repository p95", get(aw, "repository (daily + p95)").p95_ms, 200, "ms"))
    out.append(at_most("6. usage analytics: repository p95 of the first 5 runs",
                       run.notes["analytics"]["first_5_runs_p95_ms"], 200, "ms"))  # fmt: skip
    ex = {(e["method"], e["rows"]): e["peak_growth_mb"] for e in run.notes["export"]}
    for method, label in (("repository", "list_recent (no streaming method exists)"), ("cursor", "raw asyncpg cursor")):
        grow = ex[(method, s.export_large)] - ex[(method, s.export_small)]
        out.append(at_most(f"7. export {s.export_large} vs {s.export_small} rows, {label}: extra peak RSS", grow,
                           150, "MB"))  # fmt: skip
    out.append(at_most("8. start-up (median of fresh processes)", run.notes["startup"]["median_ms"], 300, "ms"))
    return out


def report(run: Run, out: Path) -> None:
    s = run.scale
    results = results_of(run)
    table = Table(title=f"datalayer bench, scale {s.name}: {s.rounds} rounds (median of rounds; × raw = paired median)")
    for col in ("workload", "method", "ops/s", "p50 ms", "p95 ms", "p99 ms", "× raw"):
        table.add_column(col, justify="left" if col in ("workload", "method") else "right")
    last = ""
    for r in results:
        table.add_row(
            r.workload if r.workload != last else "", r.method, f"{r.ops_per_s:,.0f}", f"{r.p50_ms:.3f}",
            f"{r.p95_ms:.3f}", f"{r.p99_ms:.3f}", f"{r.ratio_to_raw:.2f}",
        )  # fmt: skip
        last = r.workload
    console.print(table)
    targets = targets_of(run, results)
    for t in targets:
        console.print(
            f"{'[green]met[/green]    ' if t.met else '[red]NOT met[/red]'} {t.text}: {t.value:.3f} ({t.goal})"
        )
    console.print(f"total {run.notes['total_seconds']:.0f} s (data set {run.notes['data']['seconds']:.0f} s)")
    out.write_text(json.dumps({
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "scale": asdict(s),
        "results": [asdict(r) for r in results],
        "targets": [asdict(t) for t in targets],
        "notes": run.notes,
    }, indent=2, default=str))  # fmt: skip
    console.print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", choices=sorted(data.SCALES), default="full")
    parser.add_argument("--rounds", type=_positive, help="override the scale's rounds")
    parser.add_argument("--ops", type=_positive, help="override the scale's operations per round")
    parser.add_argument("--fresh", action="store_true", help="generate the data set again even when cached")
    parser.add_argument("--no-cache", action="store_true", help="drop the data set afterwards")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    args = parser.parse_args()
    chosen = data.SCALES[args.scale]
    overrides = {k: v for k, v in (("rounds", args.rounds), ("ops", args.ops)) if v}
    if overrides:
        chosen = Scale(**{**asdict(chosen), **overrides})
    asyncio.run(main(chosen, args.out, fresh=args.fresh, keep=not args.no_cache))

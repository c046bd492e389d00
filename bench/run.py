"""The cost of the machinery, measured side by side in one run on one database.

(a) our repository method, (b) raw asyncpg with the same SQL, (c) aiosql called directly plus
`model_validate(dict(row))`, (d) SQLAlchemy 2 async ORM over asyncpg. Methods run interleaved in rounds,
and each figure is the median over rounds, so a noisy neighbour hits every method alike.

    make bench            # or: python -m bench.run --rounds 5 --ops 2000
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiosql
import asyncpg
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

from bench.orm import ApiUsageORM, PatternORM, TweetORM
from datalayer import queries as q
from datalayer.cache import Cached
from datalayer.config import Settings
from datalayer.db import Database, init_connection, resolve_url
from datalayer.migrate import Migrator
from datalayer.reddit_bot import NewPattern, PatternRepository
from datalayer.twitter_bot import ApiUsage, ApiUsageRepository, LogApiCallParams, Tweet, TweetRepository
from tests.conftest import create_database, drop_database

TWEETS = 10_000
console = Console(width=140)


@dataclass
class Result:
    workload: str
    method: str
    ops_per_s: float
    p50_ms: float
    p99_ms: float
    ratio_to_raw: float = 0.0


def call_params(i: int) -> LogApiCallParams:
    return LogApiCallParams(
        service="twitter", endpoint="tweets", success=i % 10 != 0, status_code=200,
        response_time_ms=float(i % 500), called_at=datetime.now(UTC),
    )  # fmt: skip


async def timed_serial(fn: Callable[[int], Awaitable[Any]], ops: int) -> tuple[float, list[float]]:
    lat = []
    start = time.perf_counter()
    for i in range(ops):
        t0 = time.perf_counter()
        await fn(i)
        lat.append(time.perf_counter() - t0)
    return ops / (time.perf_counter() - start), lat


async def timed_concurrent(fn: Callable[[int], Awaitable[Any]], ops: int, tasks: int = 8) -> tuple[float, list[float]]:
    lat: list[float] = []

    async def worker(w: int) -> None:
        for i in range(w, ops, tasks):
            t0 = time.perf_counter()
            await fn(i)
            lat.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker(w) for w in range(tasks)))
    return ops / (time.perf_counter() - start), lat


_GET_TWEET_CACHED = q.one("twitter_bot.get_tweet", Tweet, (int,), cache=Cached(ttl=3600))
_GET_TWEET_UNCACHED = q.one("twitter_bot.get_tweet", Tweet, (int,))


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(8).startswith(b"+PONG")
    except OSError:
        return False


def query_load_ms() -> tuple[int, float]:
    """Time to load and parse every queries/**/*.sql (what the first import of a repository pays)."""
    q.load.cache_clear()
    started = time.perf_counter()
    count = len(q.load())
    return count, (time.perf_counter() - started) * 1000


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} is not a positive number")
    return value


async def main(rounds: int, ops: int, bulk_rows: int, out: Path) -> list[Result]:
    count, load_ms = query_load_ms()
    console.print(f"loading all {count} named queries: {load_ms:.1f} ms (target: well under 1 s)")
    settings = Settings()
    server = resolve_url(settings)
    url = await create_database(server, "datalayer_bench")
    try:
        async with Migrator(url) as m:
            await m.apply()
        return await run_all(url, rounds, ops, bulk_rows, out)
    finally:
        await drop_database(server, url)


async def run_all(url: str, rounds: int, ops: int, bulk_rows: int, out: Path) -> list[Result]:
    settings = Settings(pool_min_size=8, pool_max_size=8, slow_query_ms=0)
    conn = await asyncpg.connect(url)
    await init_connection(conn)
    # The raw pool gets the very settings our Database uses (command timeout, statement cache).
    pool = await asyncpg.create_pool(
        url, min_size=8, max_size=8, init=init_connection,
        command_timeout=settings.command_timeout, statement_cache_size=settings.statement_cache_size,
    )  # fmt: skip
    assert pool is not None
    on_conn = Database.on_connection(conn, settings)
    redis_url = os.environ.get("REDIS_URL") or ("redis://127.0.0.1:6379/0" if _answers(6379) else "")
    async with Database.connect(settings, url) as on_pool, contextlib.AsyncExitStack() as stack:
        seed = [
            (i, 1, "watched", f"tweet number {i} about translation", datetime.now(UTC), "en")
            for i in range(1, TWEETS + 1)
        ]
        await conn.copy_records_to_table(
            "tweets", schema_name="twitter_bot", records=seed,
            columns=["id", "author_id", "author_username", "text", "created_at", "language"],
        )  # fmt: skip
        await ApiUsageRepository(on_conn).ensure_partitions_ahead(1)
        await conn.execute("ANALYZE")

        raw_q = aiosql.from_path(q.queries_dir(), "asyncpg")
        get_sql = q.load()["twitter_bot.get_tweet"].sql
        log_sql = q.load()["twitter_bot.log_api_call"].sql
        sa_one = create_async_engine(url.replace("postgresql://", "postgresql+asyncpg://"), pool_size=1, max_overflow=0)
        sa_pool = create_async_engine(
            url.replace("postgresql://", "postgresql+asyncpg://"), pool_size=8, max_overflow=0
        )
        s_one = async_sessionmaker(sa_one, expire_on_commit=False)
        s_pool = async_sessionmaker(sa_pool, expire_on_commit=False)
        tweets_conn, tweets_pool = TweetRepository(on_conn), TweetRepository(on_pool)
        # The same repository with per-query statistics off: what the statistics cost.
        tweets_conn_nostats = TweetRepository(
            Database.on_connection(conn, Settings(slow_query_ms=0, query_stats=False))
        )
        usage_conn = ApiUsageRepository(on_conn)

        def key(i: int) -> int:
            return i % TWEETS + 1

        async def sa_get(maker: async_sessionmaker[Any], i: int) -> Any:
            async with maker() as s:
                return await s.get(TweetORM, key(i))

        async def sa_insert(i: int) -> Any:
            p = call_params(i)
            row = ApiUsageORM(**p.model_dump())
            async with s_one() as s, s.begin():
                s.add(row)
            return row

        async def aiosql_get(target: Any, i: int) -> Tweet:
            return Tweet.model_validate(dict(await raw_q.twitter_bot.get_tweet(target, id=key(i))))

        async def aiosql_insert(i: int) -> ApiUsage:
            p = call_params(i)
            row = await raw_q.twitter_bot.log_api_call(conn, **p.model_dump())
            return ApiUsage.model_validate(dict(row))

        async def raw_insert(i: int) -> Any:
            p = call_params(i)
            return await conn.fetchrow(log_sql, p.call_id, p.service, p.endpoint, p.called_at, p.success,
                                       p.status_code, p.response_time_ms, p.error_type, p.error_message)  # fmt: skip

        # The read cache: the same primary-key read on the pool, uncached and cached (in-process; and the Redis
        # tier alone, with an in-process tier of one entry), over 100 hot keys.
        def hot(i: int) -> int:
            return i % 100 + 1

        cached_methods: dict[str, Callable[[int], Awaitable[Any]]] = {
            "raw asyncpg": lambda i: pool.fetchrow(get_sql, hot(i)),
            "repository, uncached": lambda i: on_pool.executor.one(_GET_TWEET_UNCACHED, hot(i)),
            "repository, cached in-process": lambda i: on_pool.executor.one(_GET_TWEET_CACHED, hot(i)),
        }
        redis_db = None
        if redis_url:
            redis_db = await stack.enter_async_context(
                Database.connect(settings.with_overrides(redis_url=redis_url, cache_size=1), url)
            )
            cached_methods["repository, cached in Redis"] = lambda i: redis_db.executor.one(_GET_TWEET_CACHED, hot(i))
        else:
            console.print("no Redis answered (REDIS_URL or 127.0.0.1:6379): the Redis tier is not measured")

        workloads: dict[str, tuple[Callable[..., Any], dict[str, Callable[[int], Awaitable[Any]]]]] = {
            "pk read, read cache (pool, serial)": (timed_serial, cached_methods),
            "pk read (1 connection)": (timed_serial, {
                "repository": lambda i: tweets_conn.get(key(i)),
                "repository, statistics off": lambda i: tweets_conn_nostats.get(key(i)),
                "raw asyncpg": lambda i: conn.fetchrow(get_sql, key(i)),
                "aiosql + model_validate": lambda i: aiosql_get(conn, i),
                "sqlalchemy orm": lambda i: sa_get(s_one, i),
            }),
            "pk read (8 tasks, pool)": (timed_concurrent, {
                "repository": lambda i: tweets_pool.get(key(i)),
                "raw asyncpg": lambda i: pool.fetchrow(get_sql, key(i)),
                "aiosql + model_validate": lambda i: aiosql_get(pool, i),
                "sqlalchemy orm": lambda i: sa_get(s_pool, i),
            }),
            "insert returning model": (timed_serial, {
                "repository": lambda i: usage_conn.log(call_params(i)),
                "raw asyncpg": raw_insert,
                "aiosql + model_validate": aiosql_insert,
                "sqlalchemy orm": sa_insert,
            }),
        }  # fmt: skip

        samples: dict[tuple[str, str], list[tuple[float, list[float]]]] = {}
        for name, (runner, methods) in workloads.items():
            for fn in methods.values():  # warm-up: prepared statements, pools, caches
                await runner(fn, max(200, ops // 10))
            for n in range(rounds):
                order = list(methods.items())
                for method, fn in order if n % 2 == 0 else reversed(order):  # no method always goes first
                    samples.setdefault((name, method), []).append(await runner(fn, ops))

        # Bulk: the same rows through our idempotent path (one INSERT … SELECT FROM unnest … ON CONFLICT DO
        # NOTHING, retry-safe) and raw COPY (not retry-safe: a repeat duplicates or fails), interleaved.
        params = [call_params(i) for i in range(bulk_rows)]
        tuples = [(p.call_id, p.service, p.endpoint, p.called_at, p.success, p.status_code, p.response_time_ms,
                   p.error_type, p.error_message) for p in params]  # fmt: skip
        cols = ["call_id", "service", "endpoint", "called_at", "success", "status_code", "response_time_ms",
                "error_type", "error_message"]  # fmt: skip

        async def bulk_repo(_: int) -> Any:
            return await usage_conn.log_many(params)

        async def bulk_raw(_: int) -> Any:
            return await conn.copy_records_to_table(
                "api_usage", schema_name="twitter_bot", records=tuples, columns=cols
            )

        async def bulk_sa(_: int) -> Any:
            from sqlalchemy import insert

            async with s_one() as s, s.begin():
                await s.execute(insert(ApiUsageORM), [p.model_dump() for p in params])

        bulk = {
            "repository (unnest, idempotent)": bulk_repo,
            "raw asyncpg COPY": bulk_raw,
            "sqlalchemy orm bulk insert": bulk_sa,
        }
        for _ in range(rounds):
            for method, fn in bulk.items():
                await conn.execute("TRUNCATE twitter_bot.api_usage")  # every method starts from an empty table
                ops_s, lat = await timed_serial(fn, 1)
                samples.setdefault((f"bulk insert {bulk_rows} rows", method), []).append((bulk_rows * ops_s, lat))

        # The Reddit bot's seeding: 180 patterns (the seed's figure: 5 s row by row, 0.5 s after its change).
        now = datetime.now(UTC)
        patterns = [NewPattern(subreddit="learnpython", pattern_text=f"A pattern that did well, number {i}",
                               score=i, extracted_at=now) for i in range(180)]  # fmt: skip
        pattern_repo = PatternRepository(on_conn)
        pattern_rows = [(p.subreddit, p.pattern_text, p.score, p.extracted_at) for p in patterns]
        insert_sql = ("INSERT INTO reddit_bot.successful_patterns (subreddit, pattern_text, score, extracted_at) "
                      "VALUES ($1, $2, $3, $4)")  # fmt: skip

        async def patterns_bulk(_: int) -> Any:
            return await pattern_repo.bulk_save(patterns)

        async def patterns_row_by_row(_: int) -> Any:
            for p in patterns:
                await pattern_repo.bulk_save([p])

        async def patterns_raw(_: int) -> Any:
            await conn.executemany(insert_sql, pattern_rows)

        async def patterns_sa(_: int) -> Any:
            async with s_one() as s, s.begin():
                await s.run_sync(lambda sync: sync.bulk_insert_mappings(PatternORM, [  # type: ignore[arg-type]
                    {"subreddit": p.subreddit, "pattern_text": p.pattern_text, "score": p.score,
                     "extracted_at": p.extracted_at} for p in patterns]))  # fmt: skip

        pattern_methods = {
            "repository bulk_save (one statement, idempotent)": patterns_bulk,
            "repository, row by row (180 statements)": patterns_row_by_row,
            "raw asyncpg executemany": patterns_raw,
            "sqlalchemy bulk_insert_mappings": patterns_sa,
        }
        for n in range(rounds * 3):
            order = list(pattern_methods.items())
            for method, fn in order if n % 2 == 0 else reversed(order):
                await conn.execute("TRUNCATE reddit_bot.successful_patterns")
                ops_s, lat = await timed_serial(fn, 1)
                samples.setdefault(("save 180 patterns", method), []).append((ops_s, lat))

        await sa_one.dispose()
        await sa_pool.dispose()
    await pool.close()
    await conn.close()

    results = []
    for (workload, method), runs in samples.items():
        lat = sorted(x for _, ls in runs for x in ls)
        results.append(Result(
            workload, method, statistics.median(r for r, _ in runs),
            lat[len(lat) // 2] * 1000, lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000,
        ))  # fmt: skip
    # Ratios are paired: each round's figure against the same round's raw figure, then the median of those
    # ratios, so load that drifts between rounds on a shared machine hits both sides of every ratio alike.
    for r in results:
        raw_method = next(m for (w, m) in samples if w == r.workload and m.startswith("raw"))
        pairs = zip(samples[(r.workload, r.method)], samples[(r.workload, raw_method)], strict=True)
        r.ratio_to_raw = statistics.median(a / b for (a, _), (b, _) in pairs)
    report(results, out, rounds, ops, bulk_rows)
    return results


def report(results: list[Result], out: Path, rounds: int, ops: int, bulk_rows: int) -> None:
    table = Table(title=f"datalayer bench: {rounds} rounds × {ops} ops, bulk {bulk_rows} rows (median of rounds)")
    for col in ("workload", "method", "ops/s (rows/s for bulk)", "p50 ms", "p99 ms", "× raw"):
        table.add_column(col, justify="right" if col not in ("workload", "method") else "left")
    for r in results:
        table.add_row(
            r.workload, r.method, f"{r.ops_per_s:,.0f}", f"{r.p50_ms:.3f}", f"{r.p99_ms:.3f}", f"{r.ratio_to_raw:.2f}"
        )
    console.print(table)

    def ratio(workload: str, method: str) -> float:
        """Paired median ratio to raw (see above)."""
        return next(r.ratio_to_raw for r in results if r.workload == workload and r.method == method)

    targets = []
    for w in ("pk read (1 connection)", "pk read (8 tasks, pool)", "insert returning model"):
        repo, sa = ratio(w, "repository"), ratio(w, "sqlalchemy orm")
        targets.append((f"{w}: repository ≥ 0.90 × raw asyncpg", repo, 0.90))
        targets.append((f"{w}: repository ≥ 3 × SQLAlchemy ORM", repo / sa, 3.0))
    bw = f"bulk insert {bulk_rows} rows"
    repo_bulk = ratio(bw, "repository (unnest, idempotent)")
    targets.append((f"{bw}: repository ≥ 0.40 × raw COPY (retry-safe, COPY is not)", repo_bulk, 0.40))
    pw = "save 180 patterns"
    bulk_ms = next(r.p50_ms for r in results if r.workload == pw and r.method.startswith("repository bulk_save"))
    loop_ms = next(r.p50_ms for r in results if r.workload == pw and r.method.startswith("repository, row by row"))
    sa_ms = next(r.p50_ms for r in results if r.workload == pw and r.method.startswith("sqlalchemy"))
    console.print(
        f"{pw}: bulk_save {bulk_ms:.1f} ms, row by row {loop_ms:.1f} ms, SQLAlchemy bulk_insert_mappings {sa_ms:.1f} ms (the seed: 5000 ms before, 500 ms after)"
    )
    targets.append((f"{pw}: bulk_save ≥ 5 × row by row", loop_ms / bulk_ms, 5.0))
    targets.append((f"{pw}: bulk_save faster than SQLAlchemy bulk_insert_mappings", sa_ms / bulk_ms, 1.0))
    cw = "pk read, read cache (pool, serial)"
    hit = ratio(cw, "repository, cached in-process") / ratio(cw, "repository, uncached")
    targets.append((f"{cw}: in-process hit ≥ 5 × the uncached read", hit, 5.0))
    if any(r.method == "repository, cached in Redis" for r in results):
        console.print(
            f"Redis tier hit / uncached read: {ratio(cw, 'repository, cached in Redis') / ratio(cw, 'repository, uncached'):.2f}"
        )
    on, off = (
        ratio("pk read (1 connection)", "repository"),
        ratio("pk read (1 connection)", "repository, statistics off"),
    )
    console.print(f"cost of per-query statistics on a pk read: statistics on / off = {on / off:.3f}")
    for text, value, goal in targets:
        console.print(f"{'[green]met[/green]' if value >= goal else '[red]NOT met[/red]'}  {text}: {value:.3f}")
    out.write_text(json.dumps(
        {
            "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "rounds": rounds, "ops": ops, "bulk_rows": bulk_rows,
            "results": [r.__dict__ for r in results],
            "targets": [{"target": t, "value": round(v, 3), "goal": g, "met": v >= g} for t, v, g in targets],
        },
        indent=2,
    ))  # fmt: skip
    console.print(f"wrote {out}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=_positive, default=5)
    parser.add_argument("--ops", type=_positive, default=2000)
    parser.add_argument("--bulk-rows", type=_positive, default=100_000)
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results.json")
    args = parser.parse_args()
    asyncio.run(main(args.rounds, args.ops, args.bulk_rows, args.out))

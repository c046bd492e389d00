"""Measurements that need a fresh process: start-up time, and the peak memory of an export.

    python -m bench.probe startup
    python -m bench.probe export URL {repository,cursor} ROWS

Each prints one JSON object on stdout."""

from __future__ import annotations

import time

_T0 = time.perf_counter()

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402


def startup() -> dict[str, float]:
    """Import the package, import every repository module (which binds every query), load every query."""
    started = time.perf_counter()
    import datalayer
    import datalayer.check
    from datalayer import queries as q

    datalayer.check.import_repositories()
    count = len(q.load())
    return {"ms": (time.perf_counter() - started) * 1000, "queries": count, "interpreter_ms": (started - _T0) * 1000}


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


class _Sampler(threading.Thread):
    """The highest RSS while the export runs, sampled every 5 ms (the process's lifetime peak, ru_maxrss, may
    come from before it: compiling the modules)."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.peak = _rss_mb()
        self.running = True

    def run(self) -> None:
        while self.running:
            self.peak = max(self.peak, _rss_mb())
            time.sleep(0.005)


async def export(url: str, method: str, rows: int) -> dict[str, float]:
    """Every row of the export written as JSON lines (to /dev/null), through our repository or a raw cursor.
    Reports the growth of peak RSS over what the process held before the export began."""
    import asyncpg

    from datalayer import queries as q
    from datalayer.config import Settings
    from datalayer.db import Database, init_connection
    from datalayer.twitter_bot import Tweet, TweetRepository

    sql = q.load()["twitter_bot.list_recent_tweets"].sql
    build = q.row_builder(Tweet)
    sampler = _Sampler()
    with open(os.devnull, "w") as out:  # noqa: ASYNC230 - /dev/null never blocks
        if method == "repository":
            async with Database.connect(Settings(pool_min_size=1, pool_max_size=1), url) as db:
                before = _rss_mb()
                sampler.start()
                started = time.perf_counter()
                written = 0
                for tweet in await TweetRepository(db).list_recent(rows):
                    out.write(tweet.model_dump_json())
                    written += 1
        elif method == "cursor":
            conn = await asyncpg.connect(url)
            await init_connection(conn)
            before = _rss_mb()
            sampler.start()
            started = time.perf_counter()
            written = 0
            async with conn.transaction():
                async for record in conn.cursor(sql, rows, prefetch=2000):
                    out.write(build(record).model_dump_json())
                    written += 1
            await conn.close()
        else:
            raise SystemExit(f"unknown method {method!r}")
    seconds = time.perf_counter() - started
    sampler.running = False
    sampler.join()
    peak = max(sampler.peak, _rss_mb())
    return {"rows": written, "seconds": seconds, "rss_before_mb": before, "peak_growth_mb": max(0.0, peak - before)}


if __name__ == "__main__":
    if sys.argv[1] == "startup":
        print(json.dumps(startup()))
    elif sys.argv[1] == "export":
        print(json.dumps(asyncio.run(export(sys.argv[2], sys.argv[3], int(sys.argv[4])))))
    else:
        raise SystemExit(__doc__)

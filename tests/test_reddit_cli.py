"""`datalayer reddit …` and `datalayer seed reddit-bot` on a committed database, as a user runs them."""

from __future__ import annotations

import asyncio
import json

import asyncpg
from click.testing import CliRunner

from datalayer.cli import main

SEED = 11  # post ids t3_<base36(11 * 100000 + n)>: this test's own rows


def _run(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["--database-url", url, *args])
    assert "Traceback" not in result.output, result.output
    return result.exit_code, result.output


async def _counts(url: str) -> tuple[object, ...]:
    conn = await asyncpg.connect(url)
    try:
        return tuple(await conn.fetchrow(
            "SELECT (SELECT count(*) FROM reddit_bot.posts), (SELECT count(*) FROM reddit_bot.comments),"
            "       (SELECT count(*) FROM reddit_bot.successful_patterns),"
            "       (SELECT array_agg((id, created_at, updated_at) ORDER BY id)::text FROM reddit_bot.posts),"
            "       (SELECT max(updated_at) FROM reddit_bot.successful_patterns)"
        ))  # fmt: skip
    finally:
        await conn.close()


def test_seed_twice_then_status_search_and_purge(database_url: str) -> None:
    try:
        code, out = _run(database_url, "seed", "reddit-bot", "--posts", "12", "--seed", str(SEED), "--json")
        assert code == 0, out
        first = json.loads(out)
        assert first["posts_created"] == 12 and first["comments_created"] > 0 and first["patterns_written"] == 180
        after_first = asyncio.run(_counts(database_url))
        code, out = _run(database_url, "seed", "reddit-bot", "--posts", "12", "--seed", str(SEED), "--json")
        again = json.loads(out)
        assert code == 0 and (again["posts_created"], again["comments_created"], again["patterns_written"]) == (0, 0, 0)
        assert asyncio.run(_counts(database_url)) == after_first  # no row added, none rewritten

        code, out = _run(database_url, "reddit", "status", "--json")
        report = json.loads(out)
        assert code == 0 and sum(report["comments"].values()) == after_first[1]
        assert sum(s["posts"] for s in report["subreddits"]) == 12
        assert sum(s["patterns"] for s in report["subreddits"]) == 180
        code, out = _run(database_url, "reddit", "status")
        assert code == 0 and "learnpython" in out

        code, out = _run(database_url, "reddit", "search", "smallest example", "--json", "--limit", "3")
        hits = json.loads(out)
        assert code == 0 and 1 <= len(hits) <= 3 and all("<<" in h["snippet"] for h in hits)
        code, out = _run(database_url, "reddit", "search", "confused details", "--posts", "--json")
        assert code == 0 and json.loads(out) and all(h["id"].startswith("t3_") for h in json.loads(out))
        code, out = _run(database_url, "reddit", "search", "zzzqqq-nothing", "--json")
        assert code == 0 and json.loads(out) == []
        code, out = _run(database_url, "reddit", "search", "x", "--limit", "0")
        assert code == 2 and "0 is not in the range" in out

        async def soft_delete_one_post() -> None:
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute(
                    "UPDATE reddit_bot.posts SET deleted_at = now() - interval '40 days'"
                    " WHERE id = (SELECT min(id) FROM reddit_bot.posts)"
                )
            finally:
                await conn.close()

        asyncio.run(soft_delete_one_post())
        code, out = _run(database_url, "reddit", "purge", "--older-than", "60", "--yes", "--json")
        assert code == 0 and json.loads(out)["purged"]["posts"] == 0  # deleted 40 days ago: kept
        code, out = _run(database_url, "reddit", "purge", "--older-than", "30", "--yes", "--json")
        assert code == 0 and json.loads(out)["purged"]["posts"] == 1
        assert asyncio.run(_counts(database_url))[0] == 11
        code, out = _run(database_url, "reddit", "purge", "--older-than", "30")  # asks; no answer: nothing done
        assert code == 1 and "Aborted" in out
    finally:

        async def clean() -> None:
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("DELETE FROM reddit_bot.comments; DELETE FROM reddit_bot.posts;"
                                   " DELETE FROM reddit_bot.successful_patterns")  # fmt: skip
            finally:
                await conn.close()

        asyncio.run(clean())

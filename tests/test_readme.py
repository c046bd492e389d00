"""The README's Python example runs, and runs again, on a fresh migrated database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from tests.conftest import migrated_database

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
async def fresh_url(server_url: str) -> AsyncIterator[str]:
    async with migrated_database(server_url, "datalayer_readme") as url:
        yield url


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


async def run_twice(block: str, url: str, tmp_path: Path) -> list[str]:
    import asyncio

    script = tmp_path / "example.py"
    script.write_text(block)
    env = {**os.environ, "DATABASE_URL": url}
    outputs = []
    for _ in range(2):
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    return outputs


def example(marker: str) -> str:
    (block,) = [b for b in python_blocks() if "asyncio.run(main())" in b and marker in b]
    return block


async def test_readme_example_runs_twice(fresh_url: str, tmp_path: Path) -> None:
    for out in await run_twice(example("datalayer.twitter_bot"), fresh_url, tmp_path):
        assert "0.1 Good morning, <<translators>>" in out and "\nposted\n" in out and "1850000000000000042" in out
        assert "already posted (last claimed by worker-1); nothing was changed" in out


async def test_readme_discord_worker_runs_twice(fresh_url: str, tmp_path: Path) -> None:
    first, again = await run_twice(example("datalayer.discord_bot"), fresh_url, tmp_path)
    assert first.splitlines() == ["#1175000000000000001 Weekly meeting: <@12>", "1 sent", "0 sent"], first
    assert again.splitlines() == ["0 sent", "0 sent"], again  # the first run's reminder stands: not due yet


async def test_readme_error_api_example_runs_twice(
    fresh_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATALAYER_API_KEY_SECRET", "readme-secret-" + "r" * 32)
    for out in await run_twice(example("datalayer.error_api"), fresh_url, tmp_path):
        assert out.splitlines() == ["free True", "True", "None"], out


async def test_readme_reddit_example_runs_twice(fresh_url: str, tmp_path: Path) -> None:
    outputs = await run_twice(example("datalayer.reddit_bot"), fresh_url, tmp_path)
    assert outputs[0].splitlines() == ["True posted"], outputs
    assert outputs[1].splitlines() == ["True posted"], outputs
    conn = await asyncpg.connect(fresh_url)
    try:  # the fixed request_id: the second run found the first run's comment instead of queueing another
        assert await conn.fetchval("SELECT count(*) FROM reddit_bot.comments WHERE post_id = 't3_readme1'") == 1
    finally:
        await conn.close()


async def test_readme_chat_example_runs_twice(fresh_url: str, tmp_path: Path) -> None:
    for out in await run_twice(example("datalayer.chat_bot"), fresh_url, tmp_path):
        assert out.splitlines() == ["1", "True", "30", "True", "['john_doe']"], out


def test_every_python_block_is_run() -> None:
    assert len([b for b in python_blocks() if "asyncio.run(main())" in b]) == 5

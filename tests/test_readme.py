"""The README's Python example runs, and runs again, on a fresh migrated database."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from datalayer.migrate import Migrator
from tests.conftest import create_database, drop_database

README = Path(__file__).resolve().parent.parent / "README.md"


@pytest.fixture
async def fresh_url(server_url: str) -> AsyncIterator[str]:
    url = await create_database(server_url, "datalayer_readme")
    async with Migrator(url) as m:
        await m.apply()
    yield url
    await drop_database(server_url, url)


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.DOTALL)


async def test_readme_example_runs_twice(fresh_url: str, tmp_path: Path) -> None:
    import asyncio

    (example,) = [b for b in python_blocks() if "asyncio.run(main())" in b]
    script = tmp_path / "example.py"
    script.write_text(example)
    env = {**os.environ, "DATABASE_URL": fresh_url}
    outputs = []
    for _ in range(2):
        done = await asyncio.to_thread(
            subprocess.run, [sys.executable, str(script)], env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout)
    for out in outputs:
        assert "<<translators>>" in out and "\nposted\n" in out and "1850000000000000042" in out
        assert "already posted (last claimed by worker-1); nothing was changed" in out

"""`pgbench` with a custom script of the same SQL: the ceiling for any client (a C client, prepared statements)."""

from __future__ import annotations

import asyncio
import re
import shutil
import tempfile
from pathlib import Path

from datalayer import queries as q

Sample = tuple[float, list[float]]


def binary() -> str | None:
    """The embedded PostgreSQL's pgbench, else one on PATH or of an installed server."""
    try:
        from datalayer.embedded import bin_dir

        candidate = Path(bin_dir()) / "pgbench"
        if candidate.exists():
            return str(candidate)
    except Exception:  # any failure here only means: look elsewhere
        pass
    found = shutil.which("pgbench")
    if found:
        return found
    others = sorted(Path("/usr/lib/postgresql").glob("*/bin/pgbench"))
    return str(others[-1]) if others else None


def script(name: str, values: dict[str, str], setup: str = "") -> str:
    """The named query's SQL with each `$n` replaced by the SQL expression given for its parameter name."""
    query = q.load()[name]
    sql = re.sub(r"\$(\d+)", lambda m: f"({values[query.numbered[int(m.group(1)) - 1]]})", query.sql)
    sql = re.sub(r"--[^\n]*", "", sql)  # a pgbench command is one line: line comments would swallow the rest
    return f"{setup}{' '.join(sql.split())}\n"


async def run(url: str, text: str, *, clients: int, seconds: float | None, transactions: int | None) -> Sample:
    """(transactions per second, per-transaction latencies in seconds) of one pgbench run."""
    exe = binary()
    assert exe is not None
    with tempfile.TemporaryDirectory(prefix="datalayer-pgbench-") as tmp:
        path = Path(tmp) / "script.sql"
        path.write_text(text)
        limit = ["-T", str(max(1, round(seconds)))] if seconds else ["-t", str(transactions)]
        proc = await asyncio.create_subprocess_exec(
            exe, "-n", "-M", "prepared", "-f", str(path), "-c", str(clients), "-j", str(min(clients, 2)), *limit,
            "-l", "--log-prefix", str(Path(tmp) / "log"), url,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=tmp,
        )  # fmt: skip
        out, err = await proc.communicate()
        if proc.returncode != 0:
            raise RuntimeError(f"pgbench failed: {err.decode()[-2000:]}")
        tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out.decode())
        assert tps is not None, out.decode()
        lat = [int(line.split()[2]) / 1e6 for f in Path(tmp).glob("log*") for line in f.read_text().splitlines()]  # noqa: ASYNC240 - after the run
    return float(tps.group(1)), lat

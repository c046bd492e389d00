"""`make bench` runs (at a tiny scale: this proves it works, not how fast anything is)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_runs_and_writes_its_results(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--rounds", "1", "--ops", "20", "--bulk-rows", "50", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "REDIS_URL": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    methods = {(r["workload"], r["method"]) for r in results["results"]}
    assert ("pk read, read cache (pool, serial)", "repository, cached in-process") in methods
    assert {t["target"].split(":")[0] for t in results["targets"]} >= {
        "pk read (1 connection)",
        "pk read, read cache (pool, serial)",
    }
    bad = subprocess.run(
        [sys.executable, "-m", "bench.run", "--rounds", "-1"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "-1 is not a positive number" in bad.stderr

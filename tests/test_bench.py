"""`make bench` runs (at a tiny scale: this proves it works and checks what it asserts, not how fast anything is)."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

WORKLOADS = ("1. pk read (1 connection)", "1. pk read (8 tasks, pool)", "2. insert returning model", "3. bulk ingest",
             "4. search", "5. claim", "6. usage analytics", "9. pk read via PgBouncer")  # fmt: skip


def test_bench_runs_and_reports_every_workload(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", "--scale", "tiny", "--no-cache", "--out", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, "REDIS_URL": ""},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads(out.read_text())
    workloads = {r["workload"] for r in results["results"]}
    for w in WORKLOADS:
        if w.startswith("9.") and isinstance(results["notes"].get("pgbouncer"), str):
            continue  # no pgbouncer binary on this machine: the bench says so and goes on
        assert any(x.startswith(w) for x in workloads), f"no {w!r} in {sorted(workloads)}"
    assert sum(w.startswith("4. search") for w in workloads) == 4  # tweets and comments, rare and common
    for r in results["results"]:
        assert math.isfinite(r["ratio_to_raw"]) and r["ratio_to_raw"] > 0, r
        assert r["ops_per_s"] > 0 and r["p50_ms"] <= r["p95_ms"] <= r["p99_ms"], r
    for c in results["notes"]["claims"]:
        assert c["claimed_twice"] == 0 and c["claimed"] == c["due"] == c["logged"] > 0, c
    assert {e["method"] for e in results["notes"]["export"]} == {"repository", "cursor"}
    assert results["notes"]["startup"]["queries"] > 100
    assert all(p["gin_index"] for p in results["notes"]["search_plans"].values())
    analytics = results["notes"]["analytics"]["plans"]
    month = "api_usage_y{}m{}".format(*results["notes"]["analytics"]["month"].split("-"))
    # The reports read the hourly rollup, and of the raw log at most the month asked for (its hours after the
    # rollup's watermark): never another of the twelve partitions.
    assert all("api_usage_hourly" in p["tables_read"] for p in analytics.values()), analytics
    assert all(set(p["partitions_read"]) <= {month} for p in analytics.values()), analytics
    texts = {t["text"].split(":")[0] for t in results["targets"]}
    assert any(t.startswith("5. claims") for t in texts) and any(t.startswith("8. start-up") for t in texts)
    assert not any(math.isnan(t["value"]) for t in results["targets"])


def test_bench_refuses_bad_arguments() -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "bench.run", "--rounds", "-1"], cwd=ROOT, capture_output=True, text=True
    )
    assert bad.returncode == 2 and "-1 is not a positive number" in bad.stderr

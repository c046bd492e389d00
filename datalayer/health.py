"""`datalayer health`: each check is one small named query with a plain-language verdict (after pghero)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from datalayer.config import mask_url
from datalayer.db import Database
from datalayer.errors import DatalayerError
from datalayer.migrate import schema_state
from datalayer.ops.health import HealthRepository

#: The schemas `health` (without --quick) summarises: one per bot, and the shared one.
SCHEMAS = ["ops", "twitter_bot", "chat_bot", "error_api", "reddit_bot", "discord_bot"]


def unreachable(url: str, error: DatalayerError) -> dict[str, Any]:
    """The report when no connection could be opened."""
    return {"url": mask_url(url), "reachable": False, "ok": False, "error": str(error)}


async def quick(db: Database, samples: int = 5) -> dict[str, Any]:
    """Reachable, round-trip latency, server version, pending migrations, checksum drift."""
    report: dict[str, Any] = {"url": mask_url(db.url), "reachable": False, "ok": False}
    probe = HealthRepository(db)
    try:
        timings = []
        for _ in range(samples):
            started = time.perf_counter()
            await probe.ping()
            timings.append((time.perf_counter() - started) * 1000)
        info = await probe.server_info()
        pending, drift = await schema_state(db.executor)
    except DatalayerError as exc:
        report["error"] = str(exc)
        return report
    report.update(
        reachable=True,
        latency_ms=round(statistics.median(timings), 3),
        server_version=info.server_version,
        database=info.database,
        user=info.user_name,
        pending_migrations=pending,
        drift=[{"id": mid, "problem": why} for mid, why in drift],
    )
    report["ok"] = not pending and not drift
    return report


async def full(db: Database) -> dict[str, Any]:
    """The quick checks, and every table of every bot schema: estimated live rows and size on disk."""
    report = await quick(db)
    if not report["reachable"]:
        return report
    try:
        tables = await HealthRepository(db).schema_tables(SCHEMAS)
    except DatalayerError as exc:
        report.update(ok=False, error=str(exc))
        return report
    report["tables"] = [
        {
            "table": f"{t.schema_name}.{t.table_name}",
            "live_rows": t.live_rows,
            "total_bytes": t.total_bytes,
            **({"partitions": t.partitions} if t.partitioned else {}),
        }
        for t in tables
    ]
    return report


def describe_table(entry: dict[str, Any]) -> str:
    """One line of the human report: `reddit_bot.comments ~1,204 rows, 96 kB`."""
    size = float(entry["total_bytes"])
    unit = "B"
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1024 or unit == "TB":
            break
        size /= 1024
    shown = f"{size:.0f} {unit}" if unit == "B" or size >= 10 else f"{size:.1f} {unit}"
    parts = f", {entry['partitions']} partitions" if "partitions" in entry else ""
    return f"{entry['table']} ~{entry['live_rows']:,} rows, {shown}{parts}"

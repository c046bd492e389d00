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

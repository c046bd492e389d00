"""Health checks: each is one small named query with a plain-language verdict (after pghero)."""

from __future__ import annotations

import statistics
import time
from typing import Any

from datalayer import queries as q
from datalayer.config import mask_url
from datalayer.db import Database
from datalayer.errors import DatalayerError
from datalayer.migrate import pending_and_drift
from datalayer.repository import Row


class ServerInfo(Row):
    server_version: str
    server_version_num: int
    database: str
    user_name: str


_PING = q.value("ops.ping", int)
_SERVER_INFO = q.one("ops.get_server_info", ServerInfo)


async def quick(db: Database, samples: int = 5) -> dict[str, Any]:
    """Reachable, round-trip latency, server version, pending migrations, checksum drift."""
    report: dict[str, Any] = {"url": mask_url(db.url), "reachable": False, "ok": False}
    try:
        timings = []
        for _ in range(samples):
            started = time.perf_counter()
            await db.executor.value(_PING)
            timings.append((time.perf_counter() - started) * 1000)
        info = await db.executor.one(_SERVER_INFO)
    except DatalayerError as exc:
        report["error"] = str(exc)
        return report
    assert info is not None
    pending, drift = await pending_and_drift(db.url)
    report.update(
        reachable=True,
        latency_ms=round(statistics.median(timings), 3),
        server_version=info.server_version,
        database=info.database,
        user=info.user_name,
        pending_migrations=pending,
        drift=[{"id": s.id, "problem": s.drift} for s in drift],
    )
    report["ok"] = not pending and not drift
    return report

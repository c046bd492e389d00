"""Retention rules of the shared schema, run by `datalayer cleanup`."""

from __future__ import annotations

from datalayer.maintenance import CleanupContext, rule
from datalayer.maintenance.sizes import SizeHistoryRepository


@rule("ops.size_history", "`datalayer stats` readings older than the retention")
async def size_history(c: CleanupContext) -> int:
    return await SizeHistoryRepository(c.db).delete_older_than(c.cutoff)

"""Per-query statistics across processes (queries/ops/stats.sql): what each process flushes into
`ops.query_stats`, and pg_stat_statements grouped by the name comment every statement carries."""

from __future__ import annotations

from datalayer import queries as q
from datalayer.db import Executor
from datalayer.errors import DatalayerError
from datalayer.repository import Repository, Row


class QueryStatsTotal(Row):
    name: str
    calls: int
    errors: int
    retries: int
    rows: int
    total_ms: float
    max_ms: float
    cache_hits: int
    cache_misses: int
    cache_evictions: int
    cache_invalidations: int
    cache_redis_errors: int
    buckets: list[int]


class StatementStatsRow(Row):
    name: str | None
    calls: int
    rows: int
    total_ms: float
    mean_ms: float | None
    max_ms: float
    blocks: int


class AddQueryStatsParams(q.Params):
    application_name: str
    stats: list[dict[str, object]]


_ADD = q.execute("ops.add_query_stats", AddQueryStatsParams, retry=False)  # adds deltas: a repeat counts twice
_LIST = q.many("ops.list_query_stats", QueryStatsTotal)
_RESET = q.execute("ops.reset_query_stats", retry=True)
_STATEMENTS = q.many("ops.list_statement_stats", StatementStatsRow)
_RESET_STATEMENTS = q.value("ops.reset_statement_stats", str, retry=True)  # forgetting twice is harmless

_CACHE_FIELDS = ("cache_hits", "cache_misses", "cache_evictions", "cache_invalidations", "cache_redis_errors")

# What was already flushed, per query name, as of the last successful flush of this process.
_flushed: dict[str, q.QueryStats] = {}


def _delta(now: q.QueryStats, before: q.QueryStats | None) -> dict[str, object] | None:
    if before is None:
        before = q.QueryStats()
    calls = now.calls - before.calls
    errors = now.errors - before.errors
    retries = now.retries - before.retries
    cache = {k: getattr(now, k) - getattr(before, k) for k in _CACHE_FIELDS}
    if not (calls or errors or retries or any(cache.values())):
        return None
    return {
        **cache,
        "calls": calls,
        "errors": errors,
        "retries": retries,
        "rows": now.rows - before.rows,
        "total_ms": max(0.0, (now.total_s - before.total_s) * 1000),
        "max_ms": now.max_s * 1000,
        "buckets": [a - b for a, b in zip(now.buckets, before.buckets, strict=True)],
    }


async def flush(ex: Executor, application_name: str) -> int:
    """Write what changed since the last flush; returns the number of queries written. Not retry-safe (it
    adds), so a flush that fails keeps its figures for the next one."""
    current = q.all_stats()
    rows = []
    for name, st in current.items():
        d = _delta(st, _flushed.get(name))
        if d is not None:
            rows.append({"name": name, **d})
    if not rows:
        return 0
    await ex.execute(_ADD, AddQueryStatsParams(application_name=application_name, stats=rows))
    _flushed.update(current)
    return len(rows)


class StatsRepository(Repository):
    async def totals(self) -> list[QueryStatsTotal]:
        """Flushed statistics of every process, per query."""
        return await self._x.many(_LIST)

    async def statements(self) -> list[StatementStatsRow]:
        """pg_stat_statements per named query; raises DatalayerError when the extension is not loaded."""
        return await self._x.many(_STATEMENTS)

    async def reset(self) -> None:
        """Forget the flushed statistics. Retry-safe."""
        await self._x.execute(_RESET)

    async def reset_statements(self) -> None:
        """Forget pg_stat_statements' figures of this database. Retry-safe."""
        await self._x.value(_RESET_STATEMENTS)


def missing_extension_reason(exc: DatalayerError) -> str:
    return (
        "pg_stat_statements is not available on this server "
        f"({exc.message.splitlines()[0]}); add it to shared_preload_libraries and run "
        "CREATE EXTENSION pg_stat_statements to see server-side figures"
    )

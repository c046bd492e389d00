"""`datalayer health`: a report of checks, each a value, a threshold, a verdict (ok / warning / critical) and one
line of advice, from small named queries over pg_stat_* and pg_catalog (queries/health/*.sql).

The checks cover what pghero's dashboard and check_postgres's actions look at and a few neither does
(MultiXact age, named-query names on slow statements, migration drift, monthly partitions ahead). Table-level
checks look at the data layer's schemas only: ops and one per bot, found from queries/ and the catalog, so a
bot that lands later is covered without touching this module. Thresholds come from `Thresholds`
(environment variables DATALAYER_HEALTH_*, or `datalayer health --set NAME=VALUE`).
"""

from __future__ import annotations

import math
import re
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

from datalayer.config import mask_url
from datalayer.db import Database, Transaction
from datalayer.errors import DatalayerError, InvalidData
from datalayer.health.constraints import ConstraintHealthRepository
from datalayer.health.indexes import IndexHealthRepository
from datalayer.health.server import ServerHealthRepository, ServerInfo
from datalayer.health.tables import TableHealthRepository
from datalayer.migrate import schema_state
from datalayer.ops.catalog import CatalogRepository

Verdict = Literal["ok", "warning", "critical"]
RANK: dict[str, int] = {"ok": 0, "warning": 1, "critical": 2}
EXIT_CODE = RANK  # ok 0, warning 1, critical 2: a container health check reads the exit status
WRAPAROUND_LIMIT = 2**31  # transaction-ID and MultiXact-ID space before the server stops accepting writes


class Thresholds(BaseSettings):
    """Where each check turns to warning or critical. Environment: DATALAYER_HEALTH_<NAME> (e.g.
    DATALAYER_HEALTH_LONG_QUERY_S=30). Fractions are 0–1."""

    model_config = SettingsConfigDict(env_prefix="DATALAYER_HEALTH_", extra="forbid", frozen=True)

    lock_timeout_ms: int = Field(1000, gt=0, description="a check waits this long for a lock, then fails alone")
    statement_timeout_ms: int = Field(15000, gt=0, description="a check's statement runs at most this long")
    latency_ms: float = Field(50.0, gt=0, description="round trip: warning above")
    latency_critical_ms: float = Field(500.0, gt=0, description="round trip: critical above")
    connections: float = Field(0.7, gt=0, le=1, description="share of max_connections in use: warning above")
    connections_critical: float = Field(0.9, gt=0, le=1, description="… critical above")
    pool: float = Field(0.9, gt=0, le=1, description="share of this process's pool in use: warning above")
    long_query_s: float = Field(60.0, ge=0, description="a statement running longer is a warning (pghero: 60)")
    long_query_critical_s: float = Field(300.0, ge=0, description="… critical")
    idle_transaction_s: float = Field(60.0, ge=0, description="idle in transaction longer: warning")
    idle_transaction_critical_s: float = Field(600.0, ge=0, description="… critical")
    blocked_s: float = Field(5.0, ge=0, description="a statement waiting for a lock longer: warning")
    blocked_critical_s: float = Field(60.0, ge=0, description="… critical")
    prepared_s: float = Field(300.0, ge=0, description="a prepared transaction older: warning")
    prepared_critical_s: float = Field(3600.0, ge=0, description="… critical")
    cache_hit: float = Field(0.99, gt=0, le=1, description="buffer cache hit ratio below: warning (pghero: 99%)")
    cache_hit_critical: float = Field(0.95, gt=0, le=1, description="… critical below")
    cache_min_blocks: int = Field(10_000, ge=0, description="judge the hit ratio only after this many block reads")
    seq_scan_min_rows: int = Field(10_000, ge=0, description="tables smaller than this are fine to scan")
    seq_scan_min_scans: int = Field(100, ge=0, description="sequential scans before a table is judged")
    seq_scan_index_share: float = Field(0.95, ge=0, le=1, description="index scans share below: warning")
    unused_index_min_bytes: int = Field(1_048_576, ge=0, description="unused indexes smaller are not listed")
    bloat_min_bytes: int = Field(10 * 1_048_576, ge=0, description="bloat smaller is not listed")
    bloat_ratio: float = Field(0.5, gt=0, le=1, description="share of a relation that is bloat: warning above")
    dead_rows_ratio: float = Field(0.2, gt=0, le=1, description="dead rows share above: warning")
    dead_rows_min: int = Field(10_000, ge=0, description="fewer dead rows are never a warning")
    stale_days: float = Field(7.0, gt=0, description="changed tables not vacuumed/analysed for longer: warning")
    stale_min_changes: int = Field(1000, ge=0, description="tables with fewer changes since analyze are fine")
    wraparound: float = Field(0.5, gt=0, le=1, description="xid / multixact age as share of 2^31: warning")
    wraparound_critical: float = Field(0.75, gt=0, le=1, description="… critical")
    sequence: float = Field(0.9, gt=0, le=1, description="share of a sequence's range used: warning (90%)")
    sequence_critical: float = Field(0.98, gt=0, le=1, description="… critical")
    checkpoints_requested: float = Field(0.5, ge=0, le=1, description="requested share of checkpoints: warning")
    checkpoints_min: int = Field(20, ge=0, description="checkpoints before the share is judged")
    database_bytes: int = Field(100 * 1024**3, gt=0, description="database size above: warning")
    replication_lag_s: float = Field(30.0, ge=0, description="replica replay lag above: warning")
    replication_lag_critical_s: float = Field(300.0, ge=0, description="… critical")
    slot_retained_bytes: int = Field(1024**3, ge=0, description="WAL kept by an inactive slot above: critical")
    slow_statement_ms: float = Field(100.0, gt=0, description="mean time of a named query above: warning")
    slow_statement_min_calls: int = Field(10, ge=1, description="named queries with fewer calls are not judged")


def thresholds_with(overrides: dict[str, str]) -> Thresholds:
    """Thresholds from the environment with NAME=VALUE overrides (`--set`); a bad name or value is InvalidData
    naming it."""
    known = set(Thresholds.model_fields)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise InvalidData(f"unknown health threshold {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values: dict[str, object] = {}
    for name, raw in overrides.items():
        kind = Thresholds.model_fields[name].annotation
        try:
            values[name] = int(raw) if kind is int else float(raw)
        except ValueError:
            what = "a whole number" if kind is int else "a number"
            raise InvalidData(f"health threshold {name}: {raw!r} is not {what}") from None
        if not math.isfinite(values[name]):  # type: ignore[arg-type]
            raise InvalidData(f"health threshold {name}: {raw!r} is not a finite number")
    try:
        return Thresholds(**values)  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"{name} ({'--set' if name in overrides else 'DATALAYER_HEALTH_' + name.upper()}): {e['msg']}"
            for e in exc.errors()
            for name in [".".join(map(str, e["loc"]))]
        )
        raise InvalidData(f"invalid health thresholds: {problems}") from None


@dataclass
class Check:
    name: str
    verdict: Verdict
    value: str
    threshold: str
    advice: str
    details: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "verdict": self.verdict,
            "value": self.value,
            "threshold": self.threshold,
            "advice": self.advice,
            "details": self.details,
        }


def worst(verdicts: list[Verdict]) -> Verdict:
    return max(verdicts, key=RANK.__getitem__, default="ok")


def grade(value: float, warn: float, critical: float, *, below: bool = False) -> Verdict:
    """critical / warning / ok for a value against two thresholds (above them, or below with below=True)."""
    if below:
        return "critical" if value < critical else "warning" if value < warn else "ok"
    return "critical" if value > critical else "warning" if value > warn else "ok"


_LITERAL = re.compile(r"'(?:[^']|'')*'")


def shown_query(name: str | None, text: str | None) -> str:
    """A statement as the report shows it: its named query when it is ours, else its text with every string
    literal replaced (another client's text may hold a password: ALTER ROLE … PASSWORD '…')."""
    if name:
        return name
    return _LITERAL.sub("'…'", (text or "").strip())[:160]


def size(n: float) -> str:
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(n) < 1024 or unit == "TB":
            return f"{n:.0f} {unit}" if unit == "B" or abs(n) >= 10 else f"{n:.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def pct(x: float) -> str:
    return f"{x * 100:.1f}%"


@dataclass
class Context:
    db: Database  # for the pool's figures
    tx: Transaction  # every query of a check runs here
    t: Thresholds
    schemas: list[str]
    info: ServerInfo
    now: datetime
    server: ServerHealthRepository
    tables: TableHealthRepository
    indexes: IndexHealthRepository
    constraints: ConstraintHealthRepository


CheckFn = Callable[[Context], Awaitable[Check | list[Check]]]
CHECKS: list[tuple[tuple[str, ...], CheckFn, bool]] = []  # (the checks it reports, function, part of --quick)


def check(*names: str, quick: bool = False) -> Callable[[CheckFn], CheckFn]:
    """Register a check function and the names of the checks it returns (a failure reports each of them)."""

    def register(fn: CheckFn) -> CheckFn:
        CHECKS.append((names, fn, quick))
        return fn

    return register


# -- connections and sessions ----------------------------------------------------------------------------------
@check("connections", quick=True)
async def _connections(c: Context) -> Check:
    u = await c.server.connections()
    usable = max(1, u.max_connections - u.reserved)
    share = u.used / usable
    return Check(
        "connections",
        grade(share, c.t.connections, c.t.connections_critical),
        f"{u.used} of {usable} ({pct(share)}); this database: {u.active} active, {u.idle} idle, "
        f"{u.idle_in_transaction} idle in transaction",
        f"warning > {pct(c.t.connections)}, critical > {pct(c.t.connections_critical)} of max_connections "
        f"({u.max_connections}) less {u.reserved} reserved",
        "put PgBouncer in front of the server or lower DATALAYER_POOL_MAX_SIZE per process",
    )


@check("pool", quick=True)
async def _pool(c: Context) -> Check:
    pool = c.db.pool
    if pool is None:
        return Check("pool", "ok", "no pool (one connection)", "-", "nothing to do")
    size_, idle, most = pool.get_size(), pool.get_idle_size(), pool.get_max_size()
    busy = size_ - idle
    share = busy / most if most else 0.0
    return Check(
        "pool",
        "warning" if share > c.t.pool else "ok",
        f"{busy} in use, {idle} idle, {size_} open of at most {most} (this process)",
        f"warning > {pct(c.t.pool)} in use",
        "raise DATALAYER_POOL_MAX_SIZE, or find what holds connections (long transactions)",
    )


@check("long_running_queries")
async def _long_queries(c: Context) -> Check:
    rows = await c.server.long_running(c.t.long_query_s)
    longest = max((r.seconds for r in rows), default=0.0)
    return Check(
        "long_running_queries",
        "ok" if not rows else "critical" if longest > c.t.long_query_critical_s else "warning",
        f"{len(rows)} running > {c.t.long_query_s:g} s" + (f", longest {longest:.0f} s" if rows else ""),
        f"warning > {c.t.long_query_s:g} s, critical > {c.t.long_query_critical_s:g} s",
        "look at the statement's plan (EXPLAIN); cancel it with SELECT pg_cancel_backend(pid)",
        [{"pid": r.pid, "seconds": round(r.seconds, 1), "user": r.user_name, "application": r.application_name,
          "query": shown_query(r.query_name, r.query)} for r in rows],
    )  # fmt: skip


@check("idle_in_transaction")
async def _idle_in_transaction(c: Context) -> Check:
    rows = await c.server.idle_in_transaction(c.t.idle_transaction_s)
    longest = max((r.seconds for r in rows), default=0.0)
    return Check(
        "idle_in_transaction",
        "ok" if not rows else "critical" if longest > c.t.idle_transaction_critical_s else "warning",
        f"{len(rows)} idle in a transaction > {c.t.idle_transaction_s:g} s"
        + (f", longest {longest:.0f} s" if rows else ""),
        f"warning > {c.t.idle_transaction_s:g} s, critical > {c.t.idle_transaction_critical_s:g} s",
        "the application opened a transaction and went away: fix it, set idle_in_transaction_session_timeout, "
        "or end it with SELECT pg_terminate_backend(pid)",
        [{"pid": r.pid, "seconds": round(r.seconds, 1), "user": r.user_name, "application": r.application_name,
          "last_query": shown_query(r.last_query_name, r.last_query)} for r in rows],
    )  # fmt: skip


@check("blocked_queries")
async def _blocked(c: Context) -> Check:
    rows = await c.server.blocked()
    waits = [r.waiting_seconds or 0.0 for r in rows]
    longest = max(waits, default=0.0)
    verdict: Verdict = "ok"
    if rows and longest > c.t.blocked_s:
        verdict = "critical" if longest > c.t.blocked_critical_s else "warning"
    return Check(
        "blocked_queries",
        verdict,
        f"{len(rows)} waiting for a lock" + (f", longest {longest:.1f} s" if rows else ""),
        f"warning > {c.t.blocked_s:g} s, critical > {c.t.blocked_critical_s:g} s",
        "the blockers are listed: end the blocking transaction, or keep DDL and long transactions off busy tables",
        [{"pid": r.pid, "waiting_s": round(r.waiting_seconds or 0.0, 1), "wait_event": r.wait_event,
          "query": shown_query(r.query_name, r.query), "blocked_by": r.blocked_by, "blockers": r.blockers}
         for r in rows],
    )  # fmt: skip


@check("prepared_transactions")
async def _prepared(c: Context) -> Check:
    rows = await c.server.prepared_transactions()
    oldest = max((r.seconds for r in rows), default=0.0)
    return Check(
        "prepared_transactions",
        "ok" if not rows else grade(oldest, c.t.prepared_s, c.t.prepared_critical_s),
        f"{len(rows)} open" + (f", oldest {oldest:.0f} s" if rows else ""),
        f"warning > {c.t.prepared_s:g} s, critical > {c.t.prepared_critical_s:g} s",
        "a two-phase commit coordinator did not finish: COMMIT PREPARED or ROLLBACK PREPARED 'gid'",
        [{"gid": r.gid, "owner": r.owner, "prepared": r.prepared.isoformat(), "seconds": round(r.seconds)}
         for r in rows],
    )  # fmt: skip


# -- caching, scans, indexes -----------------------------------------------------------------------------------
@check("table_cache_hit_ratio", "index_cache_hit_ratio")
async def _cache(c: Context) -> list[Check]:
    h = await c.tables.cache_hits(c.schemas)
    out = []
    for kind, hits, reads in (("table", h.table_hits, h.table_reads), ("index", h.index_hits, h.index_reads)):
        total = hits + reads
        ratio = hits / total if total else 1.0
        judged = total >= c.t.cache_min_blocks
        out.append(
            Check(
                f"{kind}_cache_hit_ratio",
                grade(ratio, c.t.cache_hit, c.t.cache_hit_critical, below=True) if judged else "ok",
                f"{pct(ratio)} of {total:,} block reads" + ("" if judged else " (too few to judge)"),
                f"warning < {pct(c.t.cache_hit)}, critical < {pct(c.t.cache_hit_critical)} "
                f"(after {c.t.cache_min_blocks:,} reads)",
                "the working set does not fit in shared_buffers: raise it, or add memory",
            )
        )
    return out


@check("sequential_scans")
async def _seq_scans(c: Context) -> Check:
    rows = [
        a for a in await c.tables.activity(c.schemas)
        if not a.partitioned and a.live_rows >= c.t.seq_scan_min_rows and a.seq_scan >= c.t.seq_scan_min_scans
        and a.idx_scan / (a.idx_scan + a.seq_scan) < c.t.seq_scan_index_share
    ]  # fmt: skip
    rows.sort(key=lambda a: a.seq_tup_read, reverse=True)
    return Check(
        "sequential_scans",
        "warning" if rows else "ok",
        f"{len(rows)} tables read mostly by sequential scans",
        f"tables ≥ {c.t.seq_scan_min_rows:,} rows, ≥ {c.t.seq_scan_min_scans} scans, "
        f"index scans < {pct(c.t.seq_scan_index_share)}",
        "a query filters on columns no index leads with: find it in `datalayer stats queries` and add the index",
        [{"table": f"{a.schema_name}.{a.table_name}", "seq_scans": a.seq_scan, "rows_read": a.seq_tup_read,
          "index_scans": a.idx_scan, "live_rows": a.live_rows} for a in rows[:20]],
    )  # fmt: skip


@check("unused_indexes")
async def _unused(c: Context) -> Check:
    rows = await c.indexes.unused(c.schemas, c.t.unused_index_min_bytes)
    since = c.info.stats_reset.isoformat() if c.info.stats_reset else "the server started"
    return Check(
        "unused_indexes",
        "warning" if rows else "ok",
        f"{len(rows)} never scanned since {since}" + (f", {size(sum(r.bytes for r in rows))}" if rows else ""),
        f"indexes ≥ {size(c.t.unused_index_min_bytes)} that enforce nothing",
        "check the replicas too, then drop it in a migration: DROP INDEX CONCURRENTLY",
        [{"index": f"{r.schema_name}.{r.index_name}", "table": r.table_name, "bytes": r.bytes} for r in rows],
    )


@check("duplicate_indexes")
async def _duplicates(c: Context) -> Check:
    rows = await c.indexes.duplicates(c.schemas)
    return Check(
        "duplicate_indexes",
        "warning" if rows else "ok",
        f"{len(rows)} made redundant by another index",
        "an index whose columns lead another index of the same table",
        "drop the redundant one in a migration (DROP INDEX CONCURRENTLY): the other serves its reads",
        [{"index": f"{r.schema_name}.{r.index_name}", "covered_by": r.covered_by, "definition": r.definition,
          "bytes": r.bytes} for r in rows],
    )  # fmt: skip


@check("invalid_indexes")
async def _invalid(c: Context) -> Check:
    rows = await c.indexes.invalid(c.schemas)
    return Check(
        "invalid_indexes",
        "critical" if rows else "ok",
        f"{len(rows)} invalid",
        "any",
        "a CREATE/REINDEX CONCURRENTLY failed: DROP INDEX CONCURRENTLY it and create it again "
        "(or `datalayer maintenance reindex --table T`)",
        [{"index": f"{r.schema_name}.{r.index_name}", "table": r.table_name, "definition": r.definition}
         for r in rows],
    )  # fmt: skip


@check("unindexed_foreign_keys")
async def _unindexed_fks(c: Context) -> Check:
    rows = await c.indexes.unindexed_foreign_keys(c.schemas)
    return Check(
        "unindexed_foreign_keys",
        "warning" if rows else "ok",
        f"{len(rows)} foreign keys without an index",
        "any",
        "deleting a referenced row scans the referencing table: create an index leading with the key's columns",
        [{"table": f"{r.schema_name}.{r.table_name}", "constraint": r.constraint_name, "columns": r.columns,
          "references": r.references_table} for r in rows],
    )  # fmt: skip


@check("not_valid_constraints")
async def _not_valid(c: Context) -> Check:
    rows = await c.constraints.not_valid(c.schemas)
    return Check(
        "not_valid_constraints",
        "warning" if rows else "ok",
        f"{len(rows)} NOT VALID",
        "any",
        "old rows were never checked: ALTER TABLE … VALIDATE CONSTRAINT (takes only a SHARE UPDATE EXCLUSIVE lock)",
        [{"table": f"{r.schema_name}.{r.table_name}", "constraint": r.constraint_name, "kind": r.kind} for r in rows],
    )


@check("disabled_triggers")
async def _disabled_triggers(c: Context) -> Check:
    rows = await c.constraints.disabled_triggers(c.schemas)
    return Check(
        "disabled_triggers",
        "warning" if rows else "ok",
        f"{len(rows)} disabled",
        "any",
        "what the trigger keeps (updated_at, counters) is not kept: ALTER TABLE … ENABLE TRIGGER",
        [{"table": f"{r.schema_name}.{r.table_name}", "trigger": r.trigger_name} for r in rows],
    )


@check("table_bloat", "index_bloat")
async def _bloat(c: Context) -> list[Check]:
    out = []
    tables = [(f"{r.schema_name}.{r.table_name}", r.bytes, r.expected_bytes) for r in await c.tables.bloat(c.schemas)]
    indexes = [(f"{r.schema_name}.{r.index_name}", r.bytes, r.expected_bytes) for r in await c.indexes.bloat(c.schemas)]
    for kind, plural, rows, fix in (
        ("table", "tables", tables, "VACUUM FULL or pg_repack (VACUUM alone only makes the space reusable)"),
        ("index", "indexes", indexes, "`datalayer maintenance reindex --table T` (REINDEX CONCURRENTLY)"),
    ):
        bloated: list[dict[str, Any]] = [
            {"name": name, "bytes": b, "bloat_bytes": b - e, "bloat": round((b - e) / b, 3)}
            for name, b, e in rows
            if b and b - e >= c.t.bloat_min_bytes and (b - e) / b > c.t.bloat_ratio
        ]
        total = sum(int(d["bloat_bytes"]) for d in bloated)
        out.append(
            Check(
                f"{kind}_bloat",
                "warning" if bloated else "ok",
                f"{len(bloated)} {plural} bloated"
                + (f", about {size(total)} reclaimable" if bloated else "")
                + f" (estimated over {len(rows)})",
                f"≥ {size(c.t.bloat_min_bytes)} and > {pct(c.t.bloat_ratio)} of the {kind}",
                fix,
                bloated,
            )
        )
    return out


@check("dead_rows", "vacuum_analyze_age")
async def _vacuum(c: Context) -> list[Check]:
    rows = await c.tables.activity(c.schemas)
    dead = [
        {"table": f"{a.schema_name}.{a.table_name}", "dead_rows": a.dead_rows, "live_rows": a.live_rows,
         "dead": round(a.dead_rows / (a.dead_rows + a.live_rows), 3)}
        for a in rows
        if a.dead_rows >= c.t.dead_rows_min and a.dead_rows / (a.dead_rows + a.live_rows) > c.t.dead_rows_ratio
    ]  # fmt: skip
    stale_s = c.t.stale_days * 86400

    def age(at: datetime | None) -> str:
        return "never" if at is None else f"{(c.now - at).total_seconds() / 86400:.1f} days ago"

    stale = [
        {"table": f"{a.schema_name}.{a.table_name}", "changes_since_analyze": a.modified_since_analyze,
         "last_vacuum": age(a.last_vacuum), "last_analyze": age(a.last_analyze)}
        for a in rows
        if not a.partitioned and a.modified_since_analyze >= c.t.stale_min_changes
        and any(t is None or (c.now - t).total_seconds() > stale_s for t in (a.last_vacuum, a.last_analyze))
    ]  # fmt: skip
    parents = [
        {"table": f"{a.schema_name}.{a.table_name}", "last_analyze": age(a.last_analyze)}
        for a in rows
        if a.partitioned and (a.last_analyze is None or (c.now - a.last_analyze).total_seconds() > stale_s)
    ]
    leaves = {a.table_name for a in rows if not a.partitioned and a.live_rows > 0}
    parents = [p for p in parents if any(name.startswith(p["table"].split(".")[1] + "_") for name in leaves)]
    return [
        Check(
            "dead_rows",
            "warning" if dead else "ok",
            f"{len(dead)} tables with many dead rows",
            f"> {pct(c.t.dead_rows_ratio)} dead and ≥ {c.t.dead_rows_min:,} rows",
            "autovacuum is behind (or a long transaction holds it back): `datalayer maintenance vacuum --table T`",
            dead,
        ),
        Check(
            "vacuum_analyze_age",
            "warning" if stale or parents else "ok",
            f"{len(stale)} changed tables not vacuumed/analysed for {c.t.stale_days:g} days; "
            f"{len(parents)} partitioned tables never analysed",
            f"≥ {c.t.stale_min_changes:,} changes and older than {c.t.stale_days:g} days",
            "autovacuum never analyses a partitioned parent: `datalayer maintenance analyze` (schedule it)",
            stale + parents,
        ),
    ]


# -- wraparound, sequences, checkpoints, WAL, replication --------------------------------------------------------
@check("transaction_id_wraparound", "multixact_wraparound")
async def _wraparound(c: Context) -> list[Check]:
    rows = await c.server.wraparound()
    out = []
    for kind, attr, fix in (
        ("transaction_id", "xid_age", "VACUUM (FREEZE) the oldest tables of that database; look for long transactions"),
        ("multixact", "multixact_age", "VACUUM (FREEZE); heavy SELECT … FOR SHARE / FOR KEY SHARE use MultiXacts"),
    ):
        top = max(rows, key=lambda r: getattr(r, attr), default=None)
        value = getattr(top, attr) if top else 0
        share = value / WRAPAROUND_LIMIT
        out.append(
            Check(
                f"{kind}_wraparound",
                grade(share, c.t.wraparound, c.t.wraparound_critical),
                f"{pct(share)} of 2^31 ({value:,}, database {top.database if top else '-'})",
                f"warning > {pct(c.t.wraparound)}, critical > {pct(c.t.wraparound_critical)}",
                fix,
                [{"database": r.database, "age": getattr(r, attr)} for r in rows],
            )
        )
    return out


@check("sequences")
async def _sequences(c: Context) -> Check:
    rows = await c.tables.sequences(c.schemas)
    used = [(r, float(r.last_value / r.max_value)) for r in rows if r.max_value > 0]
    near = [(r, share) for r, share in used if share > c.t.sequence]
    top = max((share for _, share in used), default=0.0)
    return Check(
        "sequences",
        grade(top, c.t.sequence, c.t.sequence_critical),
        f"{len(near)} of {len(rows)} past {pct(c.t.sequence)}; the fullest at {pct(top)}",
        f"warning > {pct(c.t.sequence)}, critical > {pct(c.t.sequence_critical)} of the range (column type included)",
        "change the column (and the sequence) to bigint before it runs out",
        [{"sequence": f"{r.schema_name}.{r.sequence_name}", "owned_by": r.owned_by, "last_value": int(r.last_value),
          "max_value": int(r.max_value), "used": round(share, 4)} for r, share in near],
    )  # fmt: skip


@check("checkpoints")
async def _checkpoints(c: Context) -> Check:
    k = await c.server.checkpoints()
    total = k.timed + k.requested
    share = k.requested / total if total else 0.0
    judged = total >= c.t.checkpoints_min
    return Check(
        "checkpoints",
        "warning" if judged and share > c.t.checkpoints_requested else "ok",
        f"{k.requested} requested, {k.timed} timed ({pct(share)} requested)" + ("" if judged else ", too few to judge"),
        f"warning > {pct(c.t.checkpoints_requested)} requested (after {c.t.checkpoints_min})",
        "WAL fills max_wal_size before checkpoint_timeout: raise max_wal_size",
    )


@check("wal_archiving")
async def _archiving(c: Context) -> Check:
    a = await c.server.archiver()
    if a.archive_mode == "off":
        return Check("wal_archiving", "ok", "archiving is off", "failures while on", "nothing to do")
    failing = a.failed_count > 0 and (
        a.last_archived_time is None or (a.last_failed_time is not None and a.last_failed_time > a.last_archived_time)
    )
    return Check(
        "wal_archiving",
        "critical" if failing else "ok",
        f"{a.archived_count} archived, {a.failed_count} failed"
        + (f"; failing since {a.last_failed_time:%Y-%m-%d %H:%M:%S} on {a.last_failed_wal}" if failing else ""),
        "critical when the last attempt failed",
        "archive_command fails: WAL piles up in pg_wal until the disk is full; read the server log",
    )


@check("replication_lag", "replication_slots")
async def _replication(c: Context) -> list[Check]:
    out = []
    if c.info.in_recovery:
        lag = c.info.replay_delay_s or 0.0
        out.append(
            Check(
                "replication_lag",
                grade(lag, c.t.replication_lag_s, c.t.replication_lag_critical_s),
                f"this server is a standby, {lag:.1f} s behind its primary's last transaction",
                f"warning > {c.t.replication_lag_s:g} s, critical > {c.t.replication_lag_critical_s:g} s",
                "the standby replays slower than the primary writes (or the primary is idle: then this grows alone)",
            )
        )
    else:
        replicas = await c.server.replicas()
        lag = max((r.replay_lag_s or 0.0 for r in replicas), default=0.0)
        out.append(
            Check(
                "replication_lag",
                grade(lag, c.t.replication_lag_s, c.t.replication_lag_critical_s),
                f"{len(replicas)} replicas" + (f", the furthest {lag:.1f} s behind" if replicas else ""),
                f"warning > {c.t.replication_lag_s:g} s, critical > {c.t.replication_lag_critical_s:g} s",
                "a replica cannot keep up: look at its I/O, or at long queries on it",
                [
                    {
                        "replica": r.application_name,
                        "address": r.client_addr,
                        "state": r.state,
                        "lag_s": r.replay_lag_s,
                        "lag_bytes": r.replay_lag_bytes,
                    }
                    for r in replicas
                ],
            )
        )
    slots = await c.server.replication_slots()
    inactive = [s for s in slots if not s.active]
    retained = max((s.retained_bytes or 0 for s in inactive), default=0)
    out.append(
        Check(
            "replication_slots",
            "ok" if not inactive else "critical" if retained > c.t.slot_retained_bytes else "warning",
            f"{len(slots)} slots, {len(inactive)} inactive"
            + (f", keeping {size(retained)} of WAL" if inactive else ""),
            f"inactive: warning; keeping > {size(c.t.slot_retained_bytes)}: critical",
            "an inactive slot keeps WAL forever: reconnect its consumer or SELECT pg_drop_replication_slot('name')",
            [
                {
                    "slot": s.slot_name,
                    "type": s.slot_type,
                    "active": s.active,
                    "wal_status": s.wal_status,
                    "retained_bytes": s.retained_bytes,
                }
                for s in slots
            ],
        )
    )
    return out


# -- sizes, statements, migrations, partitions -----------------------------------------------------------------
@check("database_size")
async def _sizes(c: Context) -> Check:
    tables = sorted(await c.tables.schema_tables(c.schemas), key=lambda t: t.total_bytes, reverse=True)
    return Check(
        "database_size",
        "warning" if c.info.database_bytes > c.t.database_bytes else "ok",
        f"{size(c.info.database_bytes)}; largest: "
        + ", ".join(f"{t.schema_name}.{t.table_name} {size(t.total_bytes)}" for t in tables[:3]),
        f"warning > {size(c.t.database_bytes)}",
        "plan the disk, and the retention of logs (`datalayer cleanup`, `datalayer partitions`)",
        [{"table": f"{t.schema_name}.{t.table_name}", "bytes": t.total_bytes, "live_rows": t.live_rows}
         for t in tables[:10]],
    )  # fmt: skip


@check("slow_statements")
async def _statements(c: Context) -> Check:
    from datalayer.ops.stats import StatsRepository, missing_extension_reason

    try:
        async with c.tx.transaction() as sp:  # its failure must not abort the check's own savepoint
            rows = [s for s in await StatsRepository(sp).statements() if s.name and s.calls]
    except DatalayerError as exc:
        return Check("slow_statements", "ok", "not available", "-", missing_extension_reason(exc))
    judged = sorted((s for s in rows if s.calls >= c.t.slow_statement_min_calls), key=lambda s: s.mean_ms or 0.0,
                    reverse=True)  # fmt: skip
    top = judged[0].mean_ms or 0.0 if judged else 0.0
    # Slowness is a warning, never critical: a health check that fails a container for a slow report would do
    # more harm than the report. One slow call (a statement that waited for a lock) is not judged alone.
    return Check(
        "slow_statements",
        "warning" if top > c.t.slow_statement_ms else "ok",
        f"{len(rows)} named queries seen by pg_stat_statements; slowest mean {top:.1f} ms"
        + (f" ({judged[0].name}, {judged[0].calls} calls)" if judged else ""),
        f"mean > {c.t.slow_statement_ms:g} ms over ≥ {c.t.slow_statement_min_calls} calls: warning",
        "EXPLAIN (ANALYZE, BUFFERS) the named query on realistic data; `datalayer stats queries` has the rest "
        "(`--reset` starts its figures again)",
        [{"query": s.name, "calls": s.calls, "mean_ms": round(s.mean_ms or 0.0, 3), "max_ms": round(s.max_ms, 3),
          "total_ms": round(s.total_ms, 1)} for s in judged[:5]],
    )  # fmt: skip


@check("partitions_ahead", "default_partition_rows")
async def _partitions(c: Context) -> list[Check]:
    from datalayer.partitions.partitions import PartitionRepository, add_months, month_of

    reports = await PartitionRepository(c.tx).report(c.now)  # the same view as `datalayer partitions list`
    this_month = month_of(c.now)
    next_month = add_months(this_month, 1)
    missing = [r for r in reports if r.missing]
    in_default = [r for r in reports if r.table.default_estimated_rows]
    return [
        Check(
            "partitions_ahead",
            "critical" if any(this_month in r.missing and r.table.default_partition is None for r in reports)
            else "warning" if missing else "ok",
            f"{len(reports)} partitioned tables; {len(missing)} without this and next month's partition",
            "critical when this month has none (and no DEFAULT): inserts fail",
            "`datalayer partitions ensure` (run it from a daily job, ahead of the month)",
            [{"table": f"{r.table.schema_name}.{r.table.table_name}", "this_month": this_month not in r.missing,
              "next_month": next_month not in r.missing,
              "partitions": sum(1 for p in r.partitions if p.state == "attached" and not p.is_default)}
             for r in missing],
        ),
        Check(
            "default_partition_rows",
            "warning" if in_default else "ok",
            f"{sum(r.table.default_estimated_rows or 0 for r in in_default):,} rows in DEFAULT partitions",
            "any row",
            "a month had no partition: create it (`datalayer partitions ensure`); attaching it moves the rows",
            [{"table": f"{r.table.schema_name}.{r.table.table_name}",
              "default": (r.table.default_partition or "").split(".")[-1], "rows": r.table.default_estimated_rows}
             for r in in_default],
        ),
    ]  # fmt: skip


async def _migrations(db: Database) -> tuple[list[str], list[tuple[str, str]], Check, Check]:
    pending, drift = await schema_state(db.executor)
    return (
        pending,
        drift,
        Check(
            "pending_migrations",
            "warning" if pending else "ok",
            f"{len(pending)} pending" + (f": {', '.join(pending)}" if pending else ""),
            "any",
            "`datalayer migrate`",
            [{"id": p} for p in pending],
        ),
        Check(
            "migration_drift",
            "critical" if drift else "ok",
            f"{len(drift)} drifted",
            "any",
            "an applied migration's file was edited or removed: restore it from version control; "
            "put changes in a new migration",
            [{"id": mid, "problem": why} for mid, why in drift],
        ),
    )


async def _replica(db: Database) -> Check:
    """DATABASE_REPLICA_URL as the layer sees it: measured now, and where lag-tolerant reads go."""
    replica = db.replica
    assert replica is not None
    lag = await replica.measure()
    s = replica.status()
    counts = f"; {s.reads} reads served, {s.fallbacks} sent to the primary (this process)"
    threshold = f"warning when more than DATALAYER_REPLICA_MAX_LAG ({s.max_lag_s:g} s) behind, or unreachable"
    if s.routing and lag is not None:
        return Check("replica", "ok", f"{s.url}: behind at most {lag:.2f} s{counts}", threshold,
                     "nothing to do: reads bound replica=True go to the replica")  # fmt: skip
    why = s.last_error or (f"more than {s.max_lag_s:g} s behind" if lag is None or lag > s.max_lag_s else "")
    return Check("replica", "warning", f"{s.url}: not used ({why}){counts}", threshold,
                 "lag-tolerant reads run on the primary meanwhile (no error, more load there): look at the "
                 "replica's server log and at pg_stat_replication on the primary")  # fmt: skip


def unreachable(url: str, error: DatalayerError) -> dict[str, Any]:
    """The report when no connection could be opened."""
    return {
        "url": mask_url(url),
        "reachable": False,
        "ok": False,
        "status": "critical",
        "error": str(error),
        "checks": [Check("connectivity", "critical", "unreachable", "-", f"{error}; is the server up?").as_dict()],
    }


async def report(db: Database, *, quick: bool = False, thresholds: Thresholds | None = None,
                 samples: int = 5) -> dict[str, Any]:  # fmt: skip
    """Run the checks (only the cheap ones with quick=True); a check that fails to run is a warning saying why,
    never the end of the report."""
    t = thresholds or Thresholds()
    out: dict[str, Any] = {"url": mask_url(db.url), "reachable": False, "ok": False, "status": "critical"}
    server = ServerHealthRepository(db)
    try:
        timings = []
        for _ in range(samples):
            started = time.perf_counter()
            await server.ping()
            timings.append((time.perf_counter() - started) * 1000)
        info = await server.server_info()
    except DatalayerError as exc:
        return unreachable(db.url, exc)
    latency = statistics.median(timings)
    checks = [
        Check(
            "connectivity",
            grade(latency, t.latency_ms, t.latency_critical_ms),
            f"reachable, round trip {latency:.2f} ms (median of {samples})",
            f"warning > {t.latency_ms:g} ms, critical > {t.latency_critical_ms:g} ms",
            "the network or the server is slow: look at its load",
        )
    ]
    out.update(reachable=True, latency_ms=round(latency, 3), server_version=info.server_version,
               database=info.database, user=info.user_name)  # fmt: skip
    try:
        pending, drift, pending_check, drift_check = await _migrations(db)
        out.update(pending_migrations=pending, drift=[{"id": mid, "problem": why} for mid, why in drift])
        checks += [pending_check, drift_check]
    except DatalayerError as exc:
        checks.append(Check("migrations", "warning", "could not read", "-", f"{exc}"))
    if db.replica is not None:
        checks.append(await _replica(db))
    try:
        schemas = await CatalogRepository(db).our_schemas()
    except DatalayerError as exc:
        schemas = []
        checks.append(Check("schemas", "warning", "could not list", "-", f"{exc}"))
    # One transaction with short lock and statement timeouts, each check in a savepoint of its own: a table
    # locked by someone else (the very thing a health check is for) fails that check, not the report.
    async with db.transaction() as tx:
        await ServerHealthRepository(tx).limit_session(t.lock_timeout_ms, t.statement_timeout_ms)
        for names, fn, in_quick in CHECKS:
            if quick and not in_quick:
                continue
            try:
                async with tx.transaction() as sp:
                    ctx = Context(db, sp, t, schemas, info, datetime.now(UTC), ServerHealthRepository(sp),
                                  TableHealthRepository(sp), IndexHealthRepository(sp),
                                  ConstraintHealthRepository(sp))  # fmt: skip
                    result = await fn(ctx)
            except DatalayerError as exc:
                why = str(exc).splitlines()[0]
                checks.extend(Check(name, "warning", "could not run", "-", why) for name in names)
                continue
            checks.extend(result if isinstance(result, list) else [result])
        if not quick:
            try:
                async with tx.transaction() as sp:
                    tables = await TableHealthRepository(sp).schema_tables(schemas)
                out["tables"] = [
                    {"table": f"{r.schema_name}.{r.table_name}", "live_rows": r.live_rows,
                     "total_bytes": r.total_bytes, **({"partitions": r.partitions} if r.partitioned else {})}
                    for r in tables
                ]  # fmt: skip
            except DatalayerError as exc:
                out["tables_error"] = str(exc).splitlines()[0]
    status = worst([c.verdict for c in checks])
    out["status"], out["ok"] = status, status == "ok"
    out["checks"] = [c.as_dict() for c in checks]
    return out


def describe_table(entry: dict[str, Any]) -> str:
    """One line of the human report: `reddit_bot.comments ~1,204 rows, 96 kB`."""
    parts = f", {entry['partitions']} partitions" if "partitions" in entry else ""
    return f"{entry['table']} ~{entry['live_rows']:,} rows, {size(entry['total_bytes'])}{parts}"

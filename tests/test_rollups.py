"""Analytics rollups (migration 0022): the rollup equals the raw aggregation, re-runs are harmless, late rows are
picked up, reports read rollup + raw and mean what they meant, and range reports keep custom plans."""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from datalayer import Database
from datalayer.error_api import LogRequestParams, UsageRepository, UserRepository
from datalayer.twitter_bot import ApiUsageRepository, LogApiCallParams

T0 = datetime(2025, 3, 10, 0, 0, tzinfo=UTC)  # data from here over 36 hours
ROLLED_AT = T0 + timedelta(hours=30, minutes=20)  # the rollup runs here: hours before 06:00 the next day are closed
PASSWORD = "a long passphrase for tests"


def calls(n: int, seed: int = 1) -> list[LogApiCallParams]:
    rnd = random.Random(seed)
    out = []
    for _ in range(n):
        ok = rnd.random() > 0.1
        out.append(LogApiCallParams(
            service=rnd.choice(["rollup-a", "rollup-b"]), endpoint=rnd.choice(["x", "y"]), success=ok,
            status_code=200 if ok else 500,
            response_time_ms=None if rnd.random() < 0.05 else round(rnd.lognormvariate(4, 1), 2),
            called_at=T0 + timedelta(seconds=rnd.uniform(0, 36 * 3600)),
        ))  # fmt: skip
    return out


RAW_BY_HOUR = """
    SELECT date_trunc('hour', called_at, 'UTC') AS hour, service, endpoint, count(*) AS calls,
           count(*) FILTER (WHERE success) AS successes, count(response_time_ms) AS timed,
           coalesce(sum(response_time_ms), 0) AS sum_ms, min(response_time_ms) AS min_ms, max(response_time_ms) AS max_ms
      FROM twitter_bot.api_usage WHERE called_at >= $1 AND called_at < $2 AND service LIKE 'rollup-%'
     GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
ROLLED = """
    SELECT hour, service, endpoint, calls, successes, timed, sum_ms, min_ms, max_ms
      FROM twitter_bot.api_usage_hourly WHERE hour >= $1 AND hour < $2 AND service LIKE 'rollup-%' ORDER BY 1, 2, 3"""


def same(a: list[asyncpg.Record], b: list[asyncpg.Record]) -> bool:
    def key(r: asyncpg.Record) -> tuple[object, ...]:
        return (*tuple(r.values())[:6], round(r["sum_ms"], 6), r["min_ms"], r["max_ms"])

    return [key(r) for r in a] == [key(r) for r in b]


async def reports(repo: ApiUsageRepository, since: datetime, until: datetime) -> tuple[object, ...]:
    daily = [(d.period_start, d.service, d.endpoint, d.calls, d.failures, round(d.avg_response_time_ms or 0, 6),
              d.p95_response_time_ms) for d in await repo.daily(since, until) if d.service.startswith("rollup-")]  # fmt: skip
    monthly = [
        (m.service, m.endpoint, m.calls) for m in await repo.monthly(since, until) if m.service.startswith("rollup-")
    ]
    rates = [
        (r.service, r.calls, r.successes)
        for r in await repo.success_rate(since, until)
        if r.service.startswith("rollup-")
    ]
    pct = [(p.service, p.endpoint, p.calls, p.p50_ms, p.p95_ms, p.p99_ms)
           for p in await repo.response_time_percentiles(since, until) if p.service.startswith("rollup-")]  # fmt: skip
    return daily, monthly, rates, pct


async def test_api_usage_rollup_equals_raw_is_idempotent_and_takes_late_rows(
    db: Database, conn: asyncpg.Connection
) -> None:
    repo = ApiUsageRepository(db)
    await repo.ensure_partition(date(2025, 3, 1))
    await repo.log_many(calls(3000))
    since, until = T0 + timedelta(minutes=17), T0 + timedelta(hours=35, minutes=3)  # ragged at both ends
    before = await reports(repo, since, until)  # nothing rolled up: all raw

    assert await repo.rollup(now=ROLLED_AT) > 0
    closed = T0 + timedelta(hours=30)
    assert await conn.fetchval(
        "SELECT rolled_until FROM ops.rollup_watermarks WHERE rollup = 'twitter_bot.api_usage_hourly'"
    ) == closed  # fmt: skip
    assert same(await conn.fetch(ROLLED, T0, closed), await conn.fetch(RAW_BY_HOUR, T0, closed))
    assert await conn.fetchval("SELECT count(*) FROM twitter_bot.api_usage_hourly WHERE hour >= $1", closed) == 0
    assert await reports(repo, since, until) == before  # rollup + raw edges and tail: the same answers

    # A re-run recomputes the last day and writes nothing new; the table is unchanged.
    snapshot = await conn.fetch(ROLLED, T0, closed)
    assert await repo.rollup(now=ROLLED_AT) == 0
    assert await conn.fetch(ROLLED, T0, closed) == snapshot

    # A late call into an hour rolled up already: the next run (its lookback) counts it; a changed hour is rewritten.
    late = LogApiCallParams(service="rollup-a", endpoint="x", success=False, status_code=500, response_time_ms=5000.0,
                            called_at=closed - timedelta(hours=3, minutes=1))  # fmt: skip
    await repo.log(late)
    assert await repo.rollup(now=ROLLED_AT) >= 1
    assert same(await conn.fetch(ROLLED, T0, closed), await conn.fetch(RAW_BY_HOUR, T0, closed))
    after = await reports(repo, since, until)
    assert sum(r[1] for r in after[2]) == sum(r[1] for r in before[2]) + 1

    # An hour whose calls are all gone loses its row on recomputation; retention deletes hours before a cutoff.
    gone = T0 + timedelta(hours=2)
    await conn.execute("DELETE FROM twitter_bot.api_usage WHERE called_at >= $1 AND called_at < $2", gone,
                       gone + timedelta(hours=1))  # fmt: skip
    assert await repo.rollup(now=ROLLED_AT, since=gone) > 0
    assert same(await conn.fetch(ROLLED, T0, closed), await conn.fetch(RAW_BY_HOUR, T0, closed))
    cutoff = T0 + timedelta(hours=5, minutes=30)
    await repo.delete_older_than(cutoff)
    assert await repo.delete_rollup_before(cutoff) > 0
    assert same(await conn.fetch(ROLLED, T0, closed), await conn.fetch(RAW_BY_HOUR, T0, closed))


async def test_percentiles_from_the_histogram_lie_in_the_exact_value_s_bucket(
    db: Database, conn: asyncpg.Connection
) -> None:
    repo = ApiUsageRepository(db)
    await repo.ensure_partition(date(2025, 3, 1))
    await repo.log_many(calls(4000, seed=7))
    await repo.rollup(now=ROLLED_AT)
    since, until = T0, T0 + timedelta(hours=36)
    exact = {(r["service"], r["endpoint"]): r for r in await conn.fetch(
        """SELECT service, endpoint, count(*) AS calls,
                  percentile_cont(0.50) WITHIN GROUP (ORDER BY response_time_ms) AS p50,
                  percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) AS p95,
                  percentile_cont(0.99) WITHIN GROUP (ORDER BY response_time_ms) AS p99
             FROM twitter_bot.api_usage WHERE called_at >= $1 AND called_at < $2 AND service LIKE 'rollup-%'
              AND response_time_ms IS NOT NULL GROUP BY 1, 2""", since, until)}  # fmt: skip
    got = [p for p in await repo.response_time_percentiles(since, until) if p.service.startswith("rollup-")]
    assert len(got) == len(exact) == 4
    for p in got:
        e = exact[(p.service, p.endpoint)]
        assert p.calls == e["calls"]
        for approx, true in ((p.p50_ms, e["p50"]), (p.p95_ms, e["p95"]), (p.p99_ms, e["p99"])):
            assert abs(approx - true) <= 0.19 * true + 1e-9, (p, e)


@pytest.mark.direct(reason="reads pg_prepared_statements, and no statement is prepared by name through PgBouncer")
async def test_range_reports_keep_custom_plans_and_read_only_their_month(
    db: Database, conn: asyncpg.Connection
) -> None:
    repo = ApiUsageRepository(db)
    for m in (date(2025, 2, 1), date(2025, 3, 1), date(2025, 4, 1)):
        await repo.ensure_partition(m)
    await repo.log_many(calls(500) + [c.model_copy(update={"called_at": c.called_at - timedelta(days=20)}) for c in calls(200)]
                        + [c.model_copy(update={"called_at": c.called_at + timedelta(days=30)}) for c in calls(200)])  # fmt: skip
    await repo.rollup(now=ROLLED_AT)
    since, until = datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 4, 1, tzinfo=UTC)
    plans = (
        "SELECT name, generic_plans, custom_plans FROM pg_prepared_statements "
        "WHERE statement LIKE '%twitter_bot.api_usage_by_period%' AND statement NOT LIKE '%pg_prepared_statements%'"
    )  # (this query's own text holds the name too)
    # The session's pooled connection may hold this statement from earlier tests: count what these runs add.
    before = {r["name"]: (r["generic_plans"], r["custom_plans"]) for r in await conn.fetch(plans)}
    first = await repo.daily(since, until)
    for _ in range(9):  # past the fifth run, where a prepared statement may switch to its generic plan
        assert await repo.daily(since, until) == first
    after = await conn.fetch(plans)
    generic = sum(r["generic_plans"] - before.get(r["name"], (0, 0))[0] for r in after)
    custom = sum(r["custom_plans"] - before.get(r["name"], (0, 0))[1] for r in after)
    assert (generic, custom >= 10) == (0, True), (before, after)
    assert await conn.fetchval("SELECT current_setting('plan_cache_mode')") == "auto"  # put back after each run

    from datalayer import queries as q

    sql = q.load()["twitter_bot.api_usage_by_period"]
    args = {"period": "day", "since": since, "until": until}
    plan = await conn.fetchval("EXPLAIN (ANALYZE, FORMAT JSON) " + sql.sql, *[args[n] for n in sql.numbered])
    plan = json.loads(plan) if isinstance(plan, str) else plan  # the suite's connections decode json

    def scanned(node: dict[str, object]) -> set[str]:
        found = {str(node["Relation Name"])} if "Relation Name" in node and node.get("Actual Loops") else set()
        for child in node.get("Plans", []):  # type: ignore[attr-defined]
            found |= scanned(child)
        return found

    # The rollup, and raw rows of March only (its tail after the watermark); February and April are never read.
    assert scanned(plan[0]["Plan"]) == {"api_usage_y2025m03", "api_usage_hourly", "rollup_watermarks"}


async def test_error_api_dashboard_from_the_daily_rollup(db: Database, conn: asyncpg.Connection) -> None:
    u = await UserRepository(db).create("rollup@example.com", PASSWORD)
    usage = UsageRepository(db)
    now = datetime(2025, 3, 12, 15, 30, tzinfo=UTC)
    from datalayer.partitions.partitions import PartitionRepository

    for m in (date(2025, 2, 1), date(2025, 3, 1)):
        await PartitionRepository(db).ensure_month("error_api.usage_logs", m)
    rnd = random.Random(3)
    rows = [
        LogRequestParams(user_id=u.id, endpoint=rnd.choice(["/v1/a", "/v1/b", "/v1/c"]), method="POST",
                         status_code=rnd.choice([200, 200, 200, 404, 500]),
                         response_time_ms=None if rnd.random() < 0.05 else int(rnd.lognormvariate(4, 1)),
                         created_at=now - timedelta(seconds=rnd.uniform(0, 9 * 86400)))
        for _ in range(1500)
    ]  # fmt: skip
    await usage.log_many(rows)
    before = await usage.dashboard(u.id, 7, now=now)
    assert await usage.rollup(now=now) > 0
    after = await usage.dashboard(u.id, 7, now=now)
    assert after.by_day == before.by_day and after.top_endpoints == before.top_endpoints
    assert after.summary.model_dump(exclude={"avg_response_ms"}) == before.summary.model_dump(
        exclude={"avg_response_ms"}
    )
    assert after.summary.avg_response_ms == pytest.approx(before.summary.avg_response_ms)
    exact = await conn.fetchval(
        "SELECT percentile_cont(0.95) WITHIN GROUP (ORDER BY response_time_ms) FROM error_api.usage_logs "
        "WHERE user_id = $1 AND created_at >= $2", u.id, now - timedelta(days=7))  # fmt: skip
    assert after.summary.p95_response_ms is not None and abs(after.summary.p95_response_ms - exact) <= 0.19 * exact
    assert sum(d.requests for d in after.by_day) == after.summary.requests == before.summary.requests
    assert await usage.rollup(now=now) == 0  # a repeat: the same rows
    raw = await conn.fetch(
        "SELECT (created_at AT TIME ZONE 'UTC')::date AS day, endpoint, count(*) AS n, "
        "count(*) FILTER (WHERE status_code >= 400) AS e FROM error_api.usage_logs WHERE user_id = $1 "
        "AND created_at < $2 GROUP BY 1, 2 ORDER BY 1, 2", u.id, datetime(2025, 3, 12, tzinfo=UTC))  # fmt: skip
    rolled = await conn.fetch("SELECT day, endpoint, requests AS n, errors AS e FROM error_api.usage_daily "
                              "WHERE user_id = $1 ORDER BY 1, 2", u.id)  # fmt: skip
    assert [tuple(r.values()) for r in rolled] == [tuple(r.values()) for r in raw]


async def test_error_api_retention_keeps_the_rollup_in_step(db: Database, conn: asyncpg.Connection) -> None:
    u = await UserRepository(db).create("rollup-retention@example.com", PASSWORD)
    usage = UsageRepository(db)
    now = datetime.now(UTC)
    await usage.log_many([LogRequestParams(user_id=u.id, endpoint="/v1/a", method="GET", status_code=200,
                                           response_time_ms=10, created_at=now - timedelta(days=d, hours=h))
                          for d in (1, 4, 6) for h in (0, 12)])  # fmt: skip
    await usage.rollup(now=now)
    await usage.cleanup_old_logs(5)
    raw = await conn.fetchval("SELECT count(*) FROM error_api.usage_logs WHERE user_id = $1", u.id)
    rolled = await conn.fetchval(
        "SELECT coalesce(sum(requests), 0) FROM error_api.usage_daily WHERE user_id = $1", u.id
    )
    day_now = now.replace(hour=0, minute=0, second=0, microsecond=0)
    today_raw = await conn.fetchval(
        "SELECT count(*) FROM error_api.usage_logs WHERE user_id = $1 AND created_at >= $2", u.id, day_now
    )
    assert raw == 4 and rolled == raw - today_raw

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import asyncpg
import pytest

from datalayer import Database, InvalidData
from datalayer.twitter_bot import ApiUsageRepository, LogApiCallParams

NOW = datetime.now(UTC)


def call(service: str = "twitter", endpoint: str = "tweets", ok: bool = True, ms: float | None = 100.0,
         at: datetime | None = None, error: str | None = None) -> LogApiCallParams:  # fmt: skip
    return LogApiCallParams(
        service=service, endpoint=endpoint, success=ok, status_code=200 if ok else 500,
        response_time_ms=ms, error_type=error, error_message=f"{error} happened" if error else None,
        **({} if at is None else {"called_at": at}),
    )  # fmt: skip


async def partition_of(conn: asyncpg.Connection, row_id: int) -> str:
    return str(await conn.fetchval("SELECT tableoid::regclass::text FROM twitter_bot.api_usage WHERE id = $1", row_id))


async def test_log_one_defaults_to_now(db: Database) -> None:
    row = await ApiUsageRepository(db).log(call())
    assert row.service == "twitter" and row.success and abs((row.called_at - NOW).total_seconds()) < 600


async def test_logging_the_same_call_again_stores_it_once(db: Database, conn: asyncpg.Connection) -> None:
    repo = ApiUsageRepository(db)
    p = call(at=datetime(2026, 10, 9, tzinfo=UTC))
    await repo.ensure_partition(date(2026, 10, 1))  # no DEFAULT partition: inside a transaction, make it first
    first = await repo.log(p)
    again = await repo.log(p)  # what a retry after a lost reply does
    assert again == first and await repo.get(p.call_id, p.called_at) == first
    assert await repo.log_many([p, call(at=p.called_at)]) == 1  # the known call is skipped, the new one stored
    assert await repo.log_many([p]) == 0
    assert await conn.fetchval("SELECT count(*) FROM twitter_bot.api_usage WHERE call_id = $1", p.call_id) == 1


async def test_concurrent_ensure_of_one_partition_never_fails(pool: asyncpg.Pool) -> None:
    month = date(2044, 2, 1)
    try:

        async def ensure() -> bool:
            async with pool.acquire() as c:
                return await ApiUsageRepository(Database.on_connection(c)).ensure_partition(month)

        results = await asyncio.gather(*(ensure() for _ in range(4)))
        assert sorted(results) == [False, False, False, True]
    finally:
        async with pool.acquire() as c:
            await c.execute("DROP TABLE IF EXISTS twitter_bot.api_usage_y2044m02")


def test_strict_params_never_coerce() -> None:
    from datalayer import InvalidData

    for bad in ({"success": "yes"}, {"status_code": "200"}, {"response_time_ms": "5"}):
        with pytest.raises(InvalidData, match=f"invalid input for LogApiCallParams: {next(iter(bad))}"):
            LogApiCallParams.model_validate({"service": "s", "endpoint": "e", "success": True, **bad})


async def test_log_many_uses_copy_and_creates_partitions(db: Database, conn: asyncpg.Connection) -> None:
    repo = ApiUsageRepository(db)
    far = datetime(2031, 3, 15, tzinfo=UTC)
    n = await repo.log_many([call(ms=float(i)) for i in range(500)] + [call(at=far), call()])
    assert n == 502
    names = {p.name for p in await repo.partitions()}
    assert "api_usage_y2031m03" in names
    assert await conn.fetchval("SELECT count(*) FROM twitter_bot.api_usage_y2031m03") == 1


async def test_month_without_partition_is_a_clear_error_in_a_transaction(
    db: Database, conn: asyncpg.Connection
) -> None:
    repo = ApiUsageRepository(db)
    with pytest.raises(InvalidData, match=r"no partition of twitter_bot\.api_usage .*2035-07-04"):
        async with db.transaction():  # a savepoint: the failed insert aborts only it
            await repo.log(call(at=datetime(2035, 7, 4, tzinfo=UTC)))
    assert await repo.ensure_partition(date(2035, 7, 1)) is True
    assert await repo.ensure_partition(date(2035, 7, 20)) is False
    row = await repo.log(call(at=datetime(2035, 7, 4, tzinfo=UTC)))
    assert await partition_of(conn, row.id) == "twitter_bot.api_usage_y2035m07"


async def test_month_without_partition_is_made_on_the_spot_on_the_pool(database_url: str) -> None:
    async with Database.connect(url=database_url) as db:
        repo = ApiUsageRepository(db)
        try:
            row = await repo.log(call(at=datetime(2036, 3, 4, tzinfo=UTC)))
            assert "api_usage_y2036m03" in {p.name for p in await repo.partitions()}
            assert await repo.log(call(at=row.called_at)) != row  # the month exists now: a plain insert
        finally:
            c = await asyncpg.connect(database_url)
            try:
                await c.execute("DROP TABLE IF EXISTS twitter_bot.api_usage_y2036m03")
            finally:
                await c.close()


async def test_partitions_ahead_and_drop_old_ones(db: Database, conn: asyncpg.Connection) -> None:
    repo = ApiUsageRepository(db)
    created = await repo.ensure_partitions_ahead(months=3, today=date(2040, 11, 20))
    assert created == [date(2040, 11, 1), date(2040, 12, 1), date(2041, 1, 1), date(2041, 2, 1)]
    await repo.log(call(at=datetime(2040, 11, 5, tzinfo=UTC)))
    dropped = await repo.drop_partitions_before(datetime(2041, 1, 1, tzinfo=UTC))
    assert "twitter_bot.api_usage_y2040m11" in dropped and "twitter_bot.api_usage_y2040m12" in dropped
    assert "twitter_bot.api_usage_y2041m01" not in dropped
    names = {p.name for p in await repo.partitions()}
    assert "api_usage_y2041m01" in names and "api_usage_y2040m11" not in names and "api_usage_default" not in names


async def test_reports(db: Database) -> None:
    repo = ApiUsageRepository(db)
    day1 = datetime(2026, 10, 1, 10, tzinfo=UTC)
    day2 = datetime(2026, 10, 2, 10, tzinfo=UTC)
    calls = [call(ms=float(ms), at=day1) for ms in range(1, 101)]
    calls += [call("deepl", "translate", ok=False, ms=5, at=day2, error="RateLimit") for _ in range(3)]
    calls += [call("deepl", "translate", ok=False, ms=5, at=day2, error="Timeout")]
    calls += [call("deepl", "translate", ok=True, ms=5, at=day2)]
    await repo.log_many(calls)
    since, until = datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC)

    daily = await repo.daily(since, until)
    assert [(d.period_start, d.service, d.calls, d.failures) for d in daily] == [
        (date(2026, 10, 1), "twitter", 100, 0),
        (date(2026, 10, 2), "deepl", 5, 4),
    ]
    monthly = await repo.monthly(since, until)
    assert [(m.period_start, m.service, m.calls) for m in monthly] == [
        (date(2026, 10, 1), "deepl", 5), (date(2026, 10, 1), "twitter", 100)
    ]  # fmt: skip
    rates = {r.service: r.success_rate for r in await repo.success_rate(since)}
    assert rates["twitter"] == 1.0 and rates["deepl"] == pytest.approx(0.2)
    pct = {p.service: p for p in await repo.response_time_percentiles(since)}
    # From the latency histogram: within the exact value's bucket (18.9% wide), clamped to the extremes.
    assert pct["twitter"].p50_ms == pytest.approx(50.5, rel=0.19)
    assert pct["twitter"].p95_ms == pytest.approx(95.05, rel=0.19)
    assert pct["twitter"].p99_ms == pytest.approx(99.01, rel=0.19) and pct["twitter"].p99_ms <= 100
    errors = await repo.top_errors(since, 5)
    assert [(e.error_type, e.occurrences) for e in errors] == [("RateLimit", 3), ("Timeout", 1)]
    assert errors[0].last_message == "RateLimit happened"


async def test_rate_limit_window(db: Database) -> None:
    repo = ApiUsageRepository(db)
    now = datetime.now(UTC)  # not the module's NOW: the suite may have run for minutes since it was taken
    await repo.log_many([call(at=now - timedelta(seconds=s)) for s in (5, 10, 20, 3000)])
    under = await repo.check_rate_limit("twitter", max_calls=5, window=timedelta(minutes=15))
    assert (under.calls_in_window, under.allowed, under.retry_after_seconds) == (3, True, 0)
    over = await repo.check_rate_limit("twitter", max_calls=3, window=timedelta(minutes=15))
    assert not over.allowed and 800 < over.retry_after_seconds <= 900
    other = await repo.check_rate_limit("twitter", max_calls=1, window=timedelta(minutes=15), endpoint="users")
    assert other.calls_in_window == 0 and other.allowed


async def test_today_and_retention(db: Database) -> None:
    repo = ApiUsageRepository(db)
    await repo.log_many([call(), call(ok=False, error="Boom"), call(at=NOW - timedelta(days=400))])
    today = await repo.today()
    assert today.calls >= 2 and today.failures >= 1 and 0 < today.error_rate <= 1
    assert await repo.delete_older_than(NOW - timedelta(days=365)) == 1


async def test_bad_call_names_the_constraint_and_keeps_others(db: Database) -> None:
    repo = ApiUsageRepository(db)
    kept = await repo.log(call())
    bad = call().model_copy(update={"status_code": 42})  # past the model's own check: the database's holds
    with pytest.raises(InvalidData, match="api_usage_status_code_http"):
        async with db.transaction() as tx:
            await ApiUsageRepository(tx).log(bad)
    with pytest.raises(InvalidData, match="api_usage_response_time_not_negative"):
        async with db.transaction() as tx:
            await ApiUsageRepository(tx).log_many([call(), call().model_copy(update={"response_time_ms": -1.0})])
    assert (await repo.today()).calls >= 1 and kept.id > 0

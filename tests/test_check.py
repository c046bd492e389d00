"""`datalayer check` passes on the real schema and reports every kind of mismatch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from click.testing import CliRunner
from pydantic import JsonValue

from datalayer import check
from datalayer import queries as q
from datalayer.cli import main
from datalayer.db import Database
from datalayer.repository import Row


class WrongType(Row):
    key: int
    value: JsonValue
    updated_at: datetime


class WrongFields(Row):
    key: str
    value: JsonValue
    changed_at: datetime


@contextmanager
def temporarily_bound(*bindings: q.Bound) -> Iterator[None]:
    try:
        yield
    finally:
        for b in bindings:
            q.REGISTRY[b.name].remove(b)


async def test_check_passes_on_migrated_schema(db: Database, database_url: str) -> None:
    report = await check.run(db.executor, database_url)
    assert report.problems == []
    from datalayer.filters import REGISTRY as FILTERS

    assert report.checked == len(q.load()) + len(FILTERS) > 0  # every named query, and every filter whitelist


async def test_check_reports_type_field_and_value_mismatches(db: Database, database_url: str) -> None:
    wrong_type = q.one("twitter_bot.get_system_state", WrongType, (str,))
    wrong_fields = q.many("twitter_bot.list_system_state", WrongFields)
    wrong_value = q.value("twitter_bot.delete_system_state", int, (str,), retry=True)
    with temporarily_bound(wrong_type, wrong_fields, wrong_value):
        report = await check.run(db.executor, database_url)
    text = "\n".join(report.problems)
    assert not report.ok
    assert "twitter_bot.get_system_state" in text and "column key is text but WrongType.key is int" in text
    assert "model WrongFields has field changed_at but the query returns no such column" in text
    assert "column updated_at is not a field of model WrongFields" in text
    assert "twitter_bot.delete_system_state" in text and "returns text but tests.test_check expects int" in text
    assert len(report.problems) == 4


def test_check_cli_exit_codes(database_url: str) -> None:
    runner = CliRunner()
    ok = runner.invoke(main, ["--database-url", database_url, "check"])
    assert ok.exit_code == 0, ok.output
    assert "0 problem(s)" in ok.output
    bad = q.one("twitter_bot.get_system_state", WrongType, (str,))
    with temporarily_bound(bad):
        failed = runner.invoke(main, ["--database-url", database_url, "check"])
    assert failed.exit_code == 1
    assert "✗ twitter_bot.get_system_state (queries/twitter_bot/system_state.sql:" in failed.output
    assert "1 problem(s)" in failed.output


class SwappedUpsertParams(q.Params):
    """set_system_state(key, value) with the types of its two fields swapped."""

    key: dict[str, object]
    value: str


def test_bind_time_rules_catch_what_positional_arguments_hid() -> None:
    import pytest

    class WrongNames(q.Params):
        key: str
        val: str

    with pytest.raises(TypeError, match="Params model's field names are the query's parameter names"):
        q.one("twitter_bot.set_system_state", WrongType, WrongNames, retry=True)
    with pytest.raises(TypeError, match="writes: declare whether running it twice is harmless"):
        q.one("twitter_bot.set_system_state", WrongType, (str, object))
    with pytest.raises(TypeError, match="bind it with a Params model"):
        q.many("twitter_bot.claim_pending_translations", WrongType, (str, int, float), retry=True)
    with pytest.raises(TypeError, match="declares 1 parameter"):
        q.one("twitter_bot.get_system_state", WrongType)


async def test_check_catches_swapped_and_mistyped_parameters(db: Database, database_url: str) -> None:
    swapped = q.one("twitter_bot.set_system_state", WrongFields, SwappedUpsertParams, retry=True)
    mistyped = q.one("twitter_bot.get_tweet", WrongFields, (str,))  # tweets.id is bigint
    reordered = q.many("twitter_bot.top_api_errors", WrongFields, (int, datetime))  # (since, limit) as (int, datetime)
    with temporarily_bound(swapped, mistyped, reordered):
        report = await check.run(db.executor, database_url)
    text = "\n".join(report.problems)
    assert "twitter_bot.set_system_state" in text
    assert "parameter $1 key is text in PostgreSQL but tests.test_check declares dict" in text
    assert "parameter $2 value is jsonb in PostgreSQL but tests.test_check declares str" in text
    assert (
        "twitter_bot.get_tweet" in text
        and "parameter $1 id is bigint in PostgreSQL but tests.test_check declares str" in text
    )
    assert "parameter $1 since is timestamp with time zone in PostgreSQL but tests.test_check declares int" in text
    assert "parameter $2 limit is bigint in PostgreSQL but tests.test_check declares datetime" in text


def test_check_json_lists_retry_policy_and_parameters(database_url: str) -> None:
    import json

    out = CliRunner().invoke(main, ["--database-url", database_url, "check", "--json"])
    assert out.exit_code == 0, out.output
    bindings = {b["query"]: b for b in json.loads(out.output)["bindings"]}
    assert bindings["twitter_bot.get_tweet"]["retry_safe"] is True
    assert bindings["twitter_bot.create_translation"]["retry_safe"] is False
    assert bindings["twitter_bot.get_tweet"]["params"] == ["id: int"]


async def test_check_catches_a_filter_whitelist_with_a_wrong_type(db: Database, database_url: str) -> None:
    from datalayer.chat_bot.users import USER_FILTERS
    from datalayer.filters import Col

    original = dict(USER_FILTERS.columns)
    USER_FILTERS.columns["message_count"] = Col(str)  # the column is an integer
    try:
        report = await check.run(db.executor, database_url)
    finally:
        USER_FILTERS.columns.clear()
        USER_FILTERS.columns.update(original)
    assert any("filters over chat_bot.find_users: column message_count is integer" in p for p in report.problems), (
        report.problems
    )

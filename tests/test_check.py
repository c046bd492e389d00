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
    assert report.checked == len(q.load()) > 0


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

"""`datalayer twitter import`: the old file store, idempotent, all-or-nothing, read-only on the source."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest
from click.testing import CliRunner

from datalayer import Database
from datalayer.cli import main
from datalayer.twitter_bot import ApiUsageRepository, SystemStateRepository, TranslationRepository, TweetRepository
from datalayer.twitter_bot.importer import ImportFailed, import_directory

USAGE = [
    {"service": "twitter", "endpoint": "user_timeline", "timestamp": "2026-10-01T10:00:00Z", "success": True,
     "status_code": 200, "response_time": 0.25},
    {"service": "openai", "endpoint": "chat", "timestamp": "2026-10-01T10:00:05", "success": False,
     "status_code": 429, "response_time_ms": 1200, "error_type": "RateLimit", "error_message": "slow down"},
    {"service": "openai", "endpoint": "chat", "timestamp": "2026-10-01T10:00:05", "success": False,
     "status_code": 429, "response_time_ms": 1200, "error_type": "RateLimit", "error_message": "slow down"},
]  # fmt: skip
DRAFT = {
    "tweet_id": 1850000000000000001, "original_text": "Good morning, world", "translated_text": "Buenos días, mundo",
    "target_language": "es", "confidence": 0.92, "created_at": "2026-10-02T08:00:00+00:00", "author_username": "watched",
}  # fmt: skip


def write_store(root: Path) -> Path:
    (root / "logs").mkdir(parents=True)
    (root / "drafts").mkdir()
    (root / "logs" / "last_tweet_id.txt").write_text("1850000000000000009\n")
    (root / "logs" / "api_usage.json").write_text(json.dumps(USAGE, indent=2))
    (root / "drafts" / "a.json").write_text(json.dumps(DRAFT))
    (root / "drafts" / "b.json").write_text(
        json.dumps({**DRAFT, "target_language": "fr", "translated_text": "Bonjour"})
    )
    return root


def fingerprint(root: Path) -> dict[str, tuple[str, float]]:
    return {
        str(p.relative_to(root)): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime)
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


async def test_import_is_complete_idempotent_and_read_only(db: Database, tmp_path: Path) -> None:
    root = write_store(tmp_path / "bot")
    before = fingerprint(root)
    report = (await import_directory(db, root)).as_dict()
    assert report["last_tweet_id"] == {"present": True, "file": 1850000000000000009, "stored": 1850000000000000009}
    # identical records are both kept: the second is the next occurrence of the same identity
    assert report["api_usage"] == {"present": True, "imported": 3, "replaced": 0, "unchanged": 0}
    assert report["drafts"] == {"files": 2, "imported": 2, "skipped": []}

    assert await SystemStateRepository(db).last_tweet_id() == 1850000000000000009
    drafts = await TranslationRepository(db).list_drafts(10)
    assert {(d.target_language, d.translated_text) for d in drafts} == {("es", "Buenos días, mundo"), ("fr", "Bonjour")}
    tweet = await TweetRepository(db).get(DRAFT["tweet_id"])  # type: ignore[arg-type]
    assert tweet is not None and tweet.text == "Good morning, world" and tweet.author_username == "watched"
    history = await TranslationRepository(db).history(DRAFT["tweet_id"])  # type: ignore[arg-type]
    assert {a.status for a in history} == {"imported"}
    pct = await ApiUsageRepository(db).response_time_percentiles(datetime(2026, 10, 1, tzinfo=UTC))
    assert {(p.service, p.p50_ms) for p in pct} == {("twitter", 250.0), ("openai", 1200.0)}

    again = (await import_directory(db, root)).as_dict()
    assert again["api_usage"] == {"present": True, "imported": 0, "replaced": 0, "unchanged": 3}
    assert again["drafts"]["imported"] == 0 and again["drafts"]["skipped"] == ["drafts/a.json", "drafts/b.json"]
    assert fingerprint(root) == before  # the source files are untouched


async def test_files_with_a_byte_order_mark_import(db: Database, tmp_path: Path) -> None:
    root = write_store(tmp_path / "bot")
    for path in (root / "logs" / "api_usage.json", root / "drafts" / "a.json", root / "logs" / "last_tweet_id.txt"):
        path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())
    report = (await import_directory(db, root)).as_dict()
    assert report["api_usage"]["imported"] == 3 and report["drafts"]["imported"] == 2
    assert report["last_tweet_id"]["stored"] == 1850000000000000009


async def test_appended_usage_imports_only_new_records(db: Database, tmp_path: Path) -> None:
    root = write_store(tmp_path / "bot")
    await import_directory(db, root)
    more = [*USAGE, {**USAGE[0], "timestamp": "2026-10-03T00:00:00Z"}]
    (root / "logs" / "api_usage.json").write_text(json.dumps(more))
    report = (await import_directory(db, root)).as_dict()
    assert report["api_usage"] == {"present": True, "imported": 1, "replaced": 0, "unchanged": 3}


async def test_corrected_record_replaces_instead_of_duplicating(
    db: Database, conn: asyncpg.Connection, tmp_path: Path
) -> None:
    root = write_store(tmp_path / "bot")
    await import_directory(db, root)
    fixed = [USAGE[0], {**USAGE[1], "success": True, "status_code": 200, "error_type": None}, USAGE[2]]
    (root / "logs" / "api_usage.json").write_text(json.dumps(fixed))
    report = (await import_directory(db, root)).as_dict()
    assert report["api_usage"] == {"present": True, "imported": 0, "replaced": 1, "unchanged": 2}
    rows = await conn.fetch(
        "SELECT success, status_code FROM twitter_bot.api_usage WHERE service = 'openai' ORDER BY success"
    )
    assert [tuple(r) for r in rows] == [(False, 429), (True, 200)]  # still two calls, one corrected


@pytest.mark.parametrize(
    ("field", "value"),
    [("success", "yes"), ("success", 1), ("status_code", "200"), ("status_code", 200.0), ("response_time", "0.5"),
     ("service", 5)],
)  # fmt: skip
async def test_no_coercion_a_string_is_not_a_number_or_boolean(
    db: Database, tmp_path: Path, field: str, value: object
) -> None:
    root = write_store(tmp_path / "bot")
    (root / "logs" / "api_usage.json").write_text(json.dumps([{**USAGE[0], field: value}]))
    with pytest.raises(ImportFailed, match=f"field '{field}'"):
        await import_directory(db, root)
    assert await ApiUsageRepository(db).daily(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == []


async def test_last_tweet_id_from_file_does_not_move_backwards(db: Database, tmp_path: Path) -> None:
    root = write_store(tmp_path / "bot")
    await SystemStateRepository(db).advance_last_tweet_id(1_900_000_000_000_000_000)
    report = (await import_directory(db, root)).as_dict()
    assert report["last_tweet_id"]["stored"] == 1_900_000_000_000_000_000


@pytest.mark.parametrize(
    ("path", "content", "expected"),
    [
        ("logs/api_usage.json", '[\n  {"service": "x", "endpoint": "y",\n   "timestamp": "2026-01-01T00:00:00Z", "success": true},\n  {"service": "x"\n', "logs/api_usage.json line 5 column 1: Expecting ','"),
        ("logs/api_usage.json", json.dumps([USAGE[0], {**USAGE[0], "success": "maybe"}], indent=1),
         "logs/api_usage.json line 10 (record 2): field 'success'"),
        ("logs/api_usage.json", json.dumps([{**USAGE[0], "response_time": -1}]), "field 'response_time'"),
        ("logs/api_usage.json", json.dumps([{**USAGE[0], "colour": "red"}]), "field 'colour': Extra inputs"),
        ("logs/api_usage.json", json.dumps({"not": "a list"}), "logs/api_usage.json line 1 column 1: expected a JSON array"),
        ("logs/last_tweet_id.txt", "abc\n", "logs/last_tweet_id.txt line 1: expected one positive tweet id"),
        ("drafts/bad.json", '{"tweet_id": 1,\n "original_text": "x",\n', "drafts/bad.json line 3"),
        ("drafts/bad.json", json.dumps({**DRAFT, "confidence": 3}), "drafts/bad.json line 1: field 'confidence'"),
        ("drafts/bad.json", json.dumps({**DRAFT, "target_language": "Spanish"}), "field 'target_language'"),
        # what PostgreSQL would refuse (or silently turn into -infinity) is caught here, with file and field
        ("logs/last_tweet_id.txt", "99999999999999999999999\n", "logs/last_tweet_id.txt line 1: expected one positive tweet id"),
        ("drafts/bad.json", json.dumps({**DRAFT, "tweet_id": 2**63}), "drafts/bad.json line 1: field 'tweet_id'"),
        ("drafts/bad.json", json.dumps({**DRAFT, "created_at": "0001-01-01T00:00:00"}), "field 'created_at': Value error, a time between the years 1970 and 2999"),
        ("drafts/bad.json", json.dumps({**DRAFT, "translated_text": "a\u0000b"}), "drafts/bad.json line 1: field 'translated_text': contains a NUL"),
        ("drafts/bad.json", json.dumps([DRAFT]), "drafts/bad.json line 1: expected a JSON object (one draft), found an array"),
        ("logs/api_usage.json", json.dumps([{**USAGE[0], "timestamp": "0001-01-01T00:00:00+05:00"}]), "(record 1): field 'timestamp'"),
        ("logs/api_usage.json", json.dumps([{**USAGE[0], "timestamp": "9999-12-31T23:30:00-05:00"}]), "(record 1): field 'timestamp'"),
        ("logs/api_usage.json", json.dumps([{**USAGE[0], "error_message": "\u0000"}]), "(record 1): field 'error_message': contains a NUL"),
        ("logs/api_usage.json", json.dumps([USAGE[0], "oops"]), "(record 2): expected a JSON object (one call record), found a string"),
    ],
)  # fmt: skip
async def test_malformed_input_names_file_and_line_and_imports_nothing(
    db: Database, tmp_path: Path, path: str, content: str, expected: str
) -> None:
    root = write_store(tmp_path / "bot")
    (root / path).write_text(content)
    with pytest.raises(ImportFailed) as info:
        await import_directory(db, root)
    assert expected in str(info.value), str(info.value)
    assert await SystemStateRepository(db).last_tweet_id() is None
    assert await TranslationRepository(db).list_drafts(10) == []
    assert await ApiUsageRepository(db).daily(datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)) == []


async def test_every_problem_of_a_record_is_listed(db: Database, tmp_path: Path) -> None:
    root = write_store(tmp_path / "bot")
    bad = {**USAGE[0], "success": "yes", "response_time_ms": 5.0}  # two problems in one record
    (root / "logs" / "api_usage.json").write_text(json.dumps([bad]))
    with pytest.raises(ImportFailed) as info:
        await import_directory(db, root)
    assert "field 'success'" in str(info.value) and "not both" in str(info.value), str(info.value)
    assert len(info.value.problems) == 2


async def test_invalid_utf8_and_missing_directory(db: Database, tmp_path: Path) -> None:
    root = write_store(tmp_path / "bot")
    (root / "drafts" / "c.json").write_bytes(b'{"tweet_id": \xff}')
    with pytest.raises(ImportFailed, match=r"drafts/c.json: cannot be read"):
        await import_directory(db, root)
    with pytest.raises(ImportFailed, match="not a directory"):
        await import_directory(db, tmp_path / "nope")


async def test_partial_store_is_fine(db: Database, tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "logs" / "last_tweet_id.txt").write_text("42")
    report = (await import_directory(db, tmp_path)).as_dict()
    assert report["last_tweet_id"]["stored"] == 42
    assert report["api_usage"]["present"] is False and report["drafts"]["files"] == 0


def test_cli_import_status_drafts(database_url: str, tmp_path: Path) -> None:
    root = write_store(tmp_path / "bot")
    runner = CliRunner()
    try:
        first = runner.invoke(main, ["--database-url", database_url, "twitter", "import", str(root)])
        assert first.exit_code == 0, first.output
        assert "drafts: 2 files, 2 imported, 0 skipped" in first.output
        assert "api_usage: 3 imported, 0 replaced by a corrected record, 0 already there" in first.output
        second = runner.invoke(main, ["--database-url", database_url, "twitter", "import", str(root), "--json"])
        assert json.loads(second.output)["api_usage"]["unchanged"] == 3

        status = json.loads(runner.invoke(main, ["--database-url", database_url, "twitter", "status", "--json"]).output)
        assert status["translations"]["draft"] == 2 and status["last_tweet_id"] == 1850000000000000009
        assert set(status["cache"]) == {"entries", "expired", "hit_rate"} and "error_rate" in status["api_calls_today"]
        human = runner.invoke(main, ["--database-url", database_url, "twitter", "status"])
        assert human.exit_code == 0 and "last tweet id" in human.output

        drafts = json.loads(runner.invoke(main, ["--database-url", database_url, "twitter", "drafts", "--json"]).output)
        assert sorted(d["target_language"] for d in drafts) == ["es", "fr"]
        table = runner.invoke(main, ["--database-url", database_url, "twitter", "drafts"])
        assert "Buenos días" in table.output

        (root / "drafts" / "z.json").write_text("{broken")
        bad = runner.invoke(main, ["--database-url", database_url, "twitter", "import", str(root)])
        assert bad.exit_code == 1 and "drafts/z.json line 1" in bad.output and "Traceback" not in bad.output

        maint = runner.invoke(
            main, ["--database-url", database_url, "twitter", "maintain", "--keep-days", "36500", "--json"]
        )
        assert maint.exit_code == 0, maint.output
        assert set(json.loads(maint.output)) >= {"partitions_created", "cache_entries_purged", "partitions_dropped"}
    finally:
        import asyncio

        import asyncpg

        async def cleanup() -> None:
            conn = await asyncpg.connect(database_url)
            await conn.execute(
                "DELETE FROM twitter_bot.tweets WHERE id = 1850000000000000001;"
                "DELETE FROM twitter_bot.api_usage WHERE called_at < '2026-10-04';"
                "DELETE FROM twitter_bot.system_state;"
            )
            await conn.close()

        asyncio.run(cleanup())

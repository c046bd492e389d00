"""`datalayer discord import`: the old JSON store, validated strictly, backed up, idempotent, all-or-nothing."""

from __future__ import annotations

import hashlib
import json
import os
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from datalayer import Database
from datalayer.cli import main
from datalayer.discord_bot import (
    EventRepository,
    GuildRepository,
    IntegrityRepository,
    ReactionRepository,
    ReminderRepository,
)
from datalayer.discord_bot.importer import ImportFailed, import_store

G = 1170000000000000001
M1, M2, M3 = "1180000000000000001", "1180000000000000002", "1180000000000000003"
U1, U2, U3 = 1160000000000000001, 1160000000000000002, 1160000000000000003
STORE = {
    M1: {"guild_id": G, "guild_name": "My server", "channel_id": 1175000000000000001, "title": "Weekly meeting",
         "interval_minutes": 1440, "is_paused": False, "last_reminder": "2026-11-30T18:00:00+00:00",
         "created_at": "2026-11-01T09:00:00Z", "required_reactions": ["✅", "❌"],
         "reactions": {"✅": [U1, U2], "❌": [U1]}},
    M2: {"guild_id": G, "channel_id": 1175000000000000002, "title": "Raid night", "interval_minutes": 60,
         "is_paused": True, "last_reminder": "2026-11-30T18:00:00", "users_who_reacted": [U3]},
}  # fmt: skip


def write(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False), encoding="utf-8")
    return path


def digest(root: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(root.glob("*.json"))}


async def test_import_backs_up_imports_and_is_idempotent(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "data"
    write(src / "events.json", STORE)
    before = digest(src)
    report = (await import_store(db, src, tmp_path / "backup")).as_dict()
    assert report == {"files": ["events.json"], "backup": str(tmp_path / "backup"), "events_inserted": 2,
                      "events_updated": 0, "events_unchanged": 0, "guilds": 1, "reactions_added": 4,
                      "reactions_removed": 0}  # fmt: skip
    assert digest(src) == before == digest(tmp_path / "backup")  # the source untouched, the copy identical
    events = EventRepository(db)
    e1 = await events.get_by_message_id(int(M1))
    e2 = await events.get_by_message_id(int(M2))
    assert e1 is not None and e2 is not None
    assert (e1.title, e1.interval_minutes, e1.required_reactions, e1.is_paused) == (
        "Weekly meeting",
        1440,
        ["✅", "❌"],
        False,
    )
    assert e2.is_paused and e2.last_reminder.isoformat() == "2026-11-30T18:00:00+00:00"  # no offset = UTC
    assert (await GuildRepository(db).get(G)).name == "My server"  # type: ignore[union-attr]
    pairs = [(r.user_id, r.emoji) for r in await ReactionRepository(db).list_for_event(e1.id)]
    assert sorted(pairs) == [(U1, "✅"), (U1, "❌"), (U2, "✅")]
    # users_who_reacted without required emoji: stored under ✅
    assert [(r.user_id, r.emoji) for r in await ReactionRepository(db).list_for_event(e2.id)] == [(U3, "✅")]

    again = (await import_store(db, src, tmp_path / "backup2")).as_dict()
    assert (again["events_inserted"], again["events_updated"], again["events_unchanged"]) == (0, 0, 2)
    assert (again["reactions_added"], again["reactions_removed"]) == (0, 0)

    corrected = json.loads(json.dumps(STORE))
    corrected[M1]["title"] = "Weekly team meeting"
    corrected[M1]["reactions"] = {"✅": [U1]}
    corrected[M3] = {"guild_id": G, "channel_id": 1175000000000000003, "title": "No dates", "interval_minutes": 30}
    mtime = write(src / "events.json", corrected).stat().st_mtime
    fixed = (await import_store(db, src, tmp_path / "backup3")).as_dict()
    assert (fixed["events_inserted"], fixed["events_updated"], fixed["events_unchanged"]) == (1, 1, 1)
    assert (fixed["reactions_added"], fixed["reactions_removed"]) == (0, 2)
    assert (await events.get_by_message_id(int(M1))).title == "Weekly team meeting"  # type: ignore[union-attr]
    e3 = await events.get_by_message_id(int(M3))
    assert e3 is not None and e3.created_at == e3.last_reminder == datetime.fromtimestamp(int(mtime), UTC)

    # Rewritten an hour later with nothing changed: the dates M2 and M3 took from the file's mtime stay put.
    os.utime(src / "events.json", (mtime + 3600, mtime + 3600))
    later = (await import_store(db, src, tmp_path / "backup4")).as_dict()
    assert (later["events_inserted"], later["events_updated"], later["events_unchanged"]) == (0, 0, 3)
    assert await events.get_by_message_id(int(M2)) == e2  # untouched since the first import
    assert (await events.get_by_message_id(int(M3))) == e3
    assert len(await events.list_for_guild(G)) == 3  # updated, never duplicated


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ({"interval_minutes": "60"}, f"events.json entry '{M1}' (line 2): field 'interval_minutes': Input should be a valid integer"),
        ({"is_paused": "no"}, "field 'is_paused': Input should be a valid boolean"),
        ({"is_paused": 0}, "field 'is_paused': Input should be a valid boolean"),
        ({"guild_id": "1170000000000000001"}, "field 'guild_id': Input should be a valid integer"),
        ({"channel_id": 2**63}, "field 'channel_id'"),
        ({"interval_minutes": 0}, "field 'interval_minutes': Input should be greater than 0"),
        ({"title": ""}, "field 'title'"),
        ({"colour": "red"}, "field 'colour': Extra inputs are not permitted"),
        ({"required_reactions": "✅"}, "field 'required_reactions': Input should be a valid list"),
        ({"reactions": {"✅": ["1160000000000000001"]}}, "field 'reactions.✅.0': Input should be a valid integer"),
        ({"last_reminder": "yesterday"}, "field 'last_reminder'"),
        ({"last_reminder": "0001-01-01T00:00:00"}, "field 'last_reminder': Value error, a time between the years 1970 and 2999"),
        ({"message_id": 5}, "field 'message_id' is 5, not the key"),
        ({"title": "a\u0000b"}, "field 'title': contains a NUL"),
    ],
)  # fmt: skip
async def test_a_bad_entry_names_file_entry_and_field_and_imports_nothing(
    db: Database, tmp_path: Path, entry: dict[str, object], expected: str
) -> None:
    src = tmp_path / "data"
    write(src / "a.json", {M2: STORE[M2]})  # a good file beside the bad one: not imported either
    write(src / "events.json", {M1: {**STORE[M1], **entry}})
    with pytest.raises(ImportFailed) as info:
        await import_store(db, src, tmp_path / "backup")
    assert expected in str(info.value), str(info.value)
    assert await EventRepository(db).list_for_guild(G) == []
    assert not (tmp_path / "backup").exists()  # validated before anything, the backup included


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"1180000000000000001": {"title": "x",\n', "events.json line 2 column 1"),
        ("[1, 2]", "events.json: expected a JSON object keyed by message id, found list"),
        ('{"abc": {}}', "events.json entry 'abc' (line 1): the key must be a message id"),
        ('{"1": {"title": "a"}, "1": {"title": "b"}}', "events.json: duplicate key '1'"),
        ('{"1": []}', "events.json entry '1' (line 1): expected a JSON object (one event), found list"),
    ],
)
async def test_malformed_json_is_a_clear_error(db: Database, tmp_path: Path, text: str, expected: str) -> None:
    (tmp_path / "events.json").write_text(text)
    with pytest.raises(ImportFailed) as info:
        await import_store(db, tmp_path / "events.json", tmp_path / "backup")
    assert expected in str(info.value), str(info.value)


async def test_one_message_in_two_files_and_missing_inputs(db: Database, tmp_path: Path) -> None:
    write(tmp_path / "d" / "a.json", {M1: STORE[M1]})
    write(tmp_path / "d" / "b.json", {M1: STORE[M1]})
    with pytest.raises(ImportFailed, match=f"b.json entry '{M1}' .*: message {M1} is also in a.json"):
        await import_store(db, tmp_path / "d", tmp_path / "backup")
    with pytest.raises(ImportFailed, match="no such file"):
        await import_store(db, tmp_path / "nope.json")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ImportFailed, match=r"no \*\.json files"):
        await import_store(db, tmp_path / "empty")
    (tmp_path / "bin.json").write_bytes(b"\xff\xfe")
    with pytest.raises(ImportFailed, match=r"bin\.json: cannot be read"):
        await import_store(db, tmp_path / "bin.json")


async def test_a_file_with_a_byte_order_mark_imports(db: Database, tmp_path: Path) -> None:
    src = tmp_path / "bom.json"
    src.write_text(json.dumps({M1: STORE[M1]}), encoding="utf-8-sig")
    assert src.read_bytes().startswith(b"\xef\xbb\xbf")
    assert (await import_store(db, src, tmp_path / "backup")).as_dict()["events_inserted"] == 1


async def test_reimporting_an_older_snapshot_never_makes_a_sent_event_due_again(db: Database, tmp_path: Path) -> None:
    """The old store still says the last reminder was on 30 November; the new bot has since sent one. Importing
    the store again keeps the later reminder: the event is not due again and `discord check` stays clean."""
    src = write(tmp_path / "events.json", STORE)
    await import_store(db, src, tmp_path / "backup")
    now = datetime(2026, 12, 1, 19, 0, tzinfo=UTC)  # M1 (daily, last 30 Nov 18:00) is due since 1 Dec 18:00
    reminders = ReminderRepository(db)
    claimed = [c for c in await reminders.claim_due("w1", now=now) if c.message_id == int(M1)]
    assert len(claimed) == 1
    await reminders.record_sent(claimed[0].reminder_id, "w1", 2, now=now)
    again = (await import_store(db, src, tmp_path / "backup2")).as_dict()
    assert (again["events_updated"], again["events_unchanged"]) == (0, 2)  # nothing to change: not "updated"
    e1 = await EventRepository(db).get_by_message_id(int(M1))
    assert e1 is not None and e1.last_reminder == now
    assert [c for c in await reminders.claim_due("w2", now=now) if c.message_id == int(M1)] == []
    problems = await IntegrityRepository(db).check(now)
    assert len(problems) == 12 and {p.problem: p.rows for p in problems if p.rows} == {}


def test_cli_import_due_check_and_seed(database_url: str, tmp_path: Path) -> None:
    """The CLI on a committed database: import (twice), due, check, seed (twice). Cleans up after itself."""
    src = write(tmp_path / "events.json", {M1: {**STORE[M1], "last_reminder": "2026-01-01T00:00:00Z"}})
    base = ["--database-url", database_url]
    try:
        first = CliRunner().invoke(main, [*base, "discord", "import", str(src), "--json"])
        assert first.exit_code == 0, first.output
        report = json.loads(first.output)
        assert report["events_inserted"] == 1 and Path(report["backup"]).is_dir()
        assert Path(report["backup"]).parent == tmp_path and report["backup"].startswith(str(src) + ".backup-")
        second = CliRunner().invoke(main, [*base, "discord", "import", str(src)])
        assert second.exit_code == 0 and "0 inserted, 0 updated, 1 unchanged" in second.output, second.output
        taken = CliRunner().invoke(main, [*base, "discord", "import", str(src), "--backup-dir", report["backup"]])
        assert taken.exit_code == 1 and "already exists" in taken.output
        due = CliRunner().invoke(main, [*base, "discord", "due", "--json"])
        assert due.exit_code == 0, due.output
        assert int(M1) in [e["message_id"] for e in json.loads(due.output)["events"]]
        assert "event(s) due" in CliRunner().invoke(main, [*base, "discord", "due"]).output
        check = CliRunner().invoke(main, [*base, "discord", "check", "--json"])
        assert check.exit_code == 0 and json.loads(check.output)["ok"] is True, check.output
        assert "all 12 checks passed" in CliRunner().invoke(main, [*base, "discord", "check"]).output
        seeded = [CliRunner().invoke(main, [*base, "seed", "discord-bot", "--guilds", "2", "--events", "4", "--json"])
                  for _ in range(2)]  # fmt: skip
        assert all(r.exit_code == 0 for r in seeded), seeded[0].output
        assert json.loads(seeded[0].output) == json.loads(seeded[1].output)
        assert json.loads(seeded[0].output)["events"] == 8
        check = CliRunner().invoke(main, [*base, "discord", "check", "--json"])
        assert json.loads(check.output)["ok"] is True
        bad = CliRunner().invoke(main, [*base, "discord", "import", str(write(tmp_path / "bad.json", {"x": {}}))])
        assert bad.exit_code == 1 and "bad.json entry 'x'" in bad.output and "Traceback" not in bad.output
    finally:
        import asyncio

        import asyncpg

        async def clean() -> None:
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("DELETE FROM discord_bot.guilds")
            finally:
                await conn.close()

        asyncio.run(clean())


def readme_json_block() -> str:
    import re

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    (block,) = re.findall(r"```json\n(.*?)```", readme, flags=re.DOTALL)
    return str(block)


async def test_the_readme_example_store_imports(db: Database, tmp_path: Path) -> None:
    write(tmp_path / "events.json", json.loads(readme_json_block()))
    for backup in ("b1", "b2"):
        report = await import_store(db, tmp_path / "events.json", tmp_path / backup)
    assert (report.events_inserted, report.events_unchanged, report.reactions_added) == (0, 1, 0)
    event = await EventRepository(db).get_by_message_id(1180000000000000001)
    assert event is not None and event.required_reactions == ["✅", "❌"]
    lacking = await ReactionRepository(db).list_for_event(event.id)
    assert sorted((r.user_id, r.emoji) for r in lacking) == [
        (1160000000000000001, "✅"), (1160000000000000001, "❌"), (1160000000000000002, "✅"), (1160000000000000002, "❌"),
    ]  # fmt: skip

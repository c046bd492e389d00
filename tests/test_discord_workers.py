"""Several reminder workers, each its own process, on many due events while every backend of theirs is
terminated again and again, and a worker killed after claiming: each event is reminded exactly once in its
interval, by exactly one worker, and nothing is skipped."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import asyncpg
import pytest

from datalayer import Database, Settings
from datalayer.discord_bot import EventRepository, GuildRepository, MemberRepository, UpsertEventParams
from tests.faults import killing

pytestmark = pytest.mark.direct(reason="kills the server's own backends under worker processes")

EVENTS = 400
WORKERS = 3
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
async def guild(database_url: str) -> AsyncIterator[int]:
    """A committed guild with members and EVENTS due events; deleted (with everything) afterwards."""
    guild_id = 1_190_000_000_000_000_000 + uuid.uuid4().int % 10**12
    now = datetime.now(UTC)
    async with Database.connect(Settings.model_validate({"application_name": "dl-setup"}), database_url) as db:
        async with db.transaction() as tx:
            await GuildRepository(tx).upsert(guild_id, "workers")
            await MemberRepository(tx).upsert_many(guild_id, [(guild_id + i, f"m{i}", False) for i in range(1, 6)])
            events = EventRepository(tx)
            for n in range(EVENTS):
                await events.upsert(UpsertEventParams(
                    message_id=guild_id + 10_000 + n, channel_id=guild_id + 1, guild_id=guild_id, title=f"e{n}",
                    interval_minutes=60, last_reminder=now - timedelta(minutes=61 + n % 7), created_at=now,
                ))  # fmt: skip
    yield guild_id
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM discord_bot.guilds WHERE guild_id = $1", guild_id)
    finally:
        await conn.close()


async def start(url: str, name: str, sent: Path, app: str, *extra: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tests.discord_worker", url, name, str(sent), *extra,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, cwd=ROOT,
        env={**os.environ, "WORKER_APP": app},
    )  # fmt: skip


async def finish(proc: asyncio.subprocess.Process) -> dict[str, object]:
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode == 0, err.decode()[-3000:]
    return json.loads(out.decode().strip().splitlines()[-1])


async def logs(url: str, guild_id: int) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(
            "SELECT l.event_id, l.scheduled_at, l.status, l.worker FROM discord_bot.reminder_logs AS l "
            "JOIN discord_bot.events AS e ON e.id = l.event_id WHERE e.guild_id = $1",
            guild_id,
        )
    finally:
        await conn.close()


def sent_lines(files: list[Path]) -> list[tuple[str, str, str]]:
    """(event id, scheduled_at, worker) of every reminder the workers sent."""
    out = []
    for f in files:
        if f.exists():
            for line in f.read_text().splitlines():
                event, slot, _reminder, worker = line.split()
                out.append((event, slot, worker))
    return out


async def test_workers_in_processes_under_repeated_kills_remind_each_event_once(
    database_url: str, guild: int, tmp_path: Path
) -> None:
    app = f"dl-discord-{uuid.uuid4().hex[:8]}"
    files = [tmp_path / f"sent-{i}.txt" for i in range(WORKERS)]
    async with killing(database_url, app, every=0.15) as kills:  # for the whole run
        procs = [await start(database_url, f"worker-{i}", files[i], app) for i in range(WORKERS)]
        summaries = await asyncio.gather(*(finish(p) for p in procs))
    assert sum(kills) > 10, kills  # the faults really happened, and reached the workers' statements:
    assert sum(int(s["retries"]) for s in summaries) > 0, summaries  # type: ignore[call-overload]
    assert all(s["foreign"] == [] for s in summaries), summaries

    sent = sent_lines(files)
    per_event = Counter(event for event, _slot, _w in sent)
    assert len(per_event) == EVENTS and set(per_event.values()) == {1}, per_event.most_common(
        3
    )  # none twice, none skipped
    rows = await logs(database_url, guild)
    assert len(rows) == EVENTS and {r["status"] for r in rows} == {"sent"}
    by_event = {str(r["event_id"]): r["worker"] for r in rows}
    assert all(by_event[event] == worker for event, _slot, worker in sent)  # recorded by the worker that sent it
    assert len({w for *_x, w in sent}) > 1  # the work really was shared


async def test_a_worker_killed_after_claiming_leaves_its_reminders_to_another_after_the_lease(
    database_url: str, guild: int, tmp_path: Path
) -> None:
    app = f"dl-discord-{uuid.uuid4().hex[:8]}"
    hanging = await start(database_url, "doomed", tmp_path / "doomed.txt", app, "--claim-and-hang", "7")
    assert hanging.stdout is not None
    line = await asyncio.wait_for(hanging.stdout.readline(), timeout=30)
    held = json.loads(line)
    assert len(held) == 7
    hanging.send_signal(signal.SIGKILL)  # dies holding 7 claims (lease 3 s), having sent nothing
    await hanging.wait()
    files = [tmp_path / f"sent-{i}.txt" for i in range(2)]
    summaries = [await finish(p) for p in [await start(database_url, f"w{i}", files[i], app) for i in range(2)]]
    assert all(s["foreign"] == [] for s in summaries), summaries
    sent = sent_lines(files)
    assert len(sent) == EVENTS and len({e for e, _s, _w in sent}) == EVENTS
    rows = await logs(database_url, guild)
    assert len(rows) == EVENTS and {r["status"] for r in rows} == {"sent"}
    assert "doomed" not in {r["worker"] for r in rows}


async def test_a_claim_whose_reply_is_lost_is_retried_and_hands_back_the_same_reminders(
    database_url: str, guild: int
) -> None:
    from datalayer.discord_bot import ReminderRepository
    from tests.faults import proxy_to

    settings = Settings.model_validate({"application_name": f"dl-{uuid.uuid4().hex[:6]}", "statement_cache_size": 0})
    async with proxy_to(database_url) as proxy:
        async with Database.connect(settings, proxy.url(database_url)) as db:
            proxy.cut_before_reply_to(b"discord_bot.claim_due_events")  # the server claims; the reply is lost
            claimed = await ReminderRepository(db).claim_due("w-lost", limit=20)
            assert proxy.cuts == 1 and len(claimed) == 20
            proxy.cut_before_reply_to(b"discord_bot.record_reminder_sent")
            log = await ReminderRepository(db).record_sent(claimed[0].reminder_id, "w-lost", 5)
            assert proxy.cuts == 2 and log.status == "sent"
    rows = await logs(database_url, guild)
    # one claim's worth of pending logs: the lost first try and its retry leased the same 20, not 40
    assert len(rows) == 20 and Counter(r["status"] for r in rows) == {"pending": 19, "sent": 1}
    assert {r["worker"] for r in rows} == {"w-lost"}

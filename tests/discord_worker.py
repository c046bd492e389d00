"""A Discord reminder worker as its own process, for tests/test_discord_workers.py.

    python -m tests.discord_worker URL NAME SENT_FILE [--claim-and-hang N]

Runs the worker loop of the README against URL until no event is due (or 60 s pass), appending one line per
reminder it "sends" to SENT_FILE. Prints a JSON summary; exit 3 if an exception outside datalayer.errors
reached it. With --claim-and-hang N it claims up to N reminders, prints their ids and waits to be killed.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

from datalayer import Database, DatalayerError, Settings, StateConflict
from datalayer.discord_bot import EventRepository, ReactionRepository, ReminderRepository


async def work(url: str, name: str, sent_file: Path, hang: int | None) -> int:
    settings = Settings.model_validate(
        {"application_name": os.environ["WORKER_APP"], "pool_max_size": 3, "retry_backoff": 0.02,
         "retry_backoff_max": 0.3, "retry_deadline": 10.0, "retry_attempts": 10}
    )  # fmt: skip
    errors: Counter[str] = Counter()
    foreign: list[str] = []
    sent = 0
    async with Database.connect(settings, url) as db:
        reminders, reactions, events = ReminderRepository(db), ReactionRepository(db), EventRepository(db)
        if hang is not None:
            claimed = await reminders.claim_due(name, limit=hang, lease_seconds=3)
            print(json.dumps([c.reminder_id for c in claimed]), flush=True)
            await asyncio.sleep(3600)
        unrecorded: dict[int, int] = {}  # reminder id -> members notified: sent on Discord, not yet recorded
        deadline = time.monotonic() + 60
        with sent_file.open("a") as out:
            while time.monotonic() < deadline:
                try:
                    batch = await reminders.claim_due(name, limit=5, lease_seconds=60)
                    if not batch:
                        if not unrecorded and await events.count_due() == 0:
                            break
                        await asyncio.sleep(0.05)
                        continue
                    for r in batch:
                        if r.reminder_id not in unrecorded:
                            members = await reactions.members_to_remind(r.event_id)
                            await asyncio.sleep(0.005)  # the Discord API call
                            out.write(f"{r.event_id} {r.scheduled_at.isoformat()} {r.reminder_id} {name}\n")
                            out.flush()  # "sent on Discord"
                            unrecorded[r.reminder_id] = len(members)
                            sent += 1
                        await reminders.record_sent(r.reminder_id, name, unrecorded[r.reminder_id])
                        del unrecorded[r.reminder_id]
                except StateConflict as exc:
                    errors[type(exc).__name__] += 1
                except DatalayerError as exc:  # Unavailable: the claim holds; the next claim hands it back
                    errors[type(exc).__name__] += 1
                    await asyncio.sleep(0.02)
                except Exception as exc:
                    foreign.append(f"{type(exc).__module__}.{type(exc).__name__}: {exc}")
        retries = sum(s.retries for s in db.query_stats())
    print(json.dumps({"worker": name, "sent": sent, "errors": dict(errors), "foreign": foreign,
                      "retries": retries}), flush=True)  # fmt: skip
    return 3 if foreign else 0


def main() -> None:
    url, name, sent_file = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    hang = int(sys.argv[5]) if len(sys.argv) > 5 and sys.argv[4] == "--claim-and-hang" else None
    sys.exit(asyncio.run(work(url, name, sent_file, hang)))


if __name__ == "__main__":
    main()

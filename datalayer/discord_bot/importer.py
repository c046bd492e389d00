"""Import the bot's old JSON store (`datalayer discord import FILE|DIR`).

A source is one JSON file, or a directory whose `*.json` files are each one source. A file is an object keyed
by message id (the decimal id as the key, as JSON requires), each value an event:

    {
      "1180000000000000001": {
        "guild_id": 1170000000000000001, "guild_name": "My server",    # guild_name optional
        "channel_id": 1175000000000000001,
        "title": "Weekly meeting", "description": null,                  # description optional
        "interval_minutes": 1440, "is_paused": false,                    # is_paused optional (false)
        "last_reminder": "2026-11-30T18:00:00+00:00",                    # optional; no offset = UTC
        "created_at": "2026-11-01T09:00:00Z",                            # optional
        "required_reactions": ["✅", "❌"],                              # optional ([] = any reaction counts)
        "reactions": {"✅": [1160000000000000001]},                      # optional: emoji -> user ids
        "users_who_reacted": [1160000000000000002]                       # optional, the old bot's list
      }
    }

Types are strict: a string where a number or boolean belongs is an error, never a coercion; unknown fields,
a duplicate key, or a `message_id` field that differs from its key are errors. `users_who_reacted` (user ids
without their emoji) is stored as a reaction with every required emoji, which is what it meant to the old
bot (those users were not reminded); with no required emoji, under ✅. Without `last_reminder` the event
counts as reminded at `created_at`; without `created_at`, a new event is dated by the file's modification
time and an event already stored keeps its dates (rewriting the file does not move them).

Every file is read and validated before anything is written; one bad entry anywhere stops the import with a
list naming each file, entry (message id and line) and field, and nothing is imported. Then the source files
are copied to a backup directory (never changed), checked byte for byte, and everything is imported in one
transaction. The file is the truth for the events it holds: a re-import changes nothing, a corrected file
updates those events and makes their reactions exactly the file's; events not in the files are untouched.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from datalayer.db import Database
from datalayer.discord_bot.events import DESCRIPTION, INTERVAL, TITLE, EventRepository, UpsertEventParams, check_emoji
from datalayer.discord_bot.guilds import GuildRepository
from datalayer.discord_bot.reactions import ReactionRepository
from datalayer.errors import InvalidData
from datalayer.validation import ImportFailed, Moment, as_utc, field_problems, nul_problems, read_source

SNOWFLAKE = Field(gt=0, lt=2**63)
DEFAULT_EMOJI = "✅"


class EventEntry(BaseModel):
    """One value of the store's top-level object."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    message_id: int | None = Field(default=None, gt=0, lt=2**63)
    guild_id: int = SNOWFLAKE
    guild_name: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"\S")
    channel_id: int = SNOWFLAKE
    title: str = TITLE
    description: str | None = DESCRIPTION
    interval_minutes: int = INTERVAL
    is_paused: bool = False
    last_reminder: Moment | None = Field(default=None, strict=False)  # ISO 8601 strings in JSON
    created_at: Moment | None = Field(default=None, strict=False)
    required_reactions: list[str] = Field(default_factory=list, max_length=20)
    reactions: dict[str, list[int]] = Field(default_factory=dict)
    users_who_reacted: list[int] = Field(default_factory=list)

    _emoji = field_validator("required_reactions")(check_emoji)

    @field_validator("reactions")
    @classmethod
    def _reactions(cls, value: dict[str, list[int]]) -> dict[str, list[int]]:
        for emoji, users in value.items():
            if not emoji or len(emoji) > 100:
                raise ValueError("an emoji is 1-100 characters")
            if any(not 0 < u < 2**63 for u in users):
                raise ValueError(f"user ids under {emoji} must be positive 64-bit integers")
        return value

    @field_validator("users_who_reacted")
    @classmethod
    def _users(cls, value: list[int]) -> list[int]:
        if any(not 0 < u < 2**63 for u in value):
            raise ValueError("user ids must be positive 64-bit integers")
        return value

    def pairs(self) -> list[tuple[int, str]]:
        """The (user_id, emoji) reactions this entry stands for, each once."""
        out = {(user, emoji) for emoji, users in self.reactions.items() for user in users}
        for user in self.users_who_reacted:
            out.update((user, emoji) for emoji in (self.required_reactions or [DEFAULT_EMOJI]))
        return sorted(out)


@dataclass(frozen=True)
class _Event:
    source: str
    message_id: int
    entry: EventEntry
    params: UpsertEventParams


@dataclass
class ImportReport:
    files: list[str] = field(default_factory=list)
    backup: str | None = None
    events_inserted: int = 0
    events_updated: int = 0
    events_unchanged: int = 0
    guilds: int = 0
    reactions_added: int = 0
    reactions_removed: int = 0

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise ValueError(f"duplicate key {key!r}")
        seen[key] = value
    return seen


def _key_lines(text: str, keys: list[str]) -> dict[str, int]:
    """Line of each top-level key (for messages); a best effort that never fails."""
    lines: dict[str, int] = {}
    start = 0
    for key in keys:
        at = text.find(json.dumps(key), start)
        if at >= 0:
            lines[key] = text.count("\n", 0, at) + 1
            start = at
    return lines


def sources(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.glob("*.json") if p.is_file())
    return [path]


def parse(path: Path) -> list[_Event]:
    """Read and validate every source file; raise ImportFailed listing every problem."""
    if not path.exists():
        raise ImportFailed([f"{path}: no such file or directory"])
    files = sources(path)
    if not files:
        raise ImportFailed([f"{path}: no *.json files in this directory"])
    problems: list[str] = []
    events: list[_Event] = []
    seen: dict[int, str] = {}
    for file in files:
        name = file.name
        text = read_source(file, name, problems)
        if text is None:
            continue
        try:
            raw = json.loads(text, object_pairs_hook=_no_duplicates)
        except json.JSONDecodeError as exc:
            problems.append(f"{name} line {exc.lineno} column {exc.colno}: {exc.msg}")
            continue
        except ValueError as exc:
            problems.append(f"{name}: {exc}")
            continue
        if not isinstance(raw, dict):
            problems.append(f"{name}: expected a JSON object keyed by message id, found {type(raw).__name__}")
            continue
        lines = _key_lines(text, list(raw))
        mtime = datetime.fromtimestamp(file.stat().st_mtime, UTC).replace(microsecond=0)
        for key, value in raw.items():
            where = f"{name} entry {key!r} (line {lines.get(key, '?')})"
            if not key.isascii() or not key.isdigit() or not 0 < int(key) < 2**63:
                problems.append(f"{where}: the key must be a message id (a positive integer written as a string)")
                continue
            message_id = int(key)
            if not isinstance(value, dict):
                problems.append(f"{where}: expected a JSON object (one event), found {type(value).__name__}")
                continue
            nul = nul_problems(value)
            if nul:
                problems.extend(f"{where}: {n}" for n in nul)
                continue
            try:
                entry = EventEntry.model_validate(value)
            except ValidationError as exc:
                problems.extend(field_problems(where, exc, "entry"))
                continue
            if entry.message_id is not None and entry.message_id != message_id:
                problems.append(f"{where}: field 'message_id' is {entry.message_id}, not the key")
                continue
            if message_id in seen:
                problems.append(f"{where}: message {message_id} is also in {seen[message_id]}")
                continue
            seen[message_id] = name
            params = UpsertEventParams(
                message_id=message_id,
                channel_id=entry.channel_id,
                guild_id=entry.guild_id,
                title=entry.title,
                description=entry.description,
                interval_minutes=entry.interval_minutes,
                is_paused=entry.is_paused,
                last_reminder=as_utc(entry.last_reminder) if entry.last_reminder else None,
                required_reactions=entry.required_reactions,
                created_at=as_utc(entry.created_at) if entry.created_at else None,
                first_seen=mtime,
            )
            events.append(_Event(name, message_id, entry, params))
    if problems:
        raise ImportFailed(problems)
    return events


def back_up(path: Path, backup_dir: Path) -> Path:
    """Copy every source file into backup_dir (created; must not exist) and check the copies byte for byte."""
    try:
        backup_dir.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        raise InvalidData(f"backup directory {backup_dir} already exists; choose another (--backup-dir)") from None
    except OSError as exc:
        raise InvalidData(f"cannot create backup directory {backup_dir}: {exc}") from None
    for file in sources(path):
        copy = backup_dir / file.name
        shutil.copy2(file, copy)
        if hashlib.sha256(copy.read_bytes()).digest() != hashlib.sha256(file.read_bytes()).digest():
            raise InvalidData(f"the backup copy {copy} differs from {file}; nothing imported")
    return backup_dir


def default_backup_dir(path: Path) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    return path.resolve().parent / f"{path.name}.backup-{stamp}"


async def import_store(db: Database, path: Path, backup_dir: Path | None = None) -> ImportReport:
    """Validate, back up, then import everything in one transaction; see the module docstring."""
    events = await asyncio.to_thread(parse, path)  # file reads off the event loop
    report = ImportReport(files=[p.name for p in sources(path)])
    report.backup = str(await asyncio.to_thread(back_up, path, backup_dir or default_backup_dir(path)))
    async with db.transaction() as tx:
        guilds, repo, reactions = GuildRepository(tx), EventRepository(tx), ReactionRepository(tx)
        names: dict[int, str | None] = {}
        for ev in events:
            if names.get(ev.entry.guild_id) is None:
                names[ev.entry.guild_id] = ev.entry.guild_name
        for guild_id, guild_name in names.items():
            existing = await guilds.get(guild_id)
            if existing is None or guild_name is not None:
                await guilds.upsert(guild_id, guild_name or (existing.name if existing else f"guild {guild_id}"))
        report.guilds = len(names)
        for ev in events:
            written = await repo.upsert(ev.params)
            if written.inserted:
                report.events_inserted += 1
            elif written.changed:
                report.events_updated += 1
            else:
                report.events_unchanged += 1
            at = ev.params.created_at or ev.params.first_seen
            changed = await reactions.replace_for_event(written.id, ev.entry.pairs(), at)
            report.reactions_added += changed.added
            report.reactions_removed += changed.removed
    return report

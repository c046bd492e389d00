"""Import the bot's old file store: `logs/last_tweet_id.txt`, `logs/api_usage.json`, `drafts/*.json`.

Every file is read and validated completely, and strictly (a string where a number or boolean belongs is
an error, never a coercion), before anything is written; one bad record anywhere stops the import with a
report naming each file, line and field, and nothing is imported. The import then runs in one transaction and
is idempotent: last_tweet_id never moves backwards; a usage record is stored under the call_id of its identity
(service, endpoint, timestamp, and its position among records with those three), so importing the same file
again adds nothing and importing a corrected file replaces the records that changed; a draft is skipped when
its tweet already has a translation into that language. Source files are only read.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from datalayer.db import Database
from datalayer.twitter_bot.api_usage import ApiUsageRepository, LogApiCallParams
from datalayer.twitter_bot.system_state import SystemStateRepository
from datalayer.twitter_bot.translations import ImportDraftParams, TranslationRepository
from datalayer.twitter_bot.tweets import LANGUAGE, USERNAME
from datalayer.validation import INT64_MAX, ImportFailed, Moment, as_utc, field_problems, nul_problems, read_source

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def identity_call_id(service: str, endpoint: str, called_at: datetime, occurrence: int) -> UUID:
    """The call_id of an imported record: md5 of service|endpoint|epoch microseconds|occurrence, the same
    derivation migration 0004 applied to rows imported before it."""
    micros = (called_at - EPOCH) // timedelta(microseconds=1)
    return UUID(hashlib.md5(f"{service}|{endpoint}|{micros}|{occurrence}".encode()).hexdigest())


BATCH = 5000


class ApiUsageRecord(BaseModel):
    """One element of logs/api_usage.json."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    service: str = Field(min_length=1, max_length=100)
    endpoint: str = Field(min_length=1, max_length=500)
    timestamp: Moment = Field(strict=False)  # an ISO 8601 string in JSON
    success: bool
    status_code: int | None = Field(default=None, ge=100, le=599)
    response_time: float | None = Field(default=None, ge=0, description="seconds")
    response_time_ms: float | None = Field(default=None, ge=0)
    error_type: str | None = None
    error_message: str | None = None

    @field_validator("response_time_ms")
    @classmethod
    def _one_time_unit(cls, value: float | None, info: ValidationInfo) -> float | None:
        # A field validator, not a model one: it is reported together with the record's other problems.
        if value is not None and info.data.get("response_time") is not None:
            raise ValueError("give response_time (seconds) or response_time_ms, not both")
        return value

    def to_params(self, occurrence: int) -> LogApiCallParams:
        ms = self.response_time_ms if self.response_time is None else self.response_time * 1000
        called_at = as_utc(self.timestamp)
        return LogApiCallParams(
            call_id=identity_call_id(self.service, self.endpoint, called_at, occurrence),
            service=self.service,
            endpoint=self.endpoint,
            called_at=called_at,
            success=self.success,
            status_code=self.status_code,
            response_time_ms=ms,
            error_type=self.error_type,
            error_message=self.error_message,
        )


class DraftFile(BaseModel):
    """The content of one drafts/*.json file."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, hide_input_in_errors=True)

    tweet_id: int = Field(gt=0, le=INT64_MAX)
    original_text: str = Field(min_length=1)
    translated_text: str = Field(min_length=1)
    target_language: str = Field(pattern=LANGUAGE, max_length=35)
    confidence: float | None = Field(default=None, ge=0, le=1)
    created_at: Moment | None = Field(default=None, strict=False)
    author_username: str = Field(default="unknown", pattern=USERNAME)
    author_id: int = Field(default=0, ge=0, le=INT64_MAX)
    tweet_created_at: Moment | None = Field(default=None, strict=False)


@dataclass
class ImportReport:
    last_tweet_id: dict[str, Any] = field(default_factory=lambda: {"present": False})
    api_usage: dict[str, Any] = field(
        default_factory=lambda: {"present": False, "imported": 0, "replaced": 0, "unchanged": 0}
    )
    drafts: dict[str, Any] = field(default_factory=lambda: {"files": 0, "imported": 0, "skipped": []})

    def as_dict(self) -> dict[str, Any]:
        return {"last_tweet_id": self.last_tweet_id, "api_usage": self.api_usage, "drafts": self.drafts}


@dataclass
class _Parsed:
    last_tweet_id: int | None = None
    usage: list[LogApiCallParams] = field(default_factory=list)
    drafts: list[tuple[str, ImportDraftParams]] = field(default_factory=list)


def _json_type(value: Any) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number", float: "a number"}
    return "null" if value is None else names.get(type(value), type(value).__name__)


def _array_elements(text: str) -> list[tuple[int, Any]]:
    """The elements of a top-level JSON array, each with the line it starts on."""
    decoder = json.JSONDecoder()
    i = len(text) - len(text.lstrip())
    if not text[i:].startswith("["):
        raise json.JSONDecodeError("expected a JSON array of call records", text, i)
    i += 1
    items: list[tuple[int, Any]] = []
    while True:
        while i < len(text) and text[i] in " \t\r\n":
            i += 1
        if i < len(text) and text[i] == "]":
            rest = text[i + 1 :].strip()
            if rest:
                raise json.JSONDecodeError("extra data after the array", text, i + 1)
            return items
        if items:
            if i >= len(text) or text[i] != ",":
                raise json.JSONDecodeError("expected ',' or ']'", text, i)
            i += 1
            while i < len(text) and text[i] in " \t\r\n":
                i += 1
        value, end = decoder.raw_decode(text, i)
        items.append((text.count("\n", 0, i) + 1, value))
        i = end


def parse(directory: Path) -> _Parsed:
    """Read and validate every source file; raise ImportFailed listing every problem."""
    if not directory.is_dir():
        raise ImportFailed([f"{directory}: not a directory"])
    problems: list[str] = []
    parsed = _Parsed()

    last = directory / "logs" / "last_tweet_id.txt"
    if last.exists():
        text = read_source(last, str(last.relative_to(directory)), problems)
        if text is not None:
            lines = [(n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if line.strip()]
            if (
                len(lines) != 1
                or not lines[0][1].isascii()
                or not lines[0][1].isdigit()
                or not 0 < int(lines[0][1]) <= INT64_MAX
            ):
                where = f"line {lines[0][0]}" if lines else "line 1"
                problems.append(
                    f"logs/last_tweet_id.txt {where}: expected one positive tweet id, found {text.strip()!r:.60}"
                )
            else:
                parsed.last_tweet_id = int(lines[0][1])

    usage = directory / "logs" / "api_usage.json"
    if usage.exists():
        text = read_source(usage, str(usage.relative_to(directory)), problems)
        if text is not None:
            try:
                elements = _array_elements(text)
            except json.JSONDecodeError as exc:
                problems.append(f"logs/api_usage.json line {exc.lineno} column {exc.colno}: {exc.msg}")
                elements = []
            seen: Counter[tuple[str, str, datetime]] = Counter()
            for position, (line, raw) in enumerate(elements):
                where = f"logs/api_usage.json line {line} (record {position + 1})"
                if not isinstance(raw, dict):
                    problems.append(f"{where}: expected a JSON object (one call record), found {_json_type(raw)}")
                    continue
                nul = nul_problems(raw)
                if nul:
                    problems.extend(f"{where}: {n}" for n in nul)
                    continue
                try:
                    record = ApiUsageRecord.model_validate(raw)
                except ValidationError as exc:
                    problems.extend(field_problems(where, exc, "record"))
                    continue
                identity = (record.service, record.endpoint, as_utc(record.timestamp))
                parsed.usage.append(record.to_params(seen[identity]))
                seen[identity] += 1

    drafts_dir = directory / "drafts"
    if drafts_dir.is_dir():
        for path in sorted(drafts_dir.glob("*.json")):
            name = str(path.relative_to(directory))
            text = read_source(path, str(path.relative_to(directory)), problems)
            if text is None:
                continue
            try:
                raw = json.loads(text)
            except json.JSONDecodeError as exc:
                problems.append(f"{name} line {exc.lineno} column {exc.colno}: {exc.msg}")
                continue
            if not isinstance(raw, dict):
                problems.append(f"{name} line 1: expected a JSON object (one draft), found {_json_type(raw)}")
                continue
            nul = nul_problems(raw)
            if nul:
                problems.extend(f"{name} line 1: {n}" for n in nul)
                continue
            try:
                draft = DraftFile.model_validate(raw)
            except ValidationError as exc:
                problems.extend(field_problems(f"{name} line 1", exc, "record"))
                continue
            created = as_utc(draft.created_at or datetime.fromtimestamp(path.stat().st_mtime, UTC))
            parsed.drafts.append(
                (
                    name,
                    ImportDraftParams(
                        tweet_id=draft.tweet_id,
                        author_id=draft.author_id,
                        author_username=draft.author_username,
                        original_text=draft.original_text,
                        tweet_created_at=as_utc(draft.tweet_created_at or created),
                        target_language=draft.target_language,
                        translated_text=draft.translated_text,
                        confidence=draft.confidence,
                        created_at=created,
                    ),
                )
            )
    if problems:
        raise ImportFailed(problems)
    return parsed


async def import_directory(db: Database, directory: Path) -> ImportReport:
    """Import everything from an old bot directory in one transaction; see the module docstring."""
    parsed = parse(directory)
    report = ImportReport()
    report.drafts["files"] = len(parsed.drafts)
    async with db.transaction() as tx:
        if parsed.last_tweet_id is not None:
            stored = await SystemStateRepository(tx).advance_last_tweet_id(parsed.last_tweet_id)
            report.last_tweet_id = {"present": True, "file": parsed.last_tweet_id, "stored": stored}
        if (directory / "logs" / "api_usage.json").exists():
            usage = ApiUsageRepository(tx)
            new = replaced = 0
            for start in range(0, len(parsed.usage), BATCH):
                written = await usage.import_calls(parsed.usage[start : start + BATCH])
                new += written.inserted
                replaced += written.replaced
            report.api_usage = {
                "present": True,
                "imported": new,
                "replaced": replaced,
                "unchanged": len(parsed.usage) - new - replaced,
            }
        translations = TranslationRepository(tx)
        for name, draft in parsed.drafts:
            if await translations.import_draft(draft):
                report.drafts["imported"] += 1
            else:
                report.drafts["skipped"].append(name)
    return report

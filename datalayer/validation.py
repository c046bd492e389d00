"""Validation shared by every Params model and importer: what PostgreSQL would refuse, or silently change,
caught before anything is sent, with the field's name."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError

from datalayer.errors import InvalidData

INT64_MAX = 2**63 - 1
# A bigint id: positive and within bigint (a larger Python int would fail at the driver, without a field name).
BigId = Annotated[int, Field(gt=0, le=INT64_MAX)]


def _sane_moment(value: datetime) -> datetime:
    # asyncpg sends datetime.min/max as -infinity/infinity, and monthly partitions need a following month:
    # a time outside these years is a data error, not a time.
    if not 1970 <= value.year <= 2999:
        raise ValueError(f"a time between the years 1970 and 2999 is expected, not the year {value.year}")
    return value


Moment = Annotated[datetime, AfterValidator(_sane_moment)]


def nul_problems(raw: Any, path: str = "") -> list[str]:
    """Paths of the strings (and keys) in decoded JSON holding a NUL character, which PostgreSQL text cannot
    store: `field 'error_message': contains a NUL character (\\u0000)`."""
    found: list[str] = []
    if isinstance(raw, str):
        if "\x00" in raw:
            found.append(f"field '{path or 'value'}': contains a NUL character (\\u0000), which text cannot hold")
    elif isinstance(raw, dict):
        for key, value in raw.items():
            where = f"{path}.{key}" if path else str(key)
            if "\x00" in str(key):
                found.append(f"key {where!r}: contains a NUL character (\\u0000)")
            found.extend(nul_problems(value, where))
    elif isinstance(raw, list):
        for i, value in enumerate(raw):
            found.extend(nul_problems(value, f"{path}.{i}" if path else str(i)))
    return found


# -- shared by the importers (twitter_bot.importer, discord_bot.importer) ------------------------------------------
class ImportFailed(InvalidData):
    """Some input could not be read; `problems` lists each one. Nothing was imported."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__(f"nothing imported, {len(problems)} problem(s):\n  " + "\n  ".join(problems))
        self.problems = problems


def as_utc(moment: datetime) -> datetime:
    """A time without an offset is UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment


def read_source(path: Path, label: str, problems: list[str]) -> str | None:
    """The text of a source file, or None with `LABEL: cannot be read: …` added to problems."""
    try:
        return path.read_text(encoding="utf-8-sig")  # a leading BOM (Windows editors) is not an error
    except (OSError, UnicodeDecodeError) as exc:
        problems.append(f"{label}: cannot be read: {exc}")
        return None


def field_problems(where: str, exc: ValidationError, whole: str) -> list[str]:
    """`WHERE: field 'a.b': message`, one per error; `whole` names the location of an error on the whole value."""
    return [f"{where}: field '{'.'.join(str(p) for p in err['loc']) or whole}': {err['msg']}" for err in exc.errors()]

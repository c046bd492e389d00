"""Validation shared by every Params model and importer: what PostgreSQL would refuse, or silently change,
caught before anything is sent, with the field's name."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
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


NUL_PROBLEM = "contains a NUL character (\\u0000), which PostgreSQL text cannot hold"
SURROGATE_PROBLEM = "contains a lone surrogate (\\ud800-\\udfff), which is not valid Unicode and cannot be sent"


def text_problem(text: str) -> str | None:
    """Why PostgreSQL cannot store `text` (a NUL character, a lone surrogate), or None when it can."""
    if "\x00" in text:
        return NUL_PROBLEM
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_PROBLEM
    return None


def unstorable_text(value: Any, path: str) -> tuple[str, str] | None:
    """(where, why) of the first string, in `value` or anywhere inside its lists, tuples and dicts (keys too),
    that PostgreSQL cannot store; None when there is none. A pydantic model inside is not walked: a Params
    model checks its own fields when it is built."""
    if isinstance(value, str):
        problem = text_problem(value)
        return None if problem is None else (path, problem)
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str) and text_problem(key) is None:
                where = f"{path}.{key if len(key) <= 40 else key[:20] + '…'}"  # a key may be anything, any length
            else:
                where = f"{path} (a key)"
            found = unstorable_text(key, where) or unstorable_text(item, where)
            if found is not None:
                return found
    elif isinstance(value, list | tuple | set | frozenset):
        for i, item in enumerate(value):
            found = unstorable_text(item, f"{path}.{i}")
            if found is not None:
                return found
    return None


def shown(value: object, limit: int = 40) -> str:
    """`value` as an error message may quote it: repr, cut to `limit` characters (a caller's text can be huge)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text)} characters)"


MAX_LOOKBACK_DAYS = 36_600  # a century: any further back is before every row (and beyond it datetime overflows)


def ago(now: datetime, name: str, *, days: Any = 0, hours: Any = 0) -> datetime:
    """`now` minus a caller's `days` or `hours`: InvalidData naming `name` unless it is a whole number from 0 to
    a century (a string or a float is an error, not a coercion; a huge number would overflow datetime)."""
    for amount, unit, limit in ((days, "days", MAX_LOOKBACK_DAYS), (hours, "hours", MAX_LOOKBACK_DAYS * 24)):
        if type(amount) is not int or not 0 <= amount <= limit:
            raise InvalidData(f"{name} must be a whole number of {unit} from 0 to {limit}")
    return now - timedelta(days=days, hours=hours)


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

"""Hostile input: every public method of every bot's repositories that takes text or a number is fed arbitrary
values (quotes, NUL characters, lone surrogates, very long strings, SQL fragments, placeholders, huge and negative
integers, NaN and infinities). Each call either returns or raises a `DatalayerError` (InvalidData for bad input;
NotFound / Conflict where they mean something): never a driver exception, never a crash, never an executed
fragment. Text that can be stored is read back exactly. Text in an index key is bounded in the schema.

The driver builds each method's arguments from its signature (and its Params models' fields), so a new method is
exercised without writing anything; `test_every_method_taking_text_or_a_number_is_exercised` fails when one is not.
"""

from __future__ import annotations

import inspect
import re
import types
import typing
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Literal, get_args, get_origin
from uuid import UUID, uuid4

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, JsonValue

from datalayer.chat_bot.users import USER_FILTERS
from datalayer.check import import_repositories
from datalayer.db import Database, Transaction
from datalayer.error_api.tokens import RevokeTokenParams
from datalayer.errors import Conflict, DatalayerError, InvalidData, NotFound, ReferenceMissing
from datalayer.filters import Filter, Page, Sort
from datalayer.queries import Params
from datalayer.repository import Repository
from datalayer.secrets import Cipher
from datalayer.twitter_bot.api_usage import LogApiCallParams
from datalayer.twitter_bot.cache import PutCachedTranslationParams
from datalayer.twitter_bot.translations import ClaimPendingTranslationsParams

BOTS = ("twitter_bot", "chat_bot", "error_api", "reddit_bot", "discord_bot")
NOW = datetime.now(UTC).replace(microsecond=0)

# -- hostile values ----------------------------------------------------------------------------------------------
SQL_FRAGMENTS = [
    "'; DROP TABLE twitter_bot.tweets; --",
    "' OR '1'='1",
    '"; DELETE FROM chat_bot.users; --',
    "$1",
    "$2::text",
    ":name",
    "%(name)s",
    "?",
    "\\",
    "\\'",
    "\\x00",
    "E'\\\\'",
    "$$; SELECT pg_sleep(10); $$",
    "/* */ --",
    "NULL",
    "",
    " ",
]
UNSTORABLE = ["\x00", "a\x00b", "\ud800", "x\udfffy", "🙂\ud83d"]
LONG = ["x" * 10_000, "é漢🙂\u200b" * 25_000, "a" * 1_000_000]
HOSTILE_TEXT = [*SQL_FRAGMENTS, *UNSTORABLE, *LONG]
HOSTILE_INTS = [0, -1, 1, 2**31 - 1, 2**31, -(2**31) - 1, 2**63 - 1, 2**63, -(2**63), -(2**63) - 1, 2**64, 10**40]
HOSTILE_FLOATS = [float("nan"), float("inf"), float("-inf"), -0.0, 1e308, -1e308, 5e-324]

TEXT = st.one_of(
    st.sampled_from(HOSTILE_TEXT),
    st.text(max_size=40),
    st.text(st.characters(exclude_categories=()), max_size=20),  # surrogates and controls too
)
INTS = st.one_of(st.sampled_from(HOSTILE_INTS), st.integers(), st.integers(min_value=1, max_value=50))
FLOATS = st.one_of(st.sampled_from(HOSTILE_FLOATS), st.floats(), st.floats(min_value=0, max_value=1))
DECIMALS = st.one_of(st.decimals(), st.sampled_from([Decimal("NaN"), Decimal("Infinity"), Decimal("1e1000")]))
JSON: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | INTS | st.floats(allow_nan=False, allow_infinity=False) | TEXT,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
    max_leaves=6,
)
CIPHER = Cipher(Cipher.generate_key())


@dataclass(frozen=True)
class Build:
    """A Params (or filter) model to build inside the call: building it may already raise InvalidData."""

    model: type[BaseModel]
    values: dict[str, Any]


OMIT = object()


def realize(value: Any) -> Any:
    if isinstance(value, Build):
        return value.model(**{k: realize(v) for k, v in value.values.items() if v is not OMIT})
    if isinstance(value, list):
        return [realize(v) for v in value]
    if isinstance(value, tuple):
        return tuple(realize(v) for v in value)
    return value


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[Build]:
    hints = typing.get_type_hints(model, include_extras=False)
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for name, info in model.model_fields.items():
        strategy = for_annotation(hints.get(name, info.annotation))
        fields[name] = strategy if info.is_required() else st.one_of(st.just(OMIT), strategy)
    return st.fixed_dictionaries(fields).map(lambda values: Build(model, values))


def for_annotation(annotation: Any) -> st.SearchStrategy[Any]:
    """A strategy of hostile (and sometimes valid) values for a parameter of this type."""
    origin, args = get_origin(annotation), get_args(annotation)
    if annotation is str:
        return TEXT
    if annotation is bool:
        return st.booleans()
    if annotation is int:
        return INTS
    if annotation is float:
        return FLOATS
    if annotation is Decimal:
        return DECIMALS
    if annotation is datetime:
        return st.sampled_from([NOW, NOW - timedelta(days=400), NOW + timedelta(days=3)])
    if annotation is date:
        return st.sampled_from([NOW.date(), NOW.date().replace(day=1)])
    if annotation is timedelta:
        return st.sampled_from([timedelta(minutes=5), timedelta(seconds=1)])
    if annotation is UUID:
        return st.uuids()
    if annotation is IPv4Address:
        return st.ip_addresses(v=4)
    if annotation is IPv6Address:
        return st.ip_addresses(v=6)
    if annotation is bytes:
        return st.binary(max_size=50)
    if annotation is Cipher:
        return st.just(CIPHER)
    if annotation is Any or annotation is JsonValue or getattr(annotation, "__name__", "") == "JsonValue":
        return JSON
    if annotation is Filter:
        return st.builds(lambda c, o, v: Build(Filter, {"column": c, "op": o, "value": v}),
                         TEXT | st.sampled_from(["id", "username", "language"]),
                         TEXT | st.sampled_from(["eq", "in", "like", "is_null"]), JSON)  # fmt: skip
    if annotation is Sort:
        return st.builds(lambda c, d: Build(Sort, {"column": c, "direction": d}),
                         TEXT | st.sampled_from(["id", "created_at"]), TEXT | st.sampled_from(["asc", "desc"]))  # fmt: skip
    if annotation is Page:
        return st.builds(lambda s, n, a: Build(Page, {"size": s, "number": n, "after": a}),
                         INTS, st.none() | INTS, st.none() | TEXT)  # fmt: skip
    if isinstance(annotation, type) and issubclass(annotation, Params):
        return model_strategy(annotation)
    if origin is Literal:
        return st.one_of(st.sampled_from(args), TEXT)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(for_annotation(a) for a in args))
    if origin in (list, Sequence, set, frozenset) or origin is getattr(typing, "Sequence", None):
        return st.lists(for_annotation(args[0]) if args else JSON, max_size=3)
    if origin is tuple:
        return st.tuples(*(for_annotation(a) for a in args))
    if origin is dict:
        return st.dictionaries(TEXT, JSON, max_size=3)
    if annotation is type(None):
        return st.none()
    raise LookupError(f"no hostile strategy for {annotation!r}")


# -- which methods -----------------------------------------------------------------------------------------------
def bot_repositories() -> list[type[Repository]]:
    import_repositories()
    found: set[type[Repository]] = set()
    todo = list(Repository.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.split(".")[1:2] and cls.__module__.split(".")[1] in BOTS:
            found.add(cls)
    return sorted(found, key=lambda c: (c.__module__, c.__name__))


def _holds_text_or_number(annotation: Any, seen: set[Any] | None = None) -> bool:
    seen = set() if seen is None else seen
    if annotation in (str, int, float, Decimal) or annotation is Any:
        return True
    if annotation is bool or annotation in seen:
        return False
    seen.add(annotation)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return any(_holds_text_or_number(f.annotation, seen) for f in annotation.model_fields.values())
    if getattr(annotation, "__name__", "") == "JsonValue" or annotation is JsonValue:
        return True
    return any(_holds_text_or_number(a, seen) for a in get_args(annotation))


@dataclass(frozen=True)
class Target:
    repository: type[Repository]
    method: str
    hints: dict[str, Any]

    @property
    def id(self) -> str:
        return f"{self.repository.__module__.removeprefix('datalayer.')}.{self.repository.__name__}.{self.method}"


def all_methods() -> list[Target]:
    out = []
    for cls in bot_repositories():
        for name, fn in vars(cls).items():
            if name.startswith("_") or not inspect.iscoroutinefunction(fn):
                continue
            hints = {k: v for k, v in typing.get_type_hints(fn).items() if k != "return"}
            out.append(Target(cls, name, hints))
    return out


def taking_text_or_numbers() -> list[Target]:
    return [t for t in all_methods() if any(_holds_text_or_number(a) for a in t.hints.values())]


# Methods the generic driver does not call, each with why. Everything else that takes text or a number is called.
EXCLUDED: dict[str, str] = {
    # None so far: every method is called. A method that cannot be (one that runs DDL a savepoint cannot undo, say)
    # goes here as "module.Repository.method": "why".
}

TARGETS = [t for t in taking_text_or_numbers() if t.id not in EXCLUDED]


def arguments(target: Target) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({name: for_annotation(annotation) for name, annotation in target.hints.items()})


class _Undo(Exception):
    """Raised at the end of a savepoint so that whatever the example wrote is rolled back."""


@asynccontextmanager
async def undone(db: Database) -> AsyncIterator[Transaction]:
    """A savepoint that is always rolled back: each example starts from the same rows, and a failed statement
    does not poison the test's transaction."""
    try:
        async with db.transaction() as tx:
            yield tx
            raise _Undo
    except _Undo:
        pass


EXERCISED: set[str] = set()
ALLOWED = (InvalidData, NotFound, Conflict, ReferenceMissing)  # the last: an id of a row that does not exist


async def call(db: Database, target: Target, drawn: dict[str, Any]) -> Any:
    """Run the method inside a savepoint; return what it returned or the DatalayerError it raised."""
    outcome: Any = None
    try:
        async with undone(db) as tx:
            kwargs = {k: realize(v) for k, v in drawn.items()}  # building a Params model may raise InvalidData
            outcome = await getattr(target.repository(tx), target.method)(**kwargs)
    except DatalayerError as exc:
        return exc
    return outcome


def assert_clear(target: Target, outcome: Any, drawn: dict[str, Any]) -> None:
    if isinstance(outcome, DatalayerError):
        assert isinstance(outcome, ALLOWED), f"{target.id}: {type(outcome).__name__}: {outcome} for {drawn!r:.300}"
        message = str(outcome)
        assert message and len(message) < 5_000, f"{target.id}: a message of {len(message)} characters"
        if isinstance(outcome, InvalidData):  # never the value (it may be a secret); a name may be shown
            for text in _strings(list(drawn.values())):
                if len(text) >= 12 and text not in SQL_FRAGMENTS and not (text.isascii() and text.isidentifier()):
                    assert text not in message, f"{target.id}: the error message echoes an argument: {message:.300}"


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Build):
        return _strings(list(value.values.values()))
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]  # a key is a name: a path may show it
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.id)
@settings(max_examples=12, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(data=st.data())
async def test_hostile_arguments_return_or_raise_a_clear_error(
    db: Database, target: Target, data: st.DataObject
) -> None:
    drawn = data.draw(arguments(target), label="arguments")
    outcome = await call(db, target, drawn)
    assert_clear(target, outcome, drawn)
    EXERCISED.add(target.id)


def test_every_method_taking_text_or_a_number_is_exercised() -> None:
    """The driver's list is every public method that takes text or a number (minus EXCLUDED, each with a
    reason); a new method is in it without anyone writing a test. Every listed one can be given arguments."""
    everything = {t.id for t in taking_text_or_numbers()}
    assert set(EXCLUDED) <= everything, "EXCLUDED names a method that no longer exists"
    assert {t.id for t in TARGETS} | set(EXCLUDED) == everything
    for target in TARGETS:  # every annotation has a strategy (LookupError otherwise)
        arguments(target)
    assert len(TARGETS) > 150
    if EXERCISED:  # the parametrized test ran in this session: each target really got examples
        assert {t.id for t in TARGETS} <= EXERCISED


# -- stored and read back exactly --------------------------------------------------------------------------------
# Text PostgreSQL can store (no NUL, no lone surrogate), hostile otherwise: quotes, backslashes, SQL, placeholders,
# every plane of Unicode, long. Within each column's bound where the column has one.
STORABLE = st.one_of(
    st.sampled_from([s for s in SQL_FRAGMENTS if s.strip()] + ["é漢🙂\u200b\u202e" * 3, "x" * 5_000]),
    st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), min_size=1, max_size=60),
).filter(lambda s: s.strip() != "")
ROUND_TRIP = settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck), database=None)


@ROUND_TRIP
@given(text=STORABLE, long=st.sampled_from(["é漢🙂" * 30_000, "'\\" * 50_000]))
async def test_twitter_text_is_read_back_exactly(db: Database, text: str, long: str) -> None:
    from datalayer.twitter_bot import SystemStateRepository, TweetRepository, UpsertTweetParams, UserRepository

    async with undone(db) as tx:
        tweets = TweetRepository(tx)
        p = UpsertTweetParams(id=4242, author_id=1, author_username="someone", text=text + long,
                              created_at=NOW, metadata={text: [text, {"k": text}]})  # fmt: skip
        await tweets.upsert(p)
        got = await tweets.get(4242)
        assert got is not None and got.text == text + long and got.metadata == {text: [text, {"k": text}]}
        key = text[:200]
        state = SystemStateRepository(tx)
        await state.set(key, {"v": text})
        assert (await state.get(key)).value == {"v": text}  # type: ignore[union-attr]
        users = UserRepository(tx)
        await users.create("hostile_user", display_name=text, settings={"note": text})
        user = await users.get_by_username("hostile_user")
        assert user is not None and (user.display_name, user.settings) == (text, {"note": text})


@ROUND_TRIP
@given(text=STORABLE)
async def test_discord_reddit_and_error_api_text_is_read_back_exactly(db: Database, text: str) -> None:
    from datalayer.discord_bot.guilds import GuildRepository
    from datalayer.error_api.tokens import TokenBlacklistRepository
    from datalayer.error_api.users import UserRepository as ApiUsers
    from datalayer.reddit_bot.posts import PostRepository, UpsertPostParams

    async with undone(db) as tx:
        guilds = GuildRepository(tx)
        name = text[:100]
        try:
            await guilds.upsert(77, name)
        except InvalidData:
            pass  # a guild name has its own rules (length, no control characters): refused clearly
        else:
            assert (await guilds.get(77)).name == name  # type: ignore[union-attr]
        posts = PostRepository(tx)
        title = text[:300]
        await posts.upsert(UpsertPostParams(id="t3_abc", subreddit="python", title=title, content=text,
                                            author="someone", created_at=NOW))  # fmt: skip
        post = await posts.get("t3_abc")
        assert post is not None and (post.title, post.content) == (title, text)
        tokens = TokenBlacklistRepository(tx)
        jti = text[:255]
        await tokens.revoke(jti, "access", NOW + timedelta(days=1), revoked_by=None, reason=text[:255])
        assert await tokens.is_revoked(jti)
        api_users = ApiUsers(tx)
        password, email, full_name = (text + "0123456789")[:1024], f"u{uuid4().hex[:8]}@example.com", text[:255]
        await api_users.create(email, password, full_name=full_name)
        assert (await api_users.get_by_email(email)).full_name == full_name  # type: ignore[union-attr]
        assert await api_users.verify_password(email, password)


# -- index keys are bounded --------------------------------------------------------------------------------------
SCHEMAS = ["ops", "twitter_bot", "chat_bot", "error_api", "reddit_bot", "discord_bot"]
# Every text column a btree index holds (key, INCLUDE or expression), of tables that are not partitions (a
# partition has its parent's constraints), with the definitions of the CHECKs on that column.
INDEXED_TEXT = """
SELECT DISTINCT n.nspname AS schema_name, c.relname AS table_name, a.attname AS column_name,
       a.atttypmod AS typmod,
       coalesce((SELECT array_agg(pg_get_constraintdef(k.oid)) FROM pg_constraint k
                  WHERE k.conrelid = c.oid AND k.contype = 'c' AND k.convalidated AND a.attnum = ANY (k.conkey)),
                '{}') AS checks
  FROM pg_index i
  JOIN pg_class ic ON ic.oid = i.indexrelid
  JOIN pg_am am ON am.oid = ic.relam AND am.amname = 'btree'
  JOIN pg_class c ON c.oid = i.indrelid AND NOT c.relispartition
  JOIN pg_namespace n ON n.oid = c.relnamespace AND n.nspname = ANY ($1::text[])
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0
   AND (a.attnum = ANY (i.indkey)
        OR (i.indexprs IS NOT NULL AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_class'::regclass
             AND d.objid = i.indexrelid AND d.refobjid = c.oid AND d.refobjsubid = a.attnum)))
 WHERE a.atttypid IN ('text'::regtype, 'varchar'::regtype, 'bpchar'::regtype)
 ORDER BY 1, 2, 3
"""
_LENGTH = re.compile(r"\b(char_length|length|octet_length)\((\w+)\) (<=|=|<) (\d+)")
_PATTERN = re.compile(r"\((\w+) ~ '(\^.*\$)'::text\)")
_VALUES = re.compile(r"\((\w+) = ANY \(ARRAY\[(.*?)\]\)\)")


def bound_of(column: str, checks: list[str], typmod: int) -> int | None:
    """The most characters a CHECK (or varchar(n)) lets the column hold, or None when nothing bounds it."""
    if typmod > 4:
        return typmod - 4
    bounds: list[int] = []
    for check in checks:
        bounds += [int(n) for fn, col, _op, n in _LENGTH.findall(check) if col == column]
        for col, pattern in _PATTERN.findall(check):
            # A pattern bounds the length when it repeats nothing without limit (no *, + or {n,}).
            if col == column and not re.search(r"(?<!\\)[*+]|\{\d+,\}", pattern):
                bounds.append(sum(int(m or 1) for m in re.findall(r"\{(?:\d+,)?(\d+)\}|[^{}]", pattern)))
        for col, values in _VALUES.findall(check):
            if col == column:
                bounds.append(max(len(v) for v in re.findall(r"'([^']*)'", values)))
    return min(bounds) if bounds else None


async def test_every_btree_indexed_text_column_has_a_length_bound(db: Database) -> None:
    """PostgreSQL refuses an index entry over 2,704 bytes with an error naming no column; a CHECK refuses the value
    first, as InvalidData. Every bound leaves room for 4-byte characters (4 × 600 < 2,704)."""
    conn = db.executor.connection
    assert conn is not None
    rows = await conn.fetch(INDEXED_TEXT, SCHEMAS)
    assert len(rows) > 30
    unbounded, too_loose = [], []
    for r in rows:
        bound = bound_of(r["column_name"], list(r["checks"]), r["typmod"])
        where = f"{r['schema_name']}.{r['table_name']}.{r['column_name']}"
        if bound is None:
            unbounded.append(where)
        elif bound > 600:
            too_loose.append(f"{where} ({bound})")
    assert unbounded == [], f"btree-indexed text without a length CHECK: {unbounded}"
    assert too_loose == [], f"bounds that 4-byte characters could push past the btree limit: {too_loose}"


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda v: LogApiCallParams(service=v, endpoint="/x", success=True), "service"),
        (lambda v: LogApiCallParams(service="x", endpoint=v, success=True), "endpoint"),
        (
            lambda v: PutCachedTranslationParams(
                source_language="en", target_language="es-" + v, original_text="a", translated_text="b"
            ),
            "target_language",
        ),
        (lambda v: ClaimPendingTranslationsParams(worker=v, limit=1, lease_seconds=1.0), "worker"),
        (lambda v: RevokeTokenParams(token_jti=v, token_type="access", expires_at=NOW), "token_jti"),
    ],
)
def test_params_refuse_an_over_long_index_key_before_it_is_sent(build: Callable[[str], Any], field: str) -> None:
    with pytest.raises(InvalidData, match=field):
        build("a" * 3_000)


# -- the dynamic filter and sort builders ------------------------------------------------------------------------
NOT_A_COLUMN = TEXT.filter(lambda s: s not in USER_FILTERS.columns)
OPS = ["eq", "ne", "gt", "ge", "lt", "le", "in", "like", "is_null"]


@settings(max_examples=60, deadline=None, database=None)
@given(column=NOT_A_COLUMN, op=st.sampled_from(OPS), value=JSON, sort=NOT_A_COLUMN)
def test_filters_refuse_every_column_that_is_not_whitelisted(column: str, op: str, value: Any, sort: str) -> None:
    """An unknown filter or sort column is InvalidData while the statement is built: nothing reaches SQL."""
    with pytest.raises(InvalidData):
        USER_FILTERS.build([Filter(column=column, op=op, value=value)], [], Page())  # type: ignore[arg-type]
    with pytest.raises(InvalidData):
        USER_FILTERS.build([], [Sort(column=sort)], Page())
    with pytest.raises(InvalidData):  # an operator or a direction outside their lists is refused when named
        Filter(column="id", op=column, value=1)  # type: ignore[arg-type]
    if sort not in ("asc", "desc"):
        with pytest.raises(InvalidData):
            Sort(column="id", direction=sort)  # type: ignore[arg-type]


@settings(max_examples=40, deadline=None, database=None)
@given(column=st.sampled_from(sorted(USER_FILTERS.columns)), value=TEXT)
def test_filter_values_are_bound_parameters_never_sql(column: str, value: str) -> None:
    """Whatever the value, the SQL text is built from whitelisted names only; the value travels as a parameter."""
    try:
        bound, values, _, _ = USER_FILTERS.build([Filter(column=column, op="eq", value=value)], [], Page())
    except InvalidData:
        return  # a string for a number column, and the like: refused, never coerced
    assert value in values
    plain, _, _, _ = USER_FILTERS.build([Filter(column=column, op="eq", value="x")], [], Page())
    assert bound.sql == plain.sql  # the statement does not depend on the value at all


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(
    column=TEXT | st.sampled_from(["key", "value", "updated_at"]),
    op=TEXT | st.sampled_from(["=", "like", "is", "in", "<"]),
    value=TEXT,
    order=st.none() | TEXT | st.just("-updated_at"),
)
async def test_inspect_refuses_what_is_not_a_column_or_an_operator(
    db: Database, column: str, op: str, value: str, order: str | None
) -> None:
    """`datalayer inspect`: a column that is not the table's, an operator not on the list or an order by anything
    else is InvalidData; a value that is not of the column's type too. Never a driver error."""
    from datalayer.maintenance.inspect import InspectRepository, Where

    where = [Where(column=column, op=op, value=value)]
    try:
        async with undone(db) as tx:
            await InspectRepository(tx).rows(SCHEMAS, "twitter_bot.system_state", where, order=order, limit=5)
    except DatalayerError as exc:
        assert isinstance(exc, InvalidData), f"{type(exc).__name__}: {exc}"

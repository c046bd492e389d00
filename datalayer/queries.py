"""Named queries: every `queries/**/*.sql` loaded once by aiosql, and bound to parameter and result shapes.

aiosql parses the files (names, declared parameters, `:name` → `$n`). A repository module then binds each
query it uses with `one` / `many` / `value` / `execute`, at import time, declaring

- its result: a model (`one`, `many`), a scalar type (`value`) or nothing (`execute`);
- its parameters: a `Params` model whose fields are the declared parameter names (unpacked by name, so two
  arguments cannot be swapped), or the types of one or two scalars;
- whether running it twice is harmless (`retry`): plain reads are, a write must say so.

Binding does all the per-query work once — SQL text with its name as a leading comment, argument order,
the row builder — so a call only runs the statement and builds the model. The registry of bindings is what
`datalayer check` verifies against the live schema, parameters included.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from operator import attrgetter, itemgetter
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Generic, Self, TypeVar, Union, get_args, get_origin
from uuid import UUID

import aiosql
from aiosql.types import SQLOperationType
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from datalayer.cache import Cached, TagSpec
from datalayer.errors import InvalidData
from datalayer.validation import unstorable_text

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")

# Scalars may be passed positionally up to this many; beyond it a Params model is required.
MAX_SCALAR_PARAMS = 2


def invalid_input(model: type[BaseModel], exc: ValidationError) -> InvalidData:
    """One InvalidData naming every bad field, never echoing a value (it may be a secret)."""
    problems: dict[str, list[str]] = {}
    for err in exc.errors(include_input=False, include_url=False):
        # Union members and validator kinds appear in `loc` ("lax-or-strict[…]"): keep the field path only.
        where = ".".join(
            str(p) if len(str(p)) <= 40 else f"{str(p)[:20]}…"  # a dict key may be anything, of any length
            for p in err["loc"]
            if not (isinstance(p, str) and ("[" in p or p.startswith(("function-", "json-"))))
        )
        msg = err["msg"]
        if err["type"] == "unstorable_text" and "ctx" in err:  # a model's own check: the field is in its context
            where = ".".join(p for p in (where, str(err["ctx"]["where"])) if p)
            msg = str(err["ctx"]["why"])
        problems.setdefault(where or "input", []).append(msg)
    text = "; ".join(f"{where}: {' or '.join(dict.fromkeys(msgs))}" for where, msgs in problems.items())
    return InvalidData(f"invalid input for {model.__name__}: {text}")


class Params(BaseModel):
    """Base of input models: field names are the query's declared parameter names; validated strictly
    (a string where a number or boolean belongs is an error, not a coercion) before anything is sent.
    Bad input raises `InvalidData` naming each field, like every other error of the data layer."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, hide_input_in_errors=True, allow_inf_nan=False)

    @model_validator(mode="after")
    def _storable_text(self) -> Self:
        """Every string of every field (inside lists and JSON too) is one PostgreSQL can store: no NUL character,
        no lone surrogate. Otherwise the driver or the server would refuse it without naming the field."""
        for name, value in self.__dict__.items():
            if value is None or isinstance(value, int | float | BaseModel):
                continue
            found = unstorable_text(value, name)
            if found is not None:
                raise PydanticCustomError("unstorable_text", "{where}: {why}", {"where": found[0], "why": found[1]})
        return self

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise invalid_input(type(self), exc) from None

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(obj, **kwargs)
        except ValidationError as exc:
            raise invalid_input(cls, exc) from None


def queries_dir() -> Path:
    """`queries/` beside the package (checkout) or inside it (wheel)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "queries", here.parent / "queries"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"no queries/ folder next to {here}")


@dataclass(frozen=True, slots=True)
class NamedQuery:
    """One `-- name:` block: its dotted name (folders and file become namespaces), SQL and declared parameters."""

    name: str
    sql: str  # with `/* name */` after its first keyword, so pg_stat_statements and pg_stat_activity show it
    params: tuple[str, ...]  # declared order
    numbered: tuple[str, ...]  # order of the `$n` placeholders
    operation: SQLOperationType
    doc: str
    source: str

    @property
    def order(self) -> tuple[int, ...] | None:
        """Position of each `$n` in the declared order; None when they already match."""
        if self.numbered == self.params:
            return None
        return tuple(self.params.index(n) for n in self.numbered)


_FIRST_WORD = re.compile(r"\s*[A-Za-z]+")


def with_name(name: str, sql: str) -> str:
    """`sql` with `/* name */` right after its first keyword: `SELECT /* twitter_bot.get_tweet */ id, …`.

    Not in front of the statement: pg_stat_statements keeps a statement's text from its first token, so a
    leading comment would be cut off there. After the first keyword it reaches pg_stat_statements,
    pg_stat_activity and the server log alike."""
    first = _FIRST_WORD.match(sql)
    if first is None:
        return f"/* {name} */ {sql}"
    return f"{sql[: first.end()]} /* {name} */{sql[first.end() :]}"


# A statement that only reads: nothing in it writes, locks rows or takes advisory locks.
_WRITES = re.compile(
    r"\b(insert|update|delete|merge|copy|create|alter|drop|truncate|grant|revoke|comment|vacuum|analyze|"
    r"refresh|lock|nextval|setval|pg_advisory\w*|pg_terminate_backend|pg_cancel_backend|for\s+update|"
    r"for\s+share|for\s+no\s+key\s+update)\b",
    re.IGNORECASE,
)
_FUNCTION_CALL = re.compile(r"\b([a-z_]+)\.([a-z_]+)\s*\(", re.IGNORECASE)
# Functions of ours that only compute (IMMUTABLE, migration 0022: the latency histogram of the rollups).
_PURE_FUNCTIONS = frozenset({("ops", "latency_bucket"), ("ops", "latency_histogram"), ("ops", "histogram_percentile")})


def is_plain_read(sql: str) -> bool:
    """True for a SELECT that neither writes nor calls a function of ours (which might write)."""
    body = re.sub(r"--[^\n]*|/\*.*?\*/", " ", sql, flags=re.DOTALL).strip()
    if not re.match(r"(select|with)\b", body, re.IGNORECASE) or _WRITES.search(body):
        return False
    return all(
        schema.lower() == "pg_catalog" or (schema.lower(), fn.lower()) in _PURE_FUNCTIONS
        for schema, fn in _FUNCTION_CALL.findall(body)
    )


@functools.cache
def load() -> Mapping[str, NamedQuery]:
    """Load and parse every query file once per process."""
    root = queries_dir()
    loaded = aiosql.from_path(root, "asyncpg")
    adapter = loaded.driver_adapter
    result: dict[str, NamedQuery] = {}
    for dotted in loaded.available_queries:
        fn = _resolve(loaded, dotted)
        if dotted.endswith("_cursor"):
            continue  # aiosql adds a *_cursor twin for every SELECT
        declared = tuple(fn.parameters or ())
        code = fn.__code__
        numbered = tuple(adapter.var_sorted.get(dotted, ()))
        undeclared = [n for n in numbered if n not in declared]
        if undeclared:
            raise TypeError(
                f"query {dotted} ({Path(code.co_filename).relative_to(root.parent)}:{code.co_firstlineno}) uses "
                f"{', '.join(':' + n for n in undeclared)} but declares only {list(declared)}: declare it, or "
                "write a slice or cast so aiosql does not read it as a parameter (`[1 : 5]`, `::type`)"
            )
        result[dotted] = NamedQuery(
            name=dotted,
            sql=with_name(dotted, fn.sql),
            params=declared,
            numbered=numbered,
            operation=fn.operation,
            doc=fn.__doc__ or "",
            source=f"{Path(code.co_filename).relative_to(root.parent)}:{code.co_firstlineno}",
        )
    return result


def _resolve(loaded: Any, dotted: str) -> Any:
    obj = loaded
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj


def _admits_none(annotation: Any) -> bool:
    if annotation is None or annotation is type(None) or annotation is Any:
        return True
    origin = get_origin(annotation)
    if origin in (Union, UnionType):
        return any(_admits_none(a) for a in get_args(annotation))
    if origin is Annotated:
        return _admits_none(get_args(annotation)[0])
    # JsonValue and similar aliases admit None when their definition does.
    value = getattr(annotation, "__value__", None)
    return value is not None and _admits_none(value)


def row_validator(model: type[M]) -> Callable[[Any], M]:
    """Full pydantic validation of a row (used when the schema was not checked at connect)."""
    validate = model.__pydantic_validator__.validate_python
    return lambda row: validate(dict(row))


def row_builder(model: type[M]) -> Callable[[Any], M]:
    """Turn a result row into `model`, doing all lookups once here rather than per row.

    `datalayer check` proves, against the live schema, that a bound query's columns have exactly the
    model's field names and Python types; the column names are fixed by the SQL text, which is loaded
    once, and `Database.connect()` refuses a database whose migrations differ from the files. A row with
    the model's number of columns and no NULL in a field that does not admit one is therefore built without
    running the validator (the sqlc approach: trust what was checked). Any other row — such a NULL (the
    catalog cannot vouch for expressions), or a column count that moved because a `*` met a changed table —
    goes through full pydantic validation, which raises a ValidationError naming the field.
    tests/test_queries.py holds both paths to the same result.
    """
    validate: Callable[[Any], M] = model.__pydantic_validator__.validate_python
    fields = frozenset(model.model_fields)
    width = len(fields)
    # Only fields that do not admit None need a NULL check; one C-level itemgetter fetches them all.
    required = [name for name, info in model.model_fields.items() if not _admits_none(info.annotation)]
    # ≥ 2 names, so it always returns a tuple; a model whose every field admits None needs no check.
    pick_required = itemgetter(*required, *required[:1]) if required else None
    new = object.__new__
    set_attr = object.__setattr__
    if model.__pydantic_post_init__ is not None or model.__private_attributes__:
        return lambda row: validate(dict(row))

    # Every trusted instance has all fields set; the models are frozen, so one set can be shared.
    all_set = set(fields)

    def build(row: Any) -> M:
        values = dict(row)
        try:
            if len(values) != width or (pick_required is not None and None in pick_required(values)):
                return validate(values)
        except KeyError:  # a column name the model does not have
            return validate(values)
        obj = new(model)
        set_attr(obj, "__dict__", values)
        set_attr(obj, "__pydantic_fields_set__", all_set)
        set_attr(obj, "__pydantic_extra__", None)
        set_attr(obj, "__pydantic_private__", None)
        return obj

    return build


# -- statistics --------------------------------------------------------------------------------------------------
# Upper bounds (seconds) of the latency histogram buckets; the last bucket is everything slower.
BUCKETS_S: tuple[float, ...] = (
    0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0,
)  # fmt: skip


class QueryStats:
    """Counters of one binding since the process started (or the last reset). Updated in place: no allocation
    per call. Latency percentiles come from a fixed-bucket histogram, interpolated within the bucket."""

    __slots__ = (
        "buckets", "cache_evictions", "cache_hits", "cache_invalidations", "cache_misses", "cache_redis_errors",
        "calls", "errors", "max_s", "retries", "rows", "total_s",
    )  # fmt: skip

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self.calls = 0
        self.errors = 0
        self.retries = 0
        self.rows = 0
        self.total_s = 0.0
        self.max_s = 0.0
        self.buckets = [0] * (len(BUCKETS_S) + 1)
        self.cache_hits = 0  # served from the cache: no statement ran
        self.cache_misses = 0  # looked up, not there (or stale): the statement ran
        self.cache_evictions = 0  # entries of this read pushed out of the in-process LRU
        self.cache_invalidations = 0  # tags this write invalidated
        self.cache_redis_errors = 0  # Redis calls of this binding that failed or timed out

    def add(self, other: QueryStats) -> None:
        self.calls += other.calls
        self.errors += other.errors
        self.retries += other.retries
        self.rows += other.rows
        self.total_s += other.total_s
        self.max_s = max(self.max_s, other.max_s)
        self.buckets = [a + b for a, b in zip(self.buckets, other.buckets, strict=True)]
        self.cache_hits += other.cache_hits
        self.cache_misses += other.cache_misses
        self.cache_evictions += other.cache_evictions
        self.cache_invalidations += other.cache_invalidations
        self.cache_redis_errors += other.cache_redis_errors


def percentile(buckets: list[int], fraction: float, max_s: float) -> float:
    """Estimate of a latency percentile (seconds) from histogram counts: linear within the bucket."""
    total = sum(buckets)
    if not total:
        return 0.0
    rank = fraction * total
    seen = 0
    for i, count in enumerate(buckets):
        if count and seen + count >= rank:
            low = BUCKETS_S[i - 1] if i else 0.0
            high = BUCKETS_S[i] if i < len(BUCKETS_S) else max(max_s, low)
            return min(low + (high - low) * (rank - seen) / count, max_s)
        seen += count
    return max_s


# -- bindings ----------------------------------------------------------------------------------------------------
_ONE_OPS = (SQLOperationType.SELECT_ONE, SQLOperationType.INSERT_RETURNING)
_MANY_OPS = (SQLOperationType.SELECT,)
_VALUE_OPS = (SQLOperationType.SELECT_VALUE,)
_EXEC_OPS = (SQLOperationType.INSERT_UPDATE_DELETE, SQLOperationType.SCRIPT)

ParamSpec_ = type[Params] | tuple[Any, ...] | None


@dataclass(frozen=True, slots=True)
class Bound:
    """A named query bound to its parameters, what a repository expects back, and its retry policy."""

    query: NamedQuery
    shape: str  # "one" | "many" | "value" | "execute"
    model: type[BaseModel] | None = None
    value_type: Any = None
    owner: str = ""
    params: ParamSpec_ = None
    retry: bool = False
    cache: Cached | None = None
    invalidates: TagSpec | None = None
    replica: bool = False  # a plain read that tolerates replication lag: may run on DATABASE_REPLICA_URL
    # Planned for its parameter values every time (plan_cache_mode = force_custom_plan for that statement): for
    # reads whose range parameters decide which partitions and how many rows they read, where the generic plan a
    # prepared statement switches to after five runs is known to be wrong.
    custom_plan: bool = False
    sql: str = field(init=False)
    name: str = field(init=False)
    build: Callable[[Any], Any] | None = field(init=False)
    validate: Callable[[Any], Any] | None = field(init=False)
    args: Callable[[tuple[object, ...]], tuple[object, ...]] = field(init=False)
    param_types: tuple[tuple[str, Any], ...] = field(init=False)
    stats: QueryStats = field(init=False)
    cache_adapter: Any = field(init=False)  # TypeAdapter of what a cached call returns (Redis tier)
    cache_shape: str = field(init=False)  # fingerprint of that shape: an entry of another shape is a miss

    def __post_init__(self) -> None:
        s = object.__setattr__
        s(self, "sql", self.query.sql)
        s(self, "name", self.query.name)
        s(self, "build", None if self.model is None else row_builder(self.model))
        s(self, "validate", None if self.model is None else row_validator(self.model))
        s(self, "stats", QueryStats())
        args, types_ = _argument_plan(self.query, self.params)
        s(self, "args", args)
        s(self, "param_types", types_)
        adapter, shape = None, ""
        if self.cache is not None:
            if self.shape == "execute" or not is_plain_read(self.query.sql):
                raise TypeError(f"query {self.name} ({self.query.source}) writes: only a plain read can be cached")
            returned: Any = None
            if self.shape == "value":
                returned = Union[self.value_type, None]  # noqa: UP007 - a `$` query may return NULL (no row)
            elif self.shape == "one":
                returned = self.model | None  # type: ignore[operator]
            elif self.shape == "many":
                returned = list[self.model]  # type: ignore[name-defined]
            adapter = TypeAdapter(returned)
            shape = hashlib.blake2b(
                json.dumps(adapter.json_schema(), sort_keys=True).encode(), digest_size=8
            ).hexdigest()
        if self.replica and (self.shape == "execute" or not is_plain_read(self.query.sql)):
            raise TypeError(f"query {self.name} ({self.query.source}) writes: only a plain read may run on a replica")
        if self.invalidates is not None and is_plain_read(self.query.sql):
            raise TypeError(f"query {self.name} ({self.query.source}) only reads: it has nothing to invalidate")
        s(self, "cache_adapter", adapter)
        s(self, "cache_shape", shape)


def _argument_plan(
    query: NamedQuery, spec: ParamSpec_
) -> tuple[Callable[[tuple[object, ...]], tuple[object, ...]], tuple[tuple[str, Any], ...]]:
    """How a call's arguments become the `$n` values, and the declared (name, type) of each parameter."""
    declared = query.params
    where = f"query {query.name} ({query.source})"
    if isinstance(spec, type) and issubclass(spec, Params):
        fields = spec.model_fields
        if set(fields) != set(declared):
            raise TypeError(
                f"{where} declares parameters {list(declared)} but {spec.__name__} has fields {list(fields)}: "
                "a Params model's field names are the query's parameter names"
            )
        getter = attrgetter(*query.numbered)
        model = spec

        if len(query.numbered) == 1:

            def unpack_one(values: tuple[object, ...]) -> tuple[object, ...]:
                (p,) = values
                if type(p) is not model:
                    raise TypeError(f"{query.name} takes one {model.__name__}, got {type(p).__name__}")
                return (getter(p),)

            unpack = unpack_one
        else:

            def unpack_model(values: tuple[object, ...]) -> tuple[object, ...]:
                (p,) = values
                if type(p) is not model:
                    raise TypeError(f"{query.name} takes one {model.__name__}, got {type(p).__name__}")
                result: tuple[object, ...] = getter(p)
                return result

            unpack = unpack_model
        return unpack, tuple((n, fields[n].annotation) for n in declared)
    types_ = tuple(spec or ())
    if len(types_) != len(declared):
        raise TypeError(
            f"{where} declares {len(declared)} parameter(s) {list(declared)}; give their types "
            f"(params=({', '.join('type' for _ in declared)},)) or a Params model"
        )
    if len(declared) > MAX_SCALAR_PARAMS:
        raise TypeError(
            f"{where} takes {len(declared)} parameters: bind it with a Params model whose fields are "
            f"{list(declared)} (positional scalars are allowed up to {MAX_SCALAR_PARAMS})"
        )
    order = query.order
    # Positions whose declared type may hold text (str, a list of str, JSON): each value is looked at before it
    # is sent, as a Params model does, so a NUL or a lone surrogate is InvalidData naming the parameter.
    texts = tuple(i for i, t in enumerate(types_) if not _NO_TEXT.issuperset(_members(t)))

    def checked(values: tuple[object, ...]) -> None:
        for i in texts:
            if i < len(values) and not isinstance(values[i], int | float | None):
                found = unstorable_text(values[i], declared[i])
                if found is not None:
                    raise InvalidData(
                        f"invalid argument (query {query.name}): {found[0]}: {found[1]}", query=query.name
                    )

    def positional(values: tuple[object, ...]) -> tuple[object, ...]:
        return values

    def reordered(values: tuple[object, ...]) -> tuple[object, ...]:
        return tuple(values[i] for i in order)  # type: ignore[union-attr]

    def positional_checked(values: tuple[object, ...]) -> tuple[object, ...]:
        checked(values)
        return values

    def reordered_checked(values: tuple[object, ...]) -> tuple[object, ...]:
        checked(values)
        return tuple(values[i] for i in order)  # type: ignore[union-attr]

    if texts:
        plan = positional_checked if order is None else reordered_checked
    else:
        plan = positional if order is None else reordered
    return plan, tuple(zip(declared, types_, strict=True))


# Declared scalar types that never hold text: their values are sent without looking for NUL characters.
_NO_TEXT = frozenset({int, float, bool, bytes, type(None), datetime, date, timedelta, UUID, Decimal})


def _members(annotation: Any) -> set[Any]:
    """The members of a union (`int | None` → {int, NoneType}); the annotation itself otherwise."""
    if get_origin(annotation) in (Union, UnionType):
        return set(get_args(annotation))
    return {annotation}


class One(Bound, Generic[M]):
    """Returns `Model | None`."""


class Many(Bound, Generic[M]):
    """Returns `list[Model]`."""


class Value(Bound, Generic[T]):
    """Returns one scalar."""


class Execute(Bound):
    """Returns the status tag (`UPDATE 3`)."""


REGISTRY: dict[str, list[Bound]] = {}


def _bind(name: str, shape: str, allowed: tuple[SQLOperationType, ...], retry: bool | None) -> tuple[NamedQuery, bool]:
    queries = load()
    if name not in queries:
        raise LookupError(f"no named query {name!r} in {queries_dir()}")
    query = queries[name]
    if query.operation not in allowed:
        raise TypeError(
            f"query {name} ({query.source}) has operation {query.operation.name}; "
            f"a '{shape}' binding needs one of {[op.name for op in allowed]}: fix its name suffix"
        )
    if retry is None:
        if not is_plain_read(query.sql):
            raise TypeError(
                f"query {name} ({query.source}) writes: declare whether running it twice is harmless, "
                "retry=True (idempotent by construction: ON CONFLICT on a natural or client key, or an UPDATE "
                "guarded by the state it expects) or retry=False"
            )
        retry = True
    return query, retry


def _register(bound: Bound) -> None:
    REGISTRY.setdefault(bound.name, []).append(bound)


def _caller() -> str:
    frame = sys._getframe(2)
    return str(frame.f_globals.get("__name__", "?"))


def one(
    name: str, model: type[M], params: ParamSpec_ = None, *, retry: bool | None = None,
    cache: Cached | None = None, invalidates: TagSpec | None = None, replica: bool = False, custom_plan: bool = False,
) -> One[M]:  # fmt: skip
    """Bind a `^` (or `<!`) query whose single row becomes `model`. `retry` may be left out for plain reads;
    a plain read may be `cache`d; a write may declare the cache tags it `invalidates`. `replica=True` declares a
    plain read that tolerates replication lag (analytics, search, exports): with DATABASE_REPLICA_URL it runs on
    the replica while that is within DATALAYER_REPLICA_MAX_LAG, else on the primary; inside a transaction always
    on the primary. `custom_plan=True` plans every run for its parameter values (see `Bound.custom_plan`)."""
    owner = _caller()
    query, retry = _bind(name, "one", _ONE_OPS, retry)
    bound: One[M] = One(
        query, "one", model, owner=owner, params=params, retry=retry, cache=cache, invalidates=invalidates,
        replica=replica, custom_plan=custom_plan,
    )  # fmt: skip
    _register(bound)
    return bound


def many(
    name: str, model: type[M], params: ParamSpec_ = None, *, retry: bool | None = None,
    cache: Cached | None = None, invalidates: TagSpec | None = None, replica: bool = False, custom_plan: bool = False,
) -> Many[M]:  # fmt: skip
    """Bind a row-returning query (no suffix) whose rows become `list[model]`."""
    owner = _caller()
    query, retry = _bind(name, "many", _MANY_OPS, retry)
    bound: Many[M] = Many(
        query, "many", model, owner=owner, params=params, retry=retry, cache=cache, invalidates=invalidates,
        replica=replica, custom_plan=custom_plan,
    )  # fmt: skip
    _register(bound)
    return bound


def value(
    name: str, value_type: type[T], params: ParamSpec_ = None, *, retry: bool | None = None,
    cache: Cached | None = None, invalidates: TagSpec | None = None, replica: bool = False,
) -> Value[T]:  # fmt: skip
    """Bind a `$` query returning one scalar of `value_type`."""
    owner = _caller()
    query, retry = _bind(name, "value", _VALUE_OPS, retry)
    bound: Value[T] = Value(
        query,
        "value",
        value_type=value_type,
        owner=owner,
        params=params,
        retry=retry,
        cache=cache,
        invalidates=invalidates,
        replica=replica,
    )
    _register(bound)
    return bound


def execute(
    name: str, params: ParamSpec_ = None, *, retry: bool | None = None, invalidates: TagSpec | None = None
) -> Execute:
    """Bind a `!` query run for its effect."""
    owner = _caller()
    query, retry = _bind(name, "execute", _EXEC_OPS, retry)
    bound = Execute(query, "execute", owner=owner, params=params, retry=retry, invalidates=invalidates)
    _register(bound)
    return bound


def all_stats() -> dict[str, QueryStats]:
    """Statistics per query name, summed over its bindings."""
    out: dict[str, QueryStats] = {}
    for name, bindings in REGISTRY.items():
        total = QueryStats()
        for b in bindings:
            total.add(b.stats)
        out[name] = total
    return out

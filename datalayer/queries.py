"""Named queries: every `queries/**/*.sql` loaded once by aiosql, and bound to result shapes.

aiosql parses the files (names, declared parameters, `:name` → `$n`). A repository module then binds each
query it uses to a shape with `one` / `many` / `value` / `execute`, at import time. Binding does all the
per-query work once — SQL text, parameter order, the model's validator — so a call only runs the statement
and builds the model. The registry of bindings is what `datalayer check` verifies against the live schema.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from types import UnionType
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

import aiosql
from aiosql.types import SQLOperationType
from pydantic import BaseModel

M = TypeVar("M", bound=BaseModel)
T = TypeVar("T")


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
    sql: str
    params: tuple[str, ...]
    # Position of each declared parameter in the `$n` numbering; None when they already match.
    order: tuple[int, ...] | None
    operation: SQLOperationType
    doc: str
    source: str


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
        numbered = tuple(adapter.var_sorted.get(dotted, ()))
        order = None if numbered == declared else tuple(declared.index(n) for n in numbered)
        code = fn.__code__
        result[dotted] = NamedQuery(
            name=dotted,
            sql=fn.sql,
            params=declared,
            order=order,
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


def row_builder(model: type[M]) -> Callable[[Any], M]:
    """Turn a result row into `model`, doing all lookups once here rather than per row.

    `datalayer check` proves, against the live schema, that a bound query's columns have exactly the
    model's field names and Python types; the column names are fixed by the SQL text, which is loaded
    once. A row with the model's number of columns and no NULL in a field that does not admit None is
    therefore built without running the validator (the sqlc approach: trust what was checked). Any other
    row — such a NULL (the catalog cannot vouch for expressions), or a column count that moved because a
    `*` met a changed table — goes through full pydantic validation, which raises a ValidationError
    naming the field. tests/test_queries.py holds both paths to the same result.
    """
    validate: Callable[[Any], M] = model.__pydantic_validator__.validate_python
    fields = frozenset(model.model_fields)
    width = len(fields)
    # Only fields that do not admit None need a NULL check; one C-level itemgetter fetches them all.
    required = [name for name, info in model.model_fields.items() if not _admits_none(info.annotation)]
    pick_required = itemgetter(*required, *required[:1])  # ≥ 2 names, so it always returns a tuple
    new = object.__new__
    set_attr = object.__setattr__
    if model.__pydantic_post_init__ is not None or model.__private_attributes__:
        return lambda row: validate(dict(row))

    # Every trusted instance has all fields set; the models are frozen, so one set can be shared.
    all_set = set(fields)

    def build(row: Any) -> M:
        values = dict(row)
        try:
            if len(values) != width or (required and None in pick_required(values)):
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


# -- bindings ----------------------------------------------------------------------------------------------------
_ONE_OPS = (SQLOperationType.SELECT_ONE, SQLOperationType.INSERT_RETURNING)
_MANY_OPS = (SQLOperationType.SELECT,)
_VALUE_OPS = (SQLOperationType.SELECT_VALUE,)
_EXEC_OPS = (SQLOperationType.INSERT_UPDATE_DELETE, SQLOperationType.SCRIPT)


@dataclass(frozen=True, slots=True)
class Bound:
    """A named query bound to what a repository expects back."""

    query: NamedQuery
    shape: str  # "one" | "many" | "value" | "execute"
    model: type[BaseModel] | None = None
    value_type: Any = None
    owner: str = ""
    sql: str = field(init=False)
    order: tuple[int, ...] | None = field(init=False)
    build: Callable[[Any], Any] | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sql", self.query.sql)
        object.__setattr__(self, "order", self.query.order)
        object.__setattr__(self, "build", None if self.model is None else row_builder(self.model))

    @property
    def name(self) -> str:
        return self.query.name

    def args(self, values: tuple[object, ...]) -> tuple[object, ...]:
        """Arguments in the order of the SQL's `$n` placeholders (declared order when they differ)."""
        order = self.order
        return values if order is None else tuple(values[i] for i in order)


class One(Bound, Generic[M]):
    """Returns `Model | None`."""


class Many(Bound, Generic[M]):
    """Returns `list[Model]`."""


class Value(Bound, Generic[T]):
    """Returns one scalar."""


class Execute(Bound):
    """Returns the status tag (`UPDATE 3`)."""


REGISTRY: dict[str, list[Bound]] = {}


def _bind(name: str, shape: str, allowed: tuple[SQLOperationType, ...], owner: str) -> NamedQuery:
    queries = load()
    if name not in queries:
        raise LookupError(f"no named query {name!r} in {queries_dir()}")
    query = queries[name]
    if query.operation not in allowed:
        raise TypeError(
            f"query {name} ({query.source}) has operation {query.operation.name}; "
            f"a '{shape}' binding needs one of {[op.name for op in allowed]}: fix its name suffix"
        )
    return query


def _register(bound: Bound) -> None:
    REGISTRY.setdefault(bound.name, []).append(bound)


def _caller() -> str:
    import sys

    frame = sys._getframe(2)
    return str(frame.f_globals.get("__name__", "?"))


def one(name: str, model: type[M]) -> One[M]:
    """Bind a `^` (or `<!`) query whose single row becomes `model`."""
    owner = _caller()
    bound: One[M] = One(_bind(name, "one", _ONE_OPS, owner), "one", model, owner=owner)
    _register(bound)
    return bound


def many(name: str, model: type[M]) -> Many[M]:
    """Bind a row-returning query (no suffix) whose rows become `list[model]`."""
    owner = _caller()
    bound: Many[M] = Many(_bind(name, "many", _MANY_OPS, owner), "many", model, owner=owner)
    _register(bound)
    return bound


def value(name: str, value_type: type[T]) -> Value[T]:
    """Bind a `$` query returning one scalar of `value_type`."""
    owner = _caller()
    bound: Value[T] = Value(_bind(name, "value", _VALUE_OPS, owner), "value", value_type=value_type, owner=owner)
    _register(bound)
    return bound


def execute(name: str) -> Execute:
    """Bind a `!` query run for its effect."""
    owner = _caller()
    bound = Execute(_bind(name, "execute", _EXEC_OPS, owner), "execute", owner=owner)
    _register(bound)
    return bound

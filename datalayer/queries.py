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
from pathlib import Path
from typing import Any, Generic, TypeVar

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
    build: Callable[[Any], Any] | None = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "sql", self.query.sql)
        build = None
        if self.model is not None:
            # The validator is fetched once here; per row we only hand it a dict.
            validate = self.model.__pydantic_validator__.validate_python
            build = lambda row: validate(dict(row))  # noqa: E731
        object.__setattr__(self, "build", build)

    @property
    def name(self) -> str:
        return self.query.name

    def args(self, values: tuple[object, ...]) -> tuple[object, ...]:
        order = self.query.order
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

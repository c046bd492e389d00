"""Safe dynamic filtering, sorting and pagination over one named query (the seed's `find_by_filters`).

A `Filterable` wraps a named base query (a plain read without parameters, in `queries/`, e.g. `SELECT … FROM
chat_bot.users WHERE deleted_at IS NULL`) and a whitelist of its columns with their Python types. A call names
columns and operators; each must be on the whitelist (else `InvalidData` naming it), each value is validated
strictly against the column's type and sent as a bound parameter, and the statement is the base query wrapped
as `SELECT * FROM (base) AS f WHERE "col" op $n … ORDER BY … LIMIT $k`: no SQL is ever built from a caller's
text. Every column name that reaches the SQL text is one of the whitelist's, checked against an identifier
pattern when the whitelist is declared. `datalayer check` prepares the widest statement a whitelist can produce
and compares every column's parameter type with PostgreSQL's.

Operators: eq, ne, gt, ge, lt, le (a value of the column's type), in (a non-empty list of at most 1,000),
like (str columns; a LIKE pattern), is_null (true / false; nullable columns).

Pagination: `Page(size=…, number=…)` for small lists (OFFSET); `Page(size=…, after=cursor)` keyset pages for
large ones: the sort columns (not nullable, one direction) plus the key, compared as a row with the last row of
the previous page, so page 1,000 costs what page 1 does. `next_cursor` of a result is the `after` of the next.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from datalayer.errors import InvalidData
from datalayer.queries import Many, NamedQuery, invalid_input, is_plain_read, with_name

M = TypeVar("M", bound=BaseModel)
Op = Literal["eq", "ne", "gt", "ge", "lt", "le", "in", "like", "is_null"]
_COMPARE = {"eq": "=", "ne": "<>", "gt": ">", "ge": ">=", "lt": "<", "le": "<="}
_IDENT = re.compile(r"^[a-z_][a-z0-9_]*$")
MAX_IN = 1000
MAX_OFFSET = 100_000


class _Spec(BaseModel):
    """A caller's filter, sort or page: bad fields are InvalidData naming each one (never echoing a value)."""

    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise invalid_input(type(self), exc) from None


class Filter(_Spec):
    column: str
    op: Op
    value: Any = None


class Sort(_Spec):
    column: str
    direction: Literal["asc", "desc"] = "asc"


class Page(_Spec):
    """`number` (1-based) for page/size; `after` (a `next_cursor`) for keyset pages; neither: the first page."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True, hide_input_in_errors=True)

    size: int = Field(default=20, ge=1, le=1000)
    number: int | None = Field(default=None, ge=1)
    after: str | None = None


@dataclass(frozen=True)
class PageResult(Generic[M]):
    items: list[M]
    has_more: bool
    next_cursor: str | None  # keyset pagination only: pass as Page(after=…) for the next page


@dataclass(frozen=True)
class Col:
    """A filterable column: its Python type, whether it may be NULL, whether it may be sorted on."""

    type: Any
    nullable: bool = False
    sortable: bool = True


REGISTRY: list[Filterable[Any]] = []


class Filterable(Generic[M]):
    def __init__(self, base: Many[M], columns: dict[str, Col], key: str = "id") -> None:
        if base.query.params or not is_plain_read(base.query.sql):
            raise TypeError(f"{base.name}: a filter base is a plain read without parameters")
        assert base.model is not None
        fields = base.model.model_fields
        for name in (*columns, key):
            if not _IDENT.match(name) or name not in fields:
                raise TypeError(f"{base.name}: {name!r} is not a column of {base.model.__name__}")
        if key not in columns:
            raise TypeError(f"{base.name}: the key {key!r} must be a (not nullable) column")
        self.base = base
        self.columns = columns
        self.key = key
        self._raw = _without_name(base.query.sql)
        self._adapters = {n: TypeAdapter(c.type) for n, c in columns.items()}
        self._compiled: dict[tuple[Any, ...], Many[M]] = {}
        REGISTRY.append(self)

    # -- validation ------------------------------------------------------------------------------------------------
    def _column(self, name: str, what: str) -> Col:
        col = self.columns.get(name) if isinstance(name, str) else None
        if col is None:
            shown = repr(name) if isinstance(name, str) and _IDENT.match(name) and len(name) <= 63 else "(not a name)"
            raise InvalidData(
                f"unknown {what} column {shown} for {self.base.name}; allowed: {', '.join(sorted(self.columns))}"
            )
        return col

    def _value(self, name: str, value: Any, *, lax: bool = False) -> Any:
        try:
            return self._adapters[name].validate_python(value, strict=not lax)
        except ValidationError as exc:
            msg = exc.errors(include_input=False, include_url=False)[0]["msg"]
            raise InvalidData(f"filter value for {name}: {msg}") from None

    # -- the statement ---------------------------------------------------------------------------------------------
    def _compile(self, shape: tuple[Any, ...], sql: str) -> Many[M]:
        bound = self._compiled.get(shape)
        if bound is None:
            q = self.base.query
            named = NamedQuery(q.name, with_name(q.name, sql), (), (), q.operation, q.doc, q.source)
            bound = Many(named, "many", self.base.model, owner=self.base.owner, retry=True)
            object.__setattr__(bound, "stats", self.base.stats)  # counted under the base query's name
            if len(self._compiled) < 10_000:  # shapes are finite (columns x operators); keep memory bounded anyway
                self._compiled[shape] = bound
        return bound

    def build(
        self, filters: Sequence[Filter], sorts: Sequence[Sort], page: Page
    ) -> tuple[Many[M], list[Any], list[str], bool]:
        """(statement, values, sort columns with the key, whether it is keyset) for one call."""
        where: list[str] = []
        values: list[Any] = []
        shape: list[Any] = []

        def param(v: Any) -> str:
            values.append(v)
            return f"${len(values)}"

        for f in filters:
            if not isinstance(f, Filter):
                raise InvalidData(f"a filter is a Filter(column, op, value), not {type(f).__name__}")
            col = self._column(f.column, "filter")
            ident = f'"{f.column}"'
            if f.op == "is_null":
                if not isinstance(f.value, bool):
                    raise InvalidData(f"is_null on {f.column} takes true or false")
                if not col.nullable and f.value:
                    raise InvalidData(f"{f.column} is never null")
                where.append(f"{ident} IS {'' if f.value else 'NOT '}NULL")
            elif f.op == "in":
                if not isinstance(f.value, list | tuple) or not 1 <= len(f.value) <= MAX_IN:
                    raise InvalidData(f"in on {f.column} takes a list of 1 to {MAX_IN} values")
                where.append(f"{ident} = ANY({param([self._value(f.column, v) for v in f.value])})")
            elif f.op == "like":
                if col.type is not str:
                    raise InvalidData(f"like applies to text columns; {f.column} is not one")
                where.append(f"{ident} LIKE {param(self._value(f.column, f.value))}")
            else:
                if f.value is None:
                    raise InvalidData(f"{f.op} on {f.column} needs a value; use is_null to test for NULL")
                where.append(f"{ident} {_COMPARE[f.op]} {param(self._value(f.column, f.value))}")
            shape.append((f.column, f.op))

        order = []
        for s in sorts:
            col = self._column(s.column, "sort")
            if not col.sortable:
                raise InvalidData(f"{s.column} cannot be sorted on")
            order.append((s.column, s.direction))
        if self.key not in [c for c, _ in order]:
            order.append((self.key, order[0][1] if order else "asc"))
        keyset = page.number is None
        if keyset:
            directions = {d for _, d in order}
            if len(directions) > 1:
                raise InvalidData("keyset pages need one sort direction; give Page(number=…) for mixed directions")
            if any(self.columns[c].nullable for c, _ in order):
                raise InvalidData("keyset pages cannot sort on a nullable column; give Page(number=…)")
            if page.after is not None:
                last = self._decode(page.after, [c for c, _ in order])
                cols = ", ".join(f'"{c}"' for c, _ in order)
                marks = ", ".join(param(v) for v in last)
                where.append(f"({cols}) {'>' if order[0][1] == 'asc' else '<'} ({marks})")
                shape.append(("after",))
        sql = f"SELECT * FROM ({self._raw}) AS f"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY " + ", ".join(f'"{c}" {d.upper()}' for c, d in order)
        sql += f" LIMIT {param(page.size + 1)}"
        if not keyset:
            assert page.number is not None
            offset = (page.number - 1) * page.size
            if offset > MAX_OFFSET:
                raise InvalidData(
                    f"page {page.number} is too deep for page/size (offset > {MAX_OFFSET}); use keyset pages"
                )
            sql += f" OFFSET {param(offset)}"
        bound = self._compile((tuple(shape), tuple(order), keyset), sql)
        return bound, values, [c for c, _ in order], keyset

    async def find(
        self, executor: Any, filters: Sequence[Filter] = (), sorts: Sequence[Sort] = (), page: Page | None = None
    ) -> PageResult[M]:
        page = page or Page()
        bound, values, order, keyset = self.build(filters, sorts, page)
        rows = await executor.many(bound, *values)
        more = len(rows) > page.size
        rows = rows[: page.size]
        cursor = None
        if keyset and more and rows:
            last = rows[-1]
            cursor = self._encode(order, [getattr(last, c) for c in order])
        return PageResult(items=rows, has_more=more, next_cursor=cursor)

    def _encode(self, order: list[str], values: list[Any]) -> str:
        data = [self._adapters[c].dump_python(v, mode="json") for c, v in zip(order, values, strict=True)]
        return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")

    def _decode(self, cursor: str, order: list[str]) -> list[Any]:
        try:
            raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
            if not isinstance(raw, list) or len(raw) != len(order):
                raise ValueError("shape")
            return [self._adapters[c].validate_python(v, strict=False) for c, v in zip(order, raw, strict=True)]
        except (ValueError, TypeError, ValidationError):
            raise InvalidData(
                "invalid page cursor: pass the next_cursor of the previous page, with the same sorts"
            ) from None

    # -- for `datalayer check` -------------------------------------------------------------------------------------
    def probe(self) -> tuple[str, list[tuple[str, Any]]]:
        """The widest statement the whitelist can produce (every column compared with a parameter, every
        sortable column in ORDER BY), and the declared type of each `$n`."""
        names = list(self.columns)
        where = " AND ".join(f'"{n}" = ${i}' for i, n in enumerate(names, 1))
        order = ", ".join(f'"{n}"' for n in names if self.columns[n].sortable)
        sql = f"SELECT * FROM ({self._raw}) AS f WHERE {where} ORDER BY {order} LIMIT 1"
        return sql, [(n, self.columns[n].type) for n in names]


def _without_name(sql: str) -> str:
    return re.sub(r"/\* [A-Za-z0-9_.]+ \*/ ?", "", sql, count=1).rstrip().rstrip(";")

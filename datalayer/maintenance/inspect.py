"""`datalayer inspect`: rows of any table of ours, filtered and sorted safely (queries/maintenance/inspect.sql).

Only a table or view of the data layer's schemas is accepted, only its real columns may be named, operators come
from a fixed list, and every value is a bound parameter, cast by PostgreSQL to the column's type (so `abc` for a
bigint column is an error naming the column, never a coercion or a fragment of SQL). Rows come back as JSON
objects (`to_jsonb` of the row), the same for every table."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiosql.types import SQLOperationType

from datalayer import queries as q
from datalayer.db import ident
from datalayer.errors import DatalayerError, InvalidData, NotFound
from datalayer.repository import Repository, Row

OPERATORS = {"=": "=", "!=": "<>", "<>": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">=", "like": "LIKE",
             "ilike": "ILIKE", "is": "IS", "in": "= ANY"}  # fmt: skip
MAX_LIMIT = 1000


class InspectColumn(Row):
    column_name: str
    type_name: str
    nullable: bool


class InspectTable(Row):
    schema_name: str
    table_name: str


class ListInspectableColumnsParams(q.Params):
    schemas: list[str]
    schema_name: str
    table_name: str


class InspectedRow(Row):
    row: dict[str, Any]


@dataclass(frozen=True)
class Where:
    column: str
    op: str
    value: str


_COLUMNS = q.many("maintenance.list_inspectable_columns", InspectColumn, ListInspectableColumnsParams)
_TABLES = q.many("maintenance.list_inspectable_tables", InspectTable, (list[str],))


class InspectRepository(Repository):
    async def tables(self, schemas: list[str]) -> list[InspectTable]:
        return await self._x.many(_TABLES, schemas)

    async def columns(self, schemas: list[str], table: str) -> list[InspectColumn]:
        schema, _, name = table.partition(".")
        if not name:
            raise InvalidData(f"name the table with its schema, e.g. discord_bot.events (got {table!r})")
        p = ListInspectableColumnsParams(schemas=schemas, schema_name=schema, table_name=name)
        cols = await self._x.many(_COLUMNS, p)
        if not cols:
            raise NotFound(
                f"{table} is not a table of ours (schemas: {', '.join(schemas)}); `datalayer inspect` without a table lists them"
            )
        return cols

    async def rows(
        self, schemas: list[str], table: str, where: list[Where], order: str | None = None, limit: int = 20
    ) -> list[dict[str, Any]]:
        """Up to `limit` rows of `table` (schema.table) matching every `where`, sorted by `order` (a column,
        `-column` for descending). Reads only."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidData(f"limit must be 1 to {MAX_LIMIT}, not {limit}")
        cols = {c.column_name: c for c in await self.columns(schemas, table)}
        schema, _, name = table.partition(".")
        clauses: list[str] = []
        values: list[object] = []
        for w in where:
            col = cols.get(w.column)
            if col is None:
                raise InvalidData(f"{table} has no column {w.column!r}; columns: {', '.join(cols)}")
            op = OPERATORS.get(w.op.lower())
            if op is None:
                raise InvalidData(f"unknown operator {w.op!r}; use one of {', '.join(OPERATORS)}")
            target = ident(w.column)
            if op == "IS":
                if w.value.lower() not in ("null", "not null"):
                    raise InvalidData(f"{w.column} is … takes null or 'not null', not {w.value!r}")
                clauses.append(f"{target} IS {w.value.upper()}")
                continue
            if op in ("LIKE", "ILIKE"):
                values.append(w.value)
                clauses.append(f"{target}::text {op} ${len(values)}")
                continue
            if op == "= ANY":
                values.append([v.strip() for v in w.value.split(",")])
                clauses.append(f"{target} = ANY(${len(values)}::text[]::{col.type_name}[])")
                continue
            values.append(w.value)
            clauses.append(f"{target} {op} ${len(values)}::text::{col.type_name}")
        sql = f"SELECT to_jsonb(t) AS row FROM {ident(schema, name)} AS t"
        if clauses:
            sql += " WHERE " + " AND ".join(clauses)
        if order:
            column, desc = (order[1:], True) if order.startswith("-") else (order, False)
            if column not in cols:
                raise InvalidData(f"cannot order by {column!r}: {table} has no such column")
            sql += f" ORDER BY {ident(column)} {'DESC' if desc else 'ASC'} NULLS LAST"
        values.append(limit)
        sql += f" LIMIT ${len(values)}"
        bound = _statement(sql)
        try:
            found = await self._x.many(bound, *values)
        except DatalayerError as exc:
            if exc.sqlstate and exc.sqlstate.startswith("22"):  # a value PostgreSQL cannot read as the column's type
                said = exc.message.splitlines()[0]
                suspects = [f"{w.column} {w.op} {w.value!r} ({cols[w.column].type_name})" for w in where
                            if f"type {cols[w.column].type_name}" in said] or [f"{w.column} {w.op} {w.value!r}" for w in where]  # fmt: skip
                raise InvalidData(f"filter {' / '.join(suspects)}: {said}") from None
            raise
        return [{name: r.row.get(name) for name in cols} for r in found]  # the table's column order


def _statement(sql: str) -> q.Many[InspectedRow]:
    """A read built from catalog names and bound values, run and counted as `maintenance.inspect`."""
    named = q.NamedQuery("maintenance.inspect", q.with_name("maintenance.inspect", sql), (), (),
                         SQLOperationType.SELECT, "inspect a table", "datalayer/maintenance/inspect.py")  # fmt: skip
    return q.Many(named, "many", InspectedRow, owner=__name__, retry=True)

"""`datalayer check`: every named query against the live, migrated schema — what sqlc and pgtyped do at
code generation. It prepares each query (psycopg's libpq `describe`, which also tells which table column
each result column comes from), then compares parameters, result columns and PostgreSQL types with the
pydantic model the repository maps them to."""

from __future__ import annotations

import importlib
import pkgutil
import re
import types
import typing
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from ipaddress import IPv4Address, IPv6Address
from typing import Any, Union, get_args, get_origin
from uuid import UUID

import psycopg
import psycopg.rows
from aiosql.types import SQLOperationType
from pydantic import BaseModel, JsonValue

import datalayer
from datalayer import queries as q
from datalayer.db import Executor
from datalayer.errors import connect_failed
from datalayer.ops.catalog import CatalogRepository, ColumnNullability

# PostgreSQL type → the Python type asyncpg returns for it.
PG_TO_PY: dict[str, Any] = {
    "boolean": bool,
    "smallint": int, "integer": int, "bigint": int, "oid": int,
    "real": float, "double precision": float,
    "numeric": Decimal,
    "text": str, "character varying": str, "character": str, "name": str, '"char"': str, "citext": str,
    "bytea": bytes,
    "timestamp with time zone": datetime, "timestamp without time zone": datetime,
    "date": date, "time without time zone": time, "interval": timedelta,
    "uuid": UUID,
    "inet": (IPv4Address, IPv6Address),
    "json": "json", "jsonb": "json",
    "void": type(None),
}  # fmt: skip


# Parameters: asyncpg encodes a Python int for these too.
_NUMERIC_PARAMS = frozenset({"double precision", "real", "numeric"})


def import_repositories() -> None:
    """Import every module under `datalayer`, so every repository's bindings are registered."""
    for info in pkgutil.walk_packages(datalayer.__path__, "datalayer."):
        if info.name.rsplit(".", 1)[-1] in ("__main__", "cli"):
            continue  # command-line modules bind no queries and import click
        importlib.import_module(info.name)


@dataclass
class Report:
    checked: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class Described:
    params: list[int]
    columns: list[tuple[str, int, int, int]]  # name, type oid, table oid, column number


def describe(conn: psycopg.Connection[Any], sql: str) -> Described | str:
    """Prepare `sql` without running it; the error message on failure."""
    pg = conn.pgconn
    result = pg.prepare(b"", sql.encode())
    if result.status != psycopg.pq.ExecStatus.COMMAND_OK:
        return (result.error_message or b"").decode().strip()
    d = pg.describe_prepared(b"")
    params = [d.param_type(i) for i in range(d.nparams)]
    columns = [((d.fname(i) or b"").decode(), d.ftype(i), d.ftable(i), d.ftablecol(i)) for i in range(d.nfields)]
    return Described(params, columns)


def _split_optional(annotation: Any) -> tuple[Any, bool]:
    origin = get_origin(annotation)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(annotation) if a is not type(None)]
        optional = len(args) != len(get_args(annotation))
        if len(args) == 1:
            return args[0], optional
        return Union[tuple(args)], optional  # noqa: UP007
    return annotation, False


def _plain(annotation: Any) -> Any:
    """The type a value of `annotation` has: `Annotated[datetime, …]` is a datetime, `Literal["a", "b"]` a str."""
    origin = get_origin(annotation)
    if origin is typing.Annotated:
        return _plain(get_args(annotation)[0])
    if origin is typing.Literal:
        kinds = {type(v) for v in get_args(annotation)}
        return kinds.pop() if len(kinds) == 1 else annotation
    return annotation


def _type_ok(pg_type: str, annotation: Any) -> bool:
    base, _ = _split_optional(_plain(annotation))
    base = _plain(base)
    if pg_type.endswith("[]"):
        if get_origin(base) is not list:
            return False
        (inner,) = get_args(base) or (Any,)
        return _type_ok(pg_type[:-2], inner)
    expected = PG_TO_PY.get(pg_type)
    if expected is None:
        return base is Any  # an unmapped type must be typed Any, deliberately
    if expected == "json":
        return base is Any or base == JsonValue or get_origin(base) in (dict, list) or base in (dict, list)
    if isinstance(expected, tuple):
        return base in expected or set(get_args(base)) == set(expected)
    return bool(base is expected)


def _show(annotation: Any) -> str:
    return getattr(annotation, "__name__", None) or str(annotation).replace("typing.", "")


def describe_in_transaction(conn: psycopg.Connection[Any], sql: str) -> Described | str:
    """`describe` inside an open transaction: in a savepoint, so a statement that does not prepare leaves the
    transaction usable for the next."""
    pg = conn.pgconn
    pg.exec_(b"SAVEPOINT datalayer_check")
    try:
        return describe(conn, sql)
    finally:
        failed = pg.transaction_status == psycopg.pq.TransactionStatus.INERROR
        pg.exec_(b"ROLLBACK TO SAVEPOINT datalayer_check" if failed else b"RELEASE SAVEPOINT datalayer_check")


class _Catalog(typing.Protocol):
    async def type_names(self, oids: list[int]) -> dict[int, str]: ...
    async def nullability(self, columns: list[tuple[int, int]]) -> dict[tuple[int, int], ColumnNullability]: ...


class _CatalogInTransaction:
    """CatalogRepository's two lookups, with the same named queries, on a psycopg connection inside a
    transaction (`migrate --check-only`: it sees the types and columns of migrations not yet committed)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def _rows(self, name: str, *args: object) -> list[dict[str, Any]]:
        sql = q.load()[name].sql.replace("%", "%%")
        sql = re.sub(r"\$(\d+)", lambda m: f"%(p{m.group(1)})s", sql)
        with self.conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
            cur.execute(sql, {f"p{i}": a for i, a in enumerate(args, 1)})
            return cur.fetchall()

    async def type_names(self, oids: list[int]) -> dict[int, str]:
        return {r["oid"]: r["name"] for r in self._rows("ops.list_type_names", oids)}

    async def nullability(self, columns: list[tuple[int, int]]) -> dict[tuple[int, int], ColumnNullability]:
        rows = self._rows("ops.list_column_nullability", [c[0] for c in columns], [c[1] for c in columns])
        return {(r["table_oid"], r["attnum"]): ColumnNullability.model_validate(r) for r in rows}


async def run(ex: Executor, url: str, *, conn: psycopg.Connection[Any] | None = None) -> Report:
    """Check every named query and filter on `url`'s schema; with `conn` (a psycopg connection inside a
    transaction), on the schema as that transaction sees it."""
    import_repositories()
    report = Report()
    loaded = q.load()
    if conn is None:
        try:
            with psycopg.connect(url, autocommit=True) as own:
                described = {name: describe(own, query.sql) for name, query in sorted(loaded.items())}
        except psycopg.OperationalError as exc:
            raise connect_failed(url, exc) from exc
        catalog: _Catalog = CatalogRepository(ex)
    else:
        described = {name: describe_in_transaction(conn, query.sql) for name, query in sorted(loaded.items())}
        catalog = _CatalogInTransaction(conn)
    ok = [d for d in described.values() if isinstance(d, Described)]
    oids = sorted({c[1] for d in ok for c in d.columns} | {p for d in ok for p in d.params})
    type_names = await catalog.type_names(oids)
    nullability = await catalog.nullability(sorted({(c[2], c[3]) for d in ok for c in d.columns if c[2]}))

    for name, query in sorted(loaded.items()):
        report.checked += 1
        where = f"{name} ({query.source})"
        d = described[name]
        if isinstance(d, str):
            report.problems.append(f"{where}: does not prepare against the schema: {d}")
            continue
        if len(d.params) != len(query.params):
            report.problems.append(
                f"{where}: declares {len(query.params)} parameter(s) {list(query.params)} "
                f"but the statement takes {len(d.params)}"
            )
        bindings = q.REGISTRY.get(name, [])
        if not bindings:
            report.problems.append(f"{where}: not used by any repository method")
        for b in bindings:
            report.problems.extend(_check_binding(where, b, d, type_names, nullability))
    for name in sorted(set(q.REGISTRY) - set(loaded)):
        report.problems.append(f"{name}: bound in a repository but missing from queries/")
    report.problems.extend(await _check_filters(url, report, catalog, conn))
    return report


async def _check_filters(
    url: str, report: Report, catalog: _Catalog, conn: psycopg.Connection[Any] | None
) -> list[str]:
    """Every dynamic filter whitelist (datalayer.filters): the widest statement it can produce prepares, and
    each column's declared type is the one PostgreSQL infers for its parameter."""
    from datalayer.filters import REGISTRY as FILTERS

    problems: list[str] = []
    probes = [(f, *f.probe()) for f in FILTERS]
    if conn is None:
        try:
            with psycopg.connect(url, autocommit=True) as own:
                described = [(f, describe(own, sql), declared) for f, sql, declared in probes]
        except psycopg.OperationalError as exc:
            raise connect_failed(url, exc) from exc
    else:
        described = [(f, describe_in_transaction(conn, sql), declared) for f, sql, declared in probes]
    oids = sorted({p for _f, d, _ in described if not isinstance(d, str) for p in d.params})
    type_names = await catalog.type_names(oids)
    for f, d, declared in described:
        report.checked += 1
        where = f"filters over {f.base.name}"
        if isinstance(d, str):
            problems.append(f"{where}: the widest filter statement does not prepare: {d}")
            continue
        for (column, annotation), oid in zip(declared, d.params, strict=True):
            pg_type = type_names.get(oid, f"oid {oid}")
            if not _type_ok(pg_type, annotation):
                problems.append(
                    f"{where}: column {column} is {pg_type} in PostgreSQL but the whitelist says {_show(annotation)}"
                )
    return problems


def _check_params(where: str, b: q.Bound, d: Described, type_names: dict[int, str]) -> list[str]:
    """Each declared parameter against the type PostgreSQL infers for its `$n`."""
    problems: list[str] = []
    numbered = b.query.numbered
    declared = dict(b.param_types)
    for n, (name, oid) in enumerate(zip(numbered, d.params, strict=False), 1):
        if name not in declared:
            continue
        pg_type = type_names.get(oid, f"oid {oid}")
        annotation = declared[name]
        base, _ = _split_optional(annotation)
        if pg_type in _NUMERIC_PARAMS and base is int:
            continue
        if not _type_ok(pg_type, annotation):
            problems.append(
                f"{where}: parameter ${n} {name} is {pg_type} in PostgreSQL but {b.owner} declares {_show(annotation)}"
            )
    return problems


def _check_binding(
    where: str,
    b: q.Bound,
    d: Described,
    type_names: dict[int, str],
    nullability: dict[tuple[int, int], ColumnNullability],
) -> list[str]:
    problems: list[str] = _check_params(where, b, d, type_names)
    columns = [
        (name, type_names.get(oid, f"oid {oid}"), nullability.get((tab, col))) for name, oid, tab, col in d.columns
    ]
    if b.shape == "execute":
        return problems
    if b.shape == "value":
        if len(columns) != 1:
            return [*problems, f"{where}: bound as a single value by {b.owner} but returns {len(columns)} columns"]
        _name, pg_type, _ = columns[0]
        if not _type_ok(pg_type, b.value_type):
            problems.append(f"{where}: returns {pg_type} but {b.owner} expects {_show(b.value_type)}")
        return problems
    assert b.model is not None
    model: type[BaseModel] = b.model
    fields = model.model_fields
    names = [c[0] for c in columns]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(f"{where}: column {dup} appears more than once")
    for missing in sorted(set(fields) - set(names)):
        problems.append(f"{where}: model {model.__name__} has field {missing} but the query returns no such column")
    for extra in sorted(set(names) - set(fields)):
        problems.append(f"{where}: column {extra} is not a field of model {model.__name__}")
    hints = typing.get_type_hints(model)
    for col, pg_type, origin in columns:
        if col not in fields:
            continue
        annotation = hints[col]
        if not _type_ok(pg_type, annotation):
            problems.append(f"{where}: column {col} is {pg_type} but {model.__name__}.{col} is {_show(annotation)}")
        _, optional = _split_optional(annotation)
        if origin is not None and origin.nullable and not optional:
            problems.append(
                f"{where}: column {col} comes from nullable {origin.column_name} "
                f"but {model.__name__}.{col} is not Optional"
            )
    if b.shape == "one" and b.query.operation not in (SQLOperationType.SELECT_ONE, SQLOperationType.INSERT_RETURNING):
        problems.append(f"{where}: bound as one row but is not a ^ query")
    return problems

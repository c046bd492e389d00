"""Catalog lookups that `datalayer check` needs (queries/ops/catalog.sql)."""

from __future__ import annotations

from datalayer import queries as q
from datalayer.repository import Repository, Row


class TypeName(Row):
    oid: int
    name: str


class SchemaName(Row):
    name: str


class ColumnNullability(Row):
    table_oid: int
    attnum: int
    column_name: str
    nullable: bool


class ListColumnNullabilityParams(q.Params):
    table_oids: list[int]
    attnums: list[int]


_TYPE_NAMES = q.many("ops.list_type_names", TypeName, (list[int],))
_NULLABILITY = q.many("ops.list_column_nullability", ColumnNullability, ListColumnNullabilityParams)
_OUR_SCHEMAS = q.many("ops.list_our_schemas", SchemaName, (list[str],))


def schema_candidates() -> list[str]:
    """Every folder under queries/: a bot's schema has one named after it (others, such as health/, are not
    schemas and are filtered out by the catalog)."""
    return sorted(p.name for p in q.queries_dir().iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


class CatalogRepository(Repository):
    async def type_names(self, oids: list[int]) -> dict[int, str]:
        return {t.oid: t.name for t in await self._x.many(_TYPE_NAMES, oids)}

    async def nullability(self, columns: list[tuple[int, int]]) -> dict[tuple[int, int], ColumnNullability]:
        p = ListColumnNullabilityParams(table_oids=[c[0] for c in columns], attnums=[c[1] for c in columns])
        return {(n.table_oid, n.attnum): n for n in await self._x.many(_NULLABILITY, p)}

    async def our_schemas(self) -> list[str]:
        """The data layer's schemas in this database (ops and one per bot that has landed and is migrated),
        found from queries/ and the catalog, so a bot added later is covered without a list to update."""
        return [s.name for s in await self._x.many(_OUR_SCHEMAS, schema_candidates())]

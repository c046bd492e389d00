"""Index health of our schemas (queries/health/indexes.sql)."""

from __future__ import annotations

from datalayer import queries as q
from datalayer.repository import Repository, Row


class UnusedIndex(Row):
    schema_name: str
    table_name: str
    index_name: str
    bytes: int


class DuplicateIndex(Row):
    schema_name: str
    table_name: str
    index_name: str
    covered_by: str
    definition: str
    bytes: int


class InvalidIndex(Row):
    schema_name: str
    table_name: str
    index_name: str
    definition: str


class UnindexedForeignKey(Row):
    schema_name: str
    table_name: str
    constraint_name: str
    columns: str
    references_table: str


class IndexBloat(Row):
    schema_name: str
    table_name: str
    index_name: str
    bytes: int
    expected_bytes: int


class ListUnusedIndexesParams(q.Params):
    schemas: list[str]
    min_bytes: int


_UNUSED = q.many("health.list_unused_indexes", UnusedIndex, ListUnusedIndexesParams)
_DUPLICATE = q.many("health.list_duplicate_indexes", DuplicateIndex, (list[str],))
_INVALID = q.many("health.list_invalid_indexes", InvalidIndex, (list[str],))
_UNINDEXED_FK = q.many("health.list_unindexed_foreign_keys", UnindexedForeignKey, (list[str],))
_BLOAT = q.many("health.list_index_bloat", IndexBloat, (list[str],))


class IndexHealthRepository(Repository):
    async def unused(self, schemas: list[str], min_bytes: int) -> list[UnusedIndex]:
        return await self._x.many(_UNUSED, ListUnusedIndexesParams(schemas=schemas, min_bytes=min_bytes))

    async def duplicates(self, schemas: list[str]) -> list[DuplicateIndex]:
        return await self._x.many(_DUPLICATE, schemas)

    async def invalid(self, schemas: list[str]) -> list[InvalidIndex]:
        return await self._x.many(_INVALID, schemas)

    async def unindexed_foreign_keys(self, schemas: list[str]) -> list[UnindexedForeignKey]:
        return await self._x.many(_UNINDEXED_FK, schemas)

    async def bloat(self, schemas: list[str]) -> list[IndexBloat]:
        return await self._x.many(_BLOAT, schemas)

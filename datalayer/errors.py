"""One error hierarchy, mapped from SQLSTATE in one place (`from_postgres`).

Callers catch these classes; asyncpg's exceptions never leave a repository method.
Every message is a sentence that says what went wrong and what to do about it.
"""

from __future__ import annotations

import asyncio

import asyncpg


class DatalayerError(Exception):
    """Base of every error the data layer raises."""

    def __init__(
        self,
        message: str,
        *,
        sqlstate: str | None = None,
        constraint: str | None = None,
        table: str | None = None,
        detail: str | None = None,
        query: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.sqlstate = sqlstate
        self.constraint = constraint
        self.table = table
        self.detail = detail
        self.query = query

    def __str__(self) -> str:
        return self.message


class NotFound(DatalayerError):
    """The row the operation needs does not exist."""


class Conflict(DatalayerError):
    """A unique constraint already holds this value (23505)."""


class ReferenceMissing(DatalayerError):
    """A foreign key points at a row that does not exist, or a row is still referenced (23503)."""


class InvalidData(DatalayerError):
    """The database rejected a value: NOT NULL, CHECK, or a bad value for its type (23502, 23514, 22xxx)."""


class Retryable(DatalayerError):
    """Serialization failure or deadlock (40001, 40P01): run the whole transaction again."""


class Unavailable(DatalayerError):
    """The database cannot be reached, refused the connection, or no pooled connection came in time."""


class MigrationError(DatalayerError):
    """A migration could not be applied, rolled back, or was edited after it was applied."""


def _where(table: str | None, schema: str | None) -> str:
    if not table:
        return ""
    return f" on {schema}.{table}" if schema else f" on {table}"


def from_postgres(exc: BaseException, query: str | None = None) -> DatalayerError:
    """Translate an asyncpg (or connection-level) exception into our hierarchy."""
    via = f" (query {query})" if query else ""
    if isinstance(exc, (asyncio.TimeoutError, TimeoutError)):
        return Unavailable(
            f"timed out waiting for the database{via}; the pool may be exhausted or the statement too slow — "
            "raise DATALAYER_ACQUIRE_TIMEOUT / DATALAYER_COMMAND_TIMEOUT or the pool size",
            query=query,
        )
    if isinstance(exc, (OSError, asyncpg.InterfaceError)) and not isinstance(exc, asyncpg.PostgresError):
        return Unavailable(
            f"cannot reach the database{via}: {exc}; check DATABASE_URL and that the server runs", query=query
        )
    if not isinstance(exc, asyncpg.PostgresError):
        return DatalayerError(f"unexpected database error{via}: {exc}", query=query)

    state: str = exc.sqlstate or ""
    constraint: str | None = getattr(exc, "constraint_name", None)
    table: str | None = getattr(exc, "table_name", None)
    schema: str | None = getattr(exc, "schema_name", None)
    column: str | None = getattr(exc, "column_name", None)
    detail: str | None = getattr(exc, "detail", None)
    fields = {"sqlstate": state, "constraint": constraint, "table": table, "detail": detail, "query": query}
    where = _where(table, schema)
    tail = f": {detail}" if detail else ""

    if state == "23505":
        return Conflict(
            f"a row with the same key already exists (unique constraint {constraint}{where}){tail}; "
            "update the existing row instead of inserting a new one",
            **fields,
        )
    if state == "23503":
        return ReferenceMissing(
            f"foreign key {constraint}{where} is not satisfied{tail}; create the referenced row first "
            "or remove the rows that still point at it",
            **fields,
        )
    if state == "23502":
        return InvalidData(f"column {column}{where} must not be null; give it a value", **fields)
    if state == "23514":
        return InvalidData(
            f"the value breaks check constraint {constraint}{where}{tail}; correct the value to satisfy it",
            **fields,
        )
    if state.startswith("22"):
        return InvalidData(f"invalid value{via}: {exc}; correct the input", **fields)
    if state in ("40001", "40P01"):
        return Retryable(f"the transaction conflicted with another one ({exc}); run it again", **fields)
    if state.startswith("08") or state in ("57P01", "57P02", "57P03", "53300"):
        return Unavailable(
            f"the database is unavailable ({exc}); check that the server runs and accepts connections", **fields
        )
    if state == "57014":
        return Unavailable(
            f"the statement was cancelled after the command timeout{via}; "
            "raise DATALAYER_COMMAND_TIMEOUT or make it faster",
            **fields,
        )
    return DatalayerError(f"database error {state}{via}: {exc}", **fields)

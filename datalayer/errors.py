"""One error hierarchy, mapped from SQLSTATE in one place (`from_postgres`).

Callers catch these classes; no driver exception ever leaves a repository method or a transaction.
Every message is a sentence that says what went wrong and what to do about it.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

import asyncpg
from asyncpg.exceptions._base import DataError as ArgumentError  # asyncpg.DataError is SQLSTATE class 22

from datalayer.config import mask_url

# Everything the driver (or the socket under it) may raise. InternalClientError is not an InterfaceError:
# asyncpg raises it ("cannot switch to state 12") on a connection whose server end died while it was idle.
DRIVER_ERRORS: tuple[type[Exception], ...] = (
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    asyncpg.InternalClientError,
    OSError,
    TimeoutError,
)

# SQLSTATEs that mean "this connection is gone or the server will not take work now".
_LOST_STATES = frozenset({"57P01", "57P02", "57P03"})


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


class StateConflict(Conflict):
    """The row exists but is not in the state the operation expects (e.g. another worker holds its claim).

    Raised by guarded writes; nothing was changed."""


class ReferenceMissing(DatalayerError):
    """A foreign key points at a row that does not exist, or a row is still referenced (23503)."""


class InvalidData(DatalayerError):
    """The database rejected a value: NOT NULL, CHECK, or a bad value for its type (23502, 23514, 22xxx)."""


class Retryable(DatalayerError):
    """Serialization failure or deadlock (40001, 40P01): run the whole transaction again."""


class Unavailable(DatalayerError):
    """The database cannot be reached, the connection was lost, or no pooled connection came in time.

    `connection_lost`: the connection died (the statement may not have run; a read or a retry-safe write
    was already retried). `commit_unknown`: the connection died during COMMIT, so whether the transaction
    committed is unknown: look before repeating it.
    """

    def __init__(
        self,
        message: str,
        *,
        connection_lost: bool = False,
        commit_unknown: bool = False,
        sqlstate: str | None = None,
        constraint: str | None = None,
        table: str | None = None,
        detail: str | None = None,
        query: str | None = None,
    ) -> None:
        super().__init__(message, sqlstate=sqlstate, constraint=constraint, table=table, detail=detail, query=query)
        self.connection_lost = connection_lost
        self.commit_unknown = commit_unknown


class MigrationError(DatalayerError):
    """A migration could not be applied, rolled back, or was edited after it was applied; or the database
    a process connects to is not migrated to the files it ships with."""


class UsageError(DatalayerError):
    """The data layer was used in a way it does not support, e.g. two statements at once on one
    transaction's connection. A programming error: fix the calling code; running it again will not help."""


def never_sent(exc: BaseException) -> bool:
    """True when asyncpg refused to start the operation because the connection's protocol was not idle
    (its server end died while a previous operation was in flight): nothing was written to the socket, so
    the statement, or the COMMIT, never reached the server."""
    return isinstance(exc, asyncpg.InternalClientError) and "cannot switch to state" in str(exc)


def is_concurrent_use(exc: BaseException) -> bool:
    """Two operations at once on one connection: a misuse, not a lost connection."""
    return isinstance(exc, asyncpg.InterfaceError) and "another operation is in progress" in str(exc)


def is_connection_lost(exc: BaseException) -> bool:
    """True when `exc` means the connection (not the statement) failed: a retry on a fresh connection may work.

    A statement timeout, a pool that stayed exhausted, or any error the server reported about the statement
    itself is not a lost connection."""
    if isinstance(exc, asyncpg.PostgresError):
        state = exc.sqlstate or ""
        return state.startswith("08") or state in _LOST_STATES
    if isinstance(exc, ArgumentError | asyncpg.ClientConfigurationError | TimeoutError) or is_concurrent_use(exc):
        return False  # a bad argument or setting, a timeout (already waited), a misuse: not a lost connection
    return isinstance(exc, asyncpg.InterfaceError | asyncpg.InternalClientError | ConnectionError | OSError)


def _where(table: str | None, schema: str | None) -> str:
    if not table:
        return ""
    return f" on {schema}.{table}" if schema else f" on {table}"


def connect_failed(url: str, exc: BaseException) -> Unavailable:
    """The one wording for 'could not open a connection', whoever tried (pool, migrator, check, health)."""
    reason = str(exc).strip() or type(exc).__name__
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        reason = "timed out (raise DATALAYER_CONNECT_TIMEOUT if the server is slow to answer)"
    sqlstate = getattr(exc, "sqlstate", None)
    return Unavailable(
        f"cannot connect to {mask_url(url)}: {reason}; check that the server runs and that the URL's "
        "host, port, database, user and password are right (DATABASE_URL or --database-url)",
        sqlstate=sqlstate,
        connection_lost=True,
    )


_ARGUMENT = re.compile(r"query argument \$(\d+)")
# asyncpg's `invalid input for query argument $2: 'the value…' (why)`: the value may be a secret.


def _name_arguments(message: str, placeholders: tuple[str, ...]) -> str:
    """`invalid input for query argument $2`: `$2` means nothing to the caller; the parameter's name does.
    The value asyncpg quotes in that message is left out: it may be a password or a token."""

    def named(match: re.Match[str]) -> str:
        n = int(match.group(1))
        return f"parameter {placeholders[n - 1]!r}" if 0 < n <= len(placeholders) else match.group(0)

    return _ARGUMENT.sub(named, _without_value(message))


def _without_value(message: str) -> str:
    if not message.startswith("invalid input for query argument $"):
        return message
    head, _, rest = message.partition(": ")
    why = rest.rstrip().removesuffix(")").rpartition(" (")[2] if rest.rstrip().endswith(")") else "a bad value"
    return f"{head} ({why})"


def from_postgres(exc: BaseException, query: str | None = None, placeholders: tuple[str, ...] = ()) -> DatalayerError:
    """Translate an asyncpg (or connection-level) exception into our hierarchy."""
    via = f" (query {query})" if query else ""
    if isinstance(exc, DatalayerError):
        return exc
    if isinstance(exc, TimeoutError | asyncio.TimeoutError):
        return Unavailable(
            f"timed out waiting for the database{via}: the statement waited for a lock another session holds, "
            "ran too long, or found the pool exhausted; `datalayer health` shows blocked queries and their "
            "blockers (DATALAYER_COMMAND_TIMEOUT / DATALAYER_ACQUIRE_TIMEOUT set the limits)",
            query=query,
        )
    if isinstance(exc, ArgumentError):
        # asyncpg refused an argument before sending it: a wrong Python type for the parameter.
        message = _name_arguments(str(exc).splitlines()[0], placeholders)
        return InvalidData(f"invalid argument{via}: {message}; pass the type the query declares", query=query)
    if is_concurrent_use(exc):
        return UsageError(
            f"two statements at once on one connection{via}: inside a transaction, await each statement before "
            "starting the next (no asyncio.gather over one `tx`); use the pool (`Repo(db)`) for concurrent work",
            query=query,
        )
    if not isinstance(exc, asyncpg.PostgresError) and is_connection_lost(exc):
        return Unavailable(
            f"lost the connection to the database{via}: {exc or type(exc).__name__}; "
            "check that the server runs and accepts connections",
            query=query,
            connection_lost=True,
        )
    if not isinstance(exc, asyncpg.PostgresError):
        return DatalayerError(f"unexpected database error{via}: {exc}", query=query)

    state: str = exc.sqlstate or ""
    constraint: str | None = getattr(exc, "constraint_name", None)
    table: str | None = getattr(exc, "table_name", None)
    schema: str | None = getattr(exc, "schema_name", None)
    column: str | None = getattr(exc, "column_name", None)
    detail: str | None = getattr(exc, "detail", None)
    if detail and detail.startswith("Failing row contains"):
        # The whole row, every column: personal data, password hashes, ciphertext. Never in an error or a log.
        detail = None
    fields: dict[str, Any] = {
        "sqlstate": state,
        "constraint": constraint,
        "table": table,
        "detail": detail,
        "query": query,
    }
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
    if state == "23514" and constraint is None and (detail or "").startswith("Partition key of the failing row"):
        return InvalidData(
            f"no partition of {schema}.{table} holds this row{via}: {detail} Create that partition first "
            "(`datalayer partitions ensure` and the bots' maintain commands make them ahead of time)",
            **fields,
        )
    if state == "23514":
        return InvalidData(
            f"the value breaks check constraint {constraint}{where}{tail}; correct the value to satisfy it",
            **fields,
        )
    if state.startswith("22"):
        message = _name_arguments(getattr(exc, "message", None) or str(exc).splitlines()[0], placeholders)
        return InvalidData(
            f"invalid value{via}: {message}{f' ({detail})' if detail else ''}; correct the input", **fields
        )
    if state.startswith("54"):
        # Program limit exceeded: a value too large for what holds it (an index entry, a tsvector, an array), or
        # an input that makes a statement too deep to run (a huge search query: stack depth limit exceeded).
        return InvalidData(
            f"a value is too large{where}{via}: {exc}; store a shorter value",
            **fields,
        )
    if state == "55P03":
        return Retryable(
            f"a lock was not granted in time{via} ({exc}); nothing was changed, run it again later "
            "(`datalayer health` shows who holds it)",
            **fields,
        )
    if state in ("26000", "42P05") and "__asyncpg_" in str(exc):
        # asyncpg's named prepared statements met a connection other than the one that prepared them: a pooler
        # in transaction (or statement) mode hands each transaction to any server connection.
        return UsageError(
            f"a prepared statement was not found on the server connection{via}: behind PgBouncer in transaction "
            "mode set DATALAYER_STATEMENT_CACHE_SIZE=0 (or `--statement-cache-size 0`)",
            **fields,
        )
    if state in ("40001", "40P01"):
        return Retryable(f"the transaction conflicted with another one ({exc}); run it again", **fields)
    if state.startswith("08") or state in _LOST_STATES:
        return Unavailable(
            f"the database connection was lost{via} ({exc}); check that the server runs and accepts connections",
            connection_lost=True,
            **fields,
        )
    if state == "53300":
        return Unavailable(f"the server has no free connection slots{via} ({exc}); lower pool sizes", **fields)
    if state == "57014":
        return Unavailable(
            f"the statement was cancelled after the command timeout{via}; "
            "raise DATALAYER_COMMAND_TIMEOUT or make it faster",
            **fields,
        )
    if state in ("42P01", "3F000") and query:
        return MigrationError(
            f"{exc}{via}: the schema is not there; run `datalayer migrate` on this database", **fields
        )
    return DatalayerError(f"database error {state}{via}: {exc}", **fields)

"""Base of every repository: built on anything that has an executor (a `Database`, a `Transaction`)."""

from __future__ import annotations

from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from datalayer.db import Executor
from datalayer.errors import NotFound, Retryable
from datalayer.queries import One, Params

_T = TypeVar("_T")
_M = TypeVar("_M", bound=BaseModel)


class HasExecutor(Protocol):
    @property
    def executor(self) -> Executor: ...


class Repository:
    """One per aggregate. `Repo(db)` runs on the pool; `Repo(tx)` runs inside that transaction."""

    __slots__ = ("_x",)

    def __init__(self, source: HasExecutor) -> None:
        self._x = source.executor

    async def _settled(self, q: One[_M], *args: object) -> _M:
        """Run an idempotent upsert that returns its row, or (on no change) reads it back in the same statement.

        Under READ COMMITTED that read-back uses the statement's snapshot: when a concurrent statement inserted
        the same key after it began, ON CONFLICT waits for it and then finds the row, but the read-back cannot
        see it, and no row comes back. Running the statement again (a new snapshot) returns it. Inside a
        REPEATABLE READ or SERIALIZABLE transaction the snapshot cannot move: that is Retryable."""
        assert q.retry, f"{q.name}: only an idempotent binding may be run again"
        row = await self._x.one(q, *args)
        if row is None:
            row = await self._x.one(q, *args)
        if row is None:
            raise Retryable(
                f"{q.name}: a concurrent transaction wrote the same row and this transaction's snapshot cannot "
                "see it; run the transaction again",
                query=q.name,
            )
        return row


class Row(BaseModel):
    """Base of every result model: immutable, and strict about unknown columns."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def found(row: _T | None, message: str) -> _T:
    """`row`, or NotFound(message) when the query found nothing."""
    if row is None:
        raise NotFound(message)
    return row


__all__ = ["HasExecutor", "Params", "Repository", "Row", "found", "params"]


_P = TypeVar("_P", bound=Params)


def params(model: type[_P], **values: object) -> _P:
    """Build a Params model inside a repository method; bad input is InvalidData naming each field."""
    return model(**values)

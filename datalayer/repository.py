"""Base of every repository: built on anything that has an executor (a `Database`, a `Transaction`)."""

from __future__ import annotations

from typing import Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from datalayer.db import Executor
from datalayer.errors import NotFound
from datalayer.queries import Params

_T = TypeVar("_T")


class HasExecutor(Protocol):
    @property
    def executor(self) -> Executor: ...


class Repository:
    """One per aggregate. `Repo(db)` runs on the pool; `Repo(tx)` runs inside that transaction."""

    __slots__ = ("_x",)

    def __init__(self, source: HasExecutor) -> None:
        self._x = source.executor


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
    """Build a Params model inside a repository method; bad input becomes InvalidData naming each field."""
    from pydantic import ValidationError

    from datalayer.errors import InvalidData

    try:
        return model(**values)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'input'}: {err['msg']}"
            for err in exc.errors(include_input=False, include_url=False)
        )
        raise InvalidData(f"invalid input for {model.__name__}: {problems}") from None

"""Base of every repository: built on anything that has an executor (a `Database`, a `Transaction`)."""

from __future__ import annotations

from typing import Protocol

from pydantic import BaseModel, ConfigDict

from datalayer.db import Executor


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

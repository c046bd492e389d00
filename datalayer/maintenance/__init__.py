"""Maintenance of the data layer's schemas: VACUUM / ANALYZE / REINDEX, sizes and their growth, `inspect`, and the
one registration point of every domain's retention rules (`datalayer cleanup`).

A bot adds its rules in a module `datalayer/<bot>/cleanup.py` with the `rule` decorator; `rules()` imports every
such module, so a bot that lands later is cleaned up without touching this package."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from datalayer.db import Database


@dataclass(frozen=True)
class CleanupContext:
    db: Database
    now: datetime
    keep_days: int  # retention of logs and of soft-deleted rows

    @property
    def cutoff(self) -> datetime:
        from datetime import timedelta

        return self.now - timedelta(days=self.keep_days)


RuleFn = Callable[[CleanupContext], Awaitable[int]]


@dataclass(frozen=True)
class Rule:
    name: str  # "<schema>.<what>", e.g. twitter_bot.expired_cache
    description: str
    run: RuleFn  # returns how many rows (or partitions) it removed or changed


_RULES: dict[str, Rule] = {}


def rule(name: str, description: str) -> Callable[[RuleFn], RuleFn]:
    """Register a retention rule. Each must be safe to run again at any time (it removes only what is already
    past its retention), since `cleanup` runs from a schedule and may be interrupted."""

    def register(fn: RuleFn) -> RuleFn:
        if name in _RULES and _RULES[name].run is not fn:
            raise ValueError(f"cleanup rule {name} is registered twice")
        _RULES[name] = Rule(name, description, fn)
        return fn

    return register


def rules() -> list[Rule]:
    """Every registered rule, after importing each package's `cleanup` module."""
    import datalayer

    for info in pkgutil.iter_modules(datalayer.__path__):
        if info.ispkg:
            try:
                importlib.import_module(f"datalayer.{info.name}.cleanup")
            except ModuleNotFoundError as exc:
                if exc.name != f"datalayer.{info.name}.cleanup":
                    raise
    return sorted(_RULES.values(), key=lambda r: r.name)

"""Aggregate `integrity` (queries/discord_bot/integrity.sql): orphaned or inconsistent rows, which the
constraints prevent unless they were bypassed (disabled triggers, NOT VALID constraints, a partial restore)."""

from __future__ import annotations

from datetime import datetime

from datalayer import queries as q
from datalayer.discord_bot.events import now_or
from datalayer.repository import Repository, Row


class IntegrityProblemRow(Row):
    problem: str
    description: str
    rows: int
    examples: list[str]


# A read; it calls discord_bot.is_emoji_list (IMMUTABLE), which the bind-time read detector cannot vouch for.
_PROBLEMS = q.many("discord_bot.list_integrity_problems", IntegrityProblemRow, (datetime,), retry=True)


class IntegrityRepository(Repository):
    async def check(self, now: datetime | None = None) -> list[IntegrityProblemRow]:
        """Every kind of problem checked, with its count (0 on a healthy database) and up to five examples.
        Retry-safe (a read)."""
        return await self._x.many(_PROBLEMS, now_or(now))

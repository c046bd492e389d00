"""Retention rules of the AI conversation bot, run by `datalayer cleanup`."""

from __future__ import annotations

from datalayer.chat_bot.sessions import SessionRepository
from datalayer.maintenance import CleanupContext, rule


@rule("chat_bot.idle_sessions", "sessions idle past their timeout, marked expired")
async def idle_sessions(c: CleanupContext) -> int:
    return await SessionRepository(c.db).expire_idle(c.now)

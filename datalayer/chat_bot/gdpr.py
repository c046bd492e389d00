"""Aggregate `gdpr` (queries/chat_bot/gdpr.sql): a user's data as one JSON document, and erasure.

`erase` runs in one transaction: it lets the audit log redact (the append-only trigger allows it only then),
removes every personal field of the user — identity, preferences, message text and analysis, conversation
titles, activity details, personality adaptations, the address and details of security events, audit
entries about or by the user — keeps the aggregates (counts, tokens, sentiment, risk scores), and records the
erasure in the audit log (without personal data)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, cast

from datalayer import queries as q
from datalayer.chat_bot.audit import AppendAuditParams, AuditRepository
from datalayer.errors import UsageError
from datalayer.repository import Params, Repository, Row, found
from datalayer.validation import Moment


class EraseUserParams(Params):
    user_id: int
    at: Moment


class EraseUserRow(Row):
    user_id: int
    erased_at: datetime | None
    messages: int
    conversations: int
    activities: int
    personalities: int
    security_events: int
    audit_entries: int


_EXPORT = q.value("chat_bot.export_user_data", dict, (int,))
_ERASE = q.one("chat_bot.erase_user", EraseUserRow, EraseUserParams, retry=True)
_ALLOW = q.value("chat_bot.allow_audit_redaction", bool, retry=True)


class GdprRepository(Repository):
    async def export(self, user_id: int) -> dict[str, Any]:
        """Every row about the user (deleted or not), as one JSON document. NotFound for an unknown user."""
        document = await self._x.value(_EXPORT, user_id)
        return cast(dict[str, Any], found(document, f"no user {user_id}"))

    async def erase(self, user_id: int, *, actor: str, at: datetime | None = None) -> EraseUserRow:
        """Erase the user's personal data (see the module docstring). Must run on a transaction
        (`GdprRepository(tx)`): the redaction permission and the erasure commit together. Retry-safe: erasing
        again changes nothing more."""
        if self._x.connection is None:
            raise UsageError(
                "erase runs inside a transaction: async with db.transaction() as tx: GdprRepository(tx).erase(...)"
            )
        when = at or datetime.now(UTC)
        await self._x.value(_ALLOW)
        row = found(await self._x.one(_ERASE, EraseUserParams(user_id=user_id, at=when)), f"no user {user_id}")
        await AuditRepository(self).append(AppendAuditParams(
            actor=actor, action="user.erase", entity_type="user", entity_id=str(user_id), occurred_at=when,
        ))  # fmt: skip
        return row

    @property
    def executor(self) -> Any:
        return self._x

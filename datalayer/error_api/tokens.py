"""Aggregate `tokens` (queries/error_api/tokens.sql): revoked JWTs, by jti, until they expire anyway."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field

from datalayer import queries as q
from datalayer.repository import Params, Repository, params
from datalayer.validation import Moment


class RevokeTokenParams(Params):
    token_jti: str = Field(min_length=1, max_length=255, pattern=r"\S")
    token_type: Literal["access", "refresh"]
    revoked_by: str | None = Field(default=None, max_length=255)
    revocation_reason: str | None = Field(default=None, max_length=255)
    expires_at: Moment


_REVOKE = q.value("error_api.revoke_token", bool, RevokeTokenParams, retry=True)
_IS_REVOKED = q.value("error_api.check_token_revoked", bool, (str,))
_DELETE_EXPIRED = q.value("error_api.delete_expired_tokens", int, (datetime,), retry=True)


class TokenBlacklistRepository(Repository):
    async def revoke(
        self,
        jti: str,
        token_type: Literal["access", "refresh"],
        expires_at: datetime,
        *,
        revoked_by: str | None = None,
        reason: str | None = None,
    ) -> bool:
        """Blacklist a token by its jti until `expires_at`; True when newly revoked. Retry-safe (idempotent)."""
        p = params(RevokeTokenParams, token_jti=jti, token_type=token_type, revoked_by=revoked_by,
                   revocation_reason=reason, expires_at=expires_at)  # fmt: skip
        return await self._x.value(_REVOKE, p)

    async def is_revoked(self, jti: str) -> bool:
        """One index lookup (token_blacklist_jti_unique)."""
        return await self._x.value(_IS_REVOKED, jti)

    async def cleanup_expired_tokens(self, before: datetime | None = None) -> int:
        """Forget revoked tokens that expired before `before` (default now). Retry-safe."""
        return await self._x.value(_DELETE_EXPIRED, before or datetime.now(UTC))

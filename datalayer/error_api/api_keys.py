"""Aggregate `api_keys` (queries/error_api/api_keys.sql): keys that authenticate API requests.

A key is `eak_` + 43 URL-safe characters (256 random bits from `secrets`). It is shown once, when made; the
database keeps only its HMAC-SHA256 digest under a server secret (DATALAYER_API_KEY_SECRET) and a 12-character
prefix to tell keys apart. A slow password hash would add nothing for a 256-bit random token, and a keyed
digest makes a stolen table useless without the secret, which never enters the database. Authentication is
one indexed lookup of the digest.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import UTC, datetime
from uuid import UUID

from pydantic import Field

from datalayer import queries as q
from datalayer.config import Settings
from datalayer.errors import InvalidData
from datalayer.repository import HasExecutor, Params, Repository, Row, params
from datalayer.validation import Moment

KEY_PREFIX = "eak_"
_KEY = re.compile(r"^eak_[A-Za-z0-9_-]{43}$")


class ApiKey(Row):
    """A key as its owner may see it: name, prefix, state, never the key or its digest."""

    id: UUID
    user_id: UUID
    name: str
    prefix: str
    is_active: bool
    last_used: datetime | None
    created_at: datetime
    expires_at: datetime | None


class AuthenticatedKeyRow(Row):
    api_key_id: UUID
    user_id: UUID
    name: str
    prefix: str
    expires_at: datetime | None
    subscription_tier: str


class CreateApiKeyParams(Params):
    user_id: UUID
    name: str = Field(min_length=1, max_length=255, pattern=r"\S")
    prefix: str = Field(pattern=r"^eak_[A-Za-z0-9_-]{8}$")
    key_digest: bytes = Field(min_length=32, max_length=32)
    expires_at: Moment | None = None


class AuthenticateApiKeyParams(Params):
    key_digest: bytes = Field(min_length=32, max_length=32)
    now: Moment


class DeactivateApiKeyParams(Params):
    id: UUID
    user_id: UUID


_CREATE = q.one("error_api.create_api_key", ApiKey, CreateApiKeyParams, retry=True)
_AUTHENTICATE = q.one("error_api.authenticate_api_key", AuthenticatedKeyRow, AuthenticateApiKeyParams, retry=True)
_LIST = q.many("error_api.list_user_api_keys", ApiKey, (UUID,))
_DEACTIVATE = q.one("error_api.deactivate_api_key", ApiKey, DeactivateApiKeyParams, retry=True)
_DELETE_EXPIRED = q.value("error_api.delete_expired_api_keys", int, (datetime,), retry=True)


class KeyDigester:
    """HMAC-SHA256 of API keys under the server secret."""

    __slots__ = ("_secret",)

    def __init__(self, secret: str | bytes) -> None:
        raw = secret.encode() if isinstance(secret, str) else secret
        if len(raw) < 32:
            raise InvalidData("the API key secret must be at least 32 bytes; make one with `datalayer secret-key`")
        self._secret = raw

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyDigester:
        if settings.api_key_secret is None:
            raise InvalidData(
                "DATALAYER_API_KEY_SECRET is not set: API keys are stored as HMAC digests under it; make one with "
                "`datalayer secret-key` and keep it outside the database"
            )
        return cls(settings.api_key_secret.get_secret_value())

    def digest(self, key: str) -> bytes:
        return hmac.new(self._secret, key.encode(), hashlib.sha256).digest()


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


class ApiKeyRepository(Repository):
    __slots__ = ("_digester",)

    def __init__(self, source: HasExecutor, digester: KeyDigester | None = None) -> None:
        """`digester` is needed to make and authenticate keys, not to list, deactivate or clean them up."""
        super().__init__(source)
        self._digester = digester

    def _need_digester(self) -> KeyDigester:
        if self._digester is None:
            raise InvalidData(
                "making or authenticating API keys needs the server secret: ApiKeyRepository(db, KeyDigester.from_settings(settings))"
            )
        return self._digester

    async def create(self, user_id: UUID, name: str, expires_at: datetime | None = None) -> tuple[ApiKey, str]:
        """A new key for the user: the stored row and the key itself, which is never available again.
        Retry-safe (the digest is unique: a repeat of the same key returns the stored row)."""
        key = new_key()
        p = params(
            CreateApiKeyParams, user_id=user_id, name=name, prefix=key[:12], key_digest=self._need_digester().digest(key),
            expires_at=expires_at,
        )  # fmt: skip
        row = await self._settled(_CREATE, p)
        return row, key

    async def authenticate(self, presented: str, now: datetime | None = None) -> AuthenticatedKeyRow | None:
        """The key's owner and tier when `presented` is an active, unexpired key of an active account, else
        None. A malformed key is refused without a query. Writes last_used at most once a minute per key.
        Retry-safe."""
        if not isinstance(presented, str) or not _KEY.match(presented):
            return None
        p = AuthenticateApiKeyParams(key_digest=self._need_digester().digest(presented), now=now or datetime.now(UTC))
        return await self._x.one(_AUTHENTICATE, p)

    async def list_for_user(self, user_id: UUID) -> list[ApiKey]:
        """GET /users/me/api-keys: the user's keys, without anything secret."""
        return await self._x.many(_LIST, user_id)

    async def deactivate(self, user_id: UUID, key_id: UUID) -> ApiKey | None:
        """DELETE /users/me/api-keys/{key_id}: deactivate one of the user's own keys; None when the user
        has no such key. Retry-safe."""
        return await self._x.one(_DEACTIVATE, DeactivateApiKeyParams(id=key_id, user_id=user_id))

    async def cleanup_expired_keys(self, before: datetime | None = None) -> int:
        """Delete keys that expired before `before` (default now); their usage rows keep a NULL key.
        Returns how many. Retry-safe."""
        return await self._x.value(_DELETE_EXPIRED, before or datetime.now(UTC))

"""Aggregate `users` (queries/error_api/users.sql): accounts, and their passwords as argon2id hashes.

The password never reaches the database: `create` and `change_password` hash it here with argon2-cffi
(argon2id, its default parameters), and a CHECK constraint refuses anything but an argon2id PHC string.
`verify_password` is constant-time (argon2's own comparison, and a dummy verification when the account does
not exist, so an unknown e-mail takes as long as a wrong password) and re-hashes a hash whose parameters
are outdated.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from pydantic import Field

from datalayer import queries as q
from datalayer.errors import InvalidData, StateConflict
from datalayer.repository import HasExecutor, Params, Repository, Row, found, params
from datalayer.validation import SURROGATE_PROBLEM, Moment, text_problem

EMAIL = Field(min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
FULL_NAME = Field(default=None, min_length=1, max_length=255)
TIER = Field(pattern=r"^[a-z][a-z0-9_]{1,30}$")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024  # argon2 hashes anything; a bound keeps a huge "password" from costing memory


class User(Row):
    """An account as the API shows it: never the password hash."""

    id: UUID
    email: str
    full_name: str | None
    subscription_tier: str
    stripe_customer_id: str | None
    is_active: bool
    is_verified: bool
    created_at: datetime
    updated_at: datetime
    last_login: datetime | None


class UserCredentialsRow(Row):
    id: UUID
    password_hash: str | None
    is_active: bool


class CreateUserParams(Params):
    email: str = EMAIL
    password_hash: str
    full_name: str | None = FULL_NAME


class UpdatePasswordHashParams(Params):
    id: UUID
    old_hash: str | None
    new_hash: str


class UpdateUserProfileParams(Params):
    id: UUID
    full_name: str | None = FULL_NAME
    email: str | None = Field(default=None, min_length=3, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SetUserTierParams(Params):
    id: UUID
    tier: str = TIER


class SetUserStripeCustomerParams(Params):
    id: UUID
    stripe_customer_id: str = Field(pattern=r"^cus_[A-Za-z0-9]{1,250}$")


class RecordLoginParams(Params):
    id: UUID
    at: Moment


_CREATE = q.one("error_api.create_user", User, CreateUserParams, retry=False)
_GET = q.one("error_api.get_user", User, (UUID,))
_GET_BY_EMAIL = q.one("error_api.get_user_by_email", User, (str,))
_CREDENTIALS = q.one("error_api.get_user_credentials", UserCredentialsRow, (str,))
_CREDENTIALS_BY_ID = q.one("error_api.get_user_credentials_by_id", UserCredentialsRow, (UUID,))
_UPDATE_HASH = q.value("error_api.update_password_hash", bool, UpdatePasswordHashParams, retry=True)
_UPDATE_PROFILE = q.one("error_api.update_user_profile", User, UpdateUserProfileParams, retry=True)
_SET_TIER = q.one("error_api.set_user_tier", User, SetUserTierParams, retry=True)
_SET_STRIPE = q.one("error_api.set_user_stripe_customer", User, SetUserStripeCustomerParams, retry=True)
_SET_VERIFIED = q.one("error_api.set_user_verified", User, (UUID,), retry=True)
_DEACTIVATE = q.one("error_api.deactivate_user", User, (UUID,), retry=True)
_RECORD_LOGIN = q.one("error_api.record_login", User, RecordLoginParams, retry=True)
_COUNT_ACTIVE = q.value("error_api.count_active_users", int)

HASHER = PasswordHasher()  # argon2id, argon2-cffi's recommended parameters


def _password(password: str) -> str:
    if not isinstance(password, str):
        raise InvalidData("a password is a string")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise InvalidData(f"a password has {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    problem = text_problem(password)  # a lone surrogate cannot be encoded for hashing
    if problem is not None:
        raise InvalidData(f"the password {problem}")
    return password


def _encodable(password: str) -> None:
    """A password to verify must be text that can be hashed: a lone surrogate has no UTF-8 form."""
    if not isinstance(password, str) or text_problem(password) == SURROGATE_PROBLEM:
        raise InvalidData("a password is a string of valid Unicode (no lone surrogates)")


class UserRepository(Repository):
    __slots__ = ("_dummy", "_hasher")

    def __init__(self, source: HasExecutor, hasher: PasswordHasher | None = None) -> None:
        super().__init__(source)
        self._hasher = hasher or HASHER
        self._dummy: str | None = None

    def _hash(self, password: str) -> str:
        return self._hasher.hash(_password(password))

    async def create(self, email: str, password: str, full_name: str | None = None) -> User:
        """A new account; Conflict (users_email_lower_unique) when the e-mail exists in any case.
        Not retry-safe (a repeat raises Conflict): after `Unavailable`, look it up with `get_by_email`."""
        p = params(CreateUserParams, email=email, password_hash=self._hash(password), full_name=full_name)
        row = await self._x.one(_CREATE, p)
        assert row is not None  # INSERT … RETURNING
        return row

    async def get(self, user_id: UUID) -> User | None:
        return await self._x.one(_GET, user_id)

    async def get_by_email(self, email: str) -> User | None:
        """The account with this e-mail, without regard to case."""
        return await self._x.one(_GET_BY_EMAIL, email)

    async def verify_password(self, email: str, password: str) -> User | None:
        """The active account when the password is right, else None (unknown e-mail, wrong password, no
        password, deactivated: the caller cannot tell which, and neither can a timing attacker). Re-hashes an
        outdated hash. Retry-safe."""
        _encodable(password)
        creds = await self._x.one(_CREDENTIALS, email)
        if creds is None or creds.password_hash is None:
            self._verify_dummy(password)
            return None
        try:
            self._hasher.verify(creds.password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return None
        if not creds.is_active:
            return None
        if self._hasher.check_needs_rehash(creds.password_hash):
            new = self._hasher.hash(password)
            await self._x.value(
                _UPDATE_HASH, UpdatePasswordHashParams(id=creds.id, old_hash=creds.password_hash, new_hash=new)
            )
        return await self._x.one(_GET, creds.id)

    def _verify_dummy(self, password: str) -> None:
        if self._dummy is None:
            self._dummy = self._hasher.hash("not a password of anyone")
        try:
            self._hasher.verify(self._dummy, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            pass

    async def change_password(self, user_id: UUID, current_password: str, new_password: str) -> None:
        """Set a new password when the current one verifies (InvalidData if not). Guarded: StateConflict when
        the password changed in between. Retry-safe: a repeat after a lost reply finds the new password
        already set, which is reported as success."""
        _encodable(current_password)
        creds = found(await self._x.one(_CREDENTIALS_BY_ID, user_id), f"no account {user_id}")
        new_hash = self._hash(new_password)
        if creds.password_hash is not None:
            try:
                self._hasher.verify(creds.password_hash, current_password)
            except (VerifyMismatchError, VerificationError, InvalidHashError):
                try:  # a repeat of a call whose reply was lost: the new password is already in place
                    self._hasher.verify(creds.password_hash, new_password)
                    return
                except (VerifyMismatchError, VerificationError, InvalidHashError):
                    raise InvalidData("the current password is not right; nothing was changed") from None
        p = UpdatePasswordHashParams(id=user_id, old_hash=creds.password_hash, new_hash=new_hash)
        if await self._x.value(_UPDATE_HASH, p):
            return
        # Not replaced: either the executor's retry of this very update (its first try committed, the reply
        # was lost) found our own hash in place, or someone else changed the password in between.
        now = await self._x.one(_CREDENTIALS_BY_ID, user_id)
        if now is None or now.password_hash != new_hash:
            raise StateConflict(f"the password of {user_id} changed meanwhile; nothing was changed")

    async def update_profile(self, user_id: UUID, *, full_name: str | None = None, email: str | None = None) -> User:
        """PUT /users/me: change the name and/or e-mail (a new e-mail is unverified again); Conflict when
        the e-mail belongs to another account. Retry-safe."""
        p = params(UpdateUserProfileParams, id=user_id, full_name=full_name, email=email)
        return found(await self._x.one(_UPDATE_PROFILE, p), f"no account {user_id}")

    async def set_tier(self, user_id: UUID, tier: str) -> User:
        """Put the account on a tier (ReferenceMissing for an unknown tier). Retry-safe."""
        return found(
            await self._x.one(_SET_TIER, params(SetUserTierParams, id=user_id, tier=tier)), f"no account {user_id}"
        )

    async def set_stripe_customer(self, user_id: UUID, stripe_customer_id: str) -> User:
        """Link the account to its Stripe customer (Conflict when another account has it). Retry-safe."""
        p = params(SetUserStripeCustomerParams, id=user_id, stripe_customer_id=stripe_customer_id)
        return found(await self._x.one(_SET_STRIPE, p), f"no account {user_id}")

    async def mark_verified(self, user_id: UUID) -> User:
        """The e-mail address was confirmed. Retry-safe."""
        return found(await self._x.one(_SET_VERIFIED, user_id), f"no account {user_id}")

    async def deactivate(self, user_id: UUID) -> User:
        """The account can no longer log in and its keys stop authenticating. Retry-safe."""
        return found(await self._x.one(_DEACTIVATE, user_id), f"no account {user_id}")

    async def record_login(self, user_id: UUID, at: datetime) -> User:
        """Remember a successful login; last_login never moves backwards. Retry-safe."""
        return found(
            await self._x.one(_RECORD_LOGIN, params(RecordLoginParams, id=user_id, at=at)), f"no account {user_id}"
        )

    async def count_active(self) -> int:
        return await self._x.value(_COUNT_ACTIVE)

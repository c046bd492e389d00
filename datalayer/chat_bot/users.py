"""Aggregate `users` (queries/chat_bot/users.sql): Telegram users, soft-deleted, with dynamic filters.

Deleted users are invisible to every normal read (`get`, `get_by_telegram_id`, `find`, statistics); `restore`
brings one back. `find` is the seed's `find_by_filters`, made safe (datalayer.filters). `register_user` is the
seed's multi-step use case — create the user, start a session, write the audit entry — as one function on a
transaction, run through `db.run_in_transaction` so a serialization failure runs it again whole."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from pydantic import Field, JsonValue, model_validator

from datalayer import queries as q
from datalayer.filters import Col, Filter, Filterable, Page, PageResult, Sort
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import BigId, Moment

USERNAME = r"^[A-Za-z][A-Za-z0-9_]{3,31}$"
NAME = Field(default=None, min_length=1, max_length=64)
LANGUAGE = Field(default=None, pattern=r"^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$")


class User(Row):
    id: int
    telegram_id: int | None
    username: str | None
    first_name: str | None
    last_name: str | None
    language_code: str | None
    is_premium: bool
    preferences: dict[str, JsonValue]
    is_active: bool
    message_count: int
    last_activity_at: datetime | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class CreateUserParams(Params):
    telegram_id: BigId
    username: str | None = Field(default=None, pattern=USERNAME)
    first_name: str | None = NAME
    last_name: str | None = NAME
    language_code: str | None = LANGUAGE
    is_premium: bool = False
    preferences: dict[str, JsonValue] = Field(default_factory=dict)


class CreateUsersParams(Params):
    telegram_ids: list[int]
    usernames: list[str | None]
    first_names: list[str | None]
    last_names: list[str | None]
    language_codes: list[str | None]
    premiums: list[bool]

    @classmethod
    def of(cls, users: Sequence[CreateUserParams]) -> CreateUsersParams:
        return cls(
            telegram_ids=[u.telegram_id for u in users], usernames=[u.username for u in users],
            first_names=[u.first_name for u in users], last_names=[u.last_name for u in users],
            language_codes=[u.language_code for u in users], premiums=[u.is_premium for u in users],
        )  # fmt: skip


class UserUpdate(Params):
    """One row of `update_many`: the user's id and the fields to change (None keeps a field)."""

    id: int
    username: str | None = Field(default=None, pattern=USERNAME)
    first_name: str | None = NAME
    last_name: str | None = NAME
    language_code: str | None = LANGUAGE
    is_premium: bool | None = None
    is_active: bool | None = None


class UpdateUsersParams(Params):
    ids: list[int]
    usernames: list[str | None]
    first_names: list[str | None]
    last_names: list[str | None]
    language_codes: list[str | None]
    premiums: list[bool | None]
    actives: list[bool | None]

    @model_validator(mode="after")
    def _unique(self) -> UpdateUsersParams:
        if len(set(self.ids)) != len(self.ids):
            raise ValueError("a user id appears twice in one update_many")
        return self


class UpdateUserPreferencesParams(Params):
    id: int
    patch: dict[str, JsonValue]


class UserAtParams(Params):
    id: int
    at: Moment


class UserStatisticsRow(Row):
    user_id: int
    messages: int
    conversations: int
    active_conversations: int
    first_message_at: datetime | None
    last_activity_at: datetime | None
    avg_sentiment: float | None
    total_tokens: int


_CREATE = q.one("chat_bot.create_user", User, CreateUserParams, retry=False)
_CREATE_MANY = q.many("chat_bot.create_users", User, CreateUsersParams, retry=False)
_UPDATE_MANY = q.value("chat_bot.update_users", int, UpdateUsersParams, retry=True)
_GET = q.one("chat_bot.get_user", User, (int,))
_GET_BY_TELEGRAM = q.one("chat_bot.get_user_by_telegram_id", User, (int,))
_FIND = q.many("chat_bot.find_users", User)
_PREFERENCES = q.one("chat_bot.update_user_preferences", User, UpdateUserPreferencesParams, retry=True)
_DELETE = q.value("chat_bot.delete_user", bool, UserAtParams, retry=True)
_RESTORE = q.one("chat_bot.restore_user", User, (int,), retry=True)
_STATISTICS = q.one("chat_bot.get_user_statistics", UserStatisticsRow, (int,))

USER_FILTERS = Filterable(
    _FIND,
    {
        "id": Col(int), "telegram_id": Col(int, nullable=True), "username": Col(str, nullable=True),
        "first_name": Col(str, nullable=True), "last_name": Col(str, nullable=True),
        "language_code": Col(str, nullable=True), "is_premium": Col(bool), "is_active": Col(bool),
        "message_count": Col(int), "last_activity_at": Col(datetime, nullable=True), "created_at": Col(datetime),
    },
)  # fmt: skip


class UserRepository(Repository):
    async def create(self, p: CreateUserParams) -> User:
        """A new user; Conflict (users_telegram_id_unique) when the Telegram user exists. Not retry-safe (a
        repeat raises Conflict): after `Unavailable`, look it up with `get_by_telegram_id`."""
        row = await self._x.one(_CREATE, p)
        assert row is not None  # INSERT … RETURNING
        return row

    async def create_many(self, users: Sequence[CreateUserParams]) -> list[User]:
        """Many users in one statement (all or none: Conflict when any exists). Not retry-safe."""
        return await self._x.many(_CREATE_MANY, CreateUsersParams.of(users)) if users else []

    async def update_many(self, updates: Sequence[UserUpdate]) -> int:
        """Update many live users in one statement (None keeps a field); returns the rows changed. Retry-safe."""
        if not updates:
            return 0
        p = params(
            UpdateUsersParams, ids=[u.id for u in updates], usernames=[u.username for u in updates],
            first_names=[u.first_name for u in updates], last_names=[u.last_name for u in updates],
            language_codes=[u.language_code for u in updates], premiums=[u.is_premium for u in updates],
            actives=[u.is_active for u in updates],
        )  # fmt: skip
        return await self._x.value(_UPDATE_MANY, p)

    async def get(self, user_id: int) -> User | None:
        return await self._x.one(_GET, user_id)

    async def get_by_telegram_id(self, telegram_id: int) -> User | None:
        return await self._x.one(_GET_BY_TELEGRAM, telegram_id)

    async def find(
        self, filters: Sequence[Filter] = (), sorts: Sequence[Sort] = (), page: Page | None = None
    ) -> PageResult[User]:
        """Live users matching every filter (whitelisted columns, bound values), sorted, one page."""
        return await USER_FILTERS.find(self._x, filters, sorts, page)

    async def update_preferences(self, user_id: int, patch: dict[str, JsonValue]) -> User:
        """Merge `patch` into the preferences key by key (a key set to None is removed). Retry-safe."""
        row = await self._x.one(_PREFERENCES, params(UpdateUserPreferencesParams, id=user_id, patch=patch))
        return found(row, f"no live user {user_id}")

    async def delete(self, user_id: int, at: datetime | None = None) -> bool:
        """Soft-delete: the user disappears from every normal read. Retry-safe."""
        return await self._x.value(_DELETE, params(UserAtParams, id=user_id, at=at or datetime.now(UTC)))

    async def restore(self, user_id: int) -> User:
        """Undo a soft delete. Retry-safe (a repeat finds the user live and returns it)."""
        row = await self._x.one(_RESTORE, user_id) or await self._x.one(_GET, user_id)
        return found(row, f"no user {user_id} to restore (erased users cannot be)")

    async def statistics(self, user_id: int) -> UserStatisticsRow:
        """The seed's get_user_statistics: messages, conversations, first and last activity, sentiment, tokens."""
        return found(await self._x.one(_STATISTICS, user_id), f"no live user {user_id}")


@dataclass(frozen=True)
class Registration:
    user: User
    session_id: int
    audit_id: int


async def register_user(
    tx: Any, p: CreateUserParams, *, actor: str = "system", idle_timeout_seconds: int = 1800
) -> Registration:
    """The seed's transaction example as one use case: create the user, start a session, audit it — all or
    nothing. Run it with `db.run_in_transaction(lambda tx: register_user(tx, p))`."""
    from datalayer.chat_bot.audit import AppendAuditParams, AuditRepository
    from datalayer.chat_bot.sessions import SessionRepository

    now = datetime.now(UTC)
    user = await UserRepository(tx).create(p)
    session = await SessionRepository(tx).start(user.id, idle_timeout_seconds, at=now)
    entry = await AuditRepository(tx).append(AppendAuditParams(
        request_id=uuid4(), actor=actor, action="user.create", entity_type="user", entity_id=str(user.id),
        before=None, after=user.model_dump(mode="json"), occurred_at=now,
    ))  # fmt: skip
    return Registration(user=user, session_id=session.id, audit_id=entry.id)

"""Aggregate `users` (queries/twitter_bot/users.sql): bot operators. Credentials are encrypted with a
`Cipher` before they leave the process."""

from __future__ import annotations

from datetime import datetime

from pydantic import JsonValue

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.secrets import Cipher


class User(Row):
    id: int
    username: str
    display_name: str | None
    settings: dict[str, JsonValue]
    is_active: bool
    has_credentials: bool
    last_active_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CreateUserParams(Params):
    username: str
    display_name: str | None
    settings: dict[str, JsonValue] | None


_CREATE_USER = q.one("twitter_bot.create_user", User, CreateUserParams, retry=False)
_GET_USER = q.one("twitter_bot.get_user", User, (int,))
_GET_USER_BY_USERNAME = q.one("twitter_bot.get_user_by_username", User, (str,))
_LIST_USERS = q.many("twitter_bot.list_users", User)
_UPDATE_USER_SETTINGS = q.one("twitter_bot.update_user_settings", User, (int, dict[str, JsonValue]), retry=True)
_TOUCH_USER = q.one("twitter_bot.touch_user_activity", User, (int,), retry=True)
_SET_CREDENTIALS = q.one("twitter_bot.set_user_credentials", User, (int, bytes | None), retry=True)
_GET_CREDENTIALS = q.value("twitter_bot.get_user_credentials", bytes, (int,))


class UserRepository(Repository):
    async def create(
        self, username: str, display_name: str | None = None, settings: dict[str, JsonValue] | None = None
    ) -> User:
        """A new operator; Conflict when the username is taken. Not retry-safe (a repeat raises Conflict)."""
        p = params(CreateUserParams, username=username, display_name=display_name, settings=settings)
        row = await self._x.one(_CREATE_USER, p)
        assert row is not None
        return row

    async def get(self, user_id: int) -> User | None:
        return await self._x.one(_GET_USER, user_id)

    async def get_by_username(self, username: str) -> User | None:
        return await self._x.one(_GET_USER_BY_USERNAME, username)

    async def list(self) -> list[User]:
        return await self._x.many(_LIST_USERS)

    async def update_settings(self, user_id: int, changes: dict[str, JsonValue]) -> User:
        """Merge `changes` into the settings; a key set to None is removed. Retry-safe (merging twice is
        the same as once)."""
        return found(await self._x.one(_UPDATE_USER_SETTINGS, user_id, changes), f"no user with id {user_id}")

    async def touch(self, user_id: int) -> User:
        """Record that the operator was active now. Retry-safe."""
        return found(await self._x.one(_TOUCH_USER, user_id), f"no user with id {user_id}")

    async def set_credentials(self, user_id: int, credentials: dict[str, str] | None, cipher: Cipher) -> User:
        """Encrypt and store API credentials (None removes them). Retry-safe."""
        token = None if credentials is None else cipher.encrypt_json(credentials)
        return found(await self._x.one(_SET_CREDENTIALS, user_id, token), f"no user with id {user_id}")

    async def credentials(self, user_id: int, cipher: Cipher) -> dict[str, str] | None:
        token = await self._x.value(_GET_CREDENTIALS, user_id)
        return None if token is None else cipher.decrypt_json(token)

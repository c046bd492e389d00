"""Aggregate `conversations` (queries/chat_bot/conversations.sql): a user's conversation threads."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import Field

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, found, params

Status = Literal["active", "paused", "closed", "archived"]


class Conversation(Row):
    id: int
    user_id: int
    session_id: int | None
    title: str | None
    status: str
    message_count: int
    total_tokens: int
    last_message_at: datetime | None
    created_at: datetime
    updated_at: datetime


class CreateConversationParams(Params):
    user_id: int
    session_id: int | None = None
    title: str | None = Field(default=None, min_length=1, max_length=200)


class ListUserConversationsParams(Params):
    user_id: int
    limit: int = Field(default=50, ge=1, le=1000)


class ListUserConversationsByStatusParams(Params):
    user_id: int
    status: Status
    limit: int = Field(default=50, ge=1, le=1000)


class SetConversationStatusParams(Params):
    id: int
    status: Status


_CREATE = q.one("chat_bot.create_conversation", Conversation, CreateConversationParams, retry=False)
_GET = q.one("chat_bot.get_conversation", Conversation, (int,))
# Two queries, not one with `(status IS NULL OR status = $2)`: that can never be an index condition, and the
# generic plan asyncpg settles on then read all of a user's conversations (a plan review at 60k conversations).
_LIST = q.many("chat_bot.list_user_conversations", Conversation, ListUserConversationsParams)
_LIST_BY_STATUS = q.many(
    "chat_bot.list_user_conversations_by_status", Conversation, ListUserConversationsByStatusParams
)
_STATUS = q.one("chat_bot.set_conversation_status", Conversation, SetConversationStatusParams, retry=True)


class ConversationRepository(Repository):
    async def create(self, user_id: int, *, session_id: int | None = None, title: str | None = None) -> Conversation:
        """Start a conversation of a live user. Not retry-safe (a repeat starts another)."""
        p = params(CreateConversationParams, user_id=user_id, session_id=session_id, title=title)
        return found(await self._x.one(_CREATE, p), f"no live user {user_id}")

    async def get(self, conversation_id: int) -> Conversation | None:
        return await self._x.one(_GET, conversation_id)

    async def get_user_conversations(
        self, user_id: int, status: Status | None = None, limit: int = 50
    ) -> list[Conversation]:
        """The seed's get_user_conversations: of one status (or all), most recent first."""
        if status is None:
            return await self._x.many(_LIST, params(ListUserConversationsParams, user_id=user_id, limit=limit))
        p = params(ListUserConversationsByStatusParams, user_id=user_id, status=status, limit=limit)
        return await self._x.many(_LIST_BY_STATUS, p)

    async def set_status(self, conversation_id: int, status: Status) -> Conversation:
        """Pause, close, archive or reopen. Retry-safe."""
        p = params(SetConversationStatusParams, id=conversation_id, status=status)
        return found(await self._x.one(_STATUS, p), f"no conversation {conversation_id}")

"""Aggregate `messages` (queries/chat_bot/messages.sql): messages with their ML analysis, and what is read
from them: per-conversation analytics, ranked search of a user's messages.

`add` stores a message and counts it in its conversation and user in the same statement (the conversation's
row lock orders concurrent adds: no count is lost); a client-generated `request_id` makes a repeat harmless."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Literal
from uuid import UUID, uuid4

from pydantic import Field, JsonValue

from datalayer import queries as q
from datalayer.repository import Params, Repository, Row, found, params
from datalayer.validation import Moment

Role = Literal["user", "assistant", "system"]


class Message(Row):
    id: int
    request_id: UUID
    conversation_id: int
    user_id: int
    role: str
    content: str
    token_count: int
    sentiment: float | None
    intent: str | None
    analysis: dict[str, JsonValue]
    created_at: datetime


class AddMessageParams(Params):
    """Build it once per message and pass the same object to every retry (its request_id is fixed then)."""

    request_id: UUID = Field(default_factory=uuid4)
    conversation_id: int
    role: Role
    content: str = Field(min_length=1, max_length=32_000)
    token_count: int = Field(default=0, ge=0, lt=2**31)
    sentiment: float | None = Field(default=None, ge=-1, le=1)
    intent: str | None = Field(default=None, pattern=r"^[a-z][a-z0-9_.]{0,63}$")
    analysis: dict[str, JsonValue] = Field(default_factory=dict)


class NewMessage(AddMessageParams):
    created_at: Moment = Field(default_factory=lambda: datetime.now(UTC))


class AddMessagesParams(Params):
    request_ids: list[UUID]
    conversation_ids: list[int]
    roles: list[str]
    contents: list[str]
    token_counts: list[int]
    sentiments: list[float | None]
    intents: list[str | None]
    created_ats: list[datetime]


class ListConversationMessagesParams(Params):
    conversation_id: int
    limit: int = Field(default=200, ge=1, le=10_000)


class SearchUserMessagesParams(Params):
    user_id: int
    query: str = Field(min_length=1, max_length=500)
    limit: int = Field(default=10, ge=1, le=100)


class MessageAnalyticsRow(Row):
    conversation_id: int
    messages: int
    user_messages: int
    assistant_messages: int
    system_messages: int
    avg_sentiment: float | None
    total_tokens: int
    first_message_at: datetime | None
    last_message_at: datetime | None


class SearchUserMessagesRow(Row):
    id: int
    conversation_id: int
    role: str
    created_at: datetime
    rank: float
    snippet: str


class ConversationAnalytics(Row):
    conversation_id: int
    user_messages: int
    assistant_messages: int
    avg_sentiment: float | None
    total_tokens: int
    top_intents: list[JsonValue]
    refreshed_at: datetime


_ADD = q.one("chat_bot.add_message", Message, AddMessageParams, retry=True)
_ADD_MANY = q.value("chat_bot.add_messages", int, AddMessagesParams, retry=True)
_LIST = q.many("chat_bot.list_conversation_messages", Message, ListConversationMessagesParams)
_ANALYTICS = q.one("chat_bot.get_message_analytics", MessageAnalyticsRow, (int,), replica=True)
# Planned for each query's words: a generic plan cannot tell a rare word from a common one (0.5 s vs 13 ms).
_SEARCH = q.many(
    "chat_bot.search_user_messages", SearchUserMessagesRow, SearchUserMessagesParams, replica=True, custom_plan=True
)
_REFRESH = q.one("chat_bot.refresh_conversation_analytics", ConversationAnalytics, (int,), retry=True)


class MessageRepository(Repository):
    async def add(self, p: AddMessageParams) -> Message:
        """Add a message, counted in its conversation and user in the same statement. Retry-safe: a repeat of
        the same `p` returns the stored message and counts nothing. NotFound for an unknown conversation."""
        row = await self._x.one(_ADD, p) or await self._x.one(_ADD, p)  # a concurrent add of the same request
        return found(row, f"no conversation {p.conversation_id}")

    async def add_many(self, messages: Sequence[NewMessage]) -> int:
        """Add many messages in one statement, counted as `add` does; returns how many were new. Retry-safe."""
        if not messages:
            return 0
        p = AddMessagesParams(
            request_ids=[m.request_id for m in messages], conversation_ids=[m.conversation_id for m in messages],
            roles=[m.role for m in messages], contents=[m.content for m in messages],
            token_counts=[m.token_count for m in messages], sentiments=[m.sentiment for m in messages],
            intents=[m.intent for m in messages], created_ats=[m.created_at for m in messages],
        )  # fmt: skip
        return await self._x.value(_ADD_MANY, p)

    async def list_for_conversation(self, conversation_id: int, limit: int = 200) -> list[Message]:
        return await self._x.many(
            _LIST, params(ListConversationMessagesParams, conversation_id=conversation_id, limit=limit)
        )

    async def get_message_analytics(self, conversation_id: int) -> MessageAnalyticsRow:
        """The seed's get_message_analytics: counts per role, mean sentiment, tokens, first and last message."""
        row = await self._x.one(_ANALYTICS, conversation_id)
        assert row is not None  # an aggregate: always one row
        return row

    async def search(self, user_id: int, query: str, limit: int = 10) -> list[SearchUserMessagesRow]:
        """Ranked full-text search of one user's messages (web-search syntax), with `<<highlighted>>` snippets.
        Only the user's newest 1,000 matches are ranked."""
        return await self._x.many(_SEARCH, params(SearchUserMessagesParams, user_id=user_id, query=query, limit=limit))

    async def refresh_analytics(self, conversation_id: int) -> ConversationAnalytics:
        """Recompute a conversation's stored insights from its messages. Retry-safe."""
        return found(await self._x.one(_REFRESH, conversation_id), f"no conversation {conversation_id}")

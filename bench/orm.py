"""SQLAlchemy 2 ORM mapping of the same tables, written the idiomatic way, for the comparison only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Boolean, DateTime, Double, Integer, Text, Uuid
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class TweetORM(Base):
    __tablename__ = "tweets"
    __table_args__ = {"schema": "twitter_bot"}  # noqa: RUF012

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    author_id: Mapped[int] = mapped_column(BigInteger)
    author_username: Mapped[str] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    character_count: Mapped[int] = mapped_column(Integer, server_default=None)
    language: Mapped[str | None] = mapped_column(Text)
    processed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    metadata_: Mapped[dict[str, Any]] = mapped_column("metadata", JSONB)
    fetched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ApiUsageORM(Base):
    __tablename__ = "api_usage"
    __table_args__ = {"schema": "twitter_bot"}  # noqa: RUF012

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    called_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), primary_key=True)
    call_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    service: Mapped[str] = mapped_column(Text)
    endpoint: Mapped[str] = mapped_column(Text)
    success: Mapped[bool] = mapped_column(Boolean)
    status_code: Mapped[int | None] = mapped_column(Integer)
    response_time_ms: Mapped[float | None] = mapped_column(Double)
    error_type: Mapped[str | None] = mapped_column(Text)
    error_message: Mapped[str | None] = mapped_column(Text)


class PatternORM(Base):
    __tablename__ = "successful_patterns"
    __table_args__ = {"schema": "reddit_bot"}  # noqa: RUF012

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    subreddit: Mapped[str] = mapped_column(Text)
    pattern_text: Mapped[str] = mapped_column(Text)
    score: Mapped[int] = mapped_column(Integer)
    extracted_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

"""Result and input models of schema `twitter_bot`; field names equal column names."""

from __future__ import annotations

from datetime import datetime

from pydantic import JsonValue

from datalayer.repository import Row


class SystemState(Row):
    key: str
    value: JsonValue
    updated_at: datetime

"""Aggregate `flags` (queries/chat_bot/flags.sql): feature flags.

`is_flag_enabled(flag, user, attributes)`: a disabled (or unknown) flag is off; otherwise every targeting rule
must hold on the user's attributes; then the user is in when its stable bucket — the first 32 bits of
SHA-256("flag:user") mod 100, the same function as `chat_bot.rollout_bucket` in SQL — is below the rollout
percentage. So a user never flips between calls, and raising the percentage only adds users.

Targeting rules, a JSON array of objects `{"attribute": name, "operator": op, "value": v}`, all of which must hold:
`eq`, `ne`; `in`, `not_in` (value: a list); `gt`, `ge`, `lt`, `le` (numbers with numbers, strings with
strings; anything else does not match); `contains` (a string attribute containing the value, or a list
attribute containing it); `exists` (value true: the attribute is present; false: absent). A rule on a missing
attribute does not hold (except `exists: false` and `ne`, `not_in`). Rules are validated when a flag is set.
"""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, ValidationError

from datalayer import queries as q
from datalayer.cache import Cached
from datalayer.errors import InvalidData
from datalayer.repository import Params, Repository, Row

Operator = Literal["eq", "ne", "in", "not_in", "gt", "ge", "lt", "le", "contains", "exists"]


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    attribute: str = Field(min_length=1, max_length=100)
    operator: Operator
    value: JsonValue  # required: a rule without a value would compare with null, which no caller means


class FeatureFlag(Row):
    key: str
    description: str | None
    is_enabled: bool
    rollout_percentage: int
    targeting_rules: list[JsonValue]
    created_at: datetime
    updated_at: datetime


class UpsertFeatureFlagParams(Params):
    key: str = Field(pattern=r"^[a-z][a-z0-9_.]{1,99}$")
    description: str | None = None
    is_enabled: bool = False
    rollout_percentage: int = Field(default=0, ge=0, le=100)
    targeting_rules: list[JsonValue] = Field(default_factory=list, max_length=50)


class FlagStatisticsRow(Row):
    key: str
    is_enabled: bool
    rollout_percentage: int
    rules: int
    users_in_rollout: int
    active_users: int


def flag_tag(key: object) -> str:
    return f"chat_bot.flags:{key}"


def _written(args: tuple[object, ...]) -> tuple[str, ...]:
    (p,) = args
    assert isinstance(p, UpsertFeatureFlagParams)
    return (flag_tag(p.key), "chat_bot.flags")


_GET = q.one("chat_bot.get_feature_flag", FeatureFlag, (str,), cache=Cached(ttl=30, tags=lambda a: (flag_tag(a[0]),)))
_LIST = q.many("chat_bot.list_feature_flags", FeatureFlag, cache=Cached(ttl=30, tags=("chat_bot.flags",)))
_UPSERT = q.one("chat_bot.upsert_feature_flag", FeatureFlag, UpsertFeatureFlagParams, retry=True, invalidates=_written)
# A read: it calls chat_bot.rollout_bucket (IMMUTABLE), which the bind-time read detector cannot vouch for.
_STATS = q.many("chat_bot.get_flag_statistics", FlagStatisticsRow, retry=True)


def rollout_bucket(flag_key: str, user_key: str) -> int:
    """0-99, stable per (flag, user): the same as chat_bot.rollout_bucket in SQL."""
    return int(hashlib.sha256(f"{flag_key}:{user_key}".encode()).hexdigest()[:8], 16) % 100


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _holds(rule: Rule, attributes: dict[str, Any]) -> bool:
    present = rule.attribute in attributes
    got = attributes.get(rule.attribute)
    op, want = rule.operator, rule.value
    if op == "exists":
        return present == bool(want)
    if op == "ne":
        return not present or got != want
    if op == "not_in":
        return not present or got not in (want if isinstance(want, list) else [])
    if not present:
        return False
    if op == "eq":
        return bool(got == want)
    if op == "in":
        return got in (want if isinstance(want, list) else [])
    if op == "contains":
        if isinstance(got, str) and isinstance(want, str):
            return want in got
        return isinstance(got, list) and want in got
    comparable = (_number(got) and _number(want)) or (isinstance(got, str) and isinstance(want, str))
    if not comparable:
        return False
    return {"gt": got > want, "ge": got >= want, "lt": got < want, "le": got <= want}[op]  # type: ignore[operator]


def parse_rules(raw: list[Any]) -> list[Rule]:
    rules = []
    for i, r in enumerate(raw):
        if not isinstance(r, dict):
            raise InvalidData(f"targeting rule {i}: must be an object like "
                              '{"attribute": "premium", "operator": "eq", "value": true}, not ' f"{r!r:.60}")  # fmt: skip
        try:
            rule = Rule.model_validate(r)
        except ValidationError as exc:
            problems = "; ".join(
                f"field {'.'.join(map(str, e['loc'])) or '?'!r}: {e['msg']}" for e in exc.errors(include_url=False)
            )
            raise InvalidData(f"targeting rule {i}: {problems}") from None
        if rule.operator in ("in", "not_in") and not isinstance(rule.value, list):
            raise InvalidData(f"targeting rule {i}: {rule.operator} needs a list value")
        if rule.operator == "exists" and not isinstance(rule.value, bool):
            raise InvalidData(f"targeting rule {i}: exists needs true or false")
        rules.append(rule)
    return rules


class FeatureFlagRepository(Repository):
    async def get(self, key: str) -> FeatureFlag | None:
        """One flag (cached 30 s; every change invalidates it)."""
        return await self._x.one(_GET, key)

    async def all(self) -> list[FeatureFlag]:
        return await self._x.many(_LIST)

    async def set(self, p: UpsertFeatureFlagParams) -> FeatureFlag:
        """Create or change a flag (its rules are validated first). Retry-safe."""
        parse_rules(list(p.targeting_rules))
        row = await self._x.one(_UPSERT, p)
        assert row is not None
        return row

    async def is_flag_enabled(
        self, flag_key: str, user_id: str | int, user_attributes: dict[str, Any] | None = None
    ) -> bool:
        """The seed's call; see the module docstring for the rules. Off for an unknown flag."""
        flag = await self.get(flag_key)
        if flag is None or not flag.is_enabled:
            return False
        attributes = user_attributes or {}
        if not all(_holds(r, attributes) for r in parse_rules(list(flag.targeting_rules))):
            return False
        return rollout_bucket(flag.key, str(user_id)) < flag.rollout_percentage

    async def get_flag_statistics(self) -> list[FlagStatisticsRow]:
        """The seed's call: per flag, enabled, rollout, rules, and how many active users its percentage admits.
        Retry-safe (a read)."""
        return await self._x.many(_STATS)

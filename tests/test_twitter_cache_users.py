from __future__ import annotations

import asyncpg
import pytest

from datalayer import Cipher, Conflict, Database, InvalidData
from datalayer.twitter_bot import PutCachedTranslationParams, TranslationCacheRepository, UserRepository


async def test_cache_hit_miss_and_stats(db: Database) -> None:
    cache = TranslationCacheRepository(db)
    assert await cache.get("en", "es", "Hello") is None  # a miss
    stored = await cache.put(
        PutCachedTranslationParams(
            source_language="en", target_language="es", original_text="Hello", translated_text="Hola", confidence=0.9
        )
    )
    assert stored.hit_count == 0 and len(stored.cache_key) == 64
    first = await cache.get("en", "es", "Hello")
    second = await cache.get("en", "es", "Hello")
    assert first is not None and second is not None
    assert (first.hit_count, second.hit_count) == (1, 2) and second.last_accessed_at is not None
    assert await cache.get("en", "fr", "Hello") is None  # other language pair, other key
    stats = await cache.stats()
    assert (stats.live_entries, stats.hits, stats.misses) == (1, 2, 2)
    assert stats.hit_rate == pytest.approx(0.5)
    refreshed = await cache.put(
        PutCachedTranslationParams(
            source_language="en", target_language="es", original_text="Hello", translated_text="¡Hola!"
        )
    )
    assert refreshed.hit_count == 2 and refreshed.translated_text == "¡Hola!"


async def test_expired_entries_are_not_served_and_are_purged(db: Database, conn: asyncpg.Connection) -> None:
    cache = TranslationCacheRepository(db)
    await cache.put(
        PutCachedTranslationParams(
            source_language="en", target_language="es", original_text="Bye", translated_text="Adiós", ttl_seconds=60
        )
    )
    await conn.execute("UPDATE twitter_bot.translation_cache SET created_at = now() - interval '2 hours', "
                       "expires_at = now() - interval '1 hour'")  # fmt: skip
    assert await cache.get("en", "es", "Bye") is None
    assert (await cache.stats()).expired_entries == 1
    assert await cache.purge_expired() == 1
    assert (await cache.stats()).expired_entries == 0


async def test_users_settings_and_activity(db: Database) -> None:
    users = UserRepository(db)
    alice = await users.create("alice", "Alice", {"lang": "es", "notify": True})
    assert alice.settings == {"lang": "es", "notify": True} and not alice.has_credentials
    assert (await users.get_by_username("alice")) == alice == (await users.get(alice.id))
    changed = await users.update_settings(alice.id, {"lang": "fr", "notify": None, "tz": "UTC"})
    assert changed.settings == {"lang": "fr", "tz": "UTC"}
    assert (await users.touch(alice.id)).last_active_at is not None
    with pytest.raises(Conflict, match="users_username_unique"):
        async with db.transaction() as tx:
            await UserRepository(tx).create("alice")
    with pytest.raises(InvalidData, match="users_username_valid"):
        async with db.transaction() as tx:
            await UserRepository(tx).create("no spaces allowed")
    assert [u.username for u in await users.list()] == ["alice"]


async def test_credentials_are_encrypted_and_need_the_key(db: Database, conn: asyncpg.Connection) -> None:
    users = UserRepository(db)
    key = Cipher(Cipher.generate_key())
    bob = await users.create("bob")
    secret = {"api_key": "AKIA-very-secret", "api_secret": "s3cr3t-value"}
    assert (await users.set_credentials(bob.id, secret, key)).has_credentials
    raw = await conn.fetchval("SELECT api_credentials FROM twitter_bot.users WHERE id = $1", bob.id)
    assert b"very-secret" not in raw and b"s3cr3t" not in raw
    assert await users.credentials(bob.id, key) == secret
    with pytest.raises(InvalidData, match="cannot be decrypted"):
        await users.credentials(bob.id, Cipher(Cipher.generate_key()))
    assert not (await users.set_credentials(bob.id, None, key)).has_credentials
    assert await users.credentials(bob.id, key) is None


def test_bad_or_missing_key_is_a_clear_error() -> None:
    from datalayer.config import Settings

    with pytest.raises(InvalidData, match="DATALAYER_SECRET_KEY is not a valid key"):
        Cipher("short")
    with pytest.raises(InvalidData, match="DATALAYER_SECRET_KEY is not set"):
        Cipher.from_settings(Settings(_env_file=None, secret_key=None))  # type: ignore[call-arg]

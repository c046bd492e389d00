from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from datalayer import Conflict, Database, InvalidData, NotFound, ReferenceMissing
from datalayer.twitter_bot import TranslationRepository
from tests.twitter_helpers import make_tweet


async def test_create_and_conflict(db: Database) -> None:
    await make_tweet(db, 1)
    repo = TranslationRepository(db)
    t = await repo.create(1, "es")
    assert (t.status, t.retry_count, t.translated_text) == ("pending", 0, None)
    assert await repo.get(t.id) == t
    with pytest.raises(Conflict, match="translations_one_per_language"):
        async with db.transaction() as tx:
            await TranslationRepository(tx).create(1, "es")
    with pytest.raises(ReferenceMissing, match="translations_tweet_fk"):
        async with db.transaction() as tx:
            await TranslationRepository(tx).create(404, "es")
    with pytest.raises(InvalidData, match="translations_target_language_code"):
        async with db.transaction() as tx:
            await TranslationRepository(tx).create(1, "Spanish")
    assert await repo.get(t.id) == t  # nothing already stored was lost


async def test_life_cycle_and_audit_trail(db: Database) -> None:
    await make_tweet(db, 1)
    repo = TranslationRepository(db)
    t = await repo.create(1, "fr")
    assert [c.id for c in await repo.claim_pending("w1")] == [t.id]
    failed = await repo.mark_failed(t.id, "w1", "DeepL timeout")
    assert (failed.status, failed.retry_count, failed.last_error) == ("failed", 1, "DeepL timeout")
    assert [r.id for r in await repo.retry_failed()] == [t.id]
    await repo.claim_pending("w1")
    draft = await repo.save_draft(t.id, "w1", "Bonjour le monde", 0.8)
    assert (draft.status, draft.translated_text, draft.confidence) == ("draft", "Bonjour le monde", 0.8)
    approved = await repo.approve_draft(t.id)
    assert approved.status == "pending" and approved.translated_text == "Bonjour le monde"
    with pytest.raises(NotFound, match="not a draft"):
        await repo.approve_draft(t.id)
    await repo.claim_pending("w2")
    posted = await repo.mark_posted(t.id, "w2", "Bonjour tout le monde", 555, 0.95)
    assert (posted.status, posted.posted_tweet_id, posted.last_error) == ("posted", 555, None)
    history = await repo.history(1)
    assert [a.status for a in history] == ["failed", "draft", "approved", "posted"]
    assert history[0].error == "DeepL timeout" and history[0].translated_text is None
    assert history[-1].translated_text == "Bonjour tout le monde"

    rolled = await repo.rollback_to_attempt(history[1].id)
    assert (rolled.status, rolled.translated_text, rolled.confidence) == ("draft", "Bonjour le monde", 0.8)
    assert rolled.posted_tweet_id is None
    after = await repo.history(1)
    assert after[-1].status == "rolled_back" and after[-1].error == f"rolled back to attempt {history[1].id}"
    assert len(after) == 5  # the audit trail only grows
    with pytest.raises(NotFound, match="produced no text"):
        await repo.rollback_to_attempt(history[0].id)  # the failed attempt has no text
    for missing in (repo.mark_failed(999_999, "w", "x"), repo.save_draft(999_999, "w", "x"),
                    repo.mark_posted(999_999, "w", "x", 1)):  # fmt: skip
        with pytest.raises(NotFound, match="no translation with id 999999"):
            await missing


async def test_confidence_out_of_range_names_the_constraint(db: Database) -> None:
    await make_tweet(db, 1)
    repo = TranslationRepository(db)
    t = await repo.create(1, "de")
    await repo.claim_pending("w")
    with pytest.raises(InvalidData, match="translations_confidence_range"):
        async with db.transaction() as tx:
            await TranslationRepository(tx).save_draft(t.id, "w", "Hallo", 1.5)
    assert (await repo.get(t.id)).status == "pending"  # type: ignore[union-attr]


async def test_drafts_stats_and_counts(db: Database) -> None:
    await make_tweet(db, 1, "Original words")
    repo = TranslationRepository(db)
    es, fr, de = [await repo.create(1, lang) for lang in ("es", "fr", "de")]
    await repo.claim_pending("w")
    await repo.save_draft(es.id, "w", "Palabras", 0.5)
    await repo.save_draft(fr.id, "w", "Mots", 0.7)
    await repo.mark_failed(de.id, "w", "boom")
    drafts = await repo.list_drafts(10)
    assert [(d.target_language, d.original_text, d.author_username) for d in drafts] == [
        ("es", "Original words", "watched"),
        ("fr", "Original words", "watched"),
    ]
    stats = {(s.target_language, s.status): s for s in await repo.stats()}
    assert stats[("es", "draft")].translations == 1 and stats[("es", "draft")].avg_confidence == 0.5
    assert stats[("de", "failed")].avg_confidence is None
    assert await repo.count_by_status() == {"draft": 2, "failed": 1, "pending": 0, "posted": 0}


async def test_retry_failed_respects_max_retries(db: Database) -> None:
    await make_tweet(db, 1)
    repo = TranslationRepository(db)
    once = await repo.create(1, "es")
    thrice = await repo.create(1, "fr")
    await repo.claim_pending("w")
    await repo.mark_failed(once.id, "w", "e1")
    for i in range(3):
        await repo.mark_failed(thrice.id, "w", f"e{i}")
        await db.executor.connection.execute(  # type: ignore[union-attr]
            "UPDATE twitter_bot.translations SET status = 'pending', claimed_until = now() + interval '1 minute'"
            " WHERE id = $1", thrice.id)  # fmt: skip
    await db.executor.connection.execute(  # type: ignore[union-attr]
        "UPDATE twitter_bot.translations SET status = 'failed', claimed_until = NULL WHERE id = $1", thrice.id
    )
    retried = await repo.retry_failed(max_retries=3)
    assert [t.id for t in retried] == [once.id] and retried[0].status == "pending"
    assert (await repo.get(thrice.id)).status == "failed"  # type: ignore[union-attr]


async def test_claim_within_one_transaction(db: Database) -> None:
    await make_tweet(db, 1)
    repo = TranslationRepository(db)
    for lang in ("es", "fr", "de"):
        await repo.create(1, lang)
    first = await repo.claim_pending("w1", limit=2)
    assert [t.target_language for t in first] == ["es", "fr"] and all(t.claimed_by == "w1" for t in first)
    second = await repo.claim_pending("w2", limit=5)
    assert [t.target_language for t in second] == ["de"]  # leased rows are not handed out again
    assert await repo.claim_pending("w3") == []


@pytest.fixture
async def committed_translations(pool: asyncpg.Pool) -> AsyncIterator[list[int]]:
    """Rows that other connections can see: committed, and removed after the test."""
    async with pool.acquire() as conn:
        db = Database.on_connection(conn)
        await make_tweet(db, 777_001)
        ids = [
            (await TranslationRepository(db).create(777_001, lang)).id for lang in ("es", "fr", "de", "it", "pt", "nl")
        ]
    yield ids
    async with pool.acquire() as conn:
        await conn.execute("DELETE FROM twitter_bot.tweets WHERE id = 777001")


async def test_two_workers_never_claim_the_same_translation(
    pool: asyncpg.Pool, committed_translations: list[int]
) -> None:
    both_claimed = asyncio.Event()
    claimed: dict[str, list[int]] = {}

    async def worker(name: str) -> None:
        async with pool.acquire() as conn:
            db = Database.on_connection(conn)
            async with db.transaction() as tx:
                rows = await TranslationRepository(tx).claim_pending(name, limit=4)
                claimed[name] = [r.id for r in rows]
                if len(claimed) == 2:
                    both_claimed.set()
                await asyncio.wait_for(both_claimed.wait(), 10)  # hold the row locks until both have claimed

    await asyncio.gather(worker("a"), worker("b"))
    assert set(claimed["a"]).isdisjoint(claimed["b"])
    assert sorted(claimed["a"] + claimed["b"]) == sorted(committed_translations)

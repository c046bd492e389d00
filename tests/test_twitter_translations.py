from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import pytest

from datalayer import Conflict, Database, InvalidData, NotFound, ReferenceMissing, StateConflict
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
    (claim,) = await repo.claim_pending("w1")
    assert claim.id == t.id and claim.claim_id is not None
    failed = await repo.mark_failed(t.id, "w1", "DeepL timeout", claim_id=claim.claim_id)
    assert (failed.status, failed.retry_count, failed.last_error) == ("failed", 1, "DeepL timeout")
    assert [r.id for r in await repo.retry_failed()] == [t.id]
    (claim,) = await repo.claim_pending("w1")
    draft = await repo.save_draft(t.id, "w1", "Bonjour le monde", 0.8, claim_id=claim.claim_id)
    assert (draft.status, draft.translated_text, draft.confidence) == ("draft", "Bonjour le monde", 0.8)
    approved = await repo.approve_draft(t.id)
    assert approved.status == "pending" and approved.translated_text == "Bonjour le monde"
    with pytest.raises(NotFound, match="not a draft"):
        await repo.approve_draft(t.id)
    (claim,) = await repo.claim_pending("w2")
    posted = await repo.mark_posted(t.id, "w2", "Bonjour tout le monde", 555, 0.95, claim_id=claim.claim_id)
    assert (posted.status, posted.posted_tweet_id, posted.last_error) == ("posted", 555, None)
    history = await repo.history(1)
    assert [a.status for a in history] == ["failed", "draft", "approved", "posted"]
    assert history[0].error == "DeepL timeout" and history[0].translated_text is None
    assert history[-1].translated_text == "Bonjour tout le monde"
    assert [a.claim_id is not None for a in history] == [True, True, False, True]  # finishes carry their lease

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
    assert await repo.count_by_status() == {"abandoned": 0, "draft": 2, "failed": 1, "pending": 0, "posted": 0}


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
    # exhausted: abandoned for good, so no later retry_failed reads it again
    assert (await repo.get(thrice.id)).status == "abandoned"  # type: ignore[union-attr]
    assert await repo.retry_failed(max_retries=3) == []
    assert (await repo.count_by_status())["abandoned"] == 1


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


async def expire_claims(db: Database) -> None:
    await db.executor.connection.execute(  # type: ignore[union-attr]
        "UPDATE twitter_bot.translations SET claimed_until = now() - interval '1 second' WHERE claimed_until IS NOT NULL"
    )


async def test_only_the_worker_with_an_unexpired_claim_finishes_and_a_repeat_is_harmless(db: Database) -> None:
    """The compatible form, without claim_id: the worker's current claim is the guard."""
    await make_tweet(db, 1)
    repo = TranslationRepository(db)
    t = await repo.create(1, "es")
    with pytest.raises(StateConflict, match="holds no claim"):
        await repo.mark_posted(t.id, "w1", "Hola", 100)  # nobody claimed it
    await repo.claim_pending("w1")
    with pytest.raises(StateConflict, match="worker w2 holds no claim on it \\(claimed by w1\\)"):
        await repo.mark_posted(t.id, "w2", "Hola", 200)
    await expire_claims(db)
    with pytest.raises(StateConflict, match="claim of worker w1 expired"):
        await repo.mark_posted(t.id, "w1", "Hola", 100)
    assert [c.id for c in await repo.claim_pending("w2")] == [t.id]  # an expired lease is free again
    posted = await repo.mark_posted(t.id, "w2", "Hola", 200)
    assert (posted.status, posted.posted_tweet_id, posted.claimed_by) == ("posted", 200, "w2")
    assert await repo.mark_posted(t.id, "w2", "Hola", 200) == posted  # a repeat returns the row as it is
    with pytest.raises(StateConflict, match="already posted"):
        await repo.mark_posted(t.id, "w1", "Hola", 100)  # the late worker cannot overwrite posted_tweet_id
    assert (await repo.get(t.id)).posted_tweet_id == 200  # type: ignore[union-attr]
    assert [a.status for a in await repo.history(1)] == ["posted"]  # one audit entry, not three


async def test_failure_and_draft_repeats_count_once(db: Database) -> None:
    await make_tweet(db, 1)
    repo = TranslationRepository(db)
    a, b = await repo.create(1, "es"), await repo.create(1, "fr")
    await repo.claim_pending("w")
    failed = await repo.mark_failed(a.id, "w", "timeout")
    assert await repo.mark_failed(a.id, "w", "timeout") == failed and failed.retry_count == 1
    with pytest.raises(StateConflict, match="already failed"):
        await repo.mark_failed(a.id, "w", "another error")
    draft = await repo.save_draft(b.id, "w", "Bonjour", 0.5)
    assert await repo.save_draft(b.id, "w", "Bonjour", 0.5) == draft
    assert sorted(x.status for x in await repo.history(1)) == ["draft", "failed"]


async def test_ensure_and_claim_are_idempotent(db: Database) -> None:
    await make_tweet(db, 1)
    repo = TranslationRepository(db)
    first = await repo.ensure(1, "de")
    assert await repo.ensure(1, "de") == first
    for lang in ("es", "fr"):
        await repo.ensure(1, lang)
    held = await repo.claim_pending("w1", limit=2)
    again = await repo.claim_pending("w1", limit=2)  # what a retry after a lost reply does
    assert [t.id for t in again] == [t.id for t in held]  # the same rows back, lease renewed
    assert [t.claim_id for t in again] == [t.claim_id for t in held]  # the same lease: its token is kept
    assert len({t.claim_id for t in held}) == 2 and None not in {t.claim_id for t in held}
    assert [t.target_language for t in await repo.claim_pending("w2", limit=5)] == ["fr"]


async def test_a_finish_recognises_its_own_repeat_by_its_claim_id(db: Database) -> None:
    """The claim token: a repeat of a finish that took effect is told from a stale finish that never did, however
    the row moved on in between (put back, claimed by another worker, finished again)."""
    await make_tweet(db, 1)
    repo = TranslationRepository(db)
    t = await repo.create(1, "es")
    (c1,) = await repo.claim_pending("w1")
    failed = await repo.mark_failed(t.id, "w1", "timeout", claim_id=c1.claim_id)
    assert (failed.retry_count, failed.claim_id) == (1, c1.claim_id)
    assert [r.id for r in await repo.retry_failed()] == [t.id]
    (c2,) = await repo.claim_pending("w2")
    assert c2.claim_id not in (None, c1.claim_id)
    # w1 repeats its failure (its first reply lost, say): its attempt is on record, so it is done, counted once
    again = await repo.mark_failed(t.id, "w1", "timeout", claim_id=c1.claim_id)
    assert (again.status, again.retry_count, again.claimed_by, again.claim_id) == ("pending", 1, "w2", c2.claim_id)
    # not a repeat: another error under the old claim, or a draft the old claim never saved
    with pytest.raises(StateConflict, match="worker w1 holds no claim on it \\(claimed by w2\\)"):
        await repo.mark_failed(t.id, "w1", "another error", claim_id=c1.claim_id)
    with pytest.raises(StateConflict, match="holds no claim"):
        await repo.save_draft(t.id, "w1", "Hola", 0.5, claim_id=c1.claim_id)
    # the same worker under a new lease: its old token finishes nothing
    await expire_claims(db)
    (c3,) = await repo.claim_pending("w2")
    assert c3.claim_id not in (c1.claim_id, c2.claim_id)  # an expired lease taken again is a new lease
    with pytest.raises(StateConflict, match=f"claim {c2.claim_id} of worker w2 is not its lease any more"):
        await repo.mark_posted(t.id, "w2", "Hola", 300, claim_id=c2.claim_id)
    posted = await repo.mark_posted(t.id, "w2", "Hola", 300, claim_id=c3.claim_id)
    assert await repo.mark_posted(t.id, "w2", "Hola", 300, claim_id=c3.claim_id) == posted
    assert [(a.status, a.claim_id) for a in await repo.history(1)] == [("failed", c1.claim_id), ("posted", c3.claim_id)]
    # a repeat after the row moved on further still finds its attempt (the post rolled back, its draft approved)
    await repo.rollback_to_attempt((await repo.history(1))[1].id)
    assert (await repo.mark_failed(t.id, "w1", "timeout", claim_id=c1.claim_id)).status == "draft"

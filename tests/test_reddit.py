"""Reddit bot (schema reddit_bot): posts, the comment queue, successful patterns, soft deletes, search."""

from __future__ import annotations

import inspect
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from datalayer import Database, InvalidData, NotFound, StateConflict
from datalayer.reddit_bot import (
    CommentRepository,
    CreateCommentParams,
    NewPattern,
    PatternRepository,
    PostRepository,
    UpsertPostParams,
)

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def post(n: int, sub: str = "learnpython", **extra: object) -> UpsertPostParams:
    values: dict[str, object] = {"id": f"t3_p{n}", "subreddit": sub, "title": f"Question {n} about type hints",
                                 "content": "How do generics work?", "author": "asker_1", "score": n,
                                 "created_at": NOW - timedelta(hours=n)}  # fmt: skip
    return UpsertPostParams(**{**values, **extra})  # type: ignore[arg-type]


async def test_posts_upsert_soft_delete_restore_purge(db: Database) -> None:
    posts, comments = PostRepository(db), CommentRepository(db)
    p = await posts.upsert(post(1))
    assert (p.subreddit, p.processed_at, p.deleted_at) == ("learnpython", None, None)
    again = await posts.upsert(post(1, score=99, title="Edited title"))
    assert (again.score, again.title, again.updated_at >= p.updated_at) == (99, "Edited title", True)
    await posts.upsert(post(2))
    assert [x.id for x in await posts.list_recent("learnpython")] == ["t3_p1", "t3_p2"]
    assert [x.id for x in await posts.list_unprocessed()] == ["t3_p2", "t3_p1"]
    done = await posts.mark_processed("t3_p2", NOW)
    assert (
        done.processed_at == NOW and (await posts.mark_processed("t3_p2", NOW + timedelta(hours=1))).processed_at == NOW
    )
    c = await comments.create(CreateCommentParams(post_id="t3_p1", content="Use TypeVar."))
    assert await posts.delete("t3_p1", NOW) is True and await posts.delete("t3_p1", NOW) is False
    assert await posts.get("t3_p1") is None and await comments.get(c.id) is None  # the comment went with it
    restored = await posts.restore("t3_p1")
    assert restored.deleted_at is None and (await comments.get(c.id)) is not None
    assert (await posts.restore("t3_p1")).id == "t3_p1"  # a repeat finds it live
    with pytest.raises(NotFound):
        await posts.restore("t3_nope")
    await posts.delete("t3_p1", NOW - timedelta(days=40))
    assert await posts.purge_deleted(NOW - timedelta(days=30)) == 1
    assert await posts.restore("t3_p2") is not None  # live: returned as it is
    with pytest.raises(NotFound):
        await posts.restore("t3_p1")  # purged for good


@pytest.mark.parametrize(
    ("bad", "rule"),
    [({"subreddit": "ab"}, "subreddit"), ({"subreddit": "has space"}, "subreddit"), ({"subreddit": "x" * 22}, "subreddit"),
     ({"id": "p1"}, "id"), ({"title": " "}, "title"), ({"score": "5"}, "score")],
)  # fmt: skip
async def test_bad_posts_are_invalid_data_naming_the_field(db: Database, bad: dict[str, object], rule: str) -> None:
    with pytest.raises(InvalidData, match=f"UpsertPostParams: {rule}"):
        await PostRepository(db).upsert(post(1, **bad))


async def test_the_check_constraints_hold_against_sql(conn: asyncpg.Connection, db: Database) -> None:
    await PostRepository(db).upsert(post(1))
    c = await CommentRepository(db).create(CreateCommentParams(post_id="t3_p1", content="hello there"))
    for sql, rule in [
        ("UPDATE reddit_bot.comments SET karma_score = -1 WHERE id = $1", "comments_karma_not_negative"),
        ("UPDATE reddit_bot.comments SET status = 'lost' WHERE id = $1", "comments_status_valid"),
        ("UPDATE reddit_bot.comments SET content = '  ' WHERE id = $1", "comments_content_not_empty"),
        ("UPDATE reddit_bot.comments SET status = 'posted' WHERE id = $1", "comments_posted_has_reddit_id"),
    ]:
        with pytest.raises(asyncpg.CheckViolationError, match=rule):
            async with conn.transaction():
                await conn.execute(sql, c.id)
    for sql, rule in [
        ("INSERT INTO reddit_bot.successful_patterns (subreddit, pattern_text, extracted_at) VALUES ('python', 'too short', now())", "successful_patterns_text_length"),
        ("INSERT INTO reddit_bot.successful_patterns (subreddit, pattern_text, score, extracted_at) VALUES ('python', 'long enough text', -1, now())", "successful_patterns_score_not_negative"),
        ("INSERT INTO reddit_bot.posts (id, subreddit, title, author, created_at) VALUES ('t3_x', 'a-b', 't', 'someone', now())", "posts_subreddit_valid"),
    ]:  # fmt: skip
        with pytest.raises(asyncpg.CheckViolationError, match=rule):
            async with conn.transaction():
                await conn.execute(sql)


async def test_database_rules_reach_the_caller_as_invalid_data_naming_the_rule(db: Database) -> None:
    """Bypass the Params model (model_construct) to show the database's own rule and its error class."""
    bad = UpsertPostParams.model_construct(**{**post(1).model_dump(), "subreddit": "no"})
    with pytest.raises(InvalidData, match="posts_subreddit_valid"):
        async with db.transaction() as tx:
            await PostRepository(tx).upsert(bad)


async def test_comment_queue_claims_leases_and_guarded_finishes(db: Database) -> None:
    await PostRepository(db).upsert(post(1))
    comments = CommentRepository(db)
    create = CreateCommentParams(post_id="t3_p1", content="Start with a small example.")
    c1 = await comments.create(create)
    assert await comments.create(create) == c1  # the same request_id: created once
    c2 = await comments.create(CreateCommentParams(post_id="t3_p1", content="Read the typing docs."))
    with pytest.raises(NotFound, match="no live post t3_gone"):
        await comments.create(CreateCommentParams(post_id="t3_gone", content="x"))
    assert (await comments.review(c2.id, "approved")).status == "approved"
    assert (await comments.review(c2.id, "approved")).status == "approved"  # a repeat
    with pytest.raises(StateConflict, match="it is approved"):
        await comments.review(c2.id, "rejected")

    claimed = await comments.claim_pending("w1", limit=10)
    assert [c.id for c in claimed] == [c1.id, c2.id]
    assert await comments.claim_pending("w2") == []  # leased to w1
    again = await comments.claim_pending("w1")
    assert [(c.id, c.claim_id) for c in again] == [(c.id, c.claim_id) for c in claimed]  # a repeat: the same leases
    lease = {c.id: c.claim_id for c in claimed}
    posted = await comments.mark_posted(c1.id, "w1", "t1_abc", claim_id=lease[c1.id])
    assert (posted.status, posted.reddit_id, posted.posted_at is not None) == ("posted", "t1_abc", True)
    assert await comments.mark_posted(c1.id, "w1", "t1_abc", claim_id=lease[c1.id]) == posted  # a repeat
    with pytest.raises(StateConflict, match="already posted"):
        await comments.mark_posted(c1.id, "w2", "t1_other")
    with pytest.raises(StateConflict, match="holds no claim"):
        await comments.mark_failed(c2.id, "w2", "boom")
    for attempt in range(1, 4):
        failed = await comments.mark_failed(c2.id, "w1", f"rate limited {attempt}", 3, claim_id=lease[c2.id])
        assert failed.attempts == attempt
        assert await comments.mark_failed(c2.id, "w1", f"rate limited {attempt}", 3, claim_id=lease[c2.id]) == failed
        if attempt < 3:
            assert failed.status == "approved"  # back in the queue
            (next_lease,) = await comments.claim_pending("w1")
            assert next_lease.claim_id != lease[c2.id]  # a new lease, a new token
            lease[c2.id] = next_lease.claim_id
    assert failed.status == "failed"  # terminal after max attempts: never claimed again
    assert await comments.claim_pending("w1") == []
    karma = await comments.update_karma("t1_abc", -5)
    assert karma.karma_score == 0  # negative karma is stored as 0
    assert (await comments.update_karma("t1_abc", 42)).karma_score == 42
    c3 = await comments.create(CreateCommentParams(post_id="t3_p1", content="Locked thread, skip."))
    (c3_lease,) = await comments.claim_pending("w3")
    skipped = await comments.mark_skipped(c3.id, "w3", "thread locked", claim_id=c3_lease.claim_id)
    assert (skipped.status, skipped.last_error) == ("skipped", "thread locked")
    assert await comments.mark_skipped(c3.id, "w3", "thread locked", claim_id=c3_lease.claim_id) == skipped
    assert await comments.mark_skipped(c3.id, "w3", "thread locked") == skipped  # the compatible form, no claim_id
    counts = await comments.count_by_status()
    assert counts == {"approved": 0, "failed": 1, "pending": 0, "posted": 1, "rejected": 0, "skipped": 1}
    assert [c.id for c in await comments.list_for_post("t3_p1")] == [c1.id, c2.id, c3.id]
    assert await comments.delete(c3.id) and (await comments.restore(c3.id)).id == c3.id
    await comments.delete(c3.id, NOW - timedelta(days=10))
    assert await comments.purge_deleted(NOW - timedelta(days=5)) == 1


async def test_an_expired_claim_cannot_finish(conn: asyncpg.Connection, db: Database) -> None:
    await PostRepository(db).upsert(post(1))
    comments = CommentRepository(db)
    c = await comments.create(CreateCommentParams(post_id="t3_p1", content="hello world"))
    (first,) = await comments.claim_pending("w1")
    await conn.execute("UPDATE reddit_bot.comments SET claimed_until = now() - interval '1 second' WHERE id = $1", c.id)
    with pytest.raises(StateConflict, match="claim of worker w1 expired"):
        await comments.mark_posted(c.id, "w1", "t1_late", claim_id=first.claim_id)
    (second,) = await comments.claim_pending("w1")  # the same worker leases it again: a new lease
    assert second.claim_id not in (None, first.claim_id)
    with pytest.raises(StateConflict, match=f"claim {first.claim_id} of worker w1 is not its lease any more"):
        await comments.mark_posted(c.id, "w1", "t1_late", claim_id=first.claim_id)
    await conn.execute("UPDATE reddit_bot.comments SET claimed_until = now() - interval '1 second' WHERE id = $1", c.id)
    (third,) = await comments.claim_pending("w2")  # another worker takes it over
    assert third.id == c.id
    assert (await comments.mark_posted(c.id, "w2", "t1_ok", claim_id=third.claim_id)).claimed_by == "w2"


async def test_a_comment_finish_recognises_its_own_repeat_by_its_claim_id(db: Database) -> None:
    """A failed attempt puts the comment straight back in the queue; another worker claims and posts it. The first
    worker's repeat of its failure finds its finish logged under its claim: done, counted once. A finish under
    that claim which never ran (another error, a skip) is refused."""
    await PostRepository(db).upsert(post(1))
    comments = CommentRepository(db)
    c = await comments.create(CreateCommentParams(post_id="t3_p1", content="hello again"))
    (a,) = await comments.claim_pending("wa")
    await comments.mark_failed(c.id, "wa", "rate limited", claim_id=a.claim_id)
    (b,) = await comments.claim_pending("wb")
    assert b.claim_id not in (None, a.claim_id)
    repeat = await comments.mark_failed(c.id, "wa", "rate limited", claim_id=a.claim_id)
    assert (repeat.attempts, repeat.claimed_by, repeat.claim_id) == (1, "wb", b.claim_id)
    with pytest.raises(StateConflict, match="worker wa holds no claim on it \\(claimed by wb\\)"):
        await comments.mark_failed(c.id, "wa", "another error", claim_id=a.claim_id)
    with pytest.raises(StateConflict, match="holds no claim"):
        await comments.mark_skipped(c.id, "wa", "rate limited", claim_id=a.claim_id)
    await comments.mark_posted(c.id, "wb", "t1_both", claim_id=b.claim_id)
    assert (await comments.mark_failed(c.id, "wa", "rate limited", claim_id=a.claim_id)).status == "posted"
    with pytest.raises(StateConflict, match="already posted"):
        await comments.mark_posted(c.id, "wa", "t1_both", claim_id=a.claim_id)  # wa never posted it


async def test_patterns_bulk_save_is_idempotent_and_top_is_best_first(db: Database) -> None:
    patterns = PatternRepository(db)
    batch = [NewPattern(subreddit="python", pattern_text=f"Explain it with example number {i}", score=i, extracted_at=NOW)
             for i in range(180)]  # fmt: skip
    assert await patterns.bulk_save(batch) == 180
    assert await patterns.bulk_save(batch) == 0  # duplicates: nothing written
    assert await patterns.bulk_save(batch + batch) == 0  # duplicates within one batch too
    better = [
        NewPattern(subreddit="python", pattern_text="Explain it with example number 5", score=500, extracted_at=NOW)
    ]
    assert await patterns.bulk_save(better) == 1
    top = await patterns.top("python", 3)
    assert [(t.pattern_text, t.score) for t in top][:2] == [
        ("Explain it with example number 5", 500),
        ("Explain it with example number 179", 179),
    ]
    worse = [NewPattern(subreddit="python", pattern_text="Explain it with example number 5", score=1, extracted_at=NOW)]
    assert await patterns.bulk_save(worse) == 0  # the better score is kept
    deleted = await patterns.delete(top[0].id)
    assert deleted is not None and await patterns.delete(top[0].id) is None
    assert await patterns.bulk_save(better) == 0  # a deleted pattern stays deleted
    assert top[0].id not in [t.id for t in await patterns.top("python", 3)]
    assert (await patterns.restore(top[0].id)).id == top[0].id
    assert await patterns.bulk_save([]) == 0
    with pytest.raises(InvalidData, match="pattern_text"):
        NewPattern(subreddit="python", pattern_text="short")
    with pytest.raises(InvalidData, match="subreddit"):
        NewPattern(subreddit="r/python", pattern_text="long enough pattern")


async def test_search_ranks_by_relevance_then_karma_with_snippets(db: Database) -> None:
    await PostRepository(db).upsert(post(1, title="Generics and type hints explained", content="TypeVar, ParamSpec"))
    await PostRepository(db).upsert(post(2, title="Cooking pasta", content="nothing relevant"))
    comments = CommentRepository(db)
    ids = []
    for text in ("type hints make code clearer, type hints everywhere", "I like type hints",
                 "type hints are optional", "nothing to see here"):  # fmt: skip
        c = await comments.create(CreateCommentParams(post_id="t3_p1", content=text))
        ids.append(c.id)
        await comments.claim_pending("w")
        await comments.mark_posted(c.id, "w", f"t1_k{c.id}")
    await comments.update_karma(f"t1_k{ids[2]}", 100)
    hits = await comments.search("type hints", 10)
    assert hits[0].id == ids[0]  # most relevant first (the words twice)
    assert [h.id for h in hits[1:]] == [ids[2], ids[1]]  # equal relevance: more karma first
    assert "<<type>> <<hints>>" in hits[0].snippet and ids[3] not in [h.id for h in hits]
    capped = await comments.search("type hints", 10, max_candidates=1)
    assert [h.id for h in capped] == [ids[2]]  # only the newest match is ranked... (id order)
    assert await comments.search('"type hints" -optional', 10) != []
    assert [h.id for h in await PostRepository(db).search("generics", 5)] == ["t3_p1"]
    await PostRepository(db).delete("t3_p1")
    assert await PostRepository(db).search("generics", 5) == [] and await comments.search("type hints") == []


async def test_no_read_of_any_reddit_repository_returns_a_deleted_row(db: Database) -> None:
    """Every read method of every repository, called on a database where everything is soft-deleted,
    returns nothing (or nothing live). A new read method without the filter fails here."""
    posts, comments, patterns = PostRepository(db), CommentRepository(db), PatternRepository(db)
    await posts.upsert(post(1, sub="python"))
    c = await comments.create(CreateCommentParams(post_id="t3_p1", content="type hints are great"))
    await patterns.bulk_save([NewPattern(subreddit="python", pattern_text="a pattern that did well", score=3)])
    (pattern,) = await patterns.top("python")
    await posts.delete("t3_p1")
    await comments.delete(c.id)
    await patterns.delete(pattern.id)
    reads = {
        "PostRepository.get": posts.get("t3_p1"),
        "PostRepository.list_recent": posts.list_recent("python"),
        "PostRepository.list_unprocessed": posts.list_unprocessed(),
        "PostRepository.search": posts.search("type hints"),
        "CommentRepository.get": comments.get(c.id),
        "CommentRepository.list_for_post": comments.list_for_post("t3_p1"),
        "CommentRepository.search": comments.search("type hints"),
        "CommentRepository.claim_pending": comments.claim_pending("w"),
        "PatternRepository.top": patterns.top("python"),
        "PatternRepository.get": patterns.get(pattern.id),
    }
    for name, call in reads.items():
        assert await call in (None, []), name
    stats = await posts.stats()
    assert all(s.posts == 0 and s.queued == 0 and s.patterns == 0 for s in stats), stats
    assert sum((await comments.count_by_status()).values()) == 0
    # every public read method of the three repositories is in the list above
    readers = {f"{cls.__name__}.{n}" for cls in (PostRepository, CommentRepository, PatternRepository)
               for n, f in vars(cls).items() if inspect.iscoroutinefunction(f) and n.startswith(("get", "list", "search", "top", "claim"))}  # fmt: skip
    assert readers <= set(reads), readers - set(reads)


async def test_top_patterns_are_cached_and_invalidated_by_pattern_writes(database_url: str) -> None:
    from datalayer import Settings
    from datalayer import queries as q

    sub = f"cache{uuid.uuid4().hex[:8]}"
    async with Database.connect(Settings.model_validate({"application_name": "dl-reddit"}), database_url) as db:
        patterns = PatternRepository(db)
        try:
            await patterns.bulk_save([NewPattern(subreddit=sub, pattern_text="first good pattern", score=1)])
            calls = q.all_stats()["reddit_bot.list_top_patterns"].calls
            assert [p.score for p in await patterns.top(sub)] == [1]
            assert [p.score for p in await patterns.top(sub)] == [1]
            assert q.all_stats()["reddit_bot.list_top_patterns"].calls == calls + 1  # the second came from the cache
            await patterns.bulk_save([NewPattern(subreddit=sub, pattern_text="second good pattern", score=9)])
            assert [p.score for p in await patterns.top(sub)] == [9, 1]  # invalidated by bulk_save
            await patterns.delete((await patterns.top(sub))[0].id)
            assert [p.score for p in await patterns.top(sub)] == [1]  # and by a delete
        finally:
            conn = await asyncpg.connect(database_url)
            try:
                await conn.execute("DELETE FROM reddit_bot.successful_patterns WHERE subreddit = $1", sub)
            finally:
                await conn.close()

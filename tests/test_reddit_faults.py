"""The Reddit bot under faults and behind PgBouncer: a killed backend under a read and an idempotent write
(both succeed, the write once), and every kind of query through a real PgBouncer in transaction mode."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import pytest

from datalayer import Database, Settings, UsageError
from datalayer import queries as q
from datalayer.reddit_bot import (
    CommentRepository,
    CreateCommentParams,
    NewPattern,
    PatternRepository,
    PostRepository,
    UpsertPostParams,
)
from tests.faults import proxy_to, terminate_backends
from tests.pgbouncer_helpers import PgBouncer, pgbouncer_missing


def settings(app: str, **extra: object) -> Settings:
    return Settings.model_validate({"application_name": app, "retry_backoff": 0.02, **extra})


@pytest.fixture
async def sub(database_url: str) -> AsyncIterator[str]:
    name = f"faults{uuid.uuid4().hex[:8]}"
    yield name
    conn = await asyncpg.connect(database_url)
    try:
        await conn.execute("DELETE FROM reddit_bot.posts WHERE subreddit = $1", name)
        await conn.execute("DELETE FROM reddit_bot.successful_patterns WHERE subreddit = $1", name)
    finally:
        await conn.close()


def a_post(sub: str, n: int = 1) -> UpsertPostParams:
    return UpsertPostParams(id=f"t3_{sub[-8:]}{n}", subreddit=sub, title="A question", author="asker_1",
                            created_at=datetime.now(UTC))  # fmt: skip


@pytest.mark.direct(reason="kills the server's own backends under the pool")
async def test_killed_backends_under_a_read_and_an_idempotent_write_succeed_once(database_url: str, sub: str) -> None:
    app = f"dl-reddit-{uuid.uuid4().hex[:6]}"
    async with Database.connect(settings(app, pool_min_size=2), database_url) as db:
        posts, patterns = PostRepository(db), PatternRepository(db)
        await posts.upsert(a_post(sub))
        admin = await asyncpg.connect(database_url)
        try:
            retries = (
                q.all_stats()["reddit_bot.list_recent_posts"].retries
                + q.all_stats()["reddit_bot.save_patterns"].retries
            )
            assert await terminate_backends(admin, app) >= 1  # every pooled connection dies while idle
            assert [p.id for p in await posts.list_recent(sub)] == [a_post(sub).id]  # the read succeeds
            await terminate_backends(admin, app)
            batch = [
                NewPattern(subreddit=sub, pattern_text=f"pattern number {i} that did well", score=i) for i in range(50)
            ]
            assert await patterns.bulk_save(batch) == 50  # the write succeeds
            after = (
                q.all_stats()["reddit_bot.list_recent_posts"].retries
                + q.all_stats()["reddit_bot.save_patterns"].retries
            )
            assert after > retries  # it was the retry that made them succeed
        finally:
            await admin.close()
    # the reply of a write lost after the server ran it: retried, stored once
    async with proxy_to(database_url) as proxy:
        async with Database.connect(settings(app, statement_cache_size=0), proxy.url(database_url)) as db:
            proxy.cut_before_reply_to(b"reddit_bot.create_comment")
            created = await CommentRepository(db).create(
                CreateCommentParams(post_id=a_post(sub).id, content="hi there")
            )
            assert proxy.cuts == 1
    conn = await asyncpg.connect(database_url)
    try:
        assert (
            await conn.fetchval("SELECT count(*) FROM reddit_bot.successful_patterns WHERE subreddit = $1", sub) == 50
        )
        assert (
            await conn.fetchval("SELECT count(*) FROM reddit_bot.comments WHERE request_id = $1", created.request_id)
            == 1
        )
    finally:
        await conn.close()


async def test_every_reddit_query_works_through_pgbouncer_in_transaction_mode(
    server_url: str, database_url: str, sub: str
) -> None:
    why = pgbouncer_missing()
    if why:
        pytest.skip(why)
    bouncer = PgBouncer(server_url).start()
    try:
        # statement_cache_size=0: no named prepared statements, which transaction pooling cannot keep
        async with Database.connect(settings("dl-bouncer", statement_cache_size=0), bouncer.url(database_url)) as db:
            before = {n: s.calls for n, s in q.all_stats().items() if n.startswith("reddit_bot.")}
            posts, comments, patterns = PostRepository(db), CommentRepository(db), PatternRepository(db)
            p = await posts.upsert(a_post(sub))
            await posts.get(p.id)
            await posts.list_recent(sub)
            await posts.list_unprocessed(5)
            await posts.mark_processed(p.id)
            await posts.search("question")
            await posts.stats()
            c = await comments.create(CreateCommentParams(post_id=p.id, content="type hints help"))
            await comments.get(c.id)
            await comments.list_for_post(p.id)
            await comments.review(c.id, "approved")
            (lease,) = await comments.claim_pending("bouncer-worker")
            await comments.mark_posted(c.id, "bouncer-worker", f"t1_{sub[-8:]}", claim_id=lease.claim_id)
            await comments.update_karma(f"t1_{sub[-8:]}", 3)
            await comments.search("type hints")
            await comments.count_by_status()
            c2 = await comments.create(CreateCommentParams(post_id=p.id, content="second one"))
            (first,) = await comments.claim_pending("bouncer-worker")
            await comments.mark_failed(c2.id, "bouncer-worker", "boom", max_attempts=5, claim_id=first.claim_id)
            (lease,) = await comments.claim_pending("bouncer-worker")
            # a repeat under the earlier lease, after the comment was claimed again: found in the finish log
            await comments.mark_failed(c2.id, "bouncer-worker", "boom", max_attempts=5, claim_id=first.claim_id)
            await comments.mark_skipped(c2.id, "bouncer-worker", "locked", claim_id=lease.claim_id)
            await comments.delete(c2.id)
            await comments.restore(c2.id)
            await patterns.bulk_save([NewPattern(subreddit=sub, pattern_text="through the bouncer", score=1)])
            (top,) = await patterns.top(sub)
            await patterns.get(top.id)
            await patterns.delete(top.id)
            await patterns.restore(top.id)
            async with db.transaction() as tx:  # a transaction keeps its server connection throughout
                await PostRepository(tx).delete(p.id)
                await PostRepository(tx).restore(p.id)
            cutoff = datetime(2000, 1, 1, tzinfo=UTC)
            await comments.purge_deleted(cutoff)
            await posts.purge_deleted(cutoff)
            await patterns.purge_deleted(cutoff)
            ran = {n for n, s in q.all_stats().items() if n.startswith("reddit_bot.") and s.calls > before.get(n, 0)}
        assert ran == {n for n in q.load() if n.startswith("reddit_bot.")}, {
            n for n in q.load() if n.startswith("reddit_bot.")
        } - ran
    finally:
        bouncer.stop()


async def test_prepared_statements_behind_transaction_pooling_are_a_clear_error_not_a_driver_one(
    server_url: str, database_url: str, sub: str
) -> None:
    """asyncpg's statement cache left on behind PgBouncer in transaction mode: a statement prepared on one server
    connection is executed on another. That is our UsageError naming the setting to change, not a driver error."""
    why = pgbouncer_missing()
    if why:
        pytest.skip(why)
    bouncer = PgBouncer(server_url, pool_size=2).start()
    try:
        url = bouncer.url(database_url)
        cached = settings("dl-bouncer-cache", statement_cache_size=100, check_schema=False, pool_max_size=1)
        async with Database.connect(cached, url) as db:
            await PostRepository(db).list_recent(sub)  # prepared on the one server connection there is
            other = await asyncpg.connect(url, statement_cache_size=0)
            try:
                async with other.transaction():  # holds that server connection: the next call gets another
                    await other.execute("SELECT 1")
                    with pytest.raises(UsageError, match="DATALAYER_STATEMENT_CACHE_SIZE=0"):
                        await PostRepository(db).list_recent(sub)
            finally:
                await other.close()
    finally:
        bouncer.stop()

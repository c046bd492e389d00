"""Every bot's queue or hot write path under killed connections: concurrent workers run a mixed workload for a
few seconds while every backend of their pool is terminated every 150 ms; afterwards the rows are counted.

Each test: nothing lost, nothing done twice, no exception outside `datalayer.errors` (anything else is recorded
and fails the test), the kills really happened and reached statements (bindings retried), and the bot's own
invariants hold. A call that raised `Unavailable` on a write is "unknown": stored at most once, never lost
silently and never doubled. A retry-safe call a worker has to see through (a queue finish) is repeated with
the same arguments until it returns, as a real worker would.

- the Twitter translation queue: claim, fail, put back (retry_failed), draft, post;
- the Reddit comment queue: producers queue comments while consumers claim, fail, skip and post them;
- chat messages and the counters kept with them (conversation and user message counts, tokens);
- error-api key authentication and usage logging, with the per-minute counters the rate limit reads.

The Twitter tweet queue with its api usage log is tests/test_faults.py::test_workers_claim_post_and_log_under_
repeated_kills; the Discord due reminders are tests/test_discord_workers.py::test_workers_in_processes_under_
repeated_kills_remind_each_event_once (workers in processes; each event reminded once in its interval, by one
worker, none skipped, every reminder log `sent`).

A retried finish whose first try committed but whose reply was lost, and whose row moved on before the retry
(put back in the queue, claimed by another worker), is reported done, not StateConflict "nothing was changed":
each claim carries a claim_id that the worker passes to its finish, and the finish records it (the translation's
attempt, the comment's finish log), so the repeat finds itself (the proxy tests at the end cause it for real).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar

import asyncpg
import pytest

from datalayer import Database, DatalayerError, Settings, StateConflict, Unavailable
from datalayer import queries as q
from tests.faults import killing

pytestmark = pytest.mark.direct(
    reason="kills the server's own backends under the pool; behind PgBouncer the client connection survives them"
)

T = TypeVar("T")

KILL_EVERY = 0.15
WORKLOAD_S = 4.0  # seconds of workload under kills per test
DRAIN_S = 30.0  # afterwards, without kills, the workers finish what is left (bounded)

_ids = itertools.count(int(datetime.now(UTC).timestamp()) * 1000 + 500_000)


def settings(app: str, **extra: object) -> Settings:
    values: dict[str, object] = {
        "application_name": app, "pool_min_size": 1, "pool_max_size": 6, "retry_backoff": 0.02,
        "retry_backoff_max": 0.2, "retry_deadline": 10.0, "retry_attempts": 8, "connect_timeout": 5.0, **extra,
    }  # fmt: skip
    return Settings.model_validate(values)


def app_name(bot: str) -> str:
    return f"dl-{bot}-faults-{uuid.uuid4().hex[:8]}"


def retries(*names: str) -> int:
    stats = q.all_stats()
    return sum(stats[n].retries for n in names)


async def fetch(url: str, sql: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(url)
    try:
        return await conn.fetch(sql, *args)
    finally:
        await conn.close()


@dataclass
class Run:
    """What the workers of one test saw."""

    foreign: list[BaseException] = field(default_factory=list)  # anything not from datalayer.errors
    unavailable: int = 0  # Unavailable raised to a worker (after the data layer's own retries)
    conflicts: list[str] = field(default_factory=list)  # StateConflict on a finish: a claim lost or doubled

    async def until_done(self, fn: Callable[[], Awaitable[T]]) -> T:
        """Repeat a retry-safe call, same arguments, until it returns (a worker seeing its finish through)."""
        while True:
            try:
                return await fn()
            except Unavailable:
                self.unavailable += 1
                await asyncio.sleep(0.05)

    async def guarded(self, work: Callable[[], Awaitable[None]]) -> None:
        """Run a worker; errors of the data layer are its business, anything else is a breach of contract."""
        try:
            await work()
        except DatalayerError:
            raise
        except Exception as exc:
            self.foreign.append(exc)


async def under_kills(url: str, app: str, workers: Callable[[float], list[Awaitable[None]]]) -> list[int]:
    """Run the workers for WORKLOAD_S seconds while every backend of `app` is killed; then let them drain."""
    loop = asyncio.get_running_loop()
    async with killing(url, app, every=KILL_EVERY) as kills:
        await asyncio.gather(*workers(loop.time() + WORKLOAD_S))
    await asyncio.gather(*workers(loop.time() + DRAIN_S))
    return kills


# -- twitter_bot: the translation queue -------------------------------------------------------------------------
MAX_TRANSLATION_RETRIES = 3


def translation_plan(i: int, failures: int) -> str:
    """What the translation service does with the i-th translation after `failures` failed attempts."""
    if i % 11 == 0:
        return "fail"  # never works: failed for good after MAX_TRANSLATION_RETRIES
    if i % 7 == 0:
        return "draft"  # low confidence: kept for review
    wanted = 2 if i % 5 == 0 else 1 if i % 3 == 0 else 0
    return "fail" if failures < wanted else "post"


def translation_outcome(i: int) -> tuple[str, int]:
    """(status, retry_count) the i-th translation must end in."""
    if i % 11 == 0:
        return "failed", MAX_TRANSLATION_RETRIES
    if i % 7 == 0:
        return "draft", 0
    return "posted", 2 if i % 5 == 0 else 1 if i % 3 == 0 else 0


@pytest.fixture
async def tweet_id(database_url: str) -> AsyncIterator[int]:
    from datalayer.twitter_bot import TweetRepository, UpsertTweetParams

    tid = next(_ids)
    async with Database.connect(settings("dl-setup"), database_url) as db:
        await TweetRepository(db).upsert(
            UpsertTweetParams(id=tid, author_id=1, author_username="faults", text="bot faults",
                              created_at=datetime.now(UTC))
        )  # fmt: skip
    yield tid
    await fetch(database_url, "DELETE FROM twitter_bot.tweets WHERE id = $1", tid)


async def test_translation_queue_claim_fail_retry_draft_post_under_repeated_kills(
    database_url: str, tweet_id: int
) -> None:
    from datalayer.twitter_bot import TranslationRepository

    app = app_name("tr")
    n = 300
    run = Run()
    posted_on_twitter: Counter[int] = Counter()
    finished: set[int] = set()
    foreign_claims: list[int] = []
    moved_back = 0
    names = [f"twitter_bot.{x}" for x in ("claim_pending_translations", "mark_translation_posted",
             "mark_translation_failed", "save_translation_draft", "retry_failed_translations")]  # fmt: skip
    retries_before = retries(*names)

    others = await fetch(
        database_url,
        "SELECT id FROM twitter_bot.translations WHERE tweet_id <> $1 AND (status = 'pending' "
        "OR (status = 'failed' AND retry_count < $2))", tweet_id, MAX_TRANSLATION_RETRIES)  # fmt: skip
    assert others == [], "the queue must hold only this test's translations (claims and retry_failed are global)"

    async with Database.connect(settings(app), database_url) as db:
        repo = TranslationRepository(db)
        index = {(await repo.ensure(tweet_id, f"tr-x{i:03d}")).id: i for i in range(n)}

        async def worker(name: str, stop_at: float) -> None:
            loop = asyncio.get_running_loop()
            while loop.time() < stop_at and len(finished) < n:
                claimed = await run.until_done(lambda: repo.claim_pending(name, limit=3, lease_seconds=120))
                if not claimed:
                    await asyncio.sleep(0.03)
                    continue
                for t in claimed:
                    if t.id not in index:
                        foreign_claims.append(t.id)
                        continue
                    action = translation_plan(index[t.id], t.retry_count)
                    await asyncio.sleep(0.005)  # the translation service
                    try:
                        if action == "fail":
                            error = f"service down ({t.id}, try {t.retry_count + 1})"
                            row = await run.until_done(
                                lambda t=t, e=error: repo.mark_failed(t.id, name, e, claim_id=t.claim_id)
                            )
                            if row.retry_count >= MAX_TRANSLATION_RETRIES:
                                finished.add(t.id)
                        elif action == "draft":
                            await run.until_done(
                                lambda t=t: repo.save_draft(t.id, name, f"draft {t.id}", 0.4, claim_id=t.claim_id)
                            )
                            finished.add(t.id)
                        else:
                            posted_on_twitter[t.id] += 1  # the external side effect, once per claim held
                            await run.until_done(
                                lambda t=t: repo.mark_posted(
                                    t.id, name, f"text {t.id}", 10**15 + t.id, 0.9, claim_id=t.claim_id
                                )
                            )
                            finished.add(t.id)
                    except StateConflict as exc:
                        run.conflicts.append(str(exc))

        async def retrier(stop_at: float) -> None:
            nonlocal moved_back
            loop = asyncio.get_running_loop()
            while loop.time() < stop_at and len(finished) < n:
                moved_back += len(await run.until_done(lambda: repo.retry_failed(MAX_TRANSLATION_RETRIES, 50)))
                await asyncio.sleep(0.05)

        def workers(stop_at: float) -> list[Awaitable[None]]:
            tasks = [run.guarded(lambda i=i: worker(f"tw{i}", stop_at)) for i in range(4)]
            return [*tasks, run.guarded(lambda: retrier(stop_at))]

        kills = await under_kills(database_url, app, workers)

    assert run.foreign == [], run.foreign
    assert run.conflicts == [] and foreign_claims == []
    assert sum(kills) > 10 and len(kills) >= 5, kills  # killed in five rounds at least: repeatedly
    assert retries(*names) > retries_before  # the kills reached statements, and the data layer retried them
    rows = await fetch(database_url, "SELECT id, status, retry_count, claimed_until FROM twitter_bot.translations "
                       "WHERE tweet_id = $1", tweet_id)  # fmt: skip
    attempts = await fetch(database_url, "SELECT translation_id, status, count(*) AS n FROM "
                           "twitter_bot.translation_attempts WHERE tweet_id = $1 GROUP BY 1, 2", tweet_id)  # fmt: skip
    # none lost: every translation ended where its plan leads, with exactly its failures counted
    # an exhausted failure is failed, or abandoned once retry_failed met it (migration 0021): the same end
    ended = {r["id"]: (r["status"].replace("abandoned", "failed"), r["retry_count"]) for r in rows}
    assert ended == {tid: translation_outcome(i) for tid, i in index.items()}
    assert all(r["claimed_until"] is None for r in rows)  # every finish released its claim
    # none twice: one audit entry per failure, one per draft, one per post; one post on Twitter each
    expected_attempts: Counter[tuple[int, str]] = Counter()
    for tid, i in index.items():
        status, failures = translation_outcome(i)
        expected_attempts[(tid, "failed")] += failures
        if status != "failed":
            expected_attempts[(tid, status)] += 1
    assert Counter({(r["translation_id"], r["status"]): r["n"] for r in attempts}) == +expected_attempts
    assert posted_on_twitter == Counter({tid: 1 for tid, i in index.items() if translation_outcome(i)[0] == "posted"})
    # every failure below the limit was put back once, no more (a retried retry_failed whose first reply was lost
    # moved a batch the retrier never heard of: hence at most)
    assert (
        0
        < moved_back
        <= sum(translation_outcome(i)[1] for i in index.values() if i % 11)
        + sum(MAX_TRANSLATION_RETRIES - 1 for i in index.values() if i % 11 == 0)
    )
    print(f"translations: kills={sum(kills)} retries={retries(*names) - retries_before} "
          f"unavailable={run.unavailable} moved_back={moved_back}")  # fmt: skip


# -- reddit_bot: the comment queue --------------------------------------------------------------------------------
MAX_COMMENT_ATTEMPTS = 3


def comment_plan(i: int, attempts: int) -> str:
    if i % 9 == 0:
        return "fail"  # Reddit refuses it every time: failed for good after MAX_COMMENT_ATTEMPTS
    if i % 13 == 0:
        return "skip"  # the thread is locked
    return "fail" if i % 4 == 0 and attempts < 1 else "post"


def comment_outcome(i: int) -> tuple[str, int]:
    """(status, attempts) the i-th comment must end in."""
    if i % 9 == 0:
        return "failed", MAX_COMMENT_ATTEMPTS
    if i % 13 == 0:
        return "skipped", 0
    return "posted", 1 if i % 4 == 0 else 0


@pytest.fixture
async def subreddit(database_url: str) -> AsyncIterator[str]:
    name = f"botfaults{uuid.uuid4().hex[:8]}"
    yield name
    await fetch(database_url, "DELETE FROM reddit_bot.posts WHERE subreddit = $1", name)


async def test_comment_queue_producers_and_posters_under_repeated_kills(database_url: str, subreddit: str) -> None:
    from datalayer.reddit_bot import CommentRepository, CreateCommentParams, PostRepository, UpsertPostParams

    app = app_name("rd")
    n = 240
    run = Run()
    tag = uuid.uuid4().hex[:5]
    post_id = f"t3_{tag}"
    posted_on_reddit: Counter[int] = Counter()
    created: dict[int, int] = {}  # index -> comment id, as the producer was told
    finished: set[int] = set()
    foreign_claims: list[int] = []
    names = [f"reddit_bot.{x}" for x in ("create_comment", "claim_pending_comments", "mark_comment_posted",
             "mark_comment_failed", "mark_comment_skipped")]  # fmt: skip
    retries_before = retries(*names)

    others = await fetch(database_url, "SELECT id FROM reddit_bot.comments WHERE post_id <> $1 AND deleted_at IS NULL "
                         "AND status IN ('pending', 'approved')", post_id)  # fmt: skip
    assert others == [], "the queue must hold only this test's comments (claims are global)"

    async with Database.connect(settings(app), database_url) as db:
        await PostRepository(db).upsert(UpsertPostParams(id=post_id, subreddit=subreddit, title="Why?",
                                                         author="asker_1", created_at=datetime.now(UTC)))  # fmt: skip
        comments = CommentRepository(db)
        # built once each: a repeat of the same request_id returns the comment stored the first time
        queued = [CreateCommentParams(post_id=post_id, content=f"comment {i} of the fault run") for i in range(n)]
        todo = list(range(n))

        async def producer(stop_at: float) -> None:
            loop = asyncio.get_running_loop()
            while todo and loop.time() < stop_at:
                i = todo.pop()
                created[i] = (await run.until_done(lambda i=i: comments.create(queued[i]))).id
                await asyncio.sleep(0.005)

        async def poster(name: str, stop_at: float) -> None:
            loop = asyncio.get_running_loop()
            while loop.time() < stop_at and len(finished) < n:
                claimed = await run.until_done(lambda: comments.claim_pending(name, limit=3, lease_seconds=120))
                if not claimed:
                    await asyncio.sleep(0.03)
                    continue
                for c in claimed:
                    if c.post_id != post_id:
                        foreign_claims.append(c.id)
                        continue
                    action = comment_plan(int(c.content.split()[1]), c.attempts)
                    await asyncio.sleep(0.005)  # the Reddit API
                    try:
                        if action == "fail":
                            error = f"rate limited ({c.id}, try {c.attempts + 1})"
                            row = await run.until_done(
                                lambda c=c, e=error: comments.mark_failed(
                                    c.id, name, e, MAX_COMMENT_ATTEMPTS, claim_id=c.claim_id
                                )
                            )
                            if row.status == "failed":
                                finished.add(c.id)
                        elif action == "skip":
                            await run.until_done(
                                lambda c=c: comments.mark_skipped(c.id, name, "thread locked", claim_id=c.claim_id)
                            )
                            finished.add(c.id)
                        else:
                            posted_on_reddit[c.id] += 1  # the external side effect, once per claim held
                            reddit_id = f"t1_{tag}{c.id:x}"
                            await run.until_done(
                                lambda c=c, r=reddit_id: comments.mark_posted(c.id, name, r, claim_id=c.claim_id)
                            )
                            finished.add(c.id)
                    except StateConflict as exc:
                        run.conflicts.append(str(exc))

        def workers(stop_at: float) -> list[Awaitable[None]]:
            producers = [run.guarded(lambda: producer(stop_at)) for _ in range(2)]
            return [*producers, *(run.guarded(lambda i=i: poster(f"rd{i}", stop_at)) for i in range(3))]

        kills = await under_kills(database_url, app, workers)

    assert run.foreign == [], run.foreign
    assert run.conflicts == [] and foreign_claims == []
    assert sum(kills) > 10 and len(kills) >= 5, kills  # killed in five rounds at least: repeatedly
    assert retries(*names) > retries_before
    rows = await fetch(database_url, "SELECT id, request_id, content, status, attempts, reddit_id, claimed_until "
                       "FROM reddit_bot.comments WHERE post_id = $1", post_id)  # fmt: skip
    # none created twice, none lost: one row per queued comment, the id its producer was told
    assert Counter(r["request_id"] for r in rows) == Counter(p.request_id for p in queued)
    by_index = {int(r["content"].split()[1]): r for r in rows}
    assert {i: r["id"] for i, r in by_index.items()} == created
    assert {i: (r["status"], r["attempts"]) for i, r in by_index.items()} == {i: comment_outcome(i) for i in range(n)}
    assert Counter(r["status"] for r in rows) == Counter(comment_outcome(i)[0] for i in range(n))
    assert all(r["claimed_until"] is None for r in rows)
    # none posted twice: on Reddit once each, and one Reddit id per posted comment
    posted = {r["id"] for r in rows if r["status"] == "posted"}
    assert posted_on_reddit == Counter(dict.fromkeys(posted, 1))
    assert all(r["reddit_id"] == f"t1_{tag}{r['id']:x}" for r in rows if r["status"] == "posted")
    print(f"comments: kills={sum(kills)} retries={retries(*names) - retries_before} unavailable={run.unavailable}")


# -- chat_bot: messages and the counters kept with them ------------------------------------------------------------
async def test_chat_messages_and_counters_under_repeated_kills(database_url: str) -> None:
    from datalayer.chat_bot import (
        AddMessageParams,
        ConversationRepository,
        CreateUserParams,
        MessageRepository,
        NewMessage,
        UserRepository,
    )

    app = app_name("chat")
    run = Run()
    outcome: dict[uuid.UUID, str] = {}  # request_id -> "ok" | "unknown"
    conversations_made: dict[str, str] = {}  # title -> "ok" | "unknown" (create is not retry-safe)
    names = ["chat_bot.add_message", "chat_bot.add_messages"]
    retries_before = retries(*names)
    base = 700_000_000 + uuid.uuid4().int % 100_000_000

    async with Database.connect(settings(app, pool_max_size=8), database_url) as db:
        users = [await UserRepository(db).create(CreateUserParams(telegram_id=base + k)) for k in range(3)]
        conversations = ConversationRepository(db)
        targets = [(await conversations.create(u.id, title=f"seed {u.id} {j}")).id for u in users for j in range(3)]
        messages = MessageRepository(db)
        try:

            async def writer(w: int, stop_at: float) -> None:
                rng = random.Random(w)
                loop = asyncio.get_running_loop()
                n = 0
                while loop.time() < stop_at:
                    n += 1
                    if n % 25 == 0:  # now and then a new conversation, not retry-safe: its outcome may be unknown
                        title = f"w{w} n{n} {app}"
                        try:
                            made = await conversations.create(rng.choice(users).id, title=title)
                            conversations_made[title] = "ok"
                            targets.append(made.id)
                        except Unavailable as exc:
                            conversations_made[title] = "unknown" if exc.connection_lost else "failed"
                        continue
                    conversation = rng.choice(targets)
                    if n % 4 == 0:  # a batch
                        batch = [
                            NewMessage(conversation_id=conversation, role="user", content=f"batch {w}/{n}/{k}",
                                       token_count=rng.randint(0, 9))
                            for k in range(3)
                        ]  # fmt: skip
                        try:
                            await messages.add_many(batch)
                            outcome.update(dict.fromkeys((m.request_id for m in batch), "ok"))
                        except Unavailable:
                            run.unavailable += 1
                            outcome.update(dict.fromkeys((m.request_id for m in batch), "unknown"))
                        continue
                    p = AddMessageParams(conversation_id=conversation, role=rng.choice(["user", "assistant"]),
                                         content=f"message {w}/{n}", token_count=rng.randint(0, 50))  # fmt: skip
                    try:
                        stored = await messages.add(p)
                        assert stored.request_id == p.request_id and stored.conversation_id == conversation
                        outcome[p.request_id] = "ok"
                    except Unavailable:
                        run.unavailable += 1
                        outcome[p.request_id] = "unknown"
                    if n % 10 == 0:  # the reads of the bot's reply path
                        await run.until_done(lambda c=conversation: messages.list_for_conversation(c, limit=20))
                        await run.until_done(lambda c=conversation: messages.get_message_analytics(c))

            async with killing(database_url, app, every=KILL_EVERY) as kills:
                stop_at = asyncio.get_running_loop().time() + WORKLOAD_S
                await asyncio.gather(*(run.guarded(lambda w=w: writer(w, stop_at)) for w in range(5)))

            assert run.foreign == [], run.foreign
            assert sum(kills) > 10 and len(kills) >= 5, kills  # killed in five rounds at least: repeatedly
            assert retries(*names) > retries_before
            user_ids = [u.id for u in users]
            sql = "SELECT request_id FROM chat_bot.messages WHERE user_id = ANY($1)"
            stored = Counter(r["request_id"] for r in await fetch(database_url, sql, user_ids))
            assert len(outcome) > 300
            assert {r for r, o in outcome.items() if o == "ok" and stored[r] != 1} == set()  # every ok once
            assert {r for r, o in outcome.items() if o == "unknown" and stored[r] > 1} == set()  # unknown: at most once
            assert set(stored) <= set(outcome)  # nothing stored that no writer sent
            # every conversation's counters equal its messages, every user's too
            drift = await fetch(database_url, """
                SELECT c.id, c.message_count, c.total_tokens, c.last_message_at, count(m.id) AS messages,
                       coalesce(sum(m.token_count), 0) AS tokens, max(m.created_at) AS last_at
                  FROM chat_bot.conversations AS c LEFT JOIN chat_bot.messages AS m ON m.conversation_id = c.id
                 WHERE c.user_id = ANY($1)
                 GROUP BY c.id
                HAVING c.message_count <> count(m.id) OR c.total_tokens <> coalesce(sum(m.token_count), 0)
                    OR c.last_message_at IS DISTINCT FROM max(m.created_at)""", user_ids)  # fmt: skip
            assert drift == []
            user_drift = await fetch(database_url, """
                SELECT u.id FROM chat_bot.users AS u
                 WHERE u.id = ANY($1)
                   AND u.message_count <> (SELECT count(*) FROM chat_bot.messages AS m WHERE m.user_id = u.id)""",
                user_ids)  # fmt: skip
            assert user_drift == []
            sql = "SELECT title FROM chat_bot.conversations WHERE title LIKE $1"
            titles = Counter(r["title"] for r in await fetch(database_url, sql, f"% {app}"))
            assert {t for t, o in conversations_made.items() if o == "ok" and titles[t] != 1} == set()
            assert {t for t, o in conversations_made.items() if o != "ok" and titles[t] > 1} == set()
            assert {t for t, o in conversations_made.items() if o == "failed" and titles[t]} == set()
            made = Counter(conversations_made.values())
            print(f"chat: kills={sum(kills)} retries={retries(*names) - retries_before} "
                  f"messages={Counter(outcome.values())} conversations={made}")  # fmt: skip
        finally:
            await fetch(database_url, "DELETE FROM chat_bot.users WHERE telegram_id >= $1 AND telegram_id < $2",
                        base, base + 3)  # fmt: skip


# -- error_api: key authentication and usage logging ---------------------------------------------------------------
async def test_error_api_authenticate_and_log_usage_under_repeated_kills(database_url: str) -> None:
    from datalayer.error_api import ApiKeyRepository, KeyDigester, LogRequestParams, UsageRepository, UserRepository

    app = app_name("api")
    run = Run()
    digester = KeyDigester("bot-faults-secret-" + "z" * 40)
    logged: dict[uuid.UUID, str] = {}  # request_id -> "ok" | "unknown"
    auth = Counter[str]()
    wrong: list[str] = []  # authentication answers that were wrong
    fresh_but_not_new: list[uuid.UUID] = []  # log() said "already stored" for a request logged only once
    names = ["error_api.authenticate_api_key", "error_api.log_request", "error_api.log_requests"]
    retries_before = retries(*names)
    tag = uuid.uuid4().hex[:8]

    async with Database.connect(settings(app, pool_max_size=8), database_url) as db:
        accounts = UserRepository(db)
        keys = ApiKeyRepository(db, digester)
        usage = UsageRepository(db)
        await usage.ensure_partitions_ahead(1)
        owners = [await accounts.create(f"faults-{tag}-{k}@example.com", "a long enough password") for k in range(4)]
        try:
            valid: dict[str, tuple[uuid.UUID, uuid.UUID]] = {}  # key -> (user, key id)
            for owner in owners[:3]:
                for j in range(2):
                    row, key = await keys.create(owner.id, f"key {j}")
                    valid[key] = (owner.id, row.id)
            revoked_row, revoked = await keys.create(owners[0].id, "revoked")
            await keys.deactivate(owners[0].id, revoked_row.id)
            _row, of_inactive = await keys.create(owners[3].id, "owner gone")
            await accounts.deactivate(owners[3].id)
            invalid = [revoked, of_inactive, "eak_" + "A" * 43, "eak_" + uuid.uuid4().hex + "b" * 11]
            presented = [*valid, *invalid]

            async def client(w: int, stop_at: float) -> None:
                rng = random.Random(w)
                loop = asyncio.get_running_loop()
                n = 0
                while loop.time() < stop_at:
                    n += 1
                    key = rng.choice(presented)
                    try:
                        who = await keys.authenticate(key)
                    except Unavailable:
                        auth["unavailable"] += 1  # a fault is Unavailable, never "invalid key"
                        continue
                    if key not in valid:
                        auth["rejected" if who is None else "wrong"] += 1
                        if who is not None:
                            wrong.append(f"invalid key {key[:12]} accepted")
                        continue
                    if who is None or (who.user_id, who.api_key_id) != valid[key]:
                        wrong.append(f"valid key {key[:12]} answered {who}")
                        continue
                    auth["accepted"] += 1
                    batch = [
                        LogRequestParams(user_id=who.user_id, api_key_id=who.api_key_id, endpoint=f"/v1/translate/{w}",
                                         method="POST", status_code=rng.choice([200, 200, 200, 422, 500]),
                                         response_time_ms=rng.randint(1, 400))
                        for _ in range(3 if n % 5 == 0 else 1)
                    ]  # fmt: skip
                    try:
                        if len(batch) == 1:
                            if not await usage.log(batch[0]):
                                fresh_but_not_new.append(batch[0].request_id)
                        else:
                            await usage.log_many(batch)
                        logged.update(dict.fromkeys((p.request_id for p in batch), "ok"))
                    except Unavailable:
                        run.unavailable += 1
                        logged.update(dict.fromkeys((p.request_id for p in batch), "unknown"))
                    if n % 8 == 0:
                        await run.until_done(lambda u=who.user_id: usage.check_rate_limit(u))

            async with killing(database_url, app, every=KILL_EVERY) as kills:
                stop_at = asyncio.get_running_loop().time() + WORKLOAD_S
                await asyncio.gather(*(run.guarded(lambda w=w: client(w, stop_at)) for w in range(5)))

            assert run.foreign == [], run.foreign
            assert wrong == []
            assert auth["accepted"] > 100 and auth["rejected"] > 20, auth
            assert sum(kills) > 10 and len(kills) >= 5, kills  # killed in five rounds at least: repeatedly
            assert retries(*names) > retries_before
            owner_ids = [o.id for o in owners]
            sql = "SELECT request_id FROM error_api.usage_logs WHERE user_id = ANY($1)"
            stored = Counter(r["request_id"] for r in await fetch(database_url, sql, owner_ids))
            assert {r for r, o in logged.items() if o == "ok" and stored[r] != 1} == set()  # every returned log once
            assert {r for r, o in logged.items() if o == "unknown" and stored[r] > 1} == set()
            assert set(stored) <= set(logged)
            # the per-minute counters the rate limit reads equal the logged rows, account by account
            counters = await fetch(database_url, """
                SELECT u.id,
                       (SELECT coalesce(sum(requests), 0) FROM error_api.usage_minutes AS m WHERE m.user_id = u.id)
                           AS counted,
                       (SELECT count(*) FROM error_api.usage_logs AS l WHERE l.user_id = u.id) AS logged
                  FROM error_api.users AS u WHERE u.id = ANY($1)""", owner_ids)  # fmt: skip
            assert all(r["counted"] == r["logged"] for r in counters), [dict(r) for r in counters]
            assert sum(r["logged"] for r in counters) == len(stored)
            print(f"error_api: kills={sum(kills)} retries={retries(*names) - retries_before} auth={dict(auth)} "
                  f"logs={Counter(logged.values())} said_not_new={len(fresh_but_not_new)}")  # fmt: skip
        finally:
            await fetch(database_url, "DELETE FROM error_api.users WHERE email LIKE $1", f"faults-{tag}-%")


# -- a finish whose reply is lost, the row moved on before the retry ------------------------------------------------
async def test_a_failure_whose_reply_is_lost_and_which_is_put_back_meanwhile_is_reported_done(
    database_url: str, tweet_id: int
) -> None:
    """mark_failed commits, its reply is lost; before the data layer's retry, retry_failed puts the translation
    back in the queue. The retry finds it pending: the failure was recorded (once), so that is the answer, not a
    StateConflict saying nothing was changed (what it said before the fix)."""
    from datalayer.twitter_bot import TranslationRepository
    from tests.faults import proxy_to

    async with Database.connect(settings(app_name("tr")), database_url) as direct:
        t = await TranslationRepository(direct).ensure(tweet_id, "es-lost")
        async with proxy_to(database_url) as proxy:
            slow_retry = settings(app_name("tr"), statement_cache_size=0, retry_backoff=0.8)
            async with Database.connect(slow_retry, proxy.url(database_url)) as db:
                repo = TranslationRepository(db)
                (lease,) = await repo.claim_pending("w-lost", limit=1)
                assert lease.id == t.id
                proxy.cut_before_reply_to(b"twitter_bot.mark_translation_failed")
                failing = asyncio.create_task(repo.mark_failed(t.id, "w-lost", "service down", claim_id=lease.claim_id))
                await asyncio.sleep(0.4)  # the failure is committed; the retry waits for its backoff
                assert [m.id for m in await TranslationRepository(direct).retry_failed(3, 100)] == [t.id]
                row = await failing
                assert proxy.cuts == 1
        assert (row.status, row.retry_count, row.last_error, row.claimed_by) == ("pending", 1, "service down", "w-lost")
        assert [a.status for a in await TranslationRepository(direct).history(tweet_id)] == ["failed"]  # counted once


async def test_a_failure_whose_reply_is_lost_and_which_another_worker_claims_meanwhile_is_reported_done(
    database_url: str, subreddit: str
) -> None:
    """mark_failed on a Reddit comment commits (back in the queue), its reply is lost; before the retry another
    worker claims the comment. The retry finds its finish logged under its claim_id: done, counted once (before
    claim tokens it said StateConflict "nothing was changed")."""
    from datalayer.reddit_bot import CommentRepository, CreateCommentParams, PostRepository, UpsertPostParams
    from tests.faults import proxy_to

    post_id = f"t3_{uuid.uuid4().hex[:6]}"
    async with Database.connect(settings(app_name("rd")), database_url) as direct:
        post = UpsertPostParams(id=post_id, subreddit=subreddit, title="Why?", author="asker_1",
                                created_at=datetime.now(UTC))  # fmt: skip
        await PostRepository(direct).upsert(post)
        c = await CommentRepository(direct).create(CreateCommentParams(post_id=post_id, content="lost reply"))
        async with proxy_to(database_url) as proxy:
            slow_retry = settings(app_name("rd"), statement_cache_size=0, retry_backoff=0.8)
            async with Database.connect(slow_retry, proxy.url(database_url)) as db:
                repo = CommentRepository(db)
                (a,) = await repo.claim_pending("w-a", limit=1)
                assert a.id == c.id
                proxy.cut_before_reply_to(b"reddit_bot.mark_comment_failed")
                failing = asyncio.create_task(repo.mark_failed(c.id, "w-a", "rate limited", claim_id=a.claim_id))
                await asyncio.sleep(0.4)  # the failure is committed; the retry waits for its backoff
                (b,) = await CommentRepository(direct).claim_pending("w-b", limit=1)
                assert b.id == c.id and b.claim_id != a.claim_id
                row = await failing
                assert proxy.cuts == 1
        assert (row.attempts, row.claimed_by, row.claim_id, row.last_error) == (1, "w-b", b.claim_id, "rate limited")
        (stored,) = await fetch(database_url, "SELECT attempts FROM reddit_bot.comments WHERE id = $1", c.id)
        assert stored["attempts"] == 1  # the failure was recorded once
        # w-b still holds its lease and finishes normally; w-a's old claim finishes nothing more
        repo = CommentRepository(direct)
        with pytest.raises(StateConflict, match="holds no claim"):
            await repo.mark_skipped(c.id, "w-a", "thread locked", claim_id=a.claim_id)
        posted = await repo.mark_posted(c.id, "w-b", f"t1_{c.id:x}", claim_id=b.claim_id)
        assert (posted.status, posted.attempts) == ("posted", 1)


async def test_a_translation_failure_whose_reply_is_lost_and_which_another_worker_claims_meanwhile_is_reported_done(
    database_url: str, tweet_id: int
) -> None:
    """The same for the translation queue: mark_failed commits, its reply is lost; before the retry retry_failed
    puts the translation back and another worker claims it. The retry finds its attempt under its claim_id."""
    from datalayer.twitter_bot import TranslationRepository
    from tests.faults import proxy_to

    async with Database.connect(settings(app_name("tr")), database_url) as direct:
        t = await TranslationRepository(direct).ensure(tweet_id, "es-claimed")
        async with proxy_to(database_url) as proxy:
            slow_retry = settings(app_name("tr"), statement_cache_size=0, retry_backoff=0.8)
            async with Database.connect(slow_retry, proxy.url(database_url)) as db:
                repo = TranslationRepository(db)
                (a,) = await repo.claim_pending("w-a", limit=1)
                assert a.id == t.id
                proxy.cut_before_reply_to(b"twitter_bot.mark_translation_failed")
                failing = asyncio.create_task(repo.mark_failed(t.id, "w-a", "service down", claim_id=a.claim_id))
                await asyncio.sleep(0.4)  # the failure is committed; the retry waits for its backoff
                assert [m.id for m in await TranslationRepository(direct).retry_failed(3, 100)] == [t.id]
                (b,) = await TranslationRepository(direct).claim_pending("w-b", limit=1)
                assert b.id == t.id and b.claim_id != a.claim_id
                row = await failing
                assert proxy.cuts == 1
        assert (row.status, row.retry_count, row.claimed_by, row.claim_id) == ("pending", 1, "w-b", b.claim_id)
        history = await TranslationRepository(direct).history(tweet_id)
        assert [(h.status, h.claim_id) for h in history if h.translation_id == t.id] == [("failed", a.claim_id)]

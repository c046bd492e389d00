"""The repository read cache: a read opts in where it is bound (`cache=Cached(ttl=…)`), a write says what it
invalidates (`invalidates=(tag, …)`), and the executor does the rest.

Two tiers:

- **in-process** (always): an LRU of at most `DATALAYER_CACHE_SIZE` entries, each with its TTL. It holds the
  frozen models themselves, so a hit costs a dict lookup.
- **Redis** (when `REDIS_URL` is set): entries shared by every process, as JSON of the models, read back and
  validated into the same models; an entry of another model shape is a miss, never a crash.

**Invalidation by versioned tags.** Every cached read carries tags: its query name, plus the tags it declares
(an aggregate, or an aggregate and an id, e.g. `twitter_bot.system_state:last_tweet_id`). An entry remembers the
versions of its tags as they were *before* its query ran, and is valid only while they are unchanged. A write
invalidates its tags synchronously — right after its statement returns on the pool (or is cancelled: it may have
run), or after COMMIT for a write inside a transaction (never for a rolled-back one) — by bumping a local
generation per tag, so no await (a cancellation, a hung Redis) can come between a write and the invalidation of
this process's entries. With Redis, the tag is then *dirty* in this process until a background flush has INCRed
it in Redis and published the new version; while dirty, its keys bypass the Redis tier here. Redis entries are
stamped only with versions Redis issued, and checked against the current ones in the same round trip, so the
Redis tier is never stale for a write whose INCR landed; an epoch key tells a Redis that restarted empty.
Other processes' in-process copies go stale when the publication arrives (milliseconds), and at the latest
after `DATALAYER_CACHE_LOCAL_TTL` (2 s), the life of an in-process entry in Redis mode.

**Concurrency.** Concurrent misses of one key (with the same tag versions) run the query once; the others await
its result (a cancelled leader's followers load it themselves). **Redis down**: every Redis call is bounded by
`DATALAYER_CACHE_REDIS_TIMEOUT`; a failure is counted per query, logged once, and Redis is left alone for
`DATALAYER_CACHE_REDIS_RETRY` seconds, during which reads go to PostgreSQL through the in-process tier. Writes
never wait for Redis. An invalidation that cannot reach Redis stays dirty and is flushed when Redis is back;
until then other processes may serve the old value until its TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, TypeAdapter, ValidationError

from datalayer.config import Settings, mask_url

if TYPE_CHECKING:
    from redis.asyncio import Redis

    from datalayer.queries import Bound, QueryStats

log = logging.getLogger("datalayer.cache")

TagSpec = tuple[str, ...] | Callable[[tuple[object, ...]], Iterable[str]]


@dataclass(frozen=True, slots=True)
class Cached:
    """The cache policy of a read, declared where it is bound: `ttl` seconds, and tags beyond its query name
    (a tuple, or a function of the call's arguments)."""

    ttl: float
    tags: TagSpec = ()

    def __post_init__(self) -> None:
        if not self.ttl > 0:
            raise ValueError("a cached read needs a positive ttl")


def tags_of(spec: TagSpec | None, args: tuple[object, ...]) -> tuple[str, ...]:
    if spec is None:
        return ()
    if callable(spec):
        return tuple(spec(args))
    return spec


def args_key(args: tuple[object, ...]) -> str:
    """A stable text for a call's arguments: Params models by their JSON, scalars by JSON (repr otherwise)."""
    parts = [
        a.model_dump_json() if isinstance(a, BaseModel) else json.dumps(a, default=repr, sort_keys=True) for a in args
    ]
    return "\x1f".join(parts)


@dataclass(slots=True)
class _Entry:
    value: Any
    expires: float
    versions: tuple[tuple[int, int], ...]  # per tag: (version confirmed by Redis, local generation)
    stats: QueryStats


class CacheStore:
    """One per `Database`: the in-process tier, the tag versions, and the Redis tier when configured.

    Two kinds of tag version, never mixed: a local *generation* per tag, bumped synchronously by every
    invalidation of this process (so its own in-process entries go stale at once), and the *confirmed* version,
    which only Redis issues (INCR) and which alone stamps Redis entries. A tag this process invalidated but
    Redis has not yet confirmed is *dirty*: its keys bypass the Redis tier until the INCR lands (a background
    flush retries it), so no process ever serves, or writes, a Redis entry under a number Redis did not give.
    An *epoch* key (random, set when missing) tells a Redis that restarted empty: versions from another epoch
    are dropped with the in-process tier.
    """

    def __init__(
        self,
        *,
        max_entries: int = 10_000,
        local_ttl: float | None = None,
        redis: Redis | None = None,
        redis_url: str = "",
        namespace: str = "dl",
        redis_timeout: float = 0.2,
        redis_retry: float = 2.0,
    ) -> None:
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._max = max_entries
        self._local_ttl = local_ttl
        self._generations: dict[str, int] = {}
        self._confirmed: dict[str, int] = {}
        self._dirty: set[str] = set()
        self._dirty_by: dict[
            str, QueryStats
        ] = {}  # the write that made a tag dirty: its Redis errors are counted there
        self._epoch: str | None = None
        self._inflight: dict[tuple[str, tuple[tuple[int, int], ...]], asyncio.Future[Any]] = {}
        self._redis = redis
        self._redis_url = mask_url(redis_url)
        self._ns = namespace
        self._timeout = redis_timeout
        self._retry = redis_retry
        self._down_until = 0.0
        self._down_logged = False
        self._subscriber: asyncio.Task[None] | None = None
        self._flusher: asyncio.Task[None] | None = None
        self.channel = f"{namespace}:invalidate"

    @classmethod
    def from_settings(cls, settings: Settings, database_url: str) -> CacheStore | None:
        if not settings.cache:
            return None
        redis = None
        redis_url = ""
        if settings.redis_url is not None:
            from redis.asyncio import Redis

            redis_url = settings.redis_url.get_secret_value()
            redis = Redis.from_url(
                redis_url,
                socket_timeout=settings.cache_redis_timeout,
                socket_connect_timeout=settings.cache_redis_timeout,
                retry_on_timeout=False,
            )
        # Keys are per database: two databases (say, two test runs) sharing one Redis never see each other's.
        where = hashlib.blake2b(mask_url(database_url).encode(), digest_size=6).hexdigest()
        return cls(
            max_entries=settings.cache_size,
            local_ttl=settings.cache_local_ttl if redis is not None else None,
            redis=redis,
            redis_url=redis_url,
            namespace=f"dl:{where}",
            redis_timeout=settings.cache_redis_timeout,
            redis_retry=settings.cache_redis_retry,
        )

    @property
    def redis_enabled(self) -> bool:
        return self._redis is not None

    # -- the read path ---------------------------------------------------------------------------------------------
    def _snapshot(self, tags: tuple[str, ...]) -> tuple[tuple[int, int], ...]:
        return tuple((self._confirmed.get(t, 0), self._generations.get(t, 0)) for t in tags)

    async def get_or_load(self, q: Bound, args: tuple[object, ...], load: Callable[[], Awaitable[Any]]) -> Any:
        policy = q.cache
        assert policy is not None
        stats = q.stats
        key = f"{q.name}\x1e{args_key(args)}"
        tags = (q.name, *tags_of(policy.tags, args))
        while True:
            snapshot = self._snapshot(tags)
            entry = self._entries.get(key)
            if entry is not None:
                if entry.expires > time.monotonic() and entry.versions == snapshot:
                    self._entries.move_to_end(key)
                    stats.cache_hits += 1
                    return entry.value
                del self._entries[key]

            remote: tuple[int, ...] | None = (
                None  # Redis-issued versions at read start: the only stamp of a Redis entry
            )
            if self._redis_usable(tags):
                found, value, remote = await self._redis_get(q, key, tags)
                snapshot = self._snapshot(tags)  # the read may have learned newer versions
                if found:
                    stats.cache_hits += 1
                    self._put(key, value, policy.ttl, snapshot, stats)
                    return value

            flight = (key, snapshot)
            pending = self._inflight.get(flight)
            if pending is None:
                break
            try:  # the same read, from the same snapshot, is running: share its result
                value = await asyncio.shield(pending)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise
                continue  # the leader was cancelled, not this task: try again (it may lead now)
            stats.cache_hits += 1
            return value

        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[flight] = future
        try:
            value = await load()
        except asyncio.CancelledError:
            future.cancel()  # followers try again themselves: a cancellation is not theirs to share
            raise
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else was waiting
            raise
        finally:
            if self._inflight.get(flight) is future:
                del self._inflight[flight]
        future.set_result(value)
        stats.cache_misses += 1
        self._put(key, value, policy.ttl, snapshot, stats)
        if remote is not None and self._redis_usable(tags):
            await self._redis_set(q, key, value, remote, policy.ttl)
        return value

    def _put(self, key: str, value: Any, ttl: float, versions: tuple[tuple[int, int], ...], stats: QueryStats) -> None:
        local = ttl if self._local_ttl is None else min(ttl, self._local_ttl)
        self._entries[key] = _Entry(value, time.monotonic() + local, versions, stats)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            _old, evicted = self._entries.popitem(last=False)
            evicted.stats.cache_evictions += 1

    # -- invalidation ----------------------------------------------------------------------------------------------
    def invalidate(self, tags: Iterable[str], stats: QueryStats | None = None) -> None:
        """Make every entry carrying one of `tags` invalid. Synchronous, so nothing (a cancellation, a slow or
        hung Redis) can come between a write and the invalidation of this process's entries; with Redis, the
        tags are dirty until a background flush has INCRed them and published the new versions. Never raises."""
        tags = tuple(dict.fromkeys(tags))
        if not tags:
            return
        for t in tags:
            self._generations[t] = self._generations.get(t, 0) + 1
        if stats is not None:
            stats.cache_invalidations += len(tags)
        if self._redis is not None:
            self._dirty.update(tags)
            if stats is not None:
                self._dirty_by.update(dict.fromkeys(tags, stats))
            self._schedule_flush()

    def _schedule_flush(self) -> None:
        if self._flusher is None or self._flusher.done():
            try:
                self._flusher = asyncio.get_running_loop().create_task(self._flush(), name="datalayer-cache-flush")
            except RuntimeError:
                pass  # no running loop (shutdown): the dirty tags bypass Redis until a later flush

    async def _flush(self) -> None:
        """INCR the dirty tags in Redis and publish their new versions; on failure they stay dirty."""
        while self._dirty and self._redis is not None:
            if time.monotonic() < self._down_until:
                return  # Redis is being left alone; the next use after the pause flushes
            tags = tuple(sorted(self._dirty))
            try:
                async with asyncio.timeout(self._timeout):
                    await self._ensure_epoch()
                    async with self._redis.pipeline(transaction=False) as pipe:
                        for t in tags:
                            pipe.incr(self._tag_key(t))
                        new = await pipe.execute()
                    confirmed = {t: int(v) for t, v in zip(tags, new, strict=True)}
                    for t, v in confirmed.items():
                        self._confirmed[t] = max(self._confirmed.get(t, 0), v)
                    self._dirty.difference_update(tags)
                    for t in tags:
                        self._dirty_by.pop(t, None)
                    await self._redis.publish(self.channel, json.dumps({"epoch": self._epoch, "tags": confirmed}))
                self._redis_ok()
            except Exception as exc:
                for st in {id(v): v for t, v in self._dirty_by.items() if t in tags}.values():
                    st.cache_redis_errors += 1
                self._redis_failed(exc, None)
                return

    async def settle(self) -> None:
        """Wait until this process's invalidations have reached Redis (or failed to): tests, shutdown."""
        while self._flusher is not None and not self._flusher.done():
            with contextlib.suppress(Exception):
                await asyncio.shield(self._flusher)

    # -- Redis -----------------------------------------------------------------------------------------------------
    def _redis_usable(self, tags: tuple[str, ...]) -> bool:
        if self._redis is None or time.monotonic() < self._down_until:
            return False
        if self._dirty:
            if not self._dirty.isdisjoint(tags):
                self._schedule_flush()
                return False  # this process invalidated it and Redis has not confirmed: Redis may be stale
        return True

    def _tag_key(self, tag: str) -> str:
        return f"{self._ns}:tag:{tag}"

    def _entry_key(self, key: str) -> str:
        return f"{self._ns}:e:{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"

    async def _ensure_epoch(self) -> None:
        assert self._redis is not None
        if self._epoch is None:
            await self._redis.set(f"{self._ns}:epoch", uuid.uuid4().hex, nx=True)
            current = await self._redis.get(f"{self._ns}:epoch")
            self._adopt_epoch(current.decode() if isinstance(current, bytes) else str(current))

    def _adopt_epoch(self, epoch: str) -> None:
        """Versions of another epoch (a Redis that restarted empty) mean nothing: start again from Redis's."""
        if epoch != self._epoch:
            if self._epoch is not None:
                self._entries.clear()
                self._confirmed.clear()
            self._epoch = epoch

    async def _redis_get(self, q: Bound, key: str, tags: tuple[str, ...]) -> tuple[bool, Any, tuple[int, ...] | None]:
        assert self._redis is not None
        try:
            async with asyncio.timeout(self._timeout):
                await self._ensure_epoch()
                raw, epoch, *remote_raw = await self._redis.mget(
                    [self._entry_key(key), f"{self._ns}:epoch", *(self._tag_key(t) for t in tags)]
                )
                if epoch is None:  # Redis restarted empty: a new epoch
                    self._epoch = None
                    await self._ensure_epoch()
                    return False, None, None
            self._redis_ok()
        except Exception as exc:
            self._redis_failed(exc, q.stats)
            return False, None, None
        try:
            self._adopt_epoch(epoch.decode() if isinstance(epoch, bytes) else str(epoch))
            remote = tuple(int(r) if r is not None else 0 for r in remote_raw)
        except (ValueError, TypeError, AttributeError):
            return False, None, None  # a tag key that is not a number: this read bypasses Redis
        for t, v in zip(tags, remote, strict=True):
            self._confirmed[t] = max(self._confirmed.get(t, 0), v)
        if raw is None:
            return False, None, remote
        try:
            stored = json.loads(raw)
            if (
                not isinstance(stored, dict)
                or stored.get("shape") != q.cache_shape
                or stored.get("epoch") != self._epoch
            ):
                return False, None, remote
            if tuple(stored.get("versions", ())) != remote:
                return False, None, remote  # written before an invalidation
            adapter: TypeAdapter[Any] = q.cache_adapter
            return True, adapter.validate_python(stored["data"]), remote
        except (ValueError, TypeError, KeyError, ValidationError, RecursionError, AttributeError):
            return False, None, remote  # unreadable or of another shape: a miss, never a crash

    async def _redis_set(self, q: Bound, key: str, value: Any, versions: tuple[int, ...], ttl: float) -> None:
        assert self._redis is not None and q.cache_adapter is not None
        try:
            payload = json.dumps({"shape": q.cache_shape, "epoch": self._epoch, "versions": list(versions),
                                  "data": q.cache_adapter.dump_python(value, mode="json")})  # fmt: skip
            async with asyncio.timeout(self._timeout):
                await self._redis.set(self._entry_key(key), payload, px=max(1, int(ttl * 1000)))
            self._redis_ok()
        except Exception as exc:
            self._redis_failed(exc, q.stats)

    def _redis_failed(self, exc: BaseException, stats: QueryStats | None) -> None:
        if stats is not None:
            stats.cache_redis_errors += 1
        self._down_until = time.monotonic() + self._retry
        if not self._down_logged:
            self._down_logged = True
            log.warning(
                "Redis at %s is unavailable (%s); cached reads go to PostgreSQL, trying Redis again every %.1f s",
                self._redis_url, type(exc).__name__, self._retry,
            )  # fmt: skip

    def _redis_ok(self) -> None:
        if self._down_logged:
            self._down_logged = False
            log.warning("Redis at %s answers again; the shared cache is back", self._redis_url)
        if self._dirty:
            self._schedule_flush()

    # -- cross-process invalidation --------------------------------------------------------------------------------
    def start(self) -> None:
        """With Redis: listen for other processes' invalidations (until `close`)."""
        if self._redis is not None and self._subscriber is None:
            self._subscriber = asyncio.create_task(self._listen(), name="datalayer-cache-invalidations")

    async def _listen(self) -> None:
        assert self._redis is not None
        delay = 0.1
        while True:
            try:
                async with self._redis.pubsub() as ps:
                    await ps.subscribe(self.channel)
                    delay = 0.1
                    while True:
                        message = await ps.get_message(ignore_subscribe_messages=True, timeout=1.0)
                        if message is None or message.get("type") != "message":
                            continue
                        with contextlib.suppress(ValueError, TypeError, AttributeError, RecursionError):
                            data = json.loads(message["data"])
                            self._adopt_epoch(str(data["epoch"]))
                            for tag, version in data["tags"].items():
                                self._confirmed[tag] = max(self._confirmed.get(tag, 0), int(version))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("cache invalidation listener lost Redis: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry)

    async def close(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(self._flusher, self._timeout * 2)  # publish what this process invalidated
        if self._subscriber is not None:
            self._subscriber.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._subscriber
            self._subscriber = None
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()

    def clear(self) -> None:
        """Drop the in-process tier (tests, benchmarks)."""
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)

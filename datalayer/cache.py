"""The repository read cache: a read opts in where it is bound (`cache=Cached(ttl=…)`), a write says what it
invalidates (`invalidates=(tag, …)`), and the executor does the rest.

Two tiers:

- **in-process** (always): an LRU of at most `DATALAYER_CACHE_SIZE` entries, each with its TTL. It holds the
  frozen models themselves, so a hit costs a dict lookup.
- **Redis** (when `REDIS_URL` is set): entries shared by every process, as JSON of the models, read back and
  validated into the same models; an entry of another model shape is a miss, never a crash.

**Invalidation by versioned tags.** Every cached read carries tags: its query name, plus the tags it declares
(an aggregate, or an aggregate and an id, e.g. `twitter_bot.system_state:last_tweet_id`). Each tag has a version;
an entry remembers the versions of its tags as they were *before* its query ran, and is valid only while they
are unchanged. A write bumps the versions of the tags it invalidates — right after its statement returns on the
pool, or after COMMIT for a write inside a transaction (never for a rolled-back one). An entry computed from a
snapshot older than the write can therefore never be served after it, whatever the interleaving, in either tier.
With Redis the versions live in Redis (INCR) and a bump is published; every process mirrors the versions it
has seen. Staleness across processes is bounded by `DATALAYER_CACHE_LOCAL_TTL` (the in-process TTL in Redis
mode, 2 s by default): a lost pub/sub message can keep another process's in-process copy at most that long;
the Redis tier itself is never stale (its check reads the current versions in the same round trip).

**Concurrency.** Concurrent misses of one key (with the same tag versions) run the query once; the others await
its result. **Redis down**: every Redis call is bounded by `DATALAYER_CACHE_REDIS_TIMEOUT`; a failure is counted
per query, logged once, and Redis is left alone for `DATALAYER_CACHE_REDIS_RETRY` seconds, during which reads go
to PostgreSQL through the in-process tier. A write whose invalidation cannot reach Redis still succeeds and
bumps this process's versions; other processes may then serve the old value until its TTL.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import time
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
    versions: tuple[int, ...]
    stats: QueryStats


class CacheStore:
    """One per `Database`: the in-process tier, the tag versions, and the Redis tier when configured."""

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
        self._versions: dict[str, int] = {}
        self._inflight: dict[tuple[str, tuple[int, ...]], asyncio.Future[Any]] = {}
        self._redis = redis
        self._redis_url = mask_url(redis_url)
        self._ns = namespace
        self._timeout = redis_timeout
        self._retry = redis_retry
        self._down_until = 0.0
        self._down_logged = False
        self._subscriber: asyncio.Task[None] | None = None
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
    async def get_or_load(self, q: Bound, args: tuple[object, ...], load: Callable[[], Awaitable[Any]]) -> Any:
        policy = q.cache
        assert policy is not None
        stats = q.stats
        key = f"{q.name}\x1e{args_key(args)}"
        tags = (q.name, *tags_of(policy.tags, args))
        versions = tuple(self._versions.get(t, 0) for t in tags)
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None:
            if entry.expires > now and entry.versions == versions:
                self._entries.move_to_end(key)
                stats.cache_hits += 1
                return entry.value
            del self._entries[key]

        if self._redis is not None and now >= self._down_until:
            found, value, versions = await self._redis_get(q, key, tags, versions)
            if found:
                stats.cache_hits += 1
                self._put(key, value, policy.ttl, versions, stats)
                return value

        flight = (key, versions)
        pending = self._inflight.get(flight)
        if pending is not None:  # the same read, from the same snapshot of versions, is running: share it
            stats.cache_hits += 1
            return await asyncio.shield(pending)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._inflight[flight] = future
        try:
            value = await load()
        except BaseException as exc:
            future.set_exception(exc)
            future.exception()  # retrieved: no "never retrieved" warning when nobody else was waiting
            raise
        finally:
            self._inflight.pop(flight, None)
        future.set_result(value)
        stats.cache_misses += 1
        self._put(key, value, policy.ttl, versions, stats)
        if self._redis is not None and time.monotonic() >= self._down_until:
            await self._redis_set(q, key, value, versions, policy.ttl)
        return value

    def _put(self, key: str, value: Any, ttl: float, versions: tuple[int, ...], stats: QueryStats) -> None:
        local = ttl if self._local_ttl is None else min(ttl, self._local_ttl)
        self._entries[key] = _Entry(value, time.monotonic() + local, versions, stats)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max:
            _old, evicted = self._entries.popitem(last=False)
            evicted.stats.cache_evictions += 1

    # -- invalidation ----------------------------------------------------------------------------------------------
    async def invalidate(self, tags: Iterable[str], stats: QueryStats | None = None) -> None:
        """Make every entry carrying one of `tags` invalid, here and (with Redis) in every process. Never raises."""
        tags = tuple(dict.fromkeys(tags))
        if not tags:
            return
        for t in tags:
            self._versions[t] = self._versions.get(t, 0) + 1
        if stats is not None:
            stats.cache_invalidations += len(tags)
        if self._redis is None:
            return
        try:
            async with asyncio.timeout(self._timeout * 2):
                async with self._redis.pipeline(transaction=False) as pipe:
                    for t in tags:
                        pipe.incr(self._tag_key(t))
                    new = await pipe.execute()
                for t, v in zip(tags, new, strict=True):
                    self._versions[t] = max(self._versions[t], int(v))
                await self._redis.publish(self.channel, json.dumps({t: self._versions[t] for t in tags}))
            self._redis_ok()
        except Exception as exc:
            self._redis_failed(exc, stats)

    def _learn(self, tags: tuple[str, ...], remote: Iterable[Any]) -> tuple[int, ...]:
        """Versions are the larger of what Redis says and what this process has seen (its own bumps
        included, even those Redis missed while it was down)."""
        out = []
        for t, r in zip(tags, remote, strict=True):
            v = max(self._versions.get(t, 0), int(r or 0))
            self._versions[t] = v
            out.append(v)
        return tuple(out)

    # -- Redis -----------------------------------------------------------------------------------------------------
    def _tag_key(self, tag: str) -> str:
        return f"{self._ns}:tag:{tag}"

    def _entry_key(self, key: str) -> str:
        return f"{self._ns}:e:{hashlib.blake2b(key.encode(), digest_size=16).hexdigest()}"

    async def _redis_get(
        self, q: Bound, key: str, tags: tuple[str, ...], versions: tuple[int, ...]
    ) -> tuple[bool, Any, tuple[int, ...]]:
        assert self._redis is not None
        try:
            async with asyncio.timeout(self._timeout * 2):
                raw, *remote = await self._redis.mget([self._entry_key(key), *(self._tag_key(t) for t in tags)])
            self._redis_ok()
        except Exception as exc:
            self._redis_failed(exc, q.stats)
            return False, None, versions
        current = self._learn(tags, remote)
        if raw is None:
            return False, None, current
        try:
            stored = json.loads(raw)
            if stored.get("shape") != q.cache_shape or tuple(stored.get("versions", ())) != current:
                return False, None, current  # written by another model shape, or before an invalidation
            adapter: TypeAdapter[Any] = q.cache_adapter
            return True, adapter.validate_python(stored["data"]), current
        except (ValueError, TypeError, KeyError, ValidationError):
            return False, None, current  # unreadable: a miss, never a crash

    async def _redis_set(self, q: Bound, key: str, value: Any, versions: tuple[int, ...], ttl: float) -> None:
        assert self._redis is not None and q.cache_adapter is not None
        payload = json.dumps(
            {
                "shape": q.cache_shape,
                "versions": list(versions),
                "data": q.cache_adapter.dump_python(value, mode="json"),
            }
        )
        try:
            async with asyncio.timeout(self._timeout * 2):
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
                        with contextlib.suppress(ValueError, TypeError, AttributeError):
                            for tag, version in json.loads(message["data"]).items():
                                self._versions[tag] = max(self._versions.get(tag, 0), int(version))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.debug("cache invalidation listener lost Redis: %s", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry)

    async def close(self) -> None:
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

"""Token buckets (pyrate-limiter's TokenBucket), in Redis when one is configured (shared by every
process), in the process otherwise: requests per minute per API token (``rate_limiter``), and
requests to each partner per connection and operation (``partner_limiter``, used by the plugin
toolkit's PartnerHttp).

A bucket holds up to ``burst`` requests and refills at ``per_minute / 60`` a second; a request takes
one, or is refused with the seconds until one is back (sent as Retry-After, or waited out). The
library does the arithmetic and, in Redis, the atomic update (one Lua script per take); this module
only keeps one bucket per key, each with the rate its caller gives.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Protocol

import pyrate_limiter as pyrate

from orderdeck.config import Settings

_KEPT_BUCKETS = 10_000
"""Bucket objects kept per limiter; a forgotten Redis key's state stays in Redis until it expires."""


@dataclass(frozen=True)
class Rate:
    """``per_minute`` requests a minute on average, ``burst`` at once."""

    per_minute: float
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60

    def as_pyrate(self) -> pyrate.Rate:
        """The library's rate: whole requests per interval, so fractional rates (a partner
        announcing 0.0167 a second) are counted per 1,000 minutes."""
        return pyrate.Rate(max(1, round(self.per_minute * 1000)), pyrate.Duration.MINUTE * 1000, burst=self.burst)


class RateLimiter(Protocol):
    rate: Rate

    async def take(self, key: str, rate: Rate | None = None) -> float:
        """Take one request from ``key``'s bucket (of ``rate``, else the limiter's): 0 if allowed,
        else the seconds to wait."""
        ...

    async def close(self) -> None: ...


def _wait(decision: pyrate.Decision) -> float:
    """The seconds a refused request waits (0 when allowed)."""
    if decision.allowed:
        return 0.0
    return max(decision.retry_after_ms or 1, 1) / 1000


class _Buckets:
    """One StateBucket per key, the rate re-set on each take (a partner may re-tune it)."""

    def __init__(self, rate: Rate, store: Any) -> None:
        self.rate = rate
        self._store = store  # key -> StateStore
        self._buckets: OrderedDict[str, tuple[Rate, pyrate.StateBucket]] = OrderedDict()

    def bucket(self, key: str, rate: Rate) -> pyrate.StateBucket:
        kept = self._buckets.get(key)
        if kept is None:
            bucket = pyrate.StateBucket([rate.as_pyrate()], algorithm=pyrate.TokenBucket(), store=self._store(key))
        else:
            known, bucket = kept
            if known != rate:
                bucket.rates = [rate.as_pyrate()]
            self._buckets.move_to_end(key)
        self._buckets[key] = (rate, bucket)
        return bucket

    def forget_full(self) -> None:
        """Past the cap, drop the buckets that are full again (a new one starts full anyway)."""
        if len(self._buckets) > _KEPT_BUCKETS:
            for key in [key for key, (_, bucket) in self._buckets.items() if bucket.count() == 0]:
                del self._buckets[key]

    def forget_oldest(self) -> None:
        """Past the cap, drop the least recently used bucket objects (their state stays in Redis)."""
        while len(self._buckets) > _KEPT_BUCKETS:
            self._buckets.popitem(last=False)

    def clear(self) -> None:
        self._buckets.clear()


class MemoryRateLimiter:
    """Buckets in this process (one API process, or a limit per process)."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._buckets = _Buckets(rate, lambda key: pyrate.InMemoryStateStore())
        self._lock = threading.Lock()  # no await inside: shared by every thread's event loop

    async def take(self, key: str, rate: Rate | None = None) -> float:
        rate = rate or self.rate
        with self._lock:
            bucket = self._buckets.bucket(key, rate)
            now = bucket.now()
            decision = bucket.put_decision(pyrate.RateItem(key, now))
            assert isinstance(decision, pyrate.Decision)  # the in-memory store answers at once
            self._buckets.forget_full()
            return _wait(decision)

    async def close(self) -> None:
        self._buckets.clear()


class RedisRateLimiter:
    """Buckets in Redis, updated atomically by the library's script: every process shares them."""

    def __init__(self, rate: Rate, url: str, namespace: str) -> None:
        from redis.asyncio import Redis

        self.rate = rate
        self.prefix = f"{namespace}:ratelimit:"
        self._redis = Redis.from_url(url)
        self._buckets = _Buckets(rate, lambda key: pyrate.RedisStateStore(self._redis, self.prefix + key))

    async def take(self, key: str, rate: Rate | None = None) -> float:
        rate = rate or self.rate
        bucket = self._buckets.bucket(key, rate)
        self._buckets.forget_oldest()
        decision = await bucket.put_decision(pyrate.RateItem(key, bucket.now()))
        return _wait(decision)

    async def close(self) -> None:
        self._buckets.clear()
        await self._redis.aclose()


def redis_url_for(settings: Settings) -> str | None:
    """The Redis the buckets live in, if any: the setting, else (auto) the event bus's or broker's."""
    store = settings.rate_limit_store
    if store == "memory":
        return None
    if store != "auto":
        return store
    for url in (settings.event_bus, settings.broker_url or ""):
        if url.startswith(("redis://", "rediss://")):
            return url
    return None


def rate_limiter(settings: Settings) -> RateLimiter | None:
    """The limiter the settings ask for (None when the limit is off)."""
    if settings.rate_limit_per_minute == 0:
        return None
    rate = Rate(settings.rate_limit_per_minute, settings.rate_limit_burst)
    url = redis_url_for(settings)
    if url is None:
        return MemoryRateLimiter(rate)
    return RedisRateLimiter(rate, url, settings.broker_namespace)


PARTNER_DEFAULT = Rate(per_minute=300, burst=10)
"""The rate of a partner bucket whose caller gives none."""
_partners_in_process = MemoryRateLimiter(PARTNER_DEFAULT)
_partners_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, RateLimiter] = weakref.WeakKeyDictionary()


def partner_limiter() -> RateLimiter:
    """The limiter of requests to partners, keyed by connection and operation (the caller gives
    each bucket's rate): in Redis when one is configured, so every process (API, workers) shares
    a partner's budget; else in this process, shared by its threads. Redis clients are bound to
    their event loop: one limiter per loop."""
    from orderdeck.config import get_settings

    settings = get_settings()
    url = redis_url_for(settings)
    if url is None:
        return _partners_in_process
    loop = asyncio.get_running_loop()
    if loop not in _partners_by_loop:
        _partners_by_loop[loop] = RedisRateLimiter(PARTNER_DEFAULT, url, settings.broker_namespace)
    return _partners_by_loop[loop]

"""Token buckets, in Redis when one is configured (shared by every process), in the process
otherwise: requests per minute per API token (``rate_limiter``), and requests to each partner per
connection and operation (``partner_limiter``, used by the plugin toolkit's PartnerHttp).

A bucket holds up to ``burst`` requests and refills at ``per_minute / 60`` a second; a request takes
one, or is refused with the seconds until one is back (sent as Retry-After, or waited out).
"""

from __future__ import annotations

import asyncio
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Protocol

from orderdeck.config import Settings

_TAKE = """
local now = redis.call('TIME')
now = tonumber(now[1]) + tonumber(now[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = burst, now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


@dataclass(frozen=True)
class Rate:
    """``per_minute`` requests a minute on average, ``burst`` at once."""

    per_minute: float
    burst: int

    @property
    def per_second(self) -> float:
        return self.per_minute / 60


class RateLimiter(Protocol):
    rate: Rate

    async def take(self, key: str, rate: Rate | None = None) -> float:
        """Take one request from ``key``'s bucket (of ``rate``, else the limiter's): 0 if allowed,
        else the seconds to wait."""
        ...

    async def close(self) -> None: ...


class MemoryRateLimiter:
    """Buckets in this process (one API process, or a limit per process)."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()  # no await inside: shared by every thread's event loop

    async def take(self, key: str, rate: Rate | None = None) -> float:
        rate = rate or self.rate
        with self._lock:
            now = time.monotonic()
            tokens, at = self._buckets.get(key, (float(rate.burst), now))
            tokens = min(rate.burst, tokens + (now - at) * rate.per_second)
            wait = 0.0
            if tokens >= 1:
                tokens -= 1
            else:
                wait = (1 - tokens) / rate.per_second
            self._buckets[key] = (tokens, now)
            if len(self._buckets) > 10_000:  # forget full buckets of keys gone quiet
                self._forget_full(now)
            return wait

    def _forget_full(self, now: float) -> None:
        full_after = self.rate.burst / self.rate.per_second
        self._buckets = {k: (t, at) for k, (t, at) in self._buckets.items() if now - at < full_after}

    async def close(self) -> None:
        self._buckets.clear()


class RedisRateLimiter:
    """Buckets in Redis, updated atomically by a script: every API process shares them."""

    def __init__(self, rate: Rate, url: str, namespace: str) -> None:
        from redis.asyncio import Redis

        self.rate = rate
        self.prefix = f"{namespace}:ratelimit:"
        self._redis = Redis.from_url(url)
        self._take = self._redis.register_script(_TAKE)

    async def take(self, key: str, rate: Rate | None = None) -> float:
        rate = rate or self.rate
        wait = await self._take(keys=[self.prefix + key], args=[rate.per_second, rate.burst])
        return float(wait)

    async def close(self) -> None:
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

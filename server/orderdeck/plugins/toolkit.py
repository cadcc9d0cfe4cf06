"""Client plumbing every channel plugin shares: one HTTP client with rate limiting, retries and
typed errors, so no plugin re-implements them.

    http = PartnerHttp("https://shop.example/wp-json/wc/v3", auth=("ck", "cs"), rate=5, burst=10)
    response = await http.request("GET", "/orders", params={"page": 1})
    orders = http.json(response, list)

- A token bucket spaces requests to ``rate`` per second with bursts of ``burst``.
- 429: waits for Retry-After (or the bucket's pace) and tries again, up to ``max_wait`` seconds in
  all; past that raises PartnerRateLimited(retry_after) for the job to retry later. A rate header
  (e.g. Amazon's x-amzn-RateLimit-Limit) re-tunes the bucket to what the channel announces.
- Timeouts, connection errors and 5xx are retried ``retries`` times with exponential backoff, then
  raise PartnerUnavailable. 401/403 raise PartnerAuthError; other 4xx raise PartnerDataError, with the
  channel's own message; unreadable bodies raise PartnerUnreadable (retried: see errors.py).
"""

from __future__ import annotations

import asyncio
import functools
import json
import ssl
import time
from typing import Any, TypeVar

import certifi
import httpx

from orderdeck.plugins.errors import (
    PartnerAuthError,
    PartnerDataError,
    PartnerRateLimited,
    PartnerUnavailable,
    PartnerUnreadable,
)

T = TypeVar("T")


@functools.cache
def default_tls() -> ssl.SSLContext:
    """One TLS context with the system's CA certificates, shared by every client of the process."""
    return ssl.create_default_context(cafile=certifi.where())


class TokenBucket:
    """At most ``rate`` acquisitions per second on average, ``burst`` at once."""

    def __init__(self, rate: float, burst: int) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.updated = time.monotonic()
        self._lock = asyncio.Lock()

    def retune(self, rate: float) -> None:
        """Follow a rate the channel announces."""
        if rate > 0:
            self.rate = rate

    async def acquire(self) -> None:
        """Wait until a request may be sent."""
        async with self._lock:
            while True:
                now = time.monotonic()
                self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
                self.updated = now
                if self.tokens >= 1:
                    self.tokens -= 1
                    return
                await asyncio.sleep((1 - self.tokens) / self.rate)


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def _message(response: httpx.Response) -> str:
    """The channel's error message, from the common JSON error shapes, else the body's start."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if isinstance(body, dict):
        for key in ("message", "error_description", "error"):
            if isinstance(body.get(key), str):
                return body[key][:300]
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("message") or errors[0].get("longMessage") or errors[0])[:300]
    return json.dumps(body)[:300]


class PartnerHttp:
    """An HTTP client for one channel's API (see the module docstring)."""

    def __init__(
        self,
        base_url: str,
        *,
        rate: float = 5.0,
        burst: int = 10,
        timeout: float = 20.0,
        retries: int = 2,
        max_wait: float = 30.0,
        rate_header: str | None = None,
        **client_options: Any,
    ) -> None:
        self.bucket = TokenBucket(rate, burst)
        self.retries = retries
        self.max_wait = max_wait
        self.rate_header = rate_header
        if client_options.get("verify", True) is True:
            client_options["verify"] = default_tls()  # loading the CA bundle costs ~40 ms a client
        self.client = httpx.AsyncClient(base_url=base_url, timeout=timeout, **client_options)

    async def __aenter__(self) -> PartnerHttp:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the connections."""
        await self.client.aclose()

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request, pacing, retrying and raising typed errors as the module says."""
        waited, attempt = 0.0, 0
        while True:
            await self.bucket.acquire()
            try:
                response = await self.client.request(method, url, **kwargs)
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if attempt >= self.retries:
                    raise PartnerUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
                attempt += 1
                await asyncio.sleep(min(2**attempt * 0.25, 5))
                continue
            self._follow_rate(response)
            if response.status_code == 429:
                pause = _retry_after(response, 1 / self.bucket.rate)
                if waited + pause > self.max_wait:
                    raise PartnerRateLimited(f"{method} {url}: rate limited by the channel", retry_after=pause)
                waited += pause
                await asyncio.sleep(pause)
                continue
            if response.status_code >= 500:
                if attempt >= self.retries:
                    raise PartnerUnavailable(f"{method} {url}: HTTP {response.status_code}: {_message(response)}")
                attempt += 1
                await asyncio.sleep(min(2**attempt * 0.25, 5))
                continue
            if response.status_code in (401, 403):
                raise PartnerAuthError(f"{method} {url}: HTTP {response.status_code}: {_message(response)}")
            if response.status_code >= 400:
                raise PartnerDataError(f"{method} {url}: HTTP {response.status_code}: {_message(response)}")
            return response

    def _follow_rate(self, response: httpx.Response) -> None:
        if self.rate_header and self.rate_header in response.headers:
            try:
                self.bucket.retune(float(response.headers[self.rate_header]))
            except ValueError:
                pass

    @staticmethod
    def json(response: httpx.Response, expected: type[T]) -> T:
        """The response's JSON body, which must be of type ``expected`` (dict or list)."""
        try:
            body = response.json()
        except ValueError:
            raise PartnerUnreadable(f"{response.request.url}: the answer is not JSON: {response.text[:200]!r}") from None
        if not isinstance(body, expected):
            raise PartnerUnreadable(f"{response.request.url}: expected a JSON {expected.__name__}, got {type(body).__name__}")
        return body

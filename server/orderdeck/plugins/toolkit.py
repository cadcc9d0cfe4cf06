"""Client plumbing every connector shares: one HTTP client with rate limiting, retries (tenacity)
and typed errors, so no plugin re-implements them.

    http = PartnerHttp("https://shop.example/wp-json/wc/v3", auth=("ck", "cs"), rate=5, burst=10,
                       limit_key=connection.connection_id)
    response = await http.request("GET", "/orders", params={"page": 1})
    orders = http.json(response, list)

- A token bucket spaces requests to ``rate`` per second with bursts of ``burst``. With a
  ``limit_key`` (e.g. the connection's id) the bucket is shared by every client of that key, in
  every process when Redis is configured (``orderdeck.ratelimit.partner_limiter``), so a
  partner's budget holds across calls, jobs and workers; ``request(..., operation=...)`` gives an
  operation its own bucket (``operation_rates`` sets its rate).
- 429: waits for Retry-After (or the bucket's pace) and tries again, up to ``max_wait`` seconds in
  all; past that raises PartnerRateLimited(retry_after) for the job to retry later (a 429 without
  Retry-After waits one interval of the operation's rate). A rate header (e.g. Amazon's
  x-amzn-RateLimit-Limit) re-tunes the bucket of the operation it answered (or the client's own
  rate, for requests without an operation) to what the channel announces.
- A TLS certificate the client does not trust raises PartnerAuthError at once (a settings matter).
- Timeouts, connection errors and 5xx are retried ``retries`` times with exponential backoff, then
  raise PartnerUnavailable. 401/403 raise PartnerAuthError; other 4xx raise PartnerDataError, with the
  channel's own message; unreadable bodies raise PartnerUnreadable (retried: see errors.py).
- ``error_for(response, what)``: a partner's own reading of its error answers (e.g. eBay's
  ``{"errors": [{"errorId", ...}]}``), asked first for every answer of 400 or more: the typed
  error it returns is raised (and retried as its type says), None leaves the answer to the rules
  above.
"""

from __future__ import annotations

import asyncio
import functools
import json
import re
import ssl
import uuid
from collections.abc import Callable
from typing import Annotated, Any, TypeVar

import certifi
import httpx
from pydantic import AfterValidator
from tenacity import AsyncRetrying, RetryCallState

from orderdeck.ratelimit import Rate, partner_limiter
from orderdeck.plugins.errors import (
    PartnerAuthError,
    PartnerError,
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


@functools.cache
def tls_context(trusted_certificate: str | None = None) -> ssl.SSLContext:
    """What a client checks a partner's certificate against (``PartnerHttp(verify=...)``): the
    public CAs, or with ``trusted_certificate`` (PEM) that certificate alone (a self-signed
    partner, a sandbox). Checks are never turned off."""
    if not trusted_certificate:
        return default_tls()
    return ssl.create_default_context(cadata=trusted_certificate)


def _pem_certificate(value: str | None) -> str | None:
    if value and value.strip():
        try:
            ssl.create_default_context(cadata=value)
        except (ssl.SSLError, ValueError):
            raise ValueError("must be a certificate in PEM form (-----BEGIN CERTIFICATE-----...)") from None
        return value
    return None


TrustedCertificate = Annotated[str | None, AfterValidator(_pem_certificate)]
"""A connector setting: a PEM certificate to trust instead of the public CAs (empty: none)."""


HTTP_ADDRESS = re.compile(r"https?://[^\s/?#]+(/[^\s?#]*)?")
"""An http(s) base address: a host, an optional path, no query or fragment."""


def http_address(value: str, what: str = "an http(s) address", *, required: bool = True) -> str:
    """A settings validator's check of a partner's base address: stripped, without a trailing
    slash; ValueError saying it must be ``what`` otherwise. Empty is refused too, unless not
    ``required`` (then it stays empty: the connector's default address applies)."""
    value = value.strip().rstrip("/")
    if (value or required) and not HTTP_ADDRESS.fullmatch(value):
        raise ValueError(f"must be {what}")
    return value


def _retry_after(response: httpx.Response, default: float) -> float:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return default


def _untrusted_certificate(error: BaseException) -> bool:
    """Whether a transport error is a TLS certificate the client does not trust (or not the host's)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, ssl.SSLCertVerificationError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


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


class _RetryPolicy:
    """Which failed attempts of one request are tried again, and after how long (tenacity's retry
    and wait): a 429 after its Retry-After while the waits stay within ``max_wait``; a passing
    failure (timeout, connection, 5xx) ``retries`` times with exponential backoff; nothing else."""

    def __init__(self, retries: int, max_wait: float) -> None:
        self.retries, self.max_wait = retries, max_wait
        self.failures, self.waited = 0, 0.0

    def again(self, state: RetryCallState) -> bool:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, PartnerRateLimited):
            return self.waited + error.retry_after <= self.max_wait
        return isinstance(error, PartnerUnavailable) and self.failures < self.retries

    def pause(self, state: RetryCallState) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, PartnerRateLimited):
            self.waited += error.retry_after
            return error.retry_after
        self.failures += 1
        return min(2**self.failures * 0.25, 5.0)


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
        limit_key: str | None = None,
        operation_rates: dict[str, tuple[float, int]] | None = None,
        error_for: Callable[[httpx.Response, str], PartnerError | None] | None = None,
        **client_options: Any,
    ) -> None:
        self.rate = Rate(rate * 60, burst)
        self.operation_rates = {op: Rate(r * 60, b) for op, (r, b) in (operation_rates or {}).items()}
        self.limit_key = f"partner:{limit_key}" if limit_key else f"client:{uuid.uuid4().hex}"
        self.retries = retries
        self.max_wait = max_wait
        self.rate_header = rate_header
        self.error_for = error_for
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

    async def _pace(self, operation: str) -> None:
        """Wait until the bucket of this client's key (and ``operation``) lets a request go."""
        key = f"{self.limit_key}:{operation}" if operation else self.limit_key
        rate = self.operation_rates.get(operation, self.rate)
        limiter = partner_limiter()
        while (wait := await limiter.take(key, rate)) > 0:
            await asyncio.sleep(wait)

    async def request(self, method: str, url: str, *, operation: str = "", **kwargs: Any) -> httpx.Response:
        """Send a request, pacing, retrying and raising typed errors as the module says."""
        policy = _RetryPolicy(self.retries, self.max_wait)
        async for attempt in AsyncRetrying(retry=policy.again, wait=policy.pause, reraise=True):
            with attempt:
                return await self._attempt(method, url, operation, kwargs)
        raise AssertionError("unreachable: tenacity returns or raises")  # pragma: no cover

    async def _attempt(self, method: str, url: str, operation: str, kwargs: dict[str, Any]) -> httpx.Response:
        """One paced attempt; the partner's answer, or the typed error it amounts to."""
        await self._pace(operation)
        try:
            response = await self.client.request(method, url, **kwargs)
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            if _untrusted_certificate(exc):  # a settings matter: trying again changes nothing
                raise PartnerAuthError(f"{method} {url}: the partner's TLS certificate is not trusted: {exc}") from exc
            raise PartnerUnavailable(f"{method} {url}: {type(exc).__name__}: {exc}") from exc
        self._follow_rate(response, operation)
        status = response.status_code
        if status >= 400 and self.error_for is not None:
            error = self.error_for(response, f"{method} {url}")
            if error is not None:
                raise error
        if status == 429:
            pause = _retry_after(response, 1 / self.operation_rates.get(operation, self.rate).per_second)
            raise PartnerRateLimited(f"{method} {url}: rate limited by the partner", retry_after=pause)
        if status >= 500:
            raise PartnerUnavailable(f"{method} {url}: HTTP {status}: {_message(response)}")
        if status in (401, 403):
            raise PartnerAuthError(f"{method} {url}: HTTP {status}: {_message(response)}")
        if status >= 400:
            raise PartnerDataError(f"{method} {url}: HTTP {status}: {_message(response)}")
        return response

    def _follow_rate(self, response: httpx.Response, operation: str) -> None:
        """Follow the rate the partner announces (requests a second) in its rate header, for the
        operation the response answers (its own bucket when it has one)."""
        if self.rate_header and self.rate_header in response.headers:
            try:
                announced = float(response.headers[self.rate_header])
            except ValueError:
                return
            if announced > 0:
                if operation in self.operation_rates:
                    burst = self.operation_rates[operation].burst
                    self.operation_rates[operation] = Rate(announced * 60, burst)
                else:
                    self.rate = Rate(announced * 60, self.rate.burst)

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

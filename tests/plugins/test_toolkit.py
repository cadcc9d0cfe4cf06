"""The shared channel HTTP client (orderdeck.plugins.toolkit.PartnerHttp), over real HTTP against
the WooCommerce sandbox's fault injection: waits on 429, retries 5xx and timeouts, typed errors,
token-bucket pacing."""

from __future__ import annotations

import time

import pytest

from orderdeck.plugins.errors import (
    PartnerAuthError,
    PartnerDataError,
    PartnerRateLimited,
    PartnerUnavailable,
    PartnerUnreadable,
)
from orderdeck.plugins.oauth1 import OAuth1
from orderdeck.plugins.toolkit import PartnerHttp
from tests.plugins.conftest import KEY, SECRET


def http(sandbox, **options) -> PartnerHttp:
    """A client of the WooCommerce sandbox (over plain HTTP, so requests are signed, as the shop requires)."""
    options = {"rate": 100.0, "burst": 100, "auth": OAuth1(KEY, SECRET, placement="query"), **options}
    return PartnerHttp(f"{sandbox.url}/wp-json/wc/v3", **options)


async def test_429_with_retry_after_waits_then_succeeds(sandbox, control):
    control.fault("rate_limit", count=2, retry_after=0.3)
    async with http(sandbox, max_wait=5) as client:
        started = time.monotonic()
        response = await client.request("GET", "/orders")
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert isinstance(client.json(response, list), list)
    assert [r["status"] for r in control.requests()] == [429, 429, 200]
    assert elapsed >= 0.55, "each 429 waits for its Retry-After"


async def test_429_beyond_max_wait_raises_rate_limited_with_retry_after(sandbox, control):
    control.fault("rate_limit", count=5, retry_after=30)
    async with http(sandbox, max_wait=2) as client:
        started = time.monotonic()
        with pytest.raises(PartnerRateLimited) as caught:
            await client.request("GET", "/orders")
    assert caught.value.retry_after == 30
    assert time.monotonic() - started < 2, "it gives up at once rather than wait past max_wait"
    assert len(control.requests()) == 1


async def test_500_is_retried_then_succeeds(sandbox, control):
    control.fault("server_error", count=2)
    async with http(sandbox, retries=2) as client:
        response = await client.request("GET", "/orders")
    assert response.status_code == 200
    assert [r["status"] for r in control.requests()] == [500, 500, 200]


async def test_500_beyond_retries_raises_unavailable(sandbox, control):
    control.fault("server_error", count=5, status=503)
    async with http(sandbox, retries=1) as client:
        with pytest.raises(PartnerUnavailable, match="503.*critical error"):
            await client.request("GET", "/orders")
    assert len(control.requests()) == 2, "one try and one retry"


async def test_timeout_raises_unavailable(sandbox, control):
    control.fault("delay", count=5, seconds=1.0)
    async with http(sandbox, timeout=0.2, retries=1) as client:
        with pytest.raises(PartnerUnavailable, match="Timeout"):
            await client.request("GET", "/orders")
    assert len(control.requests()) == 2


async def test_a_slow_answer_within_the_timeout_is_fine(sandbox, control):
    control.fault("delay", count=1, seconds=0.2)
    async with http(sandbox, timeout=5) as client:
        response = await client.request("GET", "/orders")
    assert response.status_code == 200


async def test_401_raises_auth_error_with_the_channels_message(sandbox, control):
    async with http(sandbox, auth=OAuth1(KEY, "cs_wrong", placement="query")) as client:
        with pytest.raises(PartnerAuthError, match="401.*Invalid signature - provided signature does not match"):
            await client.request("GET", "/orders")
    assert len(control.requests()) == 1, "auth errors are not retried"


async def test_other_4xx_raises_data_error_with_the_channels_message(sandbox, control):
    async with http(sandbox) as client:
        with pytest.raises(PartnerDataError, match="400.*Invalid parameter"):
            await client.request("GET", "/orders", params={"per_page": 500})
        with pytest.raises(PartnerDataError, match="404.*Invalid ID"):
            await client.request("GET", "/orders/999999")


async def test_malformed_json_raises_unreadable_a_passing_failure(sandbox, control):
    control.fault("malformed", count=1)
    async with http(sandbox) as client:
        response = await client.request("GET", "/orders")
        with pytest.raises(PartnerUnreadable, match="not JSON") as raised:
            client.json(response, list)
    assert isinstance(raised.value, PartnerUnavailable)  # retried, as a proxy's error page may be


async def test_a_body_of_the_wrong_shape_raises_unreadable(sandbox, control):
    control.orders(random=1)
    async with http(sandbox) as client:
        response = await client.request("GET", "/orders")
        with pytest.raises(PartnerUnreadable, match="expected a JSON dict"):
            client.json(response, dict)


async def test_token_bucket_paces_requests(sandbox, control):
    rate, count = 10.0, 16
    async with http(sandbox, rate=rate, burst=1) as client:
        started = time.monotonic()
        for _ in range(count):
            await client.request("GET", "/orders", params={"per_page": 1})
        elapsed = time.monotonic() - started
    arrivals = [r["at"] for r in control.requests()]
    assert len(arrivals) == count
    # 16 requests at 10/s with a burst of 1 take at least 1.5 s (generous upper bound for slow CI).
    assert 1.3 <= elapsed < 10
    # Never more than rate + burst requests within any one second.
    busiest = max(sum(1 for t in arrivals if start <= t < start + 1.0) for start in arrivals)
    assert busiest <= rate + 1


async def test_clients_of_one_key_share_its_budget_and_other_keys_do_not(sandbox, control):
    """Each hook call makes its own client: with the connection's limit_key, they share one bucket
    (a shop's rate holds across calls and jobs); another connection has its own."""
    import asyncio

    async def burst(key: str, count: int) -> None:
        async with http(sandbox, rate=5.0, burst=1, limit_key=key) as client:
            for _ in range(count):
                await client.request("GET", "/orders", params={"per_page": 1})

    started = time.monotonic()
    await asyncio.gather(burst("shop-a", 3), burst("shop-a", 3))  # 6 requests, one budget of 5/s
    shared = time.monotonic() - started
    started = time.monotonic()
    await asyncio.gather(burst("shop-b", 3), burst("shop-c", 3))  # two budgets
    apart = time.monotonic() - started
    assert shared >= 0.9 and apart < shared * 0.8, (shared, apart)


async def test_an_operation_has_its_own_rate(sandbox, control):
    async with http(sandbox, rate=100.0, burst=100, limit_key="shop-d", operation_rates={"orders": (4.0, 1)}) as client:
        started = time.monotonic()
        for _ in range(3):
            await client.request("GET", "/orders", operation="orders")
        slow = time.monotonic() - started
        started = time.monotonic()
        for _ in range(3):
            await client.request("GET", "/products")
        fast = time.monotonic() - started
    assert slow >= 0.45 and fast < 0.4, (slow, fast)


async def test_with_redis_the_budget_is_shared_by_every_process(monkeypatch):
    """The partner limiter lives in Redis when one is configured: two limiters (as two worker
    processes would hold) draw from one bucket."""
    from orderdeck.config import get_settings
    from orderdeck.ratelimit import Rate, RedisRateLimiter, partner_limiter

    monkeypatch.setattr(get_settings(), "rate_limit_store", "redis://127.0.0.1:6379/15")
    first = partner_limiter()
    assert isinstance(first, RedisRateLimiter)
    second = RedisRateLimiter(first.rate, "redis://127.0.0.1:6379/15", get_settings().broker_namespace)
    key, rate = f"partner:test-{time.monotonic_ns()}", Rate(per_minute=60, burst=2)
    try:
        waits = [await limiter.take(key, rate) for limiter in (first, second, first, second)]
    finally:
        await second.close()
    assert waits[:2] == [0.0, 0.0] and all(wait > 0 for wait in waits[2:]), waits


def test_http_address_is_one_check_of_a_partners_base_address():
    from orderdeck.plugins.toolkit import http_address

    assert http_address("  https://shop.example.com/wp/ ") == "https://shop.example.com/wp"
    assert http_address(" ", required=False) == ""
    for bad in ("", "ftp://shop.example.com", "https://shop example.com", "https://shop.example.com/?a=1"):
        with pytest.raises(ValueError, match="must be the shop's address"):
            http_address(bad, "the shop's address")

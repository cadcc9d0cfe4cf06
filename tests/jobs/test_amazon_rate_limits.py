"""Amazon's usage plans hold across processes (PostgreSQL, the Redis broker, `orderdeck worker`
processes): two channels of one seller (Amazon UK and Amazon DE: one budget at Amazon, one set of
buckets in Redis) download their orders and push their quantities at once from two worker
processes against the Amazon sandbox, which enforces low usage plans (2 a second, burst 2).

Each worker process runs one job at a time (one thread, one message prefetched), so the two
downloads, which overlap in time, ran in two processes. Shown: per operation, the requests the
sandbox received in any window of W seconds are at most rate * W + burst (with buckets per process,
ORDERDECK_RATE_LIMIT_STORE=memory, the initial pushes alone break it: 5-6 patches in a second);
each 429 (the sandbox's own, and those it was told to give with a Retry-After) is sent again no
sooner than it asked (Retry-After, else one interval of the operation) and answered in the end;
every order is downloaded and every quantity pushed.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from orderdeck.models import Listing, Order, SyncKind, SyncRun
from orderdeck.services import channels, listings, outbox
from orderdeck_amazon.client import LWA_RATE
from orderdeck_amazon.sandbox import create_app
from orderdeck_amazon.sandbox.account import iso
from tests.jobs.test_worker_process import REDIS_URL, RedisJobs, namespace, start_worker  # noqa: F401 - fixture
from tests.plugins.support import ApiSpec, serve
from tests.services.helpers import assert_stock_consistent, make_item

pytestmark = pytest.mark.usefixtures("postgres_only")

SELLER, CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "A1RATESELLER", "amzn1.application-oa2-client.rates", "rates-secret", "Atzr|rates"
UK, DE = "A1F83G8C2ARO7P", "A1PA6795UKMFR9"
PLANS = {"getOrders": (2.0, 2), "getOrderItems": (2.0, 2), "patchListingsItem": (2.0, 2)}
"""The sandbox's usage plans (and the connections'): low, so the budget binds within seconds."""
RETRY_AFTER = 1.5
"""What the sandbox's injected 429s ask for."""
WAIT = 45.0


@dataclass
class Answer:
    """One SP-API or LWA request the sandbox answered: when it arrived, what it was, its answer."""

    at: float
    method: str
    path: str
    query: str
    token: str
    status: int = 0
    answered: float = 0.0
    retry_after: float | None = None
    fault: bool = False


class Answers:
    """The sandbox app, recording every request's arrival and answer (status, Retry-After, whether
    an injected fault gave it) and the access token it carried: which client asked."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.log: list[Answer] = []

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith("/__sandbox"):
            return await self.app(scope, receive, send)
        headers = dict(scope["headers"])
        answer = Answer(time.time(), scope["method"], scope["path"], scope.get("query_string", b"").decode(),
                        headers.get(b"x-amz-access-token", b"").decode())  # fmt: skip
        self.log.append(answer)

        async def record(message: dict) -> None:
            if message["type"] == "http.response.start":
                answered = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
                answer.status, answer.answered = message["status"], time.time()
                answer.fault = "x-sandbox-fault" in answered
                answer.retry_after = float(answered["retry-after"]) if "retry-after" in answered else None
            await send(message)

        await self.app(scope, receive, record)


@pytest.fixture
def sandbox() -> Iterator[tuple[str, Answers]]:
    """A seller selling in the UK and Germany, three SKUs listed, its usage plans low."""
    app = create_app(skus=["MUG", "CUP", "TEE"], seller_id=SELLER, marketplace_ids=[UK, DE], client_id=CLIENT_ID,
                     client_secret=CLIENT_SECRET, refresh_token=REFRESH_TOKEN, rates=PLANS, seed=5)  # fmt: skip
    answers = Answers(app)
    with serve(answers) as running:
        yield running.url, answers


@pytest.fixture
async def workers(database_url: str, namespace: str) -> AsyncIterator[RedisJobs]:  # noqa: F811 - the fixture
    """Two worker processes, each running one job at a time, once both take messages; this
    process's commits send their jobs to them through Redis."""
    jobs = RedisJobs(database_url, namespace)
    processes = [start_worker(database_url, namespace, threads=1, dramatiq_queue_prefetch="1",
                              dramatiq_worker_timeout="100") for _ in range(2)]  # fmt: skip
    try:
        heartbeats, deadline = redis.Redis.from_url(REDIS_URL), time.monotonic() + WAIT
        for queue in ("download", "stock_push"):  # both processes fetch from the queues the test uses
            jobs.broker.declare_queue(queue)
        while heartbeats.zcard(f"{namespace}:__heartbeats__") < 2:
            assert time.monotonic() < deadline and all(p.poll() is None for p in processes), "the workers did not start"
            await asyncio.sleep(0.1)
        outbox.listen(jobs.send)  # type: ignore[arg-type]
        yield jobs
    finally:
        outbox.unlisten(jobs.send)  # type: ignore[arg-type]
        for process in processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                jobs.output += process.communicate(timeout=30)[0]
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                jobs.output += process.communicate()[0]
        print(jobs.output)  # shown by pytest when the test fails


async def amazon_channel(url: str, name: str, marketplace: str, location, actor):
    """A channel of the sandbox's seller in one marketplace, MUG, CUP and TEE listed."""
    channel = await channels.create_channel({
        "name": name, "plugin": "amazon", "stock_location_ids": [location.id], "download_location_id": location.id,
        "settings": {"marketplace_ids": [marketplace], "seller_id": SELLER, "client_id": CLIENT_ID,
                     "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN, "endpoint": url,
                     "token_url": f"{url}/auth/o2/token", "first_download_days": 1,
                     "rate_overrides": {op: {"rate": rate, "burst": burst} for op, (rate, burst) in PLANS.items()}},
    }, actor)  # fmt: skip
    for sku in ("MUG", "CUP", "TEE"):
        await listings.link_listing({"channel_id": channel.id, "channel_sku": sku, "sku": sku}, actor)
    return channel


async def until(check: Any, what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not await check():
        if time.monotonic() > deadline:
            rows = await Listing.all().values("channel__name", "channel_sku", "submitted_quantity", "push_due",
                                              "push_claimed_at", "submit_status", "submit_error")  # fmt: skip
            raise AssertionError(f"timed out waiting until {what}: {rows}")
        await asyncio.sleep(0.1)


async def pushed(expected: dict[str, int]) -> bool:
    """Every listing's last submitted quantity is the expected one, and nothing is due or claimed."""
    rows = await Listing.all().values("channel_sku", "submitted_quantity", "push_due", "push_claimed_at")
    return len(rows) == 6 and all(r["submitted_quantity"] == expected[r["channel_sku"]] and not r["push_due"]
                                  and r["push_claimed_at"] is None for r in rows)  # fmt: skip


def operation_of(answer: Answer, specs: list[ApiSpec]) -> str:
    if answer.path == "/auth/o2/token":
        return "lwaToken"
    return next(op.name for spec in specs if (op := spec.operation(answer.method, answer.path)) is not None)


def most_in_a_window(moments: list[float], seconds: float) -> int:
    """The most of ``moments`` within any ``seconds`` (a window starting at one of them)."""
    moments, most, end = sorted(moments), 0, 0
    for start, moment in enumerate(moments):
        while end < len(moments) and moments[end] < moment + seconds:
            end += 1
        most = max(most, end - start)
    return most


async def test_two_worker_processes_keep_to_amazons_usage_plans_together(workers, sandbox, namespace, default_location,
                                                                         actor):  # noqa: F811 - the fixture
    url, answers = sandbox
    control = httpx.Client(base_url=f"{url}/__sandbox", timeout=10)
    for sku in ("MUG", "CUP", "TEE"):
        await make_item(sku, actor, level=50, location_id=default_location.id)
    an_hour_ago = iso(datetime.now(UTC) - timedelta(hours=1))
    placed = [{"marketplace_id": UK, "status": "Unshipped", "items": [{"sku": "MUG", "quantity": 1}]}] * 8
    placed += [{"marketplace_id": DE, "status": "Unshipped", "items": [{"sku": "CUP", "quantity": 2},
                                                                      {"sku": "TEE", "quantity": 1}]}] * 4  # fmt: skip
    control.post("/orders", json={"orders": [{**spec, "purchase_date": an_hour_ago, "last_update_date": an_hour_ago}
                                             for spec in placed]}).raise_for_status()  # fmt: skip
    uk = await amazon_channel(url, "Amazon UK", UK, default_location, actor)
    de = await amazon_channel(url, "Amazon DE", DE, default_location, actor)
    await until(lambda: pushed({"MUG": 50, "CUP": 50, "TEE": 50}), "the listings' first quantities are pushed")

    started = time.time()
    for channel in (uk, de):  # both at once: one process each
        workers.send(SyncKind.DOWNLOAD, channel.id)
    for after in (4, 12):  # two of the next requests are told to come back later
        control.post("/faults", json={"kind": "rate_limit", "retry_after": RETRY_AFTER, "after": after}).raise_for_status()
    expected = {"MUG": 42, "CUP": 42, "TEE": 46}
    await until(lambda: pushed(expected), "every order is downloaded and every new quantity pushed")
    buckets = [key.decode() for key in redis.Redis.from_url(REDIS_URL).scan_iter(f"{namespace}:ratelimit:*")]
    await asyncio.to_thread(workers.drain, WAIT)
    took = time.time() - started

    # Nothing dropped: every order downloaded once, every quantity at Amazon.
    assert await Order.filter(channel_id=uk.id).count() == 8 and await Order.filter(channel_id=de.id).count() == 4
    state = control.get("/state").json()
    assert {x["sku"]: x["quantity"] for x in state["listings"]} == expected
    await assert_stock_consistent()

    specs = [ApiSpec.load("amazon-sp-api-ordersV0.json"), ApiSpec.load("amazon-sp-api-listingsItems_2021-08-01.json")]

    # Per operation, the combined rate at the sandbox kept to the usage plan in every window (at 2
    # a second, a delay under half a second between a worker's take and the sandbox's log cannot
    # add a request to a window's count).
    plans = {**PLANS, "lwaToken": LWA_RATE}
    by_operation: dict[str, list[float]] = {}
    for answer in answers.log:
        by_operation.setdefault(operation_of(answer, specs), []).append(answer.at)
    assert set(by_operation) == set(plans)
    for operation, moments in by_operation.items():
        rate, burst = plans[operation]
        for seconds in (0.5, 1.0, 2.0, 4.0):
            most = most_in_a_window(moments, seconds)
            assert most <= rate * seconds + burst, f"{operation}: {most} requests within {seconds} s"

    # The buckets were the seller's, in Redis: one per operation, whichever channel and process asked
    # (those still refilling: a full one expires).
    seller = f"{namespace}:ratelimit:partner:amazon|{url}|{SELLER}|{CLIENT_ID}:"
    assert buckets and {key.removeprefix(seller) for key in buckets} <= set(plans), buckets

    # Both downloads ran at once: in the two processes, sharing the buckets of getOrders,
    # getOrderItems and LWA (which process wins the next token is theirs to race for).
    runs = await SyncRun.filter(kind=SyncKind.DOWNLOAD).order_by("started_at")
    assert len(runs) == 2 and runs[1].started_at < runs[0].finished_at, "the downloads overlapped"

    # Each 429 was asked again no sooner than it said, and answered in the end.
    refused = [a for a in answers.log if a.status == 429]
    injected = [a for a in refused if a.fault]
    assert len(injected) == 2 and all(a.retry_after == RETRY_AFTER for a in injected)
    for answer in refused:
        again = [a for a in answers.log if a.at > answer.at and (a.method, a.path, a.query, a.token) ==
                 (answer.method, answer.path, answer.query, answer.token)]  # fmt: skip
        if answer.path == "/auth/o2/token":
            assert any(a.status == 200 for a in answers.log if a.path == answer.path and a.at > answer.at)
            continue  # token requests carry no token: which client sent one again is not known here
        operation = operation_of(answer, specs)
        waited = answer.retry_after if answer.retry_after is not None else 1 / plans[operation][0]
        assert again and again[0].at - answer.answered >= waited, f"{operation} {answer.path}: asked again too soon"
        assert any(200 <= a.status < 300 for a in again), f"{operation} {answer.path}: never answered"
    print(f"{len(answers.log)} requests in {took:.1f} s; 429s: {len(refused)} ({len(injected)} injected); "
          f"most a second: { {op: most_in_a_window(m, 1.0) for op, m in by_operation.items()} }")

"""The production shape on PostgreSQL: jobs go through Redis to a separate `orderdeck worker`
process. This test process plays the API: its commits wake jobs, which it sends to Redis.

Covered: the whole flow (shop -> download -> reserve -> push to the other shop -> process ->
dispatch -> the shop shows the order completed with its tracking number), a job delivered twice,
and a worker killed (SIGKILL) mid-download and mid-push: the scheduler closes its run FAILED
(abandoned) about one run lease (ORDERDECK_RUN_LEASE_SECONDS, short here) after the kill, and
another worker's run takes over at once, with nothing lost or duplicated.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator

import httpx
import pytest
import redis
from dramatiq import Message
from dramatiq.brokers.redis import RedisBroker

from tests.jobs.test_embedded_flow import PAST, connect, place, shop_state, stock_in
from tests.services.helpers import assert_stock_consistent, levels_of, make_item
from orderdeck.jobs import scheduler
from orderdeck.jobs.actors import ACTORS
from orderdeck.models import Channel, Dispatch, DispatchState, Listing, Order, RunClaim, SyncKind, SyncOutcome, SyncRun, Connection
from orderdeck.services import orders, outbox, stock

REDIS_URL = os.environ.get("ORDERDECK_TEST_REDIS", "redis://127.0.0.1:6379/0")
LEASE = 2.0
"""The worker processes' run lease (seconds): a killed worker frees its channel this long after."""
PICKUP = 10.0
"""Allowance (seconds) for an idle worker process to take a new message: Dramatiq's Redis consumer
backs off while its queues are empty, and the machine running the tests is shared."""
pytestmark = pytest.mark.usefixtures("postgres_only")


class RedisJobs:
    """Sends the jobs of this process's wake-ups to Redis, where the worker process takes them."""

    def __init__(self, database_url: str, namespace: str) -> None:
        self.database_url, self.namespace = database_url, namespace
        self.broker = RedisBroker(url=REDIS_URL, namespace=namespace, middleware=[])
        for actor in ACTORS.values():
            self.broker.declare_queue(actor.queue_name)
        self.worker: subprocess.Popen | None = None
        self.output = ""

    def start_worker(self) -> None:
        self.worker = start_worker(self.database_url, self.namespace)

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.output += stop_worker(self.worker)
            self.worker = None

    def kill_worker(self) -> None:
        """Kill the worker processes at once (SIGKILL): nothing of theirs runs to its end."""
        assert self.worker is not None
        os.killpg(self.worker.pid, signal.SIGKILL)
        self.output += self.worker.communicate()[0]
        self.worker = None

    def message(self, kind: SyncKind, channel_id: uuid.UUID) -> Message:
        return ACTORS[kind].message_with_options(args=(str(channel_id),))

    def send(self, kind: SyncKind, channel_id: uuid.UUID) -> Message:
        message = self.message(kind, channel_id)
        self.broker.enqueue(message)
        return message

    def drain(self, timeout: float = 60) -> None:
        """Wait until the worker has finished every message, and those the jobs sent (a download
        sends a stock push, which sends nothing: two more passes see the chain through)."""
        for _ in range(3):
            for actor in ACTORS.values():
                self.broker.join(actor.queue_name, timeout=int(timeout * 1000))


@pytest.fixture
def namespace() -> Iterator[str]:
    name = f"orderdeck-test-{uuid.uuid4().hex[:8]}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    keys = list(client.scan_iter(f"{name}:*"))
    if keys:
        client.delete(*keys)


def start_worker(database_url: str, namespace: str, *, threads: int = 4, **env: str) -> subprocess.Popen:
    """An `orderdeck worker` process (one Dramatiq process of ``threads`` threads; ``env``: more
    environment) on the database and Redis namespace."""
    env = {**os.environ, "ORDERDECK_DATABASE_URL": database_url, "ORDERDECK_BROKER_URL": REDIS_URL,
           "ORDERDECK_BROKER_NAMESPACE": namespace, "ORDERDECK_JOB_MIN_BACKOFF_MS": "100",
           "ORDERDECK_JOB_MAX_BACKOFF_MS": "500", "ORDERDECK_JOB_MAX_RETRIES": "2",
           "ORDERDECK_RUN_LEASE_SECONDS": str(LEASE), **env}  # fmt: skip
    return subprocess.Popen([sys.executable, "-m", "orderdeck.cli", "worker", "--processes", "1", "--threads", str(threads)],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)  # fmt: skip


def stop_worker(worker: subprocess.Popen) -> str:
    if worker.poll() is None:
        worker.send_signal(signal.SIGTERM)  # the main process stops its worker processes
    try:
        output, _ = worker.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        output, _ = worker.communicate()
    return output


@pytest.fixture
async def redis_jobs(database_url: str, namespace: str) -> AsyncIterator[RedisJobs]:
    """A worker process on this test's database and Redis namespace, and a sender to it."""
    jobs = RedisJobs(database_url, namespace)
    sender: Callable[[SyncKind, uuid.UUID], object] = jobs.send
    jobs.start_worker()
    outbox.listen(sender)  # type: ignore[arg-type]
    try:
        yield jobs
    finally:
        outbox.unlisten(sender)  # type: ignore[arg-type]
        jobs.stop_worker()
        print(jobs.output)  # shown by pytest when the test fails


async def drained(jobs: RedisJobs, timeout: float = 60) -> None:
    await asyncio.to_thread(jobs.drain, timeout)


async def test_the_whole_flow_through_redis_and_a_worker_process(redis_jobs, shop_a, shop_b, default_location, actor):
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    a = await connect(shop_a, "Shop A", "ck_a", "cs_a", default_location, actor)
    await connect(shop_b, "Shop B", "ck_b", "cs_b", default_location, actor)
    place(shop_a, "MUG", 3)

    redis_jobs.send(SyncKind.DOWNLOAD, a.id)
    await drained(redis_jobs)

    [order] = await Order.filter(channel_id=a.id)
    assert await levels_of("MUG", default_location.id) == (10, 3)
    assert stock_in(shop_b, "MUG") == 7 and stock_in(shop_a, "MUG") == 7

    await orders.process_orders([{"order_id": order.id, "tracking_number": "TRK-7", "shipping_vendor": "DPD"}], actor)
    await drained(redis_jobs)

    assert (await Dispatch.get(order_id=order.id)).state == DispatchState.SENT
    shop_order = next(o for o in shop_state(shop_a)["orders"] if o["number"] == order.reference)
    assert shop_order["status"] == "completed" and any("TRK-7" in n["note"] for n in shop_order["notes"])

    redis_jobs.send(SyncKind.DOWNLOAD, a.id)  # re-sync: nothing changes
    await drained(redis_jobs)
    assert await Order.filter(channel_id=a.id).count() == 1
    await assert_stock_consistent()


async def test_a_job_delivered_twice_changes_nothing_the_second_time(redis_jobs, shop_a, default_location, actor):
    await make_item("MUG", actor, level=50, location_id=default_location.id)
    a = await connect(shop_a, "Shop A", "ck_a", "cs_a", default_location, actor)
    for _ in range(12):
        place(shop_a, "MUG", 1)

    message = redis_jobs.message(SyncKind.DOWNLOAD, a.id)
    redis_jobs.broker.enqueue(message)
    redis_jobs.broker.enqueue(message)  # the same message (same id) again
    await drained(redis_jobs)

    assert await Order.filter(channel_id=a.id).count() == 12
    assert await levels_of("MUG", default_location.id) == (50, 12)
    runs = await SyncRun.filter(connection_id=a.id, kind=SyncKind.DOWNLOAD)
    assert sum(run.downloaded for run in runs) == 12 and all(run.outcome == SyncOutcome.SUCCEEDED for run in runs)
    await assert_stock_consistent()


def hang_next_request(shop) -> None:
    """Make the shop's next answer take two minutes."""
    httpx.post(f"{shop.url}/__sandbox/faults", json={"kind": "delay", "seconds": 120, "count": 1}, timeout=10)


async def shop_hangs_on_the_next_request(shop, deadline: float) -> None:
    """Make the shop's next answer take two minutes, and wait until a request is hanging on it."""
    hang_next_request(shop)
    await hanging(shop, deadline)


async def hanging(shop, deadline: float) -> None:
    """Wait until a request to the shop is hanging."""
    while not any(r["status"] == 0 for r in httpx.get(f"{shop.url}/__sandbox/requests", timeout=10).json()):
        assert time.monotonic() < deadline, "the shop was never asked"
        await asyncio.sleep(0.05)


async def standby_worker(database_url: str, namespace: str, deadline: float) -> subprocess.Popen:
    """A second worker process, once it takes jobs (its broker's heartbeat is in Redis)."""
    worker = start_worker(database_url, namespace)
    client = redis.Redis.from_url(REDIS_URL)
    while client.zcard(f"{namespace}:__heartbeats__") < 2:
        assert time.monotonic() < deadline and worker.poll() is None, "the standby worker did not start"
        await asyncio.sleep(0.1)
    return worker


async def sweep_until_closed(jobs: RedisJobs, run: SyncRun, killed: float, monkeypatch) -> float:
    """Tick the scheduler (its jobs go to the worker through Redis) until it has closed the dead run;
    seconds from the kill."""
    monkeypatch.setattr(scheduler, "enqueue", jobs.send)
    while True:
        await scheduler.tick()
        closed = await SyncRun.get(id=run.id)
        if closed.outcome != SyncOutcome.RUNNING:
            assert (closed.outcome, closed.abandoned) == (SyncOutcome.FAILED, True) and "ABANDONED" in closed.error
            return time.monotonic() - killed
        assert time.monotonic() - killed < LEASE * 5, "the dead run was not closed"
        await asyncio.sleep(0.1)


async def test_a_download_whose_worker_is_killed_is_closed_and_resumed_within_the_lease(
    redis_jobs, database_url, namespace, shop_a, default_location, actor, monkeypatch
):
    await make_item("MUG", actor, level=300, location_id=default_location.id)
    # One request every 2 s: time to make the shop hang once the first page is in.
    a = await connect(shop_a, "Shop A", "ck_a", "cs_a", default_location, actor, rate=0.5)
    spec = {"status": "processing", "date_created_gmt": PAST, "date_modified_gmt": PAST,
            "lines": [{"sku": "MUG", "quantity": 1, "price": "5.00"}]}  # fmt: skip
    httpx.post(f"{shop_a.url}/__sandbox/orders", json={"orders": [spec] * 150}, timeout=30)
    await drained(redis_jobs)  # the listing's first push
    redis_jobs.send(SyncKind.DOWNLOAD, a.id)
    deadline = time.monotonic() + 60
    while await Order.filter(channel_id=a.id).count() < 100:
        assert time.monotonic() < deadline, "the first page never arrived"
        await asyncio.sleep(0.05)
    await shop_hangs_on_the_next_request(shop_a, deadline)
    standby = await standby_worker(database_url, namespace, deadline)  # idle until the first dies
    try:
        redis_jobs.kill_worker()  # dies while waiting for page 2: no release, no end of run
        killed = time.monotonic()
        await Connection.filter(id=a.id).update(settings={**(await Connection.get(id=a.id)).settings, "requests_per_second": 50})

        [dead] = await SyncRun.filter(connection_id=a.id, kind=SyncKind.DOWNLOAD)
        assert dead.outcome == SyncOutcome.RUNNING
        assert (await RunClaim.get(connection_id=a.id, kind=SyncKind.DOWNLOAD)).token == dead.claim_token
        closed_after = await sweep_until_closed(redis_jobs, dead, killed, monkeypatch)
        assert LEASE * 0.5 <= closed_after <= LEASE * 2.5  # about one lease: not five minutes

        redis_jobs.send(SyncKind.DOWNLOAD, a.id)  # the next download (the scheduler's, or "sync now")
        while not await SyncRun.filter(connection_id=a.id, kind=SyncKind.DOWNLOAD).exclude(id=dead.id).exists():
            assert time.monotonic() - killed < LEASE * 2.5 + PICKUP, "no new download started"
            await asyncio.sleep(0.1)
        started_after = time.monotonic() - killed
        while not await SyncRun.filter(connection_id=a.id, kind=SyncKind.DOWNLOAD, outcome=SyncOutcome.SUCCEEDED).exists():
            assert time.monotonic() - killed < 60, "the download did not resume"
            await asyncio.sleep(0.1)
        done_after = time.monotonic() - killed
    finally:
        redis_jobs.output += stop_worker(standby)

    print(f"lease {LEASE} s: dead run closed {closed_after:.2f} s, next download started {started_after:.2f} s "
          f"and done {done_after:.2f} s after the kill")
    assert await Order.filter(channel_id=a.id).count() == 150
    assert len(set(await Order.filter(channel_id=a.id).values_list("reference", flat=True))) == 150
    assert await levels_of("MUG", default_location.id) == (300, 150)
    await assert_stock_consistent()


async def test_a_push_whose_worker_is_killed_is_closed_and_sent_again_within_the_lease(
    redis_jobs, database_url, namespace, shop_a, default_location, actor, monkeypatch
):
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    a = await connect(shop_a, "Shop A", "ck_a", "cs_a", default_location, actor)
    await drained(redis_jobs)
    assert stock_in(shop_a, "MUG") == 10
    deadline = time.monotonic() + 60
    httpx.delete(f"{shop_a.url}/__sandbox/requests", timeout=10)
    hang_next_request(shop_a)
    await stock.adjust_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id,
                                                 "quantity": -3}]}, actor)  # fmt: skip
    await hanging(shop_a, deadline)
    dead = await SyncRun.get(connection_id=a.id, kind=SyncKind.STOCK_PUSH, outcome=SyncOutcome.RUNNING)
    assert (await Listing.get(channel_id=a.id)).push_claimed_at is not None
    standby = await standby_worker(database_url, namespace, deadline)
    try:
        redis_jobs.kill_worker()  # dies while the shop holds its push: the listing stays claimed
        killed = time.monotonic()

        closed_after = await sweep_until_closed(redis_jobs, dead, killed, monkeypatch)
        assert LEASE * 0.5 <= closed_after <= LEASE * 2.5
        while stock_in(shop_a, "MUG") != 7:  # the sweep sent the listing again: the standby worker pushes it
            assert time.monotonic() - killed < LEASE * 2.5 + PICKUP + 5, "the push was not sent again"
            await scheduler.tick()
            await asyncio.sleep(0.1)
        pushed_after = time.monotonic() - killed
        started = await SyncRun.filter(connection_id=a.id, kind=SyncKind.STOCK_PUSH).exclude(id=dead.id).order_by(
            "started_at").first()  # fmt: skip
    finally:
        redis_jobs.output += stop_worker(standby)

    print(f"lease {LEASE} s: dead push closed {closed_after:.2f} s and pushed {pushed_after:.2f} s after the kill")
    assert started.outcome == SyncOutcome.SUCCEEDED and started.pushed == 1
    listing = await Listing.get(channel_id=a.id)
    assert (listing.submitted_quantity, listing.push_claimed_at, listing.push_due) == (7, None, False)

"""Benchmark: stock-push latency, from a committed order to the new quantity in the other shops,
through Redis and a real `orderdeck worker` process.

    .venv/bin/python bench/bench_stock_push_latency.py [--samples 200] [--max-gap 1.0] [--bursts 10]
        [--burst-size 20] [--baseline 100] [--fast-poll-ms 50] [--skus 20]

Two WooCommerce sandbox shops are served over real HTTP on loopback (uvicorn threads of this
process). Two channels, one per shop, offer the stock of the default location, with listings for
the same ``--skus`` SKUs (linked by SKU, as a seller links them). An ``orderdeck worker`` process
(1 process, 4 threads) runs on the bench database with ORDERDECK_BROKER_URL=redis://127.0.0.1:6379/0
and a namespace of its own (its keys are deleted at the end). This process plays the API: the jobs
its commits call for go to Redis (``outbox.listen`` with a RedisBroker of the same namespace, as
tests/jobs/test_worker_process.py does).

A sample: one direct order (``create_direct_order``, one line of quantity 1) reserves stock of a
SKU; its latency is the time from the commit until shop B holds the new available quantity (both
shops get it; shop A's time is shown too).

- The commit moment is stamped by an outbox listener registered before the one sending to
  Redis: outbox wake-ups run right after COMMIT returns, before the service call returns.
- The moment a shop holds the quantity is stamped inside the sandbox's server thread by a thin
  ASGI wrapper around the unchanged sandbox app: when the sandbox has answered a
  POST /products/batch, the wrapper checks the watched products in the sandbox's in-memory state
  (their quantity changed while that request was handled, a fraction of a millisecond before)
  and wakes the waiting sample. No polling, no extra requests to the shop, one clock
  (time.perf_counter) in one process. The wrapper also logs when each API request arrives, which
  splits the latency at the first request of the push.

Variants, each a row (percentiles of shop B's latency):

1. the baseline: no job; right after the commit the bench calls ``stock_push.push_stock`` for
   shop B's channel itself (then shop A's, untimed). Half of ``--baseline`` samples run before the
   worker variants, half after, to show drift.
2. context: both channels' ``push_stock`` calls at once in this process (as the worker runs
   both jobs on its one event loop).
3. worker, spaced: ``--samples`` orders one at a time; each waits until both shops hold its
   quantity, then a random pause of 0 to ``--max-gap`` seconds (so the worker is sometimes busy,
   sometimes idle, as with real order traffic; nothing coalesces).
4. worker, bursts: ``--bursts`` bursts of ``--burst-size`` orders committed back to back, each on
   another SKU; every order waits for its own SKU.
5. worker, fast poll (skipped with ``--fast-poll-ms 0``): variant 3 again with the worker
   restarted with dramatiq_worker_timeout=``--fast-poll-ms``: an idle Dramatiq Redis consumer
   polls with a backoff that grows to ``dramatiq_worker_timeout`` (default 1000 ms), which is
   what the spaced variant mostly waits for.

Ratios: each variant's p50 and p95 divided by the baseline's, same run.
"""

from __future__ import annotations

import os

# Channel secrets are stored encrypted: PostgreSQL needs a key (the worker process gets the same).
os.environ.setdefault("ORDERDECK_SECRET_KEY", "orderdeck-bench-secret-key-0123456789abcdef")
# This process sends its jobs through the RedisBroker below; its own actors need no broker.
os.environ.pop("ORDERDECK_BROKER_URL", None)

import argparse  # noqa: E402
import asyncio  # noqa: E402
import random  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_download import KEY, SECRET, Shop, connect, serve_shop  # noqa: E402
from common import ACTOR, Catalogue, bench_database, fmt, machine_note, order_inputs, percentile, print_table, ratio, seed_stock  # noqa: E402

import redis  # noqa: E402
from dramatiq.brokers.redis import RedisBroker  # noqa: E402

from orderdeck.jobs.actors import ACTORS  # noqa: E402
from orderdeck.models import SyncKind  # noqa: E402
from orderdeck.services import listings, outbox, stock_push  # noqa: E402
from orderdeck.services.orders import create_direct_order  # noqa: E402
from orderdeck_woocommerce.sandbox import create_app  # noqa: E402

REDIS_URL = os.environ.get("ORDERDECK_BENCH_REDIS", "redis://127.0.0.1:6379/0")
LEVEL = 100_000
SAMPLE_TIMEOUT = 30.0


# --- watching a shop: when does it hold a quantity? ----------------------------------------


@dataclass
class Waiter:
    product_id: int
    quantity: int
    future: asyncio.Future
    loop: asyncio.AbstractEventLoop


class WatchedShop:
    """An ASGI wrapper around a sandbox app: logs when each API request arrives and, once a
    POST /products/batch has been answered, resolves the waiters whose product now holds their
    quantity (stamped with time.perf_counter in the server's thread)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.sandbox = app.state.sandbox
        self.lock = threading.Lock()
        self.waiters: list[Waiter] = []
        self.batches = 0
        """POST /products/batch requests answered so far."""
        self.arrivals: list[tuple[float, str, str]] = []
        """(perf_counter, method, path) of every API request, in arrival order."""

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] == "http" and scope["path"].startswith("/wp-json/"):
            self.arrivals.append((time.perf_counter(), scope["method"], scope["path"]))
        await self.app(scope, receive, send)
        if scope["type"] == "http" and scope["path"].endswith("/products/batch"):
            at = time.perf_counter()
            with self.lock:
                self.batches += 1
                waiting = []
                for waiter in self.waiters:
                    if self.sandbox.products[waiter.product_id].stock_quantity == waiter.quantity:
                        waiter.loop.call_soon_threadsafe(_resolve, waiter.future, (at, self.batches))
                    else:
                        waiting.append(waiter)
                self.waiters = waiting

    def product_id(self, sku: str) -> int:
        return next(p.id for p in self.sandbox.products.values() if p.sku == sku)

    def wait_for(self, sku: str, quantity: int) -> asyncio.Future:
        """A future resolved with (the moment the shop holds ``quantity`` of ``sku``, the number of
        the POST /products/batch that set it)."""
        loop = asyncio.get_running_loop()
        waiter = Waiter(self.product_id(sku), quantity, loop.create_future(), loop)
        with self.lock:
            if self.sandbox.products[waiter.product_id].stock_quantity == quantity:
                waiter.future.set_result((time.perf_counter(), self.batches))
            else:
                self.waiters.append(waiter)
        return waiter.future

    def first_arrival_after(self, moment: float) -> float | None:
        return next((at for at, _, _ in self.arrivals if at >= moment), None)


def _resolve(future: asyncio.Future, outcome: tuple[float, int]) -> None:
    if not future.done():
        future.set_result(outcome)


# --- the jobs: this process sends, a worker process runs -----------------------------------


class CommitStamp:
    """An outbox listener: the moment of the last commit that woke channel work."""

    def __init__(self) -> None:
        self.at: float | None = None

    def __call__(self, kind: SyncKind, channel_id: uuid.UUID) -> None:
        if self.at is None:
            self.at = time.perf_counter()


class RedisJobs:
    """Sends the jobs of this process's commits to Redis for a worker process (as the API does)."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.namespace = f"orderdeck-bench-{uuid.uuid4().hex[:8]}"
        self.broker = RedisBroker(url=REDIS_URL, namespace=self.namespace, middleware=[])
        for actor in ACTORS.values():
            self.broker.declare_queue(actor.queue_name)
        self.worker: subprocess.Popen | None = None
        self.log = tempfile.NamedTemporaryFile("w+", prefix="orderdeck_bench_worker_", suffix=".log", delete=False)
        self.sent = 0

    def send(self, kind: SyncKind, channel_id: uuid.UUID) -> None:
        self.broker.enqueue(ACTORS[kind].message_with_options(args=(str(channel_id),)))
        self.sent += 1

    def start_worker(self, poll_ms: int | None = None) -> None:
        env = {**os.environ, "ORDERDECK_DATABASE_URL": self.database_url, "ORDERDECK_BROKER_URL": REDIS_URL,
               "ORDERDECK_BROKER_NAMESPACE": self.namespace}  # fmt: skip
        if poll_ms:
            env["dramatiq_worker_timeout"] = str(poll_ms)
        else:
            env.pop("dramatiq_worker_timeout", None)
        self.log.write(f"--- worker started (dramatiq_worker_timeout={poll_ms or 'default'})\n")
        self.log.flush()
        self.worker = subprocess.Popen(
            [sys.executable, "-m", "orderdeck.cli", "worker", "--processes", "1", "--threads", "4"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def stop_worker(self) -> None:
        if self.worker is None:
            return
        if self.worker.poll() is None:
            self.worker.send_signal(signal.SIGTERM)
        try:
            self.worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.worker.pid, signal.SIGKILL)
            self.worker.wait()
        self.worker = None

    def drain(self, timeout: float = 60) -> None:
        """Wait until the worker has finished every message sent."""
        for actor in ACTORS.values():
            self.broker.join(actor.queue_name, timeout=int(timeout * 1000))

    def check_alive(self) -> None:
        if self.worker is not None and self.worker.poll() is not None:
            raise SystemExit(f"the worker process exited ({self.worker.returncode}); log {self.log.name}:\n{self.tail()}")

    def tail(self, lines: int = 40) -> str:
        return "\n".join(Path(self.log.name).read_text().splitlines()[-lines:])

    def clean(self) -> int:
        """Delete this run's Redis keys; return how many there were."""
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{self.namespace}:*"))
        if keys:
            client.delete(*keys)
        client.close()
        self.broker.close()
        return len(keys)


# --- samples -------------------------------------------------------------------------------


@dataclass
class Sample:
    sku: str
    committed: float
    call_seconds: float
    """How long the create_direct_order call took (the commit is in it)."""
    held: dict[str, float] = field(default_factory=dict)
    """Per shop: when it held the new quantity."""
    first_request: dict[str, float] = field(default_factory=dict)
    """Per shop: when the first API request after the commit arrived."""
    batch: dict[str, int] = field(default_factory=dict)
    """Per shop: the number of the POST /products/batch that set the quantity."""

    def latency(self, shop: str | None = None) -> float:
        """Seconds from the commit until this shop (None: both shops) held the quantity."""
        until = max(self.held.values()) if shop is None else self.held[shop]
        return until - self.committed


class Bench:
    """The bench state: shops, channels, what each SKU's available quantity is."""

    def __init__(self, shops: dict[str, WatchedShop], channel_ids: dict[str, uuid.UUID], catalogue: Catalogue,
                 jobs: RedisJobs) -> None:  # fmt: skip
        self.shops, self.channel_ids, self.catalogue, self.jobs = shops, channel_ids, catalogue, jobs
        self.location_id = catalogue.locations[0].id
        self.skus = catalogue.skus
        self.allocated = dict.fromkeys(self.skus, 0)
        self.stamp = CommitStamp()
        self.count = 0
        self.rng = random.Random(5)
        outbox.listen(self.stamp)  # first: before the sender to Redis

    def expected(self, sku: str) -> int:
        return LEVEL - self.allocated[sku]

    def order(self, sku: str) -> dict:
        self.count += 1
        [data] = order_inputs(1, self.catalogue, lines=1, seed=self.count, prefix="LAT")
        data["location_id"] = self.location_id
        data["items"][0] |= {"sku": sku, "quantity": 1}
        return data

    async def commit(self, sku: str) -> tuple[Sample, dict[str, asyncio.Future]]:
        """Reserve one unit of ``sku`` by a direct order; the sample and its shops' futures."""
        self.allocated[sku] += 1
        futures = {name: shop.wait_for(sku, self.expected(sku)) for name, shop in self.shops.items()}
        data = self.order(sku)
        self.stamp.at = None
        started = time.perf_counter()
        await create_direct_order(data, ACTOR)
        call = time.perf_counter() - started
        if self.stamp.at is None:
            raise SystemExit("the order's commit woke no stock push: are the listings and stock locations set up?")
        return Sample(sku, self.stamp.at, call), futures

    async def settle(self, sample: Sample, futures: dict[str, asyncio.Future]) -> Sample:
        try:
            held = await asyncio.wait_for(asyncio.gather(*futures.values()), SAMPLE_TIMEOUT)
        except TimeoutError:
            self.jobs.check_alive()
            states = {n: s.sandbox.products[s.product_id(sample.sku)].stock_quantity for n, s in self.shops.items()}
            raise SystemExit(f"{sample.sku}: the shops hold {states}, not {self.expected(sample.sku)}, "
                             f"{SAMPLE_TIMEOUT:g} s after the commit.\nworker log:\n{self.jobs.tail()}") from None  # fmt: skip
        sample.held = {name: at for name, (at, _) in zip(futures, held)}
        sample.batch = {name: number for name, (_, number) in zip(futures, held)}
        sample.first_request = {n: s.first_arrival_after(sample.committed) or float("nan") for n, s in self.shops.items()}
        return sample

    async def in_process(self, count: int, *, concurrent: bool = False) -> list[Sample]:
        """The baseline: commit, then one push_stock call for shop B's channel in this process
        (then shop A's, untimed); or, ``concurrent``, both channels' calls at once."""
        samples = []
        for _ in range(count):
            sample, futures = await self.commit(self.rng.choice(self.skus))
            if concurrent:
                await asyncio.gather(*(stock_push.push_stock(cid) for cid in self.channel_ids.values()))
            else:
                await stock_push.push_stock(self.channel_ids["B"])
                await stock_push.push_stock(self.channel_ids["A"])
            samples.append(await self.settle(sample, futures))
            await asyncio.sleep(self.rng.uniform(0, 0.05))
        return samples

    async def spaced(self, count: int, max_gap: float) -> list[Sample]:
        """One order at a time through the worker; a random pause after each."""
        samples = []
        for _ in range(count):
            sample, futures = await self.commit(self.rng.choice(self.skus))
            samples.append(await self.settle(sample, futures))
            await asyncio.sleep(self.rng.uniform(0, max_gap))
        return samples

    async def bursts(self, bursts: int, size: int, max_gap: float) -> list[Sample]:
        """Bursts of orders committed back to back, each on another SKU."""
        samples = []
        for _ in range(bursts):
            pending = [await self.commit(sku) for sku in self.rng.sample(self.skus, size)]
            samples += [await self.settle(sample, futures) for sample, futures in pending]
            await asyncio.sleep(self.rng.uniform(0, max_gap))
        return samples


# --- main ----------------------------------------------------------------------------------


def stats_row(label: str, samples: list[Sample], base: dict[str, float] | None) -> tuple[list[str], dict[str, float]]:
    """A table row: shop B's latency percentiles (and both shops' p50) in ms, ratios to ``base``."""
    shop_b = [s.latency("B") * 1000 for s in samples]
    both = [s.latency() * 1000 for s in samples]
    to_first = [(s.first_request["B"] - s.committed) * 1000 for s in samples]
    figures = {"p50": percentile(shop_b, 50), "p95": percentile(shop_b, 95), "max": max(shop_b),
               "both50": percentile(both, 50), "first50": percentile(to_first, 50),
               "call50": percentile([s.call_seconds * 1000 for s in samples], 50),
               "pushes": len({s.batch["B"] for s in samples}) / len(samples)}  # fmt: skip
    base = base or figures
    row = [label, fmt(len(samples)), f"{figures['p50']:.1f}", f"{figures['p95']:.1f}", f"{figures['max']:.1f}",
           ratio(figures["p50"], base["p50"]), ratio(figures["p95"], base["p95"]), f"{figures['first50']:.1f}",
           f"{figures['both50']:.1f}", f"{figures['call50']:.1f}", f"{figures['pushes']:.2f}"]  # fmt: skip
    return row, figures


def requests_per_push(shop: WatchedShop) -> str:
    kinds: dict[str, int] = {}
    for _, method, path in shop.arrivals:
        key = f"{method} {path.removeprefix('/wp-json/wc/v3')}"
        kinds[key] = kinds.get(key, 0) + 1
    return ", ".join(f"{k}: {fmt(v)}" for k, v in sorted(kinds.items()))


async def main(args: argparse.Namespace) -> None:
    jobs: RedisJobs | None = None
    async with bench_database() as database:
        catalogue = await seed_stock(skus=args.skus, extra_locations=0, level=LEVEL)
        location = catalogue.locations[0]
        apps = {name: WatchedShop(create_app(skus=catalogue.skus, key=KEY, secret=SECRET, seed=n))
                for n, name in enumerate(["A", "B"], start=1)}  # fmt: skip
        with serve_shop(apps["A"]) as shop_a, serve_shop(apps["B"]) as shop_b:
            served: dict[str, Shop] = {"A": shop_a, "B": shop_b}
            channel_ids = {}
            for name, shop in served.items():
                channel = await connect(shop, f"Shop {name}", location.id)
                channel_ids[name] = channel.id
                for sku in catalogue.skus:
                    await listings.link_listing({"channel_id": channel.id, "channel_sku": sku, "sku": sku}, ACTOR)
            jobs = RedisJobs(database.url)
            bench = Bench(apps, channel_ids, catalogue, jobs)
            try:
                print(f"stock-push latency benchmark: 2 WooCommerce sandbox shops, {args.skus} SKUs listed on both, "
                      f"Redis {REDIS_URL} namespace {jobs.namespace}; {machine_note()}")  # fmt: skip
                jobs.start_worker()
                # The first push (every listing is due since it was linked) through the worker: it
                # also shows the worker is up.
                initial = [shop.wait_for(sku, LEVEL) for shop in apps.values() for sku in catalogue.skus]
                started = time.perf_counter()
                for channel_id in channel_ids.values():
                    jobs.send(SyncKind.STOCK_PUSH, channel_id)
                try:
                    await asyncio.wait_for(asyncio.gather(*initial), 120)
                except TimeoutError:
                    jobs.check_alive()
                    raise SystemExit(f"the worker did not push the initial levels:\n{jobs.tail()}") from None
                print(f"worker up: initial levels of {args.skus} SKUs in both shops {time.perf_counter() - started:.1f} s "
                      f"after the jobs were sent (worker start-up included)")  # fmt: skip
                await asyncio.to_thread(jobs.drain)

                # Warm-up, not measured: a few of each kind.
                await bench.in_process(5)
                await bench.in_process(5, concurrent=True)
                outbox.listen(jobs.send)
                await bench.spaced(5, 0.05)
                outbox.unlisten(jobs.send)
                await asyncio.to_thread(jobs.drain)
                for shop in apps.values():
                    shop.arrivals.clear()

                results: list[tuple[str, list[Sample]]] = []
                first_half = await bench.in_process(args.baseline // 2)
                concurrent = await bench.in_process(args.baseline // 2, concurrent=True)

                outbox.listen(jobs.send)
                spaced = await bench.spaced(args.samples, args.max_gap)
                burst = await bench.bursts(args.bursts, args.burst_size, args.max_gap)
                outbox.unlisten(jobs.send)
                await asyncio.to_thread(jobs.drain)
                sent = jobs.sent

                concurrent += await bench.in_process(args.baseline - args.baseline // 2, concurrent=True)
                second_half = await bench.in_process(args.baseline - args.baseline // 2)
                results += [
                    ("in-process push_stock(B) (baseline)", first_half + second_half),
                    ("  baseline, first half", first_half),
                    ("  baseline, second half", second_half),
                    ("in-process push_stock(A), (B) at once", concurrent),
                    (f"worker, spaced (pause 0-{args.max_gap:g} s)", spaced),
                    (f"worker, bursts of {args.burst_size}", burst),
                ]
                if args.fast_poll_ms:
                    jobs.stop_worker()
                    jobs.start_worker(args.fast_poll_ms)
                    outbox.listen(jobs.send)
                    await bench.spaced(5, 0.05)  # warm-up: the worker's start
                    fast = await bench.spaced(args.samples, args.max_gap)
                    outbox.unlisten(jobs.send)
                    results.append((f"worker, spaced, dramatiq_worker_timeout={args.fast_poll_ms}", fast))
                request_mix = {name: requests_per_push(shop) for name, shop in apps.items()}
            finally:
                outbox.unlisten(jobs.send)
                outbox.unlisten(bench.stamp)
                jobs.stop_worker()
                cleaned = jobs.clean()

    rows = []
    base = None
    for label, samples in results:
        row, figures = stats_row(label, samples, base)
        base = base or figures
        rows.append(row)
    print_table(
        "Latency, commit -> shop B holds the new quantity (ms; ratios: / the in-process baseline, same run)",
        ["variant", "samples", "p50", "p95", "max", "p50 / base", "p95 / base", "p50 to 1st req", "p50 both shops",
         "p50 order call", "pushes/order"],
        rows,
    )
    print("\np50 to 1st req: from the commit until shop B receives the first request of its push (the claim")
    print("transaction, the plugin's HTTP client set-up; for the worker also Redis and the worker's poll). p50 both")
    print("shops: until shop A holds it too (the baseline pushes A after B). p50 order call: the create_direct_order")
    print("call, commit included. pushes/order: POST /products/batch requests that brought shop B a sample's")
    print("quantity, per sample (below 1: one push carried several orders' changes).")
    for name, mix in request_mix.items():
        print(f"Shop {name} API requests during the measured variants: {mix}")
    print(f"Jobs sent to Redis by this process (worker variants, default poll): {fmt(sent)}. "
          f"Redis keys deleted at the end: {cleaned} (namespace {jobs.namespace}).")  # fmt: skip
    jobs.log.close()
    os.unlink(jobs.log.name)  # kept only when the run fails (SystemExit above names it)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=200, help="orders in each spaced variant (default 200)")
    parser.add_argument("--max-gap", type=float, default=1.0, help="longest pause after a sample, s (default 1.0)")
    parser.add_argument("--bursts", type=int, default=10, help="bursts in the burst variant (default 10)")
    parser.add_argument("--burst-size", type=int, default=20, help="orders per burst (default 20, at most --skus)")
    parser.add_argument("--baseline", type=int, default=100, help="in-process baseline samples (default 100)")
    parser.add_argument("--fast-poll-ms", type=int, default=50,
                        help="dramatiq_worker_timeout of the fast-poll variant; 0 skips it (default 50)")
    parser.add_argument("--skus", type=int, default=20, help="SKUs listed on both shops (default 20)")
    args = parser.parse_args(argv)
    if args.burst_size > args.skus:
        parser.error("--burst-size cannot exceed --skus (each order of a burst is on another SKU)")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))

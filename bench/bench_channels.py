"""Benchmark: downloading from the Amazon and eBay sandboxes, against the WooCommerce download
pipeline measured in the same run.

    .venv/bin/python bench/bench_channels.py [--orders 10000] [--skus 200] [--channels amazon,ebay]

What is measured: for each channel, the wall time of ``orderdeck.services.sync.download_channel``
(``page_size=100``, the pipeline's default) taking ``--orders`` orders of 3 lines from a sandbox
served over real HTTP on loopback (uvicorn in a thread of this process, ``bench_download.serve_shop``)
into committed, reserved orders; and the requests the connector made to the sandbox, read from
the sandbox's request log, by operation (Amazon: getOrders, getOrderItems and the LWA token;
eBay: getOrders and the token; WooCommerce: the order list).

How: one PostgreSQL bench database (``common.bench_database``) with ``--skus`` stock items at a
level of 1,000,000. The same order specs (``bench_download.order_specs``: each order paid, 3
distinct SKUs, quantities 1-5, modified in its own second from a day ago) are placed in every
sandbox through its control API (``POST /__sandbox/orders``, ``bench_download.place_orders``),
written in each partner's terms: WooCommerce ``processing``, Amazon ``Unshipped`` (seller-fulfilled,
so each order's items are asked for), eBay ``PAID``. The baseline is bench_download.py's arrangement,
imported from it: a WooCommerce sandbox shop and channel (``connect``, ``requests_per_second`` 100).
Then, channel after channel on the same database (emptied between them, ``bench_download.reset``):
a warm-up download of 300 orders from a second sandbox of the same kind (not measured), then the
measured download, repeated until the runs have downloaded every order (one run does), then the
check: every order there, 3 linked lines each, every level's ``allocated`` equal to the
quantities ordered, one ledger row per line and one ORDER_CREATED audit entry per order
(``bench_download.check``), and runs that downloaded every order and failed none.

The partners' real rate limits would make 10,000 orders take hours (Amazon's getOrders 0.0167 a
second, getOrderItems 0.5 a second): the sandboxes' enforced limits are raised and the
connections get the same raised pace through their settings (Amazon ``rate_overrides`` for
getOrders and getOrderItems; eBay ``fulfillment_calls_per_day`` and ``burst``, with the sandbox's
``sell.fulfillment`` call limit the same), so that no limit paces the run and the benchmark
measures orderdeck. What the same requests would take at the documented rates is printed too, as
context: each operation's requests divided by its documented rate (operations are paced apart,
so the slowest one bounds the download).

Printed per channel: seconds, orders/s, the ratio to WooCommerce's orders/s in the same run,
the CPU seconds of the sandbox's server thread and of the rest of the process (orderdeck, its
HTTP client and asyncpg) during the run, orderdeck's CPU per order and its ratio to WooCommerce's,
requests and requests per 1,000 orders, by operation, with any answer that was not a success.
The sandboxes run in this process and share its GIL: their CPU is shown so that it can be told
apart from orderdeck's (the CPU ratio is the one the sandboxes do not move).
"""

from __future__ import annotations

import os

# Channel secrets are stored encrypted: PostgreSQL needs a key (read once, at first use).
os.environ.setdefault("ORDERDECK_SECRET_KEY", "orderdeck-bench-secret-key-0123456789abcdef")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter as Tally  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import dataclass, field  # noqa: E402
from pathlib import Path  # noqa: E402
from types import SimpleNamespace  # noqa: E402
from typing import Any  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_download import (  # noqa: E402
    KEY,
    PAGE_SIZE,
    SECRET,
    Shop,
    check,
    connect,
    order_specs,
    place_orders,
    reset,
    serve_shop,
)
from common import ACTOR, Catalogue, Clock, bench_database, fmt, machine_note, print_table, ratio, seed_stock  # noqa: E402

from orderdeck import db  # noqa: E402
from orderdeck.models import Channel, SyncOutcome  # noqa: E402
from orderdeck.services import channels  # noqa: E402
from orderdeck.services.sync import download_channel  # noqa: E402
from orderdeck_amazon.sandbox import USAGE_PLANS  # noqa: E402
from orderdeck_amazon.sandbox import create_app as amazon_app  # noqa: E402
from orderdeck_ebay.sandbox import create_app as ebay_app  # noqa: E402
from orderdeck_woocommerce.sandbox import create_app as woocommerce_app  # noqa: E402

RAISED_RATE, RAISED_BURST = 10_000.0, 10_000
"""Requests a second (and burst) the raised limits allow: the most Amazon's rate_overrides take,
far above what one download on loopback sends, so no limit paces the run."""
EBAY_RAISED_PER_DAY, EBAY_BURST = int(RAISED_RATE * 86_400), 100
"""eBay's limits are calls a day (spread evenly by the connector); 100 is the most burst it takes."""
EBAY_DOCUMENTED_PER_DAY = 100_000
"""eBay's default Sell Fulfillment call limit a day (the connector's default fulfillment_calls_per_day)."""
WOOCOMMERCE_DEFAULT_RATE = 5.0
"""The WooCommerce connector's default requests_per_second (WooCommerce documents no limit)."""
WARM_UP_ORDERS = 300
MAX_RUNS = 5
"""download_channel runs allowed to take every order (one does: max_pages covers them all)."""

AMAZON = {"client_id": "amzn1.application-oa2-client.bench", "client_secret": "bench-client-secret",
          "refresh_token": "Atzr|bench-refresh-token", "seller_id": "A2BENCHSELLER", "marketplace_ids": ["ATVPDKIKX0DER"]}  # fmt: skip
EBAY = {"client_id": "orderdeck-bench-app", "client_secret": "bench-cert-id", "refresh_token": "v^1.1#i^1#r^1#bench"}


# --- the channels: each sandbox in its partner's terms -------------------------------------


def amazon_specs(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The WooCommerce specs as Amazon orders: Unshipped, seller-fulfilled (MFN), same lines and dates."""
    return [{"status": "Unshipped", "fulfillment_channel": "MFN", "purchase_date": spec["date_created_gmt"] + "Z",
             "last_update_date": spec["date_modified_gmt"] + "Z",
             "items": [{"sku": line["sku"], "quantity": line["quantity"], "price": line["price"]} for line in spec["lines"]]}
            for spec in specs]  # fmt: skip


def ebay_specs(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The WooCommerce specs as eBay orders: PAID, not started, same lines and dates."""
    return [{"orderPaymentStatus": "PAID", "creationDate": spec["date_created_gmt"] + "Z",
             "lastModifiedDate": spec["date_modified_gmt"] + "Z",
             "lines": [{"sku": line["sku"], "quantity": line["quantity"], "price": line["price"]} for line in spec["lines"]]}
            for spec in specs]  # fmt: skip


def amazon_settings(url: str) -> dict[str, Any]:
    raised = {"rate": RAISED_RATE, "burst": RAISED_BURST}
    return {"marketplace_ids": AMAZON["marketplace_ids"], "seller_id": AMAZON["seller_id"],
            "client_id": AMAZON["client_id"], "client_secret": AMAZON["client_secret"],
            "refresh_token": AMAZON["refresh_token"], "endpoint": url, "token_url": f"{url}/auth/o2/token",
            "rate_overrides": {"getOrders": raised, "getOrderItems": raised}}  # fmt: skip


def ebay_settings(url: str) -> dict[str, Any]:
    return {"api_url": url, **EBAY, "fulfillment_calls_per_day": EBAY_RAISED_PER_DAY, "burst": EBAY_BURST}


def amazon_operation(method: str, path: str) -> str:
    if path == "/auth/o2/token":
        return "LWA token"
    if path == "/orders/v0/orders":
        return "getOrders"
    if path.startswith("/orders/v0/orders/") and path.endswith("/orderItems"):
        return "getOrderItems"
    return f"{method} {path}"


def ebay_operation(method: str, path: str) -> str:
    if path == "/identity/v1/oauth2/token":
        return "token"
    if path == "/sell/fulfillment/v1/order":
        return "getOrders"
    return f"{method} {path}"


def woocommerce_operation(method: str, path: str) -> str:
    return "list orders" if (method, path) == ("GET", "/wp-json/wc/v3/orders") else f"{method} {path}"


@dataclass(frozen=True)
class Partner:
    """A connector and its sandbox, as this benchmark drives them."""

    name: str
    title: str
    app: Callable[[list[str], int], Any]
    """(SKUs, seed) -> a new sandbox app, its limits raised."""
    specs: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]
    """The shared (WooCommerce) order specs in this partner's terms."""
    settings: Callable[[str], dict[str, Any]]
    """The sandbox's URL -> the channel's settings, the pace raised to match."""
    operation: Callable[[str, str], str]
    """(method, path) of a logged request -> the operation's name."""
    documented: dict[str, float] = field(default_factory=dict)
    """The partner's documented rate of each operation (requests a second)."""
    note: str = ""
    """How this benchmark raised the limits (for the header)."""


PARTNERS = {
    "woocommerce": Partner(
        "woocommerce", "WooCommerce",
        lambda skus, seed: woocommerce_app(skus=skus, key=KEY, secret=SECRET, seed=seed),
        lambda specs: specs, lambda url: {}, woocommerce_operation,
        note="WooCommerce (the baseline, bench_download.py's arrangement): requests_per_second 100, the settings' "
             "most; the sandbox enforces no limit; WooCommerce documents none",
    ),
    "amazon": Partner(
        "amazon", "Amazon SP-API",
        lambda skus, seed: amazon_app(skus=skus, seed=seed, **AMAZON, rates={
            "getOrders": (RAISED_RATE, RAISED_BURST), "getOrderItems": (RAISED_RATE, RAISED_BURST)}),
        amazon_specs, amazon_settings, amazon_operation,
        documented={"getOrders": USAGE_PLANS["getOrders"][0], "getOrderItems": USAGE_PLANS["getOrderItems"][0]},
        note=f"Amazon: the sandbox's usage plans and the connection's rate_overrides for getOrders and getOrderItems "
             f"at {fmt(RAISED_RATE)}/s, burst {fmt(RAISED_BURST)} (Amazon's: getOrders {USAGE_PLANS['getOrders'][0]}/s "
             f"burst {USAGE_PLANS['getOrders'][1]}, getOrderItems {USAGE_PLANS['getOrderItems'][0]}/s burst "
             f"{USAGE_PLANS['getOrderItems'][1]})",
    ),
    "ebay": Partner(
        "ebay", "eBay",
        lambda skus, seed: ebay_app(skus=skus, seed=seed, **EBAY, quotas={"sell.fulfillment": (EBAY_RAISED_PER_DAY, 86_400)}),
        ebay_specs, ebay_settings, ebay_operation,
        documented={"getOrders": EBAY_DOCUMENTED_PER_DAY / 86_400},
        note=f"eBay: the sandbox's sell.fulfillment call limit and the connection's fulfillment_calls_per_day at "
             f"{fmt(EBAY_RAISED_PER_DAY)} a day ({fmt(RAISED_RATE)}/s), burst {EBAY_BURST} (eBay's: "
             f"{fmt(EBAY_DOCUMENTED_PER_DAY)} a day, {EBAY_DOCUMENTED_PER_DAY / 86_400:.2f}/s)",
    ),
}


async def create(partner: Partner, shop: Shop, name: str, location_id: uuid.UUID) -> Channel:
    """A channel of ``partner`` on the sandbox, downloading to and offering stock from ``location_id``."""
    if partner.name == "woocommerce":
        return await connect(shop, name, location_id)  # bench_download.py's channel, as it is
    return await channels.create_channel({
        "name": name, "plugin": partner.name, "download_location_id": location_id,
        "stock_location_ids": [location_id], "settings": partner.settings(shop.url),
    }, ACTOR)  # fmt: skip


# --- measuring -----------------------------------------------------------------------------


def server_cpu(shop: Shop) -> Callable[[], float]:
    """A clock of the CPU seconds the sandbox's server thread (uvicorn, named by its port) has used."""
    port = urlsplit(shop.url).port
    thread = next(t for t in threading.enumerate() if t.name == f"uvicorn-{port}")
    assert thread.ident is not None
    clock = time.pthread_getcpuclockid(thread.ident)
    return lambda: time.clock_gettime(clock)


async def download_all(channel_id: uuid.UUID, orders: int) -> list[Any]:
    """download_channel runs until they have downloaded ``orders`` orders (or one fails or brings none)."""
    max_pages = 2 * (orders // PAGE_SIZE) + 10
    runs = []
    while len(runs) < MAX_RUNS:
        run = await download_channel(channel_id, page_size=PAGE_SIZE, max_pages=max_pages)
        if run is None:
            raise SystemExit("download_channel did not run (channel disabled or its lease held)")
        runs.append(run)
        if run.outcome != SyncOutcome.SUCCEEDED or not run.downloaded or sum(r.downloaded for r in runs) >= orders:
            break
    return runs


def combined(runs: list[Any]) -> SimpleNamespace:
    """The runs' counters added up, as one run for ``bench_download.check``; the outcome is the
    first that was not SUCCEEDED, else SUCCEEDED."""
    outcome = next((r.outcome for r in runs if r.outcome != SyncOutcome.SUCCEEDED), SyncOutcome.SUCCEEDED)
    return SimpleNamespace(outcome=outcome, **{name: sum(getattr(r, name) for r in runs)
                                               for name in ("downloaded", "failed", "duplicates", "pages")})  # fmt: skip


async def lines_per_order(channel_id: uuid.UUID, lines: int = 3) -> int:
    """How many of the channel's orders do not have exactly ``lines`` lines."""
    rows = await db.fetch(
        "SELECT count(*) AS n FROM orders o WHERE o.channel_id = $1 AND "
        "(SELECT count(*) FROM order_item i WHERE i.order_id = o.id) <> $2", [channel_id, lines],
    )  # fmt: skip
    return int(rows[0]["n"])


@dataclass
class Result:
    """One channel's measured download."""

    partner: Partner
    orders: int
    seconds: float
    sandbox_cpu: float
    process_cpu: float
    runs: int
    requests: Tally = field(default_factory=Tally)  # operation -> requests
    refused: Tally = field(default_factory=Tally)  # operation -> answers not 2xx
    ok: bool = False
    detail: str = ""

    @property
    def rate(self) -> float:
        return self.orders / self.seconds


async def measure(partner: Partner, specs: list[dict[str, Any]], catalogue: Catalogue) -> Result:
    """Serve ``partner``'s sandboxes, warm up on one, download every order of the other, check."""
    n = len(specs)
    location = catalogue.locations[0].id
    skus = catalogue.skus
    with serve_shop(partner.app(skus, 1)) as shop, serve_shop(partner.app(skus, 2)) as warm_shop:
        with Clock() as placing:
            place_orders(shop, partner.specs(specs))
            place_orders(warm_shop, partner.specs(order_specs(WARM_UP_ORDERS, skus, seed=2)))
        print(f"{partner.title}: {fmt(n)} orders placed in {placing.seconds:.1f} s", flush=True)

        warm = await create(partner, warm_shop, f"Warm-up {partner.title}", location)
        await download_all(warm.id, WARM_UP_ORDERS)
        channel = await create(partner, shop, f"Bench {partner.title}", location)
        await reset(channel.id)  # empties the warm-up's orders and allocations

        gc.collect()
        gc.freeze()  # the sandbox's orders live in this heap; a real partner's do not
        shop.sandbox.requests.clear()
        sandbox_cpu = server_cpu(shop)
        cpu_before, process_before = sandbox_cpu(), time.process_time()
        with Clock() as clock:
            runs = await download_all(channel.id, n)
        sandbox_s, process_s = sandbox_cpu() - cpu_before, time.process_time() - process_before
        gc.unfreeze()
        logged = list(shop.sandbox.requests)

        ok, detail = await check(channel.id, specs, combined(runs), catalogue)
        uneven = await lines_per_order(channel.id)
        if uneven:
            ok, detail = False, f"{uneven} orders without exactly 3 lines -- {detail}"
        if len(runs) > 1:
            detail += f" ({len(runs)} runs)"
        result = Result(partner, n, clock.seconds, sandbox_s, process_s - sandbox_s, len(runs), ok=ok, detail=detail)
        for entry in logged:
            operation = partner.operation(entry["method"], entry["path"])
            result.requests[operation] += 1
            if not 200 <= entry["status"] < 300:
                result.refused[operation] += 1
        await reset(channel.id)
    print(f"{partner.title}: downloaded in {result.seconds:.1f} s, check {'OK' if ok else 'FAILED'}", flush=True)
    return result


# --- output --------------------------------------------------------------------------------


def duration(seconds: float) -> str:
    """Seconds as s, min or h, whichever reads best."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def report(results: list[Result]) -> None:
    baseline = next(r for r in results if r.partner.name == "woocommerce")
    rows = []
    for r in results:
        total = sum(r.requests.values())
        rows.append([r.partner.title, fmt(r.orders), f"{r.seconds:.2f}", fmt(r.rate), ratio(r.rate, baseline.rate),
                     f"{r.sandbox_cpu:.2f}", f"{r.process_cpu:.2f}", f"{1000 * r.process_cpu / r.orders:.2f}",
                     ratio(r.process_cpu / r.orders, baseline.process_cpu / baseline.orders),
                     fmt(total), fmt(1000 * total / r.orders, 1)])  # fmt: skip
    print_table(
        "Download throughput (/ WooCommerce: orders/s divided by WooCommerce's, same run; CPU: seconds during the "
        "run of the sandbox's server thread and of the rest of this process, orderdeck's; x WooCommerce: orderdeck's "
        "CPU per order divided by WooCommerce's)",
        ["channel", "orders", "seconds", "orders/s", "/ WooCommerce", "sandbox CPU s", "orderdeck CPU s",
         "CPU ms/order", "x WooCommerce", "requests", "per 1,000 orders"],
        rows,
    )  # fmt: skip

    rows = []
    for r in results:
        for operation, count in sorted(r.requests.items(), key=lambda kv: -kv[1]):
            documented = r.partner.documented.get(operation)
            if documented:
                real = f"{documented:.3g}/s: {duration(count / documented)}"
            elif r.partner.name == "woocommerce" and operation == "list orders":
                real = f"none documented (at the default {WOOCOMMERCE_DEFAULT_RATE:g}/s: {duration(count / WOOCOMMERCE_DEFAULT_RATE)})"
            else:
                real = ""
            rows.append([r.partner.title, operation, fmt(count), fmt(1000 * count / r.orders, 1),
                         f"{count / r.seconds:.0f}", fmt(r.refused[operation]), real])  # fmt: skip
    print_table(
        "Requests to the sandbox, by operation (from its request log); per second: as sent in the run (the raised "
        f"limits allow {fmt(RAISED_RATE)}); 'at the documented rate': requests / the partner's documented rate",
        ["channel", "operation", "requests", "per 1,000 orders", "per second", "not 2xx", "at the documented rate"],
        rows, left=2,
    )  # fmt: skip

    for r in results:
        bounds = [count / r.partner.documented[op] for op, count in r.requests.items() if op in r.partner.documented]
        if bounds:
            print(f"\n{r.partner.title} at its documented rates: at least {duration(max(bounds))} for these "
                  f"{fmt(r.orders)} orders (the slowest operation; each is paced apart), against "
                  f"{r.seconds:.1f} s measured here.", end="")  # fmt: skip
    print()
    print_table("Correctness check", ["channel", "result", "detail"],
                [[r.partner.title, "OK" if r.ok else "FAILED", r.detail] for r in results], left=3)  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    chosen = [name.strip() for name in args.channels.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(PARTNERS) - {"woocommerce"})
    if unknown:
        raise SystemExit(f"unknown channels {unknown}; choose from amazon, ebay")
    partners = [PARTNERS["woocommerce"]] + [PARTNERS[name] for name in chosen if name != "woocommerce"]
    print(f"channel download benchmark: {fmt(args.orders)} orders x 3 lines over {args.skus} SKUs per sandbox, "
          f"page size {PAGE_SIZE}; {machine_note()}")  # fmt: skip
    print("Rate limits raised so that none paces the run (the benchmark measures orderdeck, not the partners' limits):")
    for partner in partners:
        print(f"- {partner.note}")
    results = []
    async with bench_database():
        catalogue = await seed_stock(skus=args.skus, extra_locations=0)
        specs = order_specs(args.orders, catalogue.skus, seed=1)
        for partner in partners:
            results.append(await measure(partner, specs, catalogue))
    report(results)
    if not all(r.ok for r in results):
        raise SystemExit(1)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders in each sandbox (default 10000)")
    parser.add_argument("--skus", type=int, default=200, help="stock items, the SKUs the orders use (default 200)")
    parser.add_argument("--channels", default="amazon,ebay",
                        help="channels measured after the WooCommerce baseline, comma-separated (default amazon,ebay)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))

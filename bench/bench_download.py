"""Benchmark: the download pipeline, from a WooCommerce sandbox shop to committed, reserved orders.

    .venv/bin/python bench/bench_download.py [--orders 10000] [--skus 200] [--profile pyinstrument|cprofile|none]
                                             [--shop-latency 0]

A WooCommerce sandbox shop (``orderdeck_woocommerce.sandbox.create_app``) is served over real HTTP
on loopback, by uvicorn in a thread of this process. It gets ``--orders`` orders, status
"processing", of 3 lines each over SKUs that exist as stock items with plenty of stock, each
modified in its own second starting a day ago (nothing is held back as too recent, and no second
holds more than a page). A WooCommerce channel on it (download location and stock location: the
default location; ``requests_per_second`` 100, the most the settings allow, so the client's rate
limit does not pace the run) is then downloaded by ``orderdeck.services.sync.download_channel``
with ``page_size=100``, in one run. The check: ``--orders`` orders of 3 linked lines, every
stock level's ``allocated`` equal to the quantities ordered (from the specs and from
``order_item``), one ledger row per line, one ORDER_CREATED audit entry per order, and a run
that downloaded every order and failed none. The shop's state lives in this process's heap: it is
frozen (``gc.freeze``) before the measured runs, so that the garbage collector does not traverse
it as it would not in a deployment; the collector's time during the run is printed.

Baselines measured in the same run:

1. the floor: asyncpg COPY of the rows the pipeline wrote (``orders`` and ``order_item``,
   read back from the database, so exactly the same values) into the emptied tables, median of 3;
   a second COPY row adds the ledger and audit rows the pipeline wrote, for context;
2. the download hook alone: the connector's ``download_orders`` called page after page from no cursor,
   as ``download_channel`` calls it (HTTP, the plugin's paging and mapping), writing nothing;
3. raw HTTP: the very requests the pipeline sent (from the sandbox's request log), replayed with
   one plain ``httpx.AsyncClient`` (keep-alive), reading the bodies; also with JSON decoding.

Then the pipeline runs once more under a profiler (pyinstrument if installed, else cProfile; not
a dependency of orderdeck: ``.venv/bin/pip install pyinstrument``) and the top costs are printed:
wall time under the main functions, self time per package and per function; the full
pyinstrument tree is written to a file in the temporary folder.
"""

from __future__ import annotations

import os

# Channel secrets are stored encrypted: PostgreSQL needs a key (read once, at first use).
os.environ.setdefault("ORDERDECK_SECRET_KEY", "orderdeck-bench-secret-key-0123456789abcdef")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import gc  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter as Tally  # noqa: E402
from collections.abc import Iterator  # noqa: E402
from contextlib import contextmanager  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ACTOR,
    Catalogue,
    Clock,
    bench_database,
    fmt,
    machine_note,
    median,
    print_table,
    ratio,
    seed_stock,
    truncate_orders,
)

import httpx  # noqa: E402
import uvicorn  # noqa: E402

from orderdeck import db  # noqa: E402
from orderdeck.models import Channel, Connection, SyncRun  # noqa: E402
from orderdeck.services import channels  # noqa: E402
from orderdeck.plugins.oauth1 import OAuth1  # noqa: E402
from orderdeck.plugins.sandbox.serving import serve  # noqa: E402
from orderdeck.services.channels import channel_connection  # noqa: E402
from orderdeck.services.sync import download_channel  # noqa: E402
from orderdeck_woocommerce.sandbox import Fault, Shop as SandboxShop, create_app  # noqa: E402

KEY, SECRET = "ck_bench", "cs_bench"
PAGE_SIZE = 100
COPY_REPEATS = 3
CREATE_CHUNK = 500
"""Orders per POST /__sandbox/orders while arranging the shop."""


# --- a sandbox shop served over real HTTP --------------------------------------------------


@dataclass
class Shop:
    """A WooCommerce sandbox app served on loopback: its URL, and its in-memory state."""

    url: str
    sandbox: SandboxShop
    server: uvicorn.Server


@contextmanager
def serve_shop(app: Any, host: str = "127.0.0.1") -> Iterator[Shop]:
    """Serve a sandbox app on a free loopback port (the toolkit's ``serve``) until the block ends."""
    with serve(app, host) as running:
        # The app may be wrapped (ASGI middleware): the sandbox is on the innermost app's state.
        inner = app
        while not hasattr(getattr(inner, "state", None), "sandbox"):
            inner = inner.app
        yield Shop(running.url, inner.state.sandbox, running.server)


def gmt(moment: datetime) -> str:
    return moment.replace(tzinfo=None, microsecond=0).isoformat()


def order_specs(count: int, skus: list[str], *, seed: int = 1, lines: int = 3) -> list[dict[str, Any]]:
    """Sandbox order specs: status processing, ``lines`` distinct SKUs, each order modified in
    its own second from a day ago on (so none is recent and no second holds more than one)."""
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=1)
    specs = []
    for n in range(count):
        moment = gmt(start + timedelta(seconds=n))
        specs.append({
            "status": "processing", "date_created_gmt": moment, "date_modified_gmt": moment, "date_paid_gmt": moment,
            "lines": [{"sku": sku, "quantity": rng.randint(1, 5), "price": f"{rng.randint(100, 9999) / 100:.2f}"}
                      for sku in rng.sample(skus, lines)],
        })  # fmt: skip
    return specs


def place_orders(shop: Shop, specs: list[dict[str, Any]]) -> None:
    """Create the orders in the shop through its control API."""
    with httpx.Client(base_url=shop.url, timeout=120) as client:
        for start in range(0, len(specs), CREATE_CHUNK):
            response = client.post("/__sandbox/orders", json={"orders": specs[start : start + CREATE_CHUNK]})
            if response.status_code != 201:
                raise SystemExit(f"the sandbox refused the orders: {response.status_code} {response.text[:300]}")


async def connect(shop: Shop, name: str, location_id: uuid.UUID) -> Channel:
    """A WooCommerce channel on the shop, downloading to and offering stock from ``location_id``."""
    return await channels.create_channel({
        "name": name, "plugin": "woocommerce", "download_location_id": location_id,
        "stock_location_ids": [location_id],
        "settings": {"url": shop.url, "consumer_key": KEY, "consumer_secret": SECRET, "requests_per_second": 100},
    }, ACTOR)  # fmt: skip


async def reset(channel_id: uuid.UUID) -> None:
    """Forget the downloaded orders: empty the order tables, zero the allocations, drop the cursor."""
    await truncate_orders()
    await db.connection().execute_script("UPDATE stock_level SET allocated = 0")
    await Connection.filter(id=channel_id).update(cursor=None, last_run_at=None)


# --- the pipeline and its check ------------------------------------------------------------


class CollectorTime:
    """Time spent in Python's garbage collector during a block (gc.callbacks)."""

    def __enter__(self) -> CollectorTime:
        self.seconds, self.collections, self._start = 0.0, 0, 0.0
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._start = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._start
            self.collections += 1


async def run_pipeline(channel_id: uuid.UUID, orders: int) -> tuple[float, SyncRun, CollectorTime]:
    """Seconds for one download_channel run taking every order of the shop, the run, and the
    garbage collector's share."""
    max_pages = 2 * (orders // PAGE_SIZE) + 10  # each page repeats its cursor's order: ~99 new ones a page
    with CollectorTime() as collector, Clock() as clock:
        run = await download_channel(channel_id, page_size=PAGE_SIZE, max_pages=max_pages)
    if run is None:
        raise SystemExit("download_channel did not run (channel disabled or its lease held)")
    return clock.seconds, run, collector


async def check(channel_id: uuid.UUID, specs: list[dict[str, Any]], run: SyncRun, catalogue: Catalogue) -> tuple[bool, str]:
    """Every order there, linked and reserved: allocated == ordered, per level."""
    expected: Tally = Tally()
    for spec in specs:
        for line in spec["lines"]:
            expected[line["sku"]] += line["quantity"]
    location = catalogue.locations[0].id
    sku_of = {i.id: i.sku for i in catalogue.items}
    fetch = db.fetch
    levels = await fetch("SELECT item_id, location_id, level, allocated FROM stock_level", [])
    counts = (await fetch(
        "SELECT (SELECT count(*) FROM orders WHERE channel_id = $1) AS orders, "
        "(SELECT count(*) FROM order_item) AS lines, "
        "(SELECT count(*) FROM order_item WHERE stock_item_id IS NULL) AS unlinked, "
        "(SELECT count(*) FROM stock_ledger) AS ledger, "
        "(SELECT count(*) FROM audit_entry WHERE kind = 'ORDER_CREATED') AS audit, "
        "(SELECT count(DISTINCT reference) FROM orders WHERE channel_id = $1) AS refs", [channel_id],
    ))[0]  # fmt: skip
    in_db = await fetch(
        "SELECT oi.stock_item_id AS item_id, sum(oi.quantity) AS qty FROM order_item oi "
        "JOIN orders o ON o.id = oi.order_id WHERE o.state = 'OPEN' AND o.location_id = $1 GROUP BY 1",
        [location],
    )
    problems = []
    allocated = {sku_of[r["item_id"]]: r["allocated"] for r in levels if r["location_id"] == location}
    if any(allocated.get(sku, 0) != qty for sku, qty in expected.items()) or sum(allocated.values()) != sum(expected.values()):
        problems.append("allocated != ordered")
    if {sku_of[r["item_id"]]: int(r["qty"]) for r in in_db} != dict(expected):
        problems.append("order_item quantities differ from the shop's orders")
    if any(r["level"] != catalogue.start_level for r in levels):
        problems.append("a physical level moved")
    lines = sum(len(s["lines"]) for s in specs)
    if (counts["orders"], counts["refs"], counts["lines"], counts["unlinked"]) != (len(specs), len(specs), lines, 0):
        problems.append(f"{counts['orders']} orders ({counts['refs']} references) / {counts['lines']} lines "
                        f"({counts['unlinked']} unlinked) in the database")  # fmt: skip
    if (counts["ledger"], counts["audit"]) != (lines, len(specs)):
        problems.append(f"{counts['ledger']} ledger rows / {counts['audit']} audit entries")
    if (run.downloaded, run.failed, run.outcome.value) != (len(specs), 0, "SUCCEEDED"):
        problems.append(f"run: {run.outcome.value}, downloaded {run.downloaded}, failed {run.failed}")
    detail = (
        f"{fmt(counts['orders'])} orders, {fmt(counts['lines'])} lines (0 unlinked), allocated total "
        f"{fmt(sum(allocated.values()))} = ordered {fmt(sum(expected.values()))} over {len(expected)} SKUs; "
        f"{fmt(counts['ledger'])} ledger rows, {fmt(counts['audit'])} audit entries; run {run.outcome.value}, "
        f"{run.pages} pages, downloaded {fmt(run.downloaded)}, duplicates {run.duplicates}, failed {run.failed}"
    )
    return not problems, detail if not problems else "; ".join(problems) + " -- " + detail


# --- baseline 1: COPY of the same rows -----------------------------------------------------


async def snapshot_rows(database) -> dict[str, tuple[list[str], list[tuple]]]:
    """The rows the pipeline wrote, per table: (columns, records)."""
    conn = await database.raw()
    try:
        out = {}
        for table in ("orders", "order_item", "stock_ledger", "audit_entry"):
            where = " WHERE kind = 'ORDER_CREATED'" if table == "audit_entry" else ""
            rows = await conn.fetch(f"SELECT * FROM {table}{where}")
            out[table] = (list(rows[0].keys()), rows)
        return out
    finally:
        await conn.close()


async def copy_baseline(database, rows: dict[str, tuple[list[str], list]], tables: list[str]) -> float:
    """Seconds to COPY these tables' rows into the emptied tables (median of COPY_REPEATS)."""
    conn = await database.raw()
    times = []
    try:
        for _ in range(COPY_REPEATS):
            await truncate_orders()
            with Clock() as clock:
                async with conn.transaction():
                    for table in tables:
                        columns, records = rows[table]
                        await conn.copy_records_to_table(table, records=[tuple(r) for r in records], columns=columns)
            times.append(clock.seconds)
        count = await conn.fetchval("SELECT count(*) FROM orders")
        assert count == len(rows["orders"][1]), (count, len(rows["orders"][1]))
    finally:
        await conn.close()
    return median(times)


# --- baselines 2 and 3: the hook alone, raw HTTP -------------------------------------------


async def hook_only(channel_id: uuid.UUID) -> tuple[float, int, int]:
    """Seconds to page through the shop with the download hook alone (no database writes);
    (seconds, orders, pages)."""
    channel = await Connection.get(id=channel_id)
    hooks, context = channel_connection(channel)
    cursor, orders, pages = None, 0, 0
    with Clock() as clock:
        while True:
            page = await hooks.download_orders(context, cursor=cursor, page_size=PAGE_SIZE)
            orders += len(page.orders) + len(page.rejected)
            pages += 1
            cursor = page.cursor
            if not page.has_more:
                break
    return clock.seconds, orders, pages


async def raw_http(shop: Shop, requests: list[dict[str, Any]], decode: bool) -> tuple[float, int]:
    """Seconds to send these (logged) requests again with one plain client; (seconds, bytes). The
    shop takes plain HTTP signed (OAuth 1.0a, a nonce once): each is signed afresh, as the
    connector signs it."""
    size = 0
    async with httpx.AsyncClient(base_url=shop.url, auth=OAuth1(KEY, SECRET, placement="query"), timeout=60) as client:
        await client.get("/wp-json/wc/v3/orders", params={"per_page": 1})  # connect first, as keep-alive would
        with Clock() as clock:
            for request in requests:
                query = "&".join(p for p in request["query"].split("&") if not p.startswith("oauth_"))
                response = await client.request(request["method"], f"{request['path']}?{query}")
                response.raise_for_status()
                size += len(response.content)
                if decode:
                    response.json()
    return clock.seconds, size


# --- the profile ---------------------------------------------------------------------------

WATCH = [
    ("download_orders", "orderdeck_woocommerce", "download hook: HTTP + paging + mapping"),
    ("_client", "orderdeck_woocommerce", "  _client: a new httpx.AsyncClient per call"),
    ("list_orders", "orderdeck_woocommerce", "  client.list_orders: request, response, JSON"),
    ("map_order", "orderdeck_woocommerce", "  mapping.map_order"),
    ("ingest_page", "services/sync.py", "ingest_page: one transaction per page"),
    ("order_input", "services/sync.py", "  sync.order_input (dataclasses.asdict)"),
    ("validated", "services/errors.py", "  validated(OrderInput) in ingest_page"),
    ("create_orders", "services/orders.py", "  orders.create_orders"),
    ("_build_orders", "services/orders.py", "    _build_orders (Order/OrderItem objects)"),
    ("apply_stock_changes", "services/stock.py", "    stock.apply_stock_changes"),
    ("_execute_many", "tortoise", "    BulkCreateQuery._execute_many (all bulk_create)"),
    ("write", "services/audit.py", "    AuditLog.write"),
    ("progress", "services/runs.py", "RunLog.progress (run counters, issues)"),
]
"""(function, file path part, label): rows of the profile summary."""

PACKAGES = ["orderdeck_woocommerce", "orderdeck", "tortoise", "pypika_tortoise", "asyncpg", "pydantic", "httpx",
            "httpcore", "anyio", "ssl", "json", "asyncio", "inspect", "uuid", "dataclasses", "copy", "decimal"]


def frames_named(frame: Any, name: str, path_part: str) -> list[Any]:
    """The outermost frames of this function under ``frame`` (not nested in another of them)."""
    if frame.function == name and path_part in (frame.file_path or ""):
        return [frame]
    return [found for child in frame.children for found in frames_named(child, name, path_part)]


def package_of(path: str | None) -> str:
    """The package (or stdlib module) a source file belongs to."""
    if not path or path.startswith("<"):
        return "<built-in>"
    parts = Path(path).parts
    for name in PACKAGES:
        if name in parts or f"{name}.py" in parts:
            return name
    return "other"


def self_times(frame: Any, by_function: Tally, by_package: Tally, caller: str = "other") -> None:
    """Self time (time in a frame minus its real children) per function and per package (a
    built-in function counts for its caller's package); waiting on I/O (pyinstrument's [await]
    frames) apart."""
    if frame.function == "[await]":
        by_function[("[await] waiting on I/O", "")] += frame.time
        by_package["[await] waiting on I/O"] += frame.time
        return
    if not frame.is_synthetic:
        own = frame.time - sum(c.time for c in frame.children if not c.is_synthetic)
        own -= sum(c.time for c in frame.children if c.function == "[await]")
        where = f"{frame.file_path_short}:{frame.line_no}" if frame.file_path else ""
        by_function[(frame.class_name + "." + frame.function if frame.class_name else frame.function, where)] += own
        package = package_of(frame.file_path)
        if package == "<built-in>":
            package = caller
        by_package[package] += own
        caller = package
    for child in frame.children:
        self_times(child, by_function, by_package, caller)


def pyinstrument_tables(session: Any, out: Path, top: int) -> tuple[float, list[list[str]], list[list[str]], list[list[str]]]:
    """(run seconds, time under each WATCH function, self time per package, top functions by
    self time); writes the rendered tree to ``out``."""
    from pyinstrument.renderers import ConsoleRenderer

    # A coroutine's frames may sit under more than one event-loop callback: take them all.
    runs = frames_named(session.root_frame(), "download_channel", "services/sync.py")
    total = sum(run.time for run in runs)
    watched = []
    for name, path_part, label in WATCH:
        frames = [found for run in runs for found in frames_named(run, name, path_part)]
        seconds = sum(f.time for f in frames)
        waiting = sum(f.await_time() for f in frames)
        watched.append([label, f"{seconds:.2f}", f"{100 * seconds / total:.0f}%", f"{waiting:.2f}"])
    by_function: Tally = Tally()
    by_package: Tally = Tally()
    for run in runs:
        self_times(run, by_function, by_package)
    packages = [[name, f"{seconds:.2f}", f"{100 * seconds / total:.1f}%"] for name, seconds in by_package.most_common()]
    functions = [[name, where, f"{seconds:.2f}", f"{100 * seconds / total:.1f}%"]
                 for (name, where), seconds in by_function.most_common(top)]  # fmt: skip
    out.write_text(ConsoleRenderer(unicode=False, color=False, show_all=False, time="seconds",
                                   processor_options={"filter_threshold": 0.002}).render(session))  # fmt: skip
    return total, watched, packages, functions


async def profiled_run(channel_id: uuid.UUID, orders: int, kind: str) -> tuple[float, SyncRun, Any]:
    if kind == "pyinstrument":
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.001, async_mode="enabled")
        profiler.start()
        try:
            seconds, run, _ = await run_pipeline(channel_id, orders)
        finally:
            profiler.stop()
        return seconds, run, profiler.last_session
    import cProfile

    profile = cProfile.Profile()
    profile.enable()
    try:
        seconds, run, _ = await run_pipeline(channel_id, orders)
    finally:
        profile.disable()
    return seconds, run, profile


def cprofile_rows(profile: Any, top: int) -> list[list[str]]:
    import pstats

    stats = pstats.Stats(profile)
    rows = []
    entries = sorted(stats.stats.items(), key=lambda kv: kv[1][3], reverse=True)  # cumulative
    for (path, line, fn), (_, calls, own, cumulative, _) in entries[:top]:
        rows.append([fn, f"{Path(path).name}:{line}", fmt(calls), f"{own:.2f}", f"{cumulative:.2f}"])
    return rows


# --- main ----------------------------------------------------------------------------------


def profiler_kind(wanted: str) -> str:
    if wanted != "pyinstrument":
        return wanted
    try:
        import pyinstrument  # noqa: F401
    except ImportError:
        print("pyinstrument is not installed: profiling with cProfile (pip install pyinstrument for a wall-clock profile)")
        return "cprofile"
    return "pyinstrument"


async def main(args: argparse.Namespace) -> None:
    n = args.orders
    profiler = profiler_kind(args.profile)
    async with bench_database() as database:
        catalogue = await seed_stock(skus=args.skus, extra_locations=0)
        location = catalogue.locations[0]
        with serve_shop(create_app(skus=catalogue.skus, key=KEY, secret=SECRET, seed=1)) as shop, \
                serve_shop(create_app(skus=catalogue.skus, key=KEY, secret=SECRET, seed=2)) as warm_shop:  # fmt: skip
            specs = order_specs(n, catalogue.skus, seed=1)
            with Clock() as arranging:
                place_orders(shop, specs)
                place_orders(warm_shop, order_specs(300, catalogue.skus, seed=2))
            print(f"download benchmark: {fmt(n)} WooCommerce orders x 3 lines over {args.skus} SKUs, page size "
                  f"{PAGE_SIZE} (shop arranged in {arranging.seconds:.1f} s); {machine_note()}")  # fmt: skip

            # Warm-up (imports, statement caches, pool) on another shop; not measured.
            warm = await connect(warm_shop, "Warm-up shop", location.id)
            await run_pipeline(warm.id, 300)
            await reset(warm.id)

            channel = await connect(shop, "Bench shop", location.id)
            if args.shop_latency > 0:  # a remote shop: every API request answered this much later
                shop.sandbox.faults.append(Fault(kind="delay", count=10**9, seconds=args.shop_latency))
            # The shop's state (every order it holds) lives in this process's heap; a real shop's
            # does not. Frozen, the garbage collector does not traverse it on every full collection.
            gc.collect()
            gc.freeze()
            shop.sandbox.requests.clear()
            pipeline_s, run, collector = await run_pipeline(channel.id, n)
            logged = list(shop.sandbox.requests)
            ok, detail = await check(channel.id, specs, run, catalogue)
            rows = await snapshot_rows(database)

            hook_s, hook_orders, hook_pages = await hook_only(channel.id)
            raw_s, raw_bytes = await raw_http(shop, logged, decode=False)
            raw_json_s, _ = await raw_http(shop, logged, decode=True)
            copy_s = await copy_baseline(database, rows, ["orders", "order_item"])
            copy_all_s = await copy_baseline(database, rows, ["orders", "order_item", "stock_ledger", "audit_entry"])

            profile_out = None
            if profiler != "none":
                await reset(channel.id)
                profile_s, profile_run, profile = await profiled_run(channel.id, n, profiler)
                profile_ok, profile_detail = await check(channel.id, specs, profile_run, catalogue)

    results = [
        ("asyncpg COPY orders + order_item (floor)", copy_s),
        ("asyncpg COPY + ledger + audit rows", copy_all_s),
        ("download_channel: sandbox -> committed, reserved", pipeline_s),
        ("download hook alone (HTTP + paging + mapping)", hook_s),
        ("raw HTTP: the same requests, bodies read", raw_s),
        ("raw HTTP + JSON decoding", raw_json_s),
    ]
    pipeline_rate = n / pipeline_s
    copy_rate = n / copy_s
    table = []
    for label, seconds in results:
        rate = n / seconds
        table.append([label, f"{seconds:.2f}", fmt(rate), ratio(rate, copy_rate), ratio(rate, pipeline_rate),
                      f"{100 * seconds / pipeline_s:.0f}%"])  # fmt: skip
    print_table(
        "Throughput (ratios are orders/s divided by the baseline's orders/s, same run)",
        ["method", "seconds", "orders/s", "/ COPY", "/ pipeline", "time / pipeline"],
        table,
    )
    span = logged[-1]["at"] - logged[0]["at"] if len(logged) > 1 else 0.0
    print(f"\nPipeline: {len(logged)} requests to the shop ({fmt(raw_bytes)} bytes; "
          f"{len(logged) / pipeline_s:.1f} requests/s), run.pages = {run.pages}; the hook alone: "
          f"{fmt(hook_orders)} orders in {hook_pages} pages. First to last request: {span:.1f} s. Garbage "
          f"collection during the run: {collector.seconds:.2f} s in {fmt(collector.collections)} collections "
          f"(set-up objects frozen).")  # fmt: skip
    print("COPY figures: median of 3 runs of copying the rows the pipeline wrote (read back from the")
    print("database) into the emptied tables; the pipeline also updates stock levels, which COPY does not.")
    print_table("Correctness check", ["run", "result", "detail"], [["timed run", "OK" if ok else "FAILED", detail]], left=3)

    if profiler != "none":
        print(f"\nProfiled run ({profiler}): {profile_s:.2f} s ({fmt(n / profile_s)} orders/s, profiler overhead "
              f"included); check {'OK' if profile_ok else 'FAILED: ' + profile_detail}")  # fmt: skip
        if profiler == "pyinstrument":
            profile_out = Path(tempfile.gettempdir()) / f"orderdeck_bench_download_{os.getpid()}.txt"
            total, watched, packages, functions = pyinstrument_tables(profile, profile_out, args.top)
            print_table(f"Where the time goes: wall time under each function (outermost calls) in download_channel "
                        f"({total:.2f} s); 'await' = waiting on I/O (database, HTTP)",
                        ["function", "seconds", "% of run", "of which await"], watched)  # fmt: skip
            print_table("Self time by package (Python CPU; waiting on I/O apart)", ["package", "seconds", "% of run"],
                        packages)  # fmt: skip
            print_table("Most self time by function", ["function", "where", "seconds", "% of run"], functions, left=2)
            print(f"\nFull pyinstrument tree: {profile_out}")
        else:
            print_table("Most cumulative time (cProfile)", ["function", "where", "calls", "own s", "cumulative s"],
                        cprofile_rows(profile, args.top), left=2)
    if not ok or (profiler != "none" and not profile_ok):
        raise SystemExit(1)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders in the shop (default 10000)")
    parser.add_argument("--skus", type=int, default=200, help="stock items / shop products (default 200)")
    parser.add_argument("--shop-latency", type=float, default=0.0,
                        help="seconds the shop takes to answer each API request, as a remote shop would (default 0)")
    parser.add_argument("--profile", choices=["pyinstrument", "cprofile", "none"], default="pyinstrument",
                        help="profile one more run (default pyinstrument; cProfile when it is not installed)")
    parser.add_argument("--top", type=int, default=20, help="functions listed from the profile (default 20)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))

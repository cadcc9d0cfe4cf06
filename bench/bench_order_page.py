"""Benchmark: the open-orders page through GraphQL versus a plain Starlette JSON endpoint.

    .venv/bin/python bench/bench_order_page.py [--orders 5000] [--rounds 5] [--seconds 3] [--cpu 20] [--profile]

Seeds ``--orders`` open orders of 3 lines (through the service), with stock levels low enough
that the page's FIFO allocation is not all FULL, then fetches the first page of
100 open orders x 3 items, with location, totals, allocation, stock item and stock level:

- GraphQL: POST /graphql on the app from ``orderdeck.app.create_app`` (token checked as in
  production), query QUERY below;
- plain: GET /orders/open on a Starlette app with the same middleware, the same token check and
  the same database reads (page, count, locations, items, stock items, levels, and the allocation
  query of the GraphQL loader), building the same JSON by hand.

A third contender, the plain endpoint without the allocation query, shows what that query costs.
Then the CPU time of one request (``time.process_time``, ``--cpu`` requests of each, twice), which
the machine's other work disturbs less than latency; with ``--profile``, the self time by package
of ``--cpu`` requests of each under cProfile.
Planner statistics are refreshed (ANALYZE) after seeding, as autovacuum would in a running system.

Both apps run in this process over httpx.ASGITransport, one request at a time, alternating
rounds of ``--seconds`` each. Prints requests/s, p50 latency, response size, the ratio
GraphQL / plain, whether both answers hold the same data, and the SQL statements per request.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import sys
import time
from collections import Counter as Tally
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ACTOR,
    ORDER_PAGE_NODE,
    Clock,
    bench_database,
    count_sql,
    fmt,
    machine_note,
    percentile,
    print_table,
    ratio,
    seed_orders,
    seed_stock,
)

import httpx  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.middleware import Middleware  # noqa: E402
from starlette.middleware.cors import CORSMiddleware  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import JSONResponse  # noqa: E402
from starlette.routing import Route  # noqa: E402

from orderdeck import db  # noqa: E402
from orderdeck.app import UNAUTHORIZED, bearer_token, create_app  # noqa: E402
from orderdeck.config import Settings  # noqa: E402
from orderdeck.graphql.common import encode_id  # noqa: E402
from orderdeck.graphql.orders.loaders import allocation_by_order  # noqa: E402
from orderdeck.models import Location, Order, OrderItem, OrderState, StockItem, StockLevel  # noqa: E402
from orderdeck.services import auth  # noqa: E402
from orderdeck.services.allocation import AllocationState, refresh_frontiers  # noqa: E402

PAGE = 100
NO_ALLOCATION = "plain, no allocation"

QUERY = f"""{{ openOrders(first: 100) {{ totalCount edges {{ node {{
  {ORDER_PAGE_NODE}
}} }} }} }}"""


# --- the plain endpoint ----------------------------------------------------------------------


async def open_orders_plain(request: Request) -> JSONResponse:
    """The same page as QUERY, with the same reads, as hand-built JSON."""
    token = await auth.authenticate(bearer_token(request) or "")
    if token is None:
        return JSONResponse({"errors": [{"message": UNAUTHORIZED}]}, status_code=401)
    if auth.Permission.READ not in auth.permissions_of(token):
        return JSONResponse({"errors": [{"message": "forbidden"}]}, status_code=403)
    first = max(0, min(int(request.query_params.get("first", "50")), PAGE))
    with_allocation = request.query_params.get("allocation", "1") != "0"

    query = Order.filter(state=OrderState.OPEN)
    rows = list(await query.order_by("number").limit(first + 1))[:first]
    ids = [o.id for o in rows]
    # Independent reads run concurrently, as the GraphQL DataLoaders of one tick do.
    total, locations, items, allocation = await asyncio.gather(
        query.count(),
        Location.filter(id__in={o.location_id for o in rows}),
        OrderItem.filter(order_id__in=ids).order_by("position"),
        allocation_by_order().load_fn(ids) if with_allocation else _skipped(len(ids)),
    )
    location = {loc.id: loc for loc in locations}
    lines = defaultdict(list)
    for line in items:
        lines[line.order_id].append(line)
    item_ids = {line.stock_item_id for line in items if line.stock_item_id}
    stock_items, levels = await asyncio.gather(
        StockItem.filter(id__in=item_ids),
        StockLevel.filter(item_id__in=item_ids, location_id__in={o.location_id for o in rows}),
    )
    stock_item = {i.id: i for i in stock_items}
    level = {(lv.item_id, lv.location_id): lv for lv in levels}

    def line_json(line: OrderItem, order: Order) -> dict:
        si = stock_item.get(line.stock_item_id)
        lv = level.get((line.stock_item_id, order.location_id))
        return {
            "sku": line.sku, "quantity": line.quantity, "unitPrice": str(line.unit_price),
            "stockItem": {"sku": si.sku, "title": si.title} if si else None,
            "stockLevel": {"level": lv.level, "allocated": lv.allocated, "available": lv.level - lv.allocated}
            if lv else None,
        }  # fmt: skip

    edges = [
        {"node": {
            "id": encode_id("Order", o.id), "number": o.number, "reference": o.reference, "status": o.status.value,
            "receivedAt": o.received_at.isoformat(), "location": {"name": location[o.location_id].name},
            "totals": {"total": str(o.total), "currency": o.currency}, "allocation": alloc.value,
            "items": [line_json(line, o) for line in lines[o.id]],
        }}  # fmt: skip
        for o, alloc in zip(rows, allocation)
    ]
    return JSONResponse({"data": {"openOrders": {"totalCount": total, "edges": edges}}})


async def _skipped(count: int) -> list[AllocationState]:
    return [AllocationState.NOT_ALLOCATED] * count


def plain_app() -> Starlette:
    """A Starlette app with the plain endpoint and the same middleware as orderdeck's app."""
    return Starlette(
        routes=[Route("/orders/open", open_orders_plain)],
        middleware=[
            Middleware(CORSMiddleware, allow_origins=[], allow_methods=["GET", "POST", "OPTIONS"],
                       allow_headers=["authorization", "content-type"], max_age=600)  # fmt: skip
        ],
    )


# --- measuring -----------------------------------------------------------------------------


def package_of(filename: str) -> str:
    """The package a profiled function belongs to (stdlib modules by name, C functions as builtins)."""
    if "site-packages/" in filename:
        return filename.split("site-packages/")[1].split("/")[0]
    if "/orderdeck/" in filename:
        return "orderdeck"
    if "/bench/" in filename:
        return "bench"
    if filename.startswith(("~", "<")):
        return "builtins"
    path = Path(filename)
    return path.parent.name if path.parent.name == "asyncio" else path.stem


async def cpu_per_request(send, count: int) -> float:
    """Milliseconds of this process's CPU time per request, over ``count`` requests."""
    start = time.process_time()
    for _ in range(count):
        await send()
    return (time.process_time() - start) / count * 1000


async def profile(send, count: int) -> Tally:
    """Self time in seconds by package over ``count`` requests under cProfile."""
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(count):
        await send()
    profiler.disable()
    by_package: Tally = Tally()
    for (filename, _, _), (_, _, self_time, _, _) in pstats.Stats(profiler).stats.items():  # type: ignore[attr-defined]
        by_package[package_of(filename)] += self_time
    return by_package


async def round_of(send, seconds: float, latencies: list[float]) -> tuple[int, float]:
    """Send requests one after another for ``seconds``; return (requests, elapsed)."""
    count = 0
    start = time.perf_counter()
    while True:
        t = time.perf_counter()
        await send()
        now = time.perf_counter()
        latencies.append(now - t)
        count += 1
        if now - start >= seconds:
            return count, now - start


async def main(args: argparse.Namespace) -> None:
    async with bench_database() as database:
        catalogue = await seed_stock(skus=500, extra_locations=1)
        with Clock() as seeding:
            await seed_orders(args.orders, catalogue)
        # Physical levels of 0-59 units, so that stock runs short and the FIFO allocation of the
        # page is not all FULL (allocated stays what the orders hold).
        await db.connection().execute_script("UPDATE stock_level SET level = abs(hashtext(id::text)) % 60")
        await refresh_frontiers()  # levels changed by SQL: the stored allocation state follows
        # Planner statistics as autovacuum would have them in a running system. Without them (a
        # freshly loaded database) the allocation query picks nested loops and takes seconds.
        await db.connection().execute_script("ANALYZE")
        _, secret = await auth.create_token("bench", ACTOR)
        headers = {"Authorization": f"Bearer {secret}"}
        print(f"order page benchmark: first {PAGE} of {fmt(args.orders)} open orders x 3 items "
              f"(seeded in {seeding.seconds:.1f} s); {machine_note()}")  # fmt: skip

        gql_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(Settings(database_url=database.url))),
                                       base_url="http://bench", headers=headers)  # fmt: skip
        plain_client = httpx.AsyncClient(transport=httpx.ASGITransport(app=plain_app()), base_url="http://bench",
                                         headers=headers)  # fmt: skip

        async def graphql() -> httpx.Response:
            response = await gql_client.post("/graphql", json={"query": QUERY})
            response.raise_for_status()
            return response

        async def plain() -> httpx.Response:
            response = await plain_client.get("/orders/open", params={"first": PAGE})
            response.raise_for_status()
            return response

        async def plain_no_allocation() -> httpx.Response:
            response = await plain_client.get("/orders/open", params={"first": PAGE, "allocation": "0"})
            response.raise_for_status()
            return response

        # Warm up both (parser/validation caches, statement caches), check the answers agree.
        for _ in range(5):
            g, p = await graphql(), await plain()
        g_data, p_data = g.json(), p.json()
        if "errors" in g_data:
            raise SystemExit(f"GraphQL errors: {g_data['errors']}")
        same = g_data == p_data
        page = g_data["data"]["openOrders"]
        allocations = Tally(e["node"]["allocation"] for e in page["edges"])
        lines = sum(len(e["node"]["items"]) for e in page["edges"])

        with count_sql() as g_sql:
            await graphql()
        with count_sql() as p_sql:
            await plain()

        with count_sql() as n_sql:
            na = await plain_no_allocation()
        contenders = (("GraphQL", graphql), ("plain", plain), (NO_ALLOCATION, plain_no_allocation))
        results = {name: ([], 0, 0.0) for name, _ in contenders}
        for _ in range(args.rounds):
            for name, send in contenders:
                latencies, count, elapsed = results[name]
                n, seconds = await round_of(send, args.seconds, latencies)
                results[name] = (latencies, count + n, elapsed + seconds)
        cpu = {"GraphQL": [], "plain": []}
        for _ in range(2):
            for name, send in (("GraphQL", graphql), ("plain", plain)):
                cpu[name].append(await cpu_per_request(send, args.cpu))
        profiles = {}
        if args.profile:
            profiles = {name: await profile(send, args.cpu) for name, send in (("GraphQL", graphql), ("plain", plain))}
        await gql_client.aclose()
        await plain_client.aclose()

    rate = {name: count / elapsed for name, (_, count, elapsed) in results.items()}
    p50 = {name: percentile(lat, 50) * 1000 for name, (lat, _, _) in results.items()}
    p90 = {name: percentile(lat, 90) * 1000 for name, (lat, _, _) in results.items()}
    size = {"GraphQL": len(g.content), "plain": len(p.content), NO_ALLOCATION: len(na.content)}
    sql = {"GraphQL": len(g_sql), "plain": len(p_sql), NO_ALLOCATION: len(n_sql)}
    print(f"page: {len(page['edges'])} orders, {lines} items, totalCount {fmt(page['totalCount'])}; allocation "
          + ", ".join(f"{k} {v}" for k, v in sorted(allocations.items())))  # fmt: skip
    print(f"same data in both answers: {'yes' if same else 'NO'}")
    rows = []
    for name in ("GraphQL", "plain", NO_ALLOCATION):
        _, count, elapsed = results[name]
        rows.append([name, fmt(count), f"{elapsed:.1f}", fmt(rate[name], 1), f"{p50[name]:.1f}", f"{p90[name]:.1f}",
                     fmt(size[name]), sql[name]])  # fmt: skip
    for name in ("GraphQL", NO_ALLOCATION):
        rows.append([f"{name} / plain", "", "", ratio(rate[name], rate["plain"]), ratio(p50[name], p50["plain"]),
                     ratio(p90[name], p90["plain"]), ratio(size[name], size["plain"]), ""])  # fmt: skip
    print_table(
        f"{args.rounds} alternating rounds x {args.seconds:g} s per contender, one request at a time (ASGITransport, same process)",
        ["endpoint", "requests", "seconds", "req/s", "p50 ms", "p90 ms", "bytes", "SQL/request"],
        rows,
    )
    print(f"\nCPU per request ({args.cpu} requests, twice): "
          + "; ".join(f"{name} {' and '.join(f'{ms:.1f}' for ms in v)} ms" for name, v in cpu.items())
          + f"; GraphQL / plain {ratio(sum(cpu['GraphQL']), sum(cpu['plain']))}")  # fmt: skip
    if profiles:
        totals = {name: sum(p.values()) for name, p in profiles.items()}
        packages = sorted(set().union(*profiles.values()), key=lambda k: -profiles["GraphQL"].get(k, 0.0))
        print_table(
            f"Self time by package under cProfile, {args.cpu} requests each (cProfile slows small calls most)",
            ["package", "GraphQL s", "GraphQL %", "plain s", "plain %"],
            [[k] + [x for name in ("GraphQL", "plain") for x in
                    (f"{profiles[name].get(k, 0.0):.2f}", f"{profiles[name].get(k, 0.0) / totals[name] * 100:.1f}")]
             for k in packages[:12]] + [["total", f"{totals['GraphQL']:.2f}", "", f"{totals['plain']:.2f}", ""]],
        )  # fmt: skip
    print("\nSQL statements of one GraphQL request (records of the tortoise.db_client logger):")
    for stmt in g_sql:
        print("  " + " ".join(stmt.split())[:110])
    print("The plain endpoint skips nothing the query asks for: same token check, same reads (the allocation")
    print("comes from the same SQL as the GraphQL DataLoader); it only skips GraphQL parsing, validation,")
    print("field resolution and the DataLoader machinery. 'plain, no allocation' also skips the allocation")
    print("query (every order shows NOT_ALLOCATED): it is there to show what that one query costs.")
    if not same:
        raise SystemExit(1)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=5000, help="open orders seeded (default 5000)")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    parser.add_argument("--seconds", type=float, default=3.0, help="seconds per round and contender (default 3)")
    parser.add_argument("--cpu", type=int, default=20, help="requests per CPU-time measurement (default 20)")
    parser.add_argument("--profile", action="store_true", help="also profile --cpu requests of each (cProfile)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))

"""Benchmark: GraphQL reads and writes at 10,000 and at 1,000,000 orders, and the ratio.

    .venv/bin/python bench/bench_scale.py [--orders 1000000] [--small 10000] [--requests 20]
                                          [--warmup 3] [--keep] [--explain]

Builds two PostgreSQL databases in the same run (``orderdeck_bench_<pid>_scale_small`` and
``..._scale_large``, dropped at the end, also on failure, unless ``--keep``), each loaded in bulk by
``scale_data.load`` (COPY, then VACUUM ANALYZE, then the allocation and reference checks), and serves
each with orderdeck's API in a subprocess (``api_server.py``: uvicorn on a free loopback port,
Bearer token). Then, for each operation in OPERATIONS, one request at a time over HTTP, small and
large taking turns request by request: ``--warmup`` requests untimed, then ``--requests`` timed;
p50 and p95 of each, and large / small (the goal of issue 9: at most 1.5x).

With ``--explain``, one more request of each operation is sent with its SQL captured by the
server (``common.capture_sql``); every statement is run again under EXPLAIN (ANALYZE, BUFFERS)
(inside a transaction that is rolled back) and the slowest are summarised.

Adding an operation (another sort or filter) is one ``Operation`` in OPERATIONS.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from collections.abc import Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ACTOR,
    ORDER_PAGE_NODE,
    ApiServer,
    BenchDatabase,
    api_server,
    fmt,
    machine_note,
    percentile,
    print_table,
    ratio,
    throwaway_database,
)

import asyncpg  # noqa: E402
import httpx  # noqa: E402
import scale_data  # noqa: E402
from explain import explain_all, summarise  # noqa: E402

from orderdeck import db  # noqa: E402
from orderdeck.graphql.common import encode_id  # noqa: E402
from orderdeck.services import auth  # noqa: E402

PAGE = 100
DEEP_PAGE = 50
GOAL = 1.5

DEEP_PAGE_OPERATION = f"open orders, page {DEEP_PAGE} by cursor"
PAGE_FIELDS = f"totalCount pageInfo {{ endCursor hasNextPage }} edges {{ node {{ {ORDER_PAGE_NODE} }} }}"


@dataclass
class Target:
    """One database of the run and its server."""

    label: str
    database: BenchDatabase
    loaded: scale_data.Loaded
    token: str
    api: ApiServer | None = None
    client: httpx.AsyncClient | None = None
    rng: random.Random = field(default_factory=lambda: random.Random(7))
    page: int = 1
    page_cursor: str = ""
    process_batches: list[list[str]] = field(default_factory=list)
    created: int = 0
    failures: dict[str, int] = field(default_factory=dict)

    async def post(self, query: str, variables: dict[str, Any], capture: str | None = None) -> dict[str, Any]:
        headers = {"x-bench-capture": capture} if capture else {}
        response = await self.client.post("/graphql", json={"query": query, "variables": variables}, headers=headers)
        response.raise_for_status()
        body = response.json()
        if body.get("errors"):
            raise RuntimeError(f"{self.label}: GraphQL errors: {body['errors'][:2]}")
        return body["data"]


@dataclass
class Operation:
    """One measured request: its GraphQL, its variables for the n-th request, and a check of the
    answer (raises if the answer is not what was asked for)."""

    name: str
    query: str
    variables: Callable[[Target], dict[str, Any]]
    check: Callable[[Target, dict[str, Any]], None]


def _full_page(target: Target, data: dict[str, Any]) -> None:
    page = next(iter(data.values()))
    if len(page["edges"]) != PAGE:
        raise RuntimeError(f"{target.label}: a page of {len(page['edges'])} orders, not {PAGE}")


def _one_found(target: Target, data: dict[str, Any]) -> None:
    if len(data["searchOrders"]) != 1:
        raise RuntimeError(f"{target.label}: search found {len(data['searchOrders'])} orders, not 1")


def _created(target: Target, data: dict[str, Any]) -> None:
    if data["createOrder"]["errors"] or not data["createOrder"]["order"]:
        raise RuntimeError(f"{target.label}: createOrder refused: {data['createOrder']['errors']}")


def _processed(target: Target, data: dict[str, Any]) -> None:
    result = data["processOrders"]
    if result["errors"]:
        raise RuntimeError(f"{target.label}: processOrders refused: {result['errors']}")
    if result["failures"]:  # counted and reported (e.g. stock ran short), not fatal
        target.failures["processOrders"] = target.failures.get("processOrders", 0) + len(result["failures"])


def _search(t: Target) -> dict[str, Any]:
    return {"q": f"s-{t.rng.randint(1, t.loaded.orders):08d}"}  # lower case: the search ignores case


def _month(t: Target) -> dict[str, Any]:
    start = (datetime.now(UTC) - timedelta(days=180)).replace(hour=0, minute=0, second=0, microsecond=0)
    return {"from": start.isoformat(), "to": (start + timedelta(days=30)).isoformat()}


def _new_order(t: Target) -> dict[str, Any]:
    t.created += 1
    skus = t.rng.sample(range(1, scale_data.SKUS + 1), 3)
    return {"input": {
        "locationId": encode_id("Location", t.loaded.location_ids[t.created % 2]),
        "reference": f"SCALE-NEW-{t.created:06d}", "buyerName": "Scale Buyer",
        "shippingAddress": {"fullName": "Scale Buyer", "address1": "1 High Street", "town": "Leeds",
                            "postcode": "LS1 4AP", "country": "GB"},
        "items": [{"sku": f"SKU-{s:05d}", "quantity": 1 + t.rng.randint(0, 4), "unitPrice": "9.99", "taxRate": "20"}
                  for s in skus],
    }}  # fmt: skip


def _next_batch(t: Target) -> dict[str, Any]:
    return {"input": [{"orderId": oid} for oid in t.process_batches.pop()]}


OPERATIONS = [
    Operation(
        "search by reference",
        "query($q: String!) { searchOrders(query: $q) { __typename ... on Order { id number state } "
        "... on DeletedOrder { number } } }",
        _search, _one_found,
    ),
    Operation("open orders, first page", f"{{ openOrders(first: {PAGE}) {{ {PAGE_FIELDS} }} }}", lambda t: {}, _full_page),
    Operation(
        "open orders, location + status",
        f"query($loc: ID!) {{ openOrders(first: {PAGE}, filter: {{locationId: $loc, status: PAID}}) {{ {PAGE_FIELDS} }} }}",
        lambda t: {"loc": encode_id("Location", t.loaded.location_ids[1])}, _full_page,
    ),
    Operation(
        "open orders with a tag",
        f'{{ openOrders(first: {PAGE}, filter: {{tag: "gift"}}) {{ {PAGE_FIELDS} }} }}', lambda t: {}, _full_page,
    ),
    Operation(
        DEEP_PAGE_OPERATION,
        f"query($after: String!) {{ openOrders(first: {PAGE}, after: $after) {{ {PAGE_FIELDS} }} }}",
        lambda t: {"after": t.page_cursor}, _full_page,
    ),
    Operation(
        "processed orders, one month",
        f"query($from: DateTime!, $to: DateTime!) {{ processedOrders(first: {PAGE}, "
        "sort: PROCESSED_DESC, filter: {processedFrom: $from, processedTo: $to}) { totalCount edges { node { "
        "id number reference processedAt location { name } totals { total currency } } } } }",
        _month, _full_page,
    ),
    Operation(
        "stock items page",
        f"{{ stockItems(first: {PAGE}) {{ totalCount edges {{ node {{ sku title "
        "levels { level allocated available } } } } }",
        lambda t: {}, _full_page,
    ),
    Operation(
        "createOrder (3 lines)",
        "mutation($input: OrderInput!) { createOrder(input: $input) { order { id number allocation } "
        "errors { message } } }",
        _new_order, _created,
    ),
    Operation(
        f"processOrders ({PAGE} orders)",
        "mutation($input: [ProcessOrderInput!]!) { processOrders(input: $input) { orders { id state } "
        "failures { message } errors { message } } }",
        _next_batch, _processed,
    ),
]


# --- set-up ----------------------------------------------------------------------------------


async def make_token(url: str) -> str:
    """A Bearer token on the database (through the service)."""
    await db.init_db(url)
    try:
        _, secret = await auth.create_token("bench", ACTOR)
    finally:
        await db.close_db()
    return secret


async def prepare(target: Target, batches: int) -> None:
    """Find the cursor of page 50 (or of the last full page, when there are fewer) by following
    endCursor, as a client would; and the open orders that processOrders will take, ``batches`` x
    100 of the newest open, paid, unparked orders."""
    target.page = min(DEEP_PAGE, target.loaded.open_orders // PAGE)
    after: str | None = None
    for _ in range(target.page - 1):
        data = await target.post("query($after: String) { openOrders(first: 100, after: $after) { "
                                 "pageInfo { endCursor } } }", {"after": after})  # fmt: skip
        after = data["openOrders"]["pageInfo"]["endCursor"]
    target.page_cursor = after or ""
    conn = await target.database.raw()
    try:
        ids = await conn.fetch(
            "SELECT id FROM orders WHERE state = 'OPEN' AND status = 'PAID' AND NOT parked AND NOT locked "
            "AND NOT on_hold ORDER BY number DESC LIMIT $1", batches * PAGE,
        )  # fmt: skip
    finally:
        await conn.close()
    if len(ids) < batches * PAGE:
        raise RuntimeError(f"{target.label}: only {len(ids)} open orders to process, {batches * PAGE} needed")
    encoded = [encode_id("Order", r["id"]) for r in ids]
    target.process_batches = [encoded[n : n + PAGE] for n in range(0, len(encoded), PAGE)]


# --- measuring -------------------------------------------------------------------------------


async def measure(targets: list[Target], op: Operation, warmup: int, requests: int) -> dict[str, list[float]]:
    """Latencies in ms of ``requests`` requests per target after ``warmup`` untimed ones, the
    targets taking turns request by request (so a change in the machine's load hits both)."""
    latencies: dict[str, list[float]] = {t.label: [] for t in targets}
    for n in range(warmup + requests):
        for target in targets:
            variables = op.variables(target)
            start = time.perf_counter()
            data = await target.post(op.query, variables)
            elapsed = (time.perf_counter() - start) * 1000
            op.check(target, data)
            if n >= warmup:
                latencies[target.label].append(elapsed)
    return latencies


def label(count: int) -> str:
    return f"{count // 1_000_000:,}M" if count % 1_000_000 == 0 else f"{count // 1000:,}k" if count % 1000 == 0 else fmt(count)


async def main(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    print(f"scale benchmark: {fmt(args.small)} and {fmt(args.orders)} orders; {machine_note()}")
    batches = args.warmup + args.requests + (1 if args.explain else 0)
    results: dict[str, dict[str, list[float]]] = {}
    explained: dict[str, dict[str, list]] = {}
    async with AsyncExitStack() as stack:
        targets: list[Target] = []
        for size, count in (("small", args.small), ("large", args.orders)):
            database = await stack.enter_async_context(throwaway_database(f"scale_{size}", keep=args.keep))
            print(f"\nloading {fmt(count)} orders into {database.name} ...", flush=True)
            loaded = await scale_data.load(database.url, count)
            targets.append(Target(label(count), database, loaded, await make_token(database.url)))
        print_table(
            "Load (asyncpg COPY, 5 streams, foreign-key triggers off; then VACUUM ANALYZE; then the checks)",
            ["orders", "open", "rows", "load s", "of which indexes s", "rows/s", "VACUUM ANALYZE s", "checks s",
             "allocated = open lines"],
            [[fmt(t.loaded.orders), fmt(t.loaded.open_orders), fmt(t.loaded.total_rows), f"{t.loaded.load_seconds:.1f}",
              f"{t.loaded.index_seconds:.1f}",
              fmt(t.loaded.total_rows / t.loaded.load_seconds), f"{t.loaded.analyze_seconds:.1f}",
              f"{t.loaded.check_seconds:.1f}", "yes"] for t in targets],
        )  # fmt: skip
        for target in targets:
            for table, rows in sorted(target.loaded.rows.items()):
                print(f"  {target.label}: {table} {fmt(rows)}")
        for target in targets:
            # One token sends every request, faster than a person would: no per-token rate limit.
            target.api = await stack.enter_async_context(
                api_server(target.database.url, ORDERDECK_RATE_LIMIT_PER_MINUTE="0")
            )
            target.client = await stack.enter_async_context(httpx.AsyncClient(
                base_url=target.api.url, headers={"Authorization": f"Bearer {target.token}"}, timeout=600))  # fmt: skip
            await prepare(target, batches)
        print(f"\nmeasuring: {args.warmup} warm-up + {args.requests} timed requests per operation and size, "
              "one at a time, small and large taking turns", flush=True)  # fmt: skip
        for op in OPERATIONS:
            results[op.name] = await measure(targets, op, args.warmup, args.requests)
            for target in targets:
                if args.explain:
                    capture = f"{target.label}-{OPERATIONS.index(op)}"
                    await target.post(op.query, op.variables(target), capture=capture)
                    statements = target.api.captured(capture)
                    try:
                        plans = await explain_all(target.database.url, statements)
                    except (OSError, asyncpg.PostgresError) as exc:  # e.g. the server is out of connections
                        print(f"  {target.label}: EXPLAIN of {op.name} failed ({exc}); the timings stand")
                        plans = []
                    explained.setdefault(op.name, {})[target.label] = plans
            if op.name == DEEP_PAGE_OPERATION:
                print("  (" + ", ".join(f"page {t.page} at {t.label}" for t in targets) + ")")
            small, large = (results[op.name][t.label] for t in targets)
            print(f"  {op.name}: p50 {percentile(small, 50):.1f} / {percentile(large, 50):.1f} ms", flush=True)
    report(args, targets, results, explained, time.perf_counter() - started)


def report(args: argparse.Namespace, targets: list[Target], results: dict, explained: dict, seconds: float) -> None:
    s, l = targets[0].label, targets[1].label
    rows = []
    for name, by_size in results.items():
        p = {size: (percentile(v, 50), percentile(v, 95)) for size, v in by_size.items()}
        r50 = p[l][0] / p[s][0]
        rows.append([name, f"{p[s][0]:.1f}", f"{p[s][1]:.1f}", f"{p[l][0]:.1f}", f"{p[l][1]:.1f}",
                     ratio(p[l][0], p[s][0]), ratio(p[l][1], p[s][1]), "yes" if r50 <= GOAL else "NO"])  # fmt: skip
    print_table(
        f"Latency over HTTP GraphQL, ms ({args.requests} requests after {args.warmup} warm-up, one at a time)",
        ["operation", f"{s} p50", f"{s} p95", f"{l} p50", f"{l} p95", "p50 ratio", "p95 ratio", f"<= {GOAL}x"],
        rows,
    )
    for target in targets:
        for name, count in target.failures.items():
            print(f"  {target.label}: {name} refused {count} orders (see the answers' failures)")
    if explained:
        print(f"\nEXPLAIN (ANALYZE, BUFFERS) of the SQL of one request of each operation ({l}, then {s}):")
        for name, by_size in explained.items():
            print(summarise(name, by_size[l], by_size[s], l, s))
    print(f"\nrun took {seconds / 60:.1f} min")


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000, help="orders in the large database (default 1,000,000)")
    parser.add_argument("--small", type=int, default=10_000, help="orders in the small database (default 10,000)")
    parser.add_argument("--requests", type=int, default=20, help="timed requests per operation and size (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed requests before them (default 3)")
    parser.add_argument("--keep", action="store_true", help="keep both databases for inspection (printed at the end)")
    parser.add_argument("--explain", action="store_true", help="EXPLAIN (ANALYZE, BUFFERS) each operation's SQL")
    args = parser.parse_args(argv)
    # Enough open, paid orders for every processOrders request, in the small database too.
    batches = args.warmup + args.requests + (1 if args.explain else 0)
    least = batches * PAGE / (scale_data.OPEN_SHARE * 0.9)
    if min(args.small, args.orders) < least:
        parser.error(f"--small and --orders must be at least {least:,.0f} for {batches} processOrders of {PAGE}")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))

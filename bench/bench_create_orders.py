"""Benchmark: creating direct orders through the service layer, against raw COPY and row by row.

    .venv/bin/python bench/bench_create_orders.py [--orders 10000] [--single 1000] [--skus 500]

Measures ``orderdeck.services.orders.create_orders`` on PostgreSQL creating ``--orders`` orders of
3 lines each, in batches of 100 (the GraphQL batch cap) and of 1000 (BULK_LIMIT), with stock items
and levels seeded first. Baselines measured in the same run:

1. the floor: asyncpg COPY of the same number of ``orders`` and ``order_item`` rows (same values
   the service writes) into the same, emptied tables; a second COPY row adds the ledger and audit
   rows the service also writes, for context;
2. row by row: one ``create_direct_order`` call per order, for ``--single`` orders.

Each phase starts from empty order tables and zero allocations. After each service phase the
benchmark checks that every stock level's ``allocated`` equals the quantities ordered at its
location, that one ledger row and one audit entry were written per line and per order, and that
physical levels did not move.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import uuid
from collections import Counter as Tally
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (  # noqa: E402
    ACTOR,
    Catalogue,
    Clock,
    bench_database,
    fmt,
    machine_note,
    median,
    order_inputs,
    print_table,
    ratio,
    seed_stock,
    truncate_orders,
)

from orderdeck import db  # noqa: E402
from orderdeck.services.orders.inputs import line_amounts  # noqa: E402
from orderdeck.services.orders import create_direct_order, create_orders  # noqa: E402

COPY_REPEATS = 3


# --- baseline 1: COPY ----------------------------------------------------------------------


async def _columns(conn, table: str) -> list[str]:
    rows = await conn.fetch(
        "SELECT column_name FROM information_schema.columns WHERE table_name = $1 ORDER BY ordinal_position", table
    )
    return [r["column_name"] for r in rows]


def _copy_rows(inputs: list[dict], catalogue: Catalogue, with_side_rows: bool) -> dict[str, list[dict]]:
    """The rows the service would write for these inputs, as plain dicts per table."""
    now = datetime.now(timezone.utc)
    item_ids = {i.sku: i.id for i in catalogue.items}
    weights = {i.sku: i.weight for i in catalogue.items}
    orders, lines, ledger, audit = [], [], [], []
    running: dict[tuple, int] = {}
    for n, data in enumerate(inputs, start=1):
        order_id = uuid.uuid4()
        subtotal = tax = weight = Decimal(0)
        for pos, line in enumerate(data["items"]):
            net, line_tax, total = line_amounts(line["quantity"], line["unit_price"], Decimal(0), line["tax_rate"])
            subtotal, tax = subtotal + net, tax + line_tax
            weight += weights[line["sku"]] * line["quantity"]
            lines.append({
                "id": uuid.uuid4(), "order_id": order_id, "stock_item_id": item_ids[line["sku"]],
                "position": pos, "sku": line["sku"], "channel_sku": "", "item_number": "", "title": "",
                "quantity": line["quantity"], "unit_price": line["unit_price"], "discount": Decimal(0),
                "tax_rate": line["tax_rate"], "tax": line_tax, "line_total": total,
            })  # fmt: skip
            if with_side_rows:
                key = (item_ids[line["sku"]], data["location_id"])
                before = running.get(key, 0)
                running[key] = before + line["quantity"]
                ledger.append({
                    "item_id": key[0], "location_id": key[1], "reason": "ORDER_CREATED",
                    "level_before": catalogue.start_level, "level_after": catalogue.start_level,
                    "allocated_before": before, "allocated_after": running[key], "order_id": order_id,
                    "order_number": n, "note": "", "actor": ACTOR.name, "actor_kind": ACTOR.kind.value,
                    "created_at": now,
                })  # fmt: skip
        address = data["shipping_address"]
        row = {
            "id": order_id, "number": n, "source": "DIRECT", "subsource": "", "reference": data["reference"],
            "secondary_reference": None, "external_reference": None, "status": "PAID", "state": "OPEN",
            "parked": False, "locked": False, "on_hold": False, "label_printed": False,
            "invoice_printed": False, "location_id": data["location_id"], "original_order_id": None,
            "received_at": now, "despatch_by_at": None, "paid_at": now, "processed_at": None,
            "cancelled_at": None, "buyer_name": data["buyer_name"], "email": data["email"],
            "shipping_service": data["shipping_service"], "shipping_vendor": "", "tracking_number": "",
            "total_weight": weight, "subtotal": subtotal, "postage": data["postage"], "discount": Decimal(0),
            "tax": tax, "total": subtotal + tax + data["postage"], "currency": "GBP",
            "payment_method": data["payment_method"], "created_at": now, "updated_at": now,
        }  # fmt: skip
        for prefix in ("shipping", "billing"):
            for name in ("full_name", "company", "address1", "address2", "address3", "town", "region",
                         "postcode", "country", "phone"):  # fmt: skip
                row[f"{prefix}_{name}"] = address.get(name, "")
        orders.append(row)
        if with_side_rows:
            audit.append({
                "kind": "ORDER_CREATED", "subject": "ORDER", "subject_id": order_id, "order_number": n,
                "note": "Order created (DIRECT)", "tag": "", "before": None, "after": None,
                "actor": ACTOR.name, "actor_kind": ACTOR.kind.value, "created_at": now,
            })  # fmt: skip
    out = {"orders": orders, "order_item": lines}
    if with_side_rows:
        out |= {"stock_ledger": ledger, "audit_entry": audit}
    return out


async def copy_baseline(database, inputs: list[dict], catalogue: Catalogue, with_side_rows: bool) -> float:
    """Seconds to build and COPY the rows (median of COPY_REPEATS runs, tables emptied before each)."""
    conn = await database.raw()
    try:
        columns = {t: await _columns(conn, t) for t in ("orders", "order_item", "stock_ledger", "audit_entry")}
        times = []
        for _ in range(COPY_REPEATS):
            await truncate_orders()
            with Clock() as clock:
                tables = _copy_rows(inputs, catalogue, with_side_rows)
                async with conn.transaction():
                    for table, rows in tables.items():
                        cols = [c for c in columns[table] if c in rows[0]]
                        missing = set(rows[0]) - set(columns[table])
                        if missing:
                            raise SystemExit(f"bench is out of date: {table} has no column(s) {sorted(missing)}")
                        await conn.copy_records_to_table(
                            table, records=[tuple(r[c] for c in cols) for r in rows], columns=cols
                        )
            times.append(clock.seconds)
        count = await conn.fetchval("SELECT count(*) FROM orders")
        assert count == len(inputs), (count, len(inputs))
    finally:
        await conn.close()
    await truncate_orders()
    return median(times)


# --- the service, and the check ------------------------------------------------------------


async def run_service(inputs: list[dict], batch: int) -> float:
    """Seconds to create the orders through create_orders (batch > 1) or create_direct_order."""
    with Clock() as clock:
        if batch == 1:
            for data in inputs:
                await create_direct_order(data, ACTOR)
        else:
            for start in range(0, len(inputs), batch):
                await create_orders(inputs[start : start + batch], ACTOR)
    return clock.seconds


async def check_and_reset(inputs: list[dict], catalogue: Catalogue) -> tuple[bool, str]:
    """Check allocated == ordered for every level, the ledger, the audit trail; then reset."""
    expected: Tally = Tally()
    item_ids = {i.sku: i.id for i in catalogue.items}
    for data in inputs:
        for line in data["items"]:
            expected[(item_ids[line["sku"]], data["location_id"])] += line["quantity"]
    fetch = db.fetch
    levels = await fetch("SELECT item_id, location_id, level, allocated FROM stock_level", [])
    in_db = await fetch(
        "SELECT oi.stock_item_id AS item_id, o.location_id, sum(oi.quantity) AS qty FROM order_item oi "
        "JOIN orders o ON o.id = oi.order_id WHERE o.state = 'OPEN' GROUP BY 1, 2",
        [],
    )
    ordered_in_db = {(r["item_id"], r["location_id"]): int(r["qty"]) for r in in_db}
    counts = (await fetch(
        "SELECT (SELECT count(*) FROM orders) AS orders, (SELECT count(*) FROM order_item) AS lines, "
        "(SELECT count(*) FROM stock_ledger) AS ledger, (SELECT count(*) FROM audit_entry "
        "WHERE kind = 'ORDER_CREATED') AS audit", [],
    ))[0]  # fmt: skip
    lines = sum(len(d["items"]) for d in inputs)
    problems = []
    wrong = [r for r in levels if r["allocated"] != expected.get((r["item_id"], r["location_id"]), 0)]
    if wrong:
        problems.append(f"{len(wrong)} levels with allocated != ordered")
    if ordered_in_db != dict(expected):
        problems.append("order_item quantities differ from the inputs")
    if any(r["level"] != catalogue.start_level for r in levels):
        problems.append("a physical level moved")
    if (counts["orders"], counts["lines"]) != (len(inputs), lines):
        problems.append(f"{counts['orders']} orders / {counts['lines']} lines in the database")
    if counts["ledger"] != lines or counts["audit"] != len(inputs):
        problems.append(f"{counts['ledger']} ledger rows / {counts['audit']} audit entries")
    total = sum(expected.values())
    detail = (
        f"{len(levels)} levels, allocated total {fmt(sum(r['allocated'] for r in levels))} = ordered {fmt(total)}; "
        f"{fmt(counts['orders'])} orders, {fmt(counts['lines'])} lines, {fmt(counts['ledger'])} ledger rows, "
        f"{fmt(counts['audit'])} audit entries"
    )
    await truncate_orders()
    await db.connection().execute_script("UPDATE stock_level SET allocated = 0")
    return (not problems), (detail if not problems else "; ".join(problems) + " -- " + detail)


# --- main ----------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    n, single = args.orders, args.single
    async with bench_database() as database:
        catalogue = await seed_stock(skus=args.skus, extra_locations=1)
        print(f"create_orders benchmark: {fmt(n)} orders x 3 lines, {args.skus} SKUs at "
              f"{len(catalogue.locations)} locations; {machine_note()}")  # fmt: skip

        # Warm-up (imports, statement caches, pool), not measured.
        warm = order_inputs(20, catalogue, seed=99, prefix="W")
        await run_service(warm[:10], 10)
        await run_service(warm[10:], 1)
        await check_and_reset(warm, catalogue)

        results = []  # (label, orders, seconds)
        checks = []
        bulk_inputs = order_inputs(n, catalogue, seed=1)

        copy_s = await copy_baseline(database, bulk_inputs, catalogue, with_side_rows=False)
        results.append(("asyncpg COPY orders + order_item (floor)", n, copy_s))
        copy_all_s = await copy_baseline(database, bulk_inputs, catalogue, with_side_rows=True)
        results.append(("asyncpg COPY + ledger + audit rows", n, copy_all_s))

        for batch in (100, 1000):
            inputs = order_inputs(n, catalogue, seed=batch, prefix=f"S{batch}")
            label = f"create_orders, batches of {batch}"
            seconds = await run_service(inputs, batch)
            results.append((label, n, seconds))
            checks.append((label, *await check_and_reset(inputs, catalogue)))

        inputs = order_inputs(single, catalogue, seed=7, prefix="S1")
        seconds = await run_service(inputs, 1)
        results.append(("create_direct_order, one call per order", single, seconds))
        checks.append(("create_direct_order, one call per order", *await check_and_reset(inputs, catalogue)))

    rate = {label: count / seconds for label, count, seconds in results}
    copy_rate = rate[results[0][0]]
    single_rate = rate[results[-1][0]]
    rows = []
    for label, count, seconds in results:
        r = rate[label]
        rows.append([label, fmt(count), f"{seconds:.2f}", fmt(r), fmt(r * 3),
                     ratio(r, copy_rate), ratio(r, single_rate)])  # fmt: skip
    print_table(
        "Throughput (ratios are orders/s divided by the baseline's orders/s, same run)",
        ["method", "orders", "seconds", "orders/s", "lines/s", "/ COPY", "/ one-per-call"],
        rows,
    )
    print("\nCOPY figures: median of 3 runs, building the rows in Python included. The service also writes")
    print("one ledger row per line and one audit entry per order, and updates the stock levels; the second")
    print("COPY row copies those extra rows too (it does not update levels).")
    print_table("Correctness check after each service phase", ["phase", "result", "detail"],
                [[label, "OK" if ok else "FAILED", detail] for label, ok, detail in checks], left=3)  # fmt: skip
    if not all(ok for _, ok, _ in checks):
        raise SystemExit(1)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders per bulk phase (default 10000)")
    parser.add_argument("--single", type=int, default=1_000, help="orders created one call each (default 1000)")
    parser.add_argument("--skus", type=int, default=500, help="stock items seeded (default 500)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))

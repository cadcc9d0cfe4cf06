"""A large order book for bench_scale.py, built as plain tuples and loaded with asyncpg COPY.

The rows are those orderdeck's services would have written for the same history (same tables and
columns, same values where the services fix them):

- 2 locations ("Default", "Warehouse 2"), ``SKUS`` stock items, a level for each at each location;
- ``orders`` DIRECT orders numbered 1..N in the order they were received, each of 3 lines on
  distinct SKUs (quantity 1 to 5), alternating between the locations. The newest 30% are open
  (received in the last 3 days; 95% PAID, 3% PENDING, 2% UNPAID and so parked); of the older
  ones, received over the year before, 1% were cancelled a day after they came in and the rest
  processed 2 to 72 hours after (so processed_at spans a year), each with its NOT_REQUIRED
  dispatch (a direct order has no channel to tell);
- the stock ledger: a LEVEL_SET of every level to ``START_LEVEL`` first; per line ORDER_CREATED
  (allocated +qty), then ORDER_PROCESSED (level and allocated -qty) or ORDER_CANCELLED
  (allocated -qty), before/after chained per (item, location) in that order; last a stock take
  (LEVEL_SET) to a level of 0.9 to 1.5 times what is allocated, plus 40, so the FIFO allocation of
  open orders is short on some SKUs;
- the audit trail: STOCK_ITEM_CREATED per item, ORDER_CREATED per order, PROCESSED or CANCELLED
  per closed order, STOCK_LEVEL_SET per level at the stock take;
- every ``TAGGED``-th order tagged "gift" (with the copy of its state and sort keys a tag carries);
- stock_level.allocated = the sum of the open lines' quantities at that location; the order
  number counter at N.

Not written: live ``event`` rows (the retention window would have removed all but the last
days'), and the order events and outbox rows of the stock take (no channels exist).

Foreign-key triggers are off while loading (``session_replication_role = replica``, one
connection per table, chunks of ``CHUNK`` orders), and the indexes that back no constraint are
dropped first and built again from their own definitions after; the checks in ``load`` prove the
references and the allocation invariant afterwards.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg

from orderdeck.services.orders.inputs import line_amounts

SKUS = 1000
LINES = 3
OPEN_SHARE = 0.30
CANCELLED_SHARE = 0.01
START_LEVEL = 1_000_000
CHUNK = 10_000
ACTOR, ACTOR_KIND = "bench", "USER"
LOCATIONS = ("Default", "Warehouse 2")
TOWNS = ("Leeds", "York", "Bath", "Derby", "Hull", "Ely")

ORDER_COLUMNS = (
    "id", "number", "source", "subsource", "reference", "secondary_reference", "external_reference", "status",
    "state", "parked", "locked", "on_hold", "label_printed", "invoice_printed", "received_at", "despatch_by_at",
    "paid_at", "processed_at", "cancelled_at", "buyer_name", "email",
    *(f"{p}_{f}" for p in ("shipping", "billing") for f in (
        "full_name", "company", "address1", "address2", "address3", "town", "region", "postcode", "country", "phone")),
    "shipping_service", "shipping_vendor", "tracking_number", "total_weight", "subtotal", "postage", "discount",
    "tax", "total", "currency", "payment_method", "created_at", "updated_at", "location_id", "original_order_id",
    "channel_id", "channel_cancelled",
)  # fmt: skip
ITEM_COLUMNS = ("id", "position", "sku", "channel_sku", "item_number", "title", "quantity", "unit_price",
                "discount", "tax_rate", "tax", "line_total", "order_id", "stock_item_id")  # fmt: skip
LEDGER_COLUMNS = ("location_id", "reason", "level_before", "level_after", "allocated_before", "allocated_after",
                  "order_id", "order_number", "note", "actor", "actor_kind", "created_at", "item_id")  # fmt: skip
AUDIT_COLUMNS = ("kind", "subject", "subject_id", "order_number", "note", "tag", "before", "after", "actor",
                 "actor_kind", "created_at")  # fmt: skip
DISPATCH_COLUMNS = ("id", "state", "carrier", "service", "tracking_number", "attempts", "last_error", "created_at",
                    "sent_at", "order_id", "claimed_at", "next_attempt_at")  # fmt: skip
TAG_COLUMNS = ("order_id", "name", "order_number", "order_state", "order_received_at", "order_despatch_by_at",
               "order_processed_at")  # fmt: skip
TABLES = {"orders": ORDER_COLUMNS, "order_item": ITEM_COLUMNS, "stock_ledger": LEDGER_COLUMNS,
          "audit_entry": AUDIT_COLUMNS, "dispatch": DISPATCH_COLUMNS, "order_tag": TAG_COLUMNS}  # fmt: skip
TAGGED = 10
"""Every TAGGED-th order carries the tag "gift"."""

ZERO = Decimal(0)
TAX_RATE = Decimal(20)
POSTAGE = Decimal("3.95")
WEIGHT = Decimal("0.250")
PROCESSED_AFTER = json.dumps({"trackingNumber": ""})

# The one SQL check of the allocation invariant: levels whose allocated differs from the sum of
# the open, unlocked orders' linked quantities at that location (any row means a bad load).
ALLOCATION_CHECK = """
SELECT count(*) FROM stock_level sl FULL JOIN (
    SELECT oi.stock_item_id, o.location_id, sum(oi.quantity) AS held
    FROM order_item oi JOIN orders o ON o.id = oi.order_id
    WHERE o.state = 'OPEN' AND NOT o.locked AND oi.stock_item_id IS NOT NULL
    GROUP BY 1, 2
) h ON h.stock_item_id = sl.item_id AND h.location_id = sl.location_id
WHERE coalesce(sl.allocated, -1) <> coalesce(h.held, 0)
"""
REFERENCE_CHECK = """
SELECT (SELECT count(*) FROM order_item oi WHERE NOT EXISTS (SELECT FROM orders o WHERE o.id = oi.order_id))
     + (SELECT count(*) FROM order_item oi WHERE NOT EXISTS (SELECT FROM stock_item s WHERE s.id = oi.stock_item_id))
     + (SELECT count(*) FROM dispatch d WHERE NOT EXISTS (SELECT FROM orders o WHERE o.id = d.order_id))
     + (SELECT count(*) FROM orders o WHERE NOT EXISTS (SELECT FROM location l WHERE l.id = o.location_id))
"""


@dataclass
class Loaded:
    """What was loaded and how long it took."""

    orders: int
    rows: dict[str, int] = field(default_factory=dict)
    load_seconds: float = 0.0  # building, COPY and index builds
    index_seconds: float = 0.0  # of which the index builds
    analyze_seconds: float = 0.0
    allocation_seconds: float = 0.0  # of which filling the allocation queue and frontiers
    check_seconds: float = 0.0
    open_orders: int = 0
    location_ids: list[uuid.UUID] = field(default_factory=list)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())


@dataclass
class _Catalogue:
    item_ids: list[uuid.UUID]
    skus: list[str]
    titles: list[str]
    location_ids: list[uuid.UUID]
    # (sku index, quantity) -> (unit price, net, tax, line total, weight)
    lines: dict[tuple[int, int], tuple[Decimal, Decimal, Decimal, Decimal, Decimal]]


class _History:
    """Builds the rows of orders 1..N a chunk at a time, keeping the running stock per key."""

    def __init__(self, orders: int, catalogue: _Catalogue, seed: int) -> None:
        self.n = orders
        self.cat = catalogue
        self.rng = random.Random(seed)
        self.closed = orders - round(orders * OPEN_SHARE)
        self.now = datetime.now(UTC).replace(microsecond=0)
        self.year_ago = self.now - timedelta(days=368)
        self.recent = self.now - timedelta(days=3)
        keys = len(catalogue.item_ids) * len(catalogue.location_ids)
        self.level = [START_LEVEL] * keys
        self.allocated = [0] * keys

    def received(self, number: int) -> datetime:
        if number <= self.closed:
            return self.year_ago + (self.recent - self.year_ago) * (number / max(self.closed, 1))
        share = (number - self.closed) / max(self.n - self.closed, 1)
        return self.recent + (self.now - timedelta(minutes=10) - self.recent) * share

    def opening(self) -> dict[str, list[tuple]]:
        """The first LEVEL_SET of every level and the stock items' audit entries."""
        cat, t0 = self.cat, self.year_ago - timedelta(days=1)
        ledger, audit = [], []
        for s, item_id in enumerate(cat.item_ids):
            audit.append(("STOCK_ITEM_CREATED", "STOCK_ITEM", item_id, None, cat.skus[s], "", None,
                          json.dumps({"sku": cat.skus[s], "title": cat.titles[s]}), ACTOR, ACTOR_KIND, t0))  # fmt: skip
            for loc_id in cat.location_ids:
                ledger.append((loc_id, "LEVEL_SET", 0, START_LEVEL, 0, 0, None, None, "", ACTOR, ACTOR_KIND, t0, item_id))
        return {"stock_ledger": ledger, "audit_entry": audit}

    def chunk(self, first: int, last: int) -> dict[str, list[tuple]]:
        """The rows of orders first..last (inclusive)."""
        rng, cat, rnd = self.rng, self.cat, self.rng.random
        level, allocated = self.level, self.allocated
        locs = len(cat.location_ids)
        out: dict[str, list[tuple]] = {t: [] for t in TABLES}
        orders, items, ledger, audit, dispatches, tags = (out[t] for t in TABLES)
        for number in range(first, last + 1):
            oid = uuid.uuid4()
            loc = number % locs
            loc_id = cat.location_ids[loc]
            received = self.received(number)
            state, status, processed_at, cancelled_at = "OPEN", "PAID", None, None
            if number <= self.closed:
                if rnd() < CANCELLED_SHARE:
                    state, cancelled_at = "CANCELLED", received + timedelta(days=1)
                else:
                    state, processed_at = "PROCESSED", received + timedelta(hours=2 + 70 * rnd())
            else:
                r = rnd()
                status = "UNPAID" if r < 0.02 else "PENDING" if r < 0.05 else "PAID"
            subtotal = tax = weight = ZERO
            for position, s in enumerate(rng.sample(range(len(cat.item_ids)), LINES)):
                qty = int(rnd() * 5) + 1
                price, net, line_tax, line_total, line_weight = cat.lines[(s, qty)]
                subtotal, tax, weight = subtotal + net, tax + line_tax, weight + line_weight
                item_id = cat.item_ids[s]
                items.append((uuid.uuid4(), position, cat.skus[s], "", "", cat.titles[s], qty, price, ZERO,
                              TAX_RATE, line_tax, line_total, oid, item_id))  # fmt: skip
                k = s * locs + loc
                lv, al = level[k], allocated[k]
                ledger.append((loc_id, "ORDER_CREATED", lv, lv, al, al + qty, oid, number, "", ACTOR, ACTOR_KIND,
                               received, item_id))  # fmt: skip
                if state == "PROCESSED":
                    ledger.append((loc_id, "ORDER_PROCESSED", lv, lv - qty, al + qty, al, oid, number, "", ACTOR,
                                   ACTOR_KIND, processed_at, item_id))  # fmt: skip
                    level[k] = lv - qty
                elif state == "CANCELLED":
                    ledger.append((loc_id, "ORDER_CANCELLED", lv, lv, al + qty, al, oid, number, "", ACTOR,
                                   ACTOR_KIND, cancelled_at, item_id))  # fmt: skip
                else:
                    allocated[k] = al + qty
            name = f"Buyer {number}"
            address = (name, "", f"{number} High Street", "", "", TOWNS[number % len(TOWNS)], "", "LS1 4AP", "GB",
                       "0113 496 0000")  # fmt: skip
            updated = processed_at or cancelled_at or received
            orders.append((
                oid, number, "DIRECT", "", f"S-{number:08d}", None, None, status, state, status == "UNPAID", False,
                False, False, False, received, received + timedelta(days=2), received if status == "PAID" else None,
                processed_at, cancelled_at, name, f"buyer{number}@example.com", *address, *address, "Standard", "",
                "", weight, subtotal, POSTAGE, ZERO, tax, subtotal + tax + POSTAGE, "GBP", "card", received, updated,
                loc_id, None, None, False,
            ))  # fmt: skip
            if number % TAGGED == 0:
                tags.append((oid, "gift", number, state, received, received + timedelta(days=2), processed_at))
            audit.append(("ORDER_CREATED", "ORDER", oid, number, "Order created (DIRECT)", "", None, None, ACTOR,
                          ACTOR_KIND, received))  # fmt: skip
            if state == "PROCESSED":
                audit.append(("PROCESSED", "ORDER", oid, number, f"Processed at {processed_at.isoformat()}", "", None,
                              PROCESSED_AFTER, ACTOR, ACTOR_KIND, processed_at))  # fmt: skip
                dispatches.append((uuid.uuid4(), "NOT_REQUIRED", "", "Standard", "", 0, None, processed_at, None, oid,
                                   None, None))  # fmt: skip
            elif state == "CANCELLED":
                audit.append(("CANCELLED", "ORDER", oid, number, "Cancelled by the buyer", "", None, None, ACTOR,
                              ACTOR_KIND, cancelled_at))  # fmt: skip
        return out

    def stock_take(self) -> tuple[dict[str, list[tuple]], list[tuple]]:
        """The closing LEVEL_SET rows and audit entries, and the stock_level rows."""
        cat, rng, locs = self.cat, self.rng, len(self.cat.location_ids)
        ledger, audit, levels = [], [], []
        for s, item_id in enumerate(cat.item_ids):
            for loc, loc_id in enumerate(cat.location_ids):
                k = s * locs + loc
                before, al = self.level[k], self.allocated[k]
                after = int(al * rng.uniform(0.9, 1.5)) + 40
                ledger.append((loc_id, "LEVEL_SET", before, after, al, al, None, None, "Stock take", ACTOR,
                               ACTOR_KIND, self.now, item_id))  # fmt: skip
                audit.append(("STOCK_LEVEL_SET", "STOCK_ITEM", item_id, None, f"{cat.skus[s]} at {LOCATIONS[loc]}",
                              "", json.dumps({"level": before}), json.dumps({"level": after}), ACTOR, ACTOR_KIND,
                              self.now))  # fmt: skip
                levels.append((after, al, 0, self.now, item_id, loc_id))
        return {"stock_ledger": ledger, "audit_entry": audit}, levels


async def _catalogue(conn: asyncpg.Connection, skus: int) -> _Catalogue:
    """Insert the locations and stock items (small: plain INSERTs) and return them."""
    stamp = datetime.now(UTC)
    await conn.execute("DELETE FROM location")  # a migrated database may hold only the default
    location_ids = [uuid.uuid4() for _ in LOCATIONS]
    await conn.executemany(
        "INSERT INTO location (id, name, is_default, export_columns, created_at, updated_at) VALUES ($1, $2, $3, '[]', $4, $4)",
        [(lid, name, n == 0, stamp) for n, (lid, name) in enumerate(zip(location_ids, LOCATIONS))],
    )
    item_ids = [uuid.uuid4() for _ in range(skus)]
    names = [f"SKU-{n:05d}" for n in range(1, skus + 1)]
    titles = [f"Scale product {n}" for n in range(1, skus + 1)]
    prices = [Decimal(100 + (n * 37) % 9900) / 100 for n in range(skus)]
    await conn.copy_records_to_table(
        "stock_item", columns=("id", "sku", "title", "barcode", "weight", "unit_price", "created_at", "updated_at"),
        records=[(item_ids[n], names[n], titles[n], f"50{n:011d}", WEIGHT, prices[n], stamp, stamp) for n in range(skus)],
    )  # fmt: skip
    lines = {}
    for s, price in enumerate(prices):
        for qty in range(1, 6):
            net, tax, total = line_amounts(qty, price, ZERO, TAX_RATE)
            lines[(s, qty)] = (price, net, tax, total, WEIGHT * qty)
    return _Catalogue(item_ids, names, titles, location_ids, lines)


async def _drop_secondary_indexes(conn: asyncpg.Connection) -> list[str]:
    """Drop the loaded tables' indexes that back no constraint; return their definitions, to be
    created again once the rows are in (one build per index instead of a million insertions)."""
    rows = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition "
        "FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid "
        "WHERE t.relname = ANY($1::text[]) AND NOT EXISTS (SELECT FROM pg_constraint c WHERE c.conindid = i.indexrelid)",
        list(TABLES),
    )  # fmt: skip
    for row in rows:
        await conn.execute(f"DROP INDEX {row['name']}")
    return [row["definition"] for row in rows]


async def _copy_stream(url: str, table: str, queue: asyncio.Queue, counts: dict[str, int]) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("SET session_replication_role = replica")  # FK triggers off; checked after
        while (rows := await queue.get()) is not None:
            await conn.copy_records_to_table(table, records=rows, columns=TABLES[table])
            counts[table] = counts.get(table, 0) + len(rows)
    finally:
        await conn.close()


# The allocation state the services keep (orderdeck.services.allocation): the queue of open,
# unlocked orders per (item, location), filled by migration 0006's own statement, then each short
# level's coverage frontier (its last covered entry, and the quantity up to it) in one UPDATE,
# by the same rule as 0006 and 0008.
FILL_ALLOCATIONS = importlib.import_module("orderdeck.migrations.0006_allocation_frontier").FILL_ALLOCATIONS
FILL_FRONTIERS = """
UPDATE stock_level sl
SET covered_through_received_at = f.received_at, covered_through_number = f.order_number, covered_quantity = f.running
FROM (
    SELECT DISTINCT ON (level_id) level_id, received_at, order_number, running
    FROM (
        SELECT sl.id AS level_id, sl.level, a.received_at, a.order_number,
               SUM(a.quantity) OVER (PARTITION BY a.item_id, a.location_id
                                     ORDER BY a.received_at, a.order_number ROWS UNBOUNDED PRECEDING) AS running
        FROM allocation a JOIN stock_level sl ON sl.item_id = a.item_id AND sl.location_id = a.location_id
        WHERE sl.allocated > sl.level
    ) queue
    WHERE running <= level
    ORDER BY level_id, received_at DESC, order_number DESC
) f
WHERE sl.id = f.level_id
"""


async def _allocation_state(conn: asyncpg.Connection) -> int:
    """Fill the allocation queue and the levels' frontiers; return the queue's rows."""
    status = await conn.execute(FILL_ALLOCATIONS)
    await conn.execute(FILL_FRONTIERS)
    return int(status.split()[-1])


async def load(url: str, orders: int, *, seed: int = 1, progress: Callable[[str], None] = print) -> Loaded:
    """Load ``orders`` orders and their stock, ledger and audit rows into the migrated database at
    ``url``, VACUUM ANALYZE it and check it; raise RuntimeError if a check fails."""
    loop = asyncio.get_running_loop()
    loaded = Loaded(orders)
    started = loop.time()
    conn = await asyncpg.connect(url)
    try:
        catalogue = await _catalogue(conn, SKUS)
        loaded.location_ids = catalogue.location_ids
        history = _History(orders, catalogue, seed)
        indexes = await _drop_secondary_indexes(conn)
        queues = {t: asyncio.Queue(maxsize=2) for t in TABLES}
        streams = [asyncio.create_task(_copy_stream(url, t, q, loaded.rows)) for t, q in queues.items()]

        async def put(rows: dict[str, list[tuple]]) -> None:
            for table, batch in rows.items():
                if batch:
                    await queues[table].put(batch)
            failed = [s for s in streams if s.done() and s.exception()]
            if failed:
                raise failed[0].exception()

        try:
            await put(history.opening())
            for first in range(1, orders + 1, CHUNK):
                await put(history.chunk(first, min(first + CHUNK - 1, orders)))
                if (first - 1) % (CHUNK * 20) == 0 and first > 1:
                    progress(f"  {first - 1:,} orders built ({loop.time() - started:.0f} s)")
            closing, levels = history.stock_take()
            await put(closing)
            for queue in queues.values():
                await queue.put(None)
            await asyncio.gather(*streams)
        finally:
            for stream in streams:
                stream.cancel()
        await conn.copy_records_to_table(
            "stock_level", records=levels,
            columns=("level", "allocated", "minimum_level", "updated_at", "item_id", "location_id"),
        )  # fmt: skip
        await conn.execute("INSERT INTO counter (name, value) VALUES ('order_number', $1)", orders)
        await conn.execute("SELECT setval('order_number_seq', $1::bigint + 1, false)", orders)
        t = loop.time()
        await conn.execute("SET maintenance_work_mem = '256MB'")
        for definition in indexes:
            await conn.execute(definition)
        loaded.index_seconds = loop.time() - t
        t = loop.time()
        loaded.rows["allocation"] = await _allocation_state(conn)
        loaded.allocation_seconds = loop.time() - t
        loaded.rows.update({"stock_item": SKUS, "stock_level": len(levels), "location": len(LOCATIONS)})
        loaded.open_orders = orders - history.closed
        loaded.load_seconds = loop.time() - started

        t = loop.time()
        await conn.execute("VACUUM ANALYZE")  # what autovacuum does to tables after a bulk load
        loaded.analyze_seconds = loop.time() - t

        t = loop.time()
        wrong = await conn.fetchval(ALLOCATION_CHECK)
        if wrong:
            raise RuntimeError(f"{wrong} stock levels' allocated differ from their open lines' sum")
        dangling = await conn.fetchval(REFERENCE_CHECK)
        if dangling:
            raise RuntimeError(f"{dangling} rows refer to missing orders, stock items or locations")
        loaded.check_seconds = loop.time() - t
    finally:
        await conn.close()
    return loaded

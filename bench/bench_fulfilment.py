"""Benchmark: a fulfilment centre's export and status import, against the FTP warehouse sandbox.

    .venv/bin/python bench/bench_fulfilment.py [--orders 10000] [--rows 10000] [--skus 200] [--repeats 3]
                                               [--profile]

The FTP warehouse sandbox (``orderdeck_ftp_fulfilment.sandbox``: a real pyftpdlib FTP server on
loopback, its control API served by uvicorn, both in threads of this process) serves a location
"Centre" through a fulfilment connection (``ftp_warehouse``, no TLS). The location holds ``--skus``
stock items with a level of 1,000,000 each. Orders are loaded with asyncpg COPY (``load_orders``:
``orders`` and ``order_item`` rows as the services write them, 1 to 3 lines on distinct SKUs,
quantity 1 to 5, with shipping and billing addresses), then their allocation (the ``allocation``
queue rows and ``stock_level.allocated``) in two statements; the allocation invariant is checked in
SQL after every load and at the end. A warm-up (20 orders exported, shipped through the sandbox's
control API, imported) runs first and is not measured.

1. Export: ``--orders`` open, paid orders at the centre. Timed: ``exports.export_orders`` called
   until it finds nothing due (batches of the connector's ``export_batch_size``, 500: each claimed,
   read with its lines, written as CSV, uploaded by FTP, recorded). Baseline: the same batches'
   ``ExportBatch(...).rows()`` + ``write_csv`` written to local files (the orders read beforehand
   with ``exports._fulfilment_orders``, untimed), median of ``--repeats``. Checked afterwards:
   every order EXPORTED with its file; the sandbox (``GET /__sandbox/state``, ``/requests``) took
   every order exactly once, each file holding exactly the orders recorded against it, one STOR
   per batch.
2. Status import: ``--rows`` orders loaded already EXPORTED (locked in at the centre, allocated),
   and one status file of ``--rows`` SHIPPED rows (carrier, service, tracking number) uploaded
   into the sandbox's ``statuses`` folder. Timed: one ``imports.import_statuses`` run (FTP list,
   download, parse, process every order, record, archive the file). Baseline: one statement
   ``UPDATE orders SET state = 'PROCESSED', tracking_number = v.tracking, ... FROM (VALUES ...)``
   of the same rows, committed, median of ``--repeats`` (the orders reset after each). Checked
   afterwards: every order PROCESSED and SHIPPED with its tracking number and carrier, one
   dispatch each, the stock level deducted by exactly the quantities shipped, the allocation
   invariant, one imported report, a run that imported every row and failed none.

Any failed check exits with status 1 after the figures. ``--profile`` runs both measured calls
under pyinstrument (not a dependency: ``.venv/bin/pip install pyinstrument``): the figures then
include its overhead; the top self times are printed and the full trees written to /tmp.
"""

from __future__ import annotations

import os

# Connection secrets are stored encrypted: PostgreSQL needs a key (read once, at first use).
os.environ.setdefault("ORDERDECK_SECRET_KEY", "orderdeck-bench-secret-key-0123456789abcdef")

import argparse  # noqa: E402
import asyncio  # noqa: E402
import logging  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
from collections import Counter as Tally  # noqa: E402
from datetime import UTC, datetime, timedelta  # noqa: E402
from decimal import Decimal  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ACTOR, Clock, bench_database, fmt, machine_note, median, print_table, ratio  # noqa: E402
from scale_data import ALLOCATION_CHECK, ITEM_COLUMNS, ORDER_COLUMNS  # noqa: E402

import asyncpg  # noqa: E402
import httpx  # noqa: E402

from orderdeck.models import ImportedReport, Order, StockItem, StockLevel, SyncRun  # noqa: E402
from orderdeck.plugins import manager  # noqa: E402
from orderdeck.plugins.csvfiles import write_csv  # noqa: E402
from orderdeck.plugins.dto import ExportBatch  # noqa: E402
from orderdeck.plugins.sandbox import CONTROL  # noqa: E402
from orderdeck.plugins.sandbox.serving import serve  # noqa: E402
from orderdeck.plugins.transports import FtpSettings, FtpTransport  # noqa: E402
from orderdeck.services import connections, locations  # noqa: E402
from orderdeck.services.fulfilment import exports, imports  # noqa: E402
from orderdeck.services.fulfilment.locations import set_location_fulfilment  # noqa: E402
from orderdeck.services.orders.inputs import line_amounts  # noqa: E402
from orderdeck_ftp_fulfilment.sandbox import STATUS_COLUMNS  # noqa: E402

FTP_USER, FTP_PASSWORD = "bench", "bench-ftp"
START_LEVEL = 1_000_000
WARM_UP = 20
ZERO, TAX_RATE, POSTAGE = Decimal(0), Decimal(20), Decimal("3.95")
CARRIER, SERVICE = "Bench Parcels", "Tracked 48"
TOWNS = ("Leeds", "York", "Bath", "Derby", "Hull", "Ely")
FULFIL_COLUMNS = ("fulfilment_state", "exported_at", "export_file")
PRE_EXPORTED_FILE = "bench-pre-exported.csv"


def tracking(number: int) -> str:
    return f"BP{number:010d}GB"


# --- the centre ------------------------------------------------------------------------------


async def make_centre(control: httpx.AsyncClient, skus: int) -> tuple[uuid.UUID, uuid.UUID, list[StockItem]]:
    """The fulfilment connection to the sandbox, the location it serves, and its stock; returns
    (connection id, location id, items)."""
    ftp = (await control.get(f"{CONTROL}/state")).json()["ftp"]
    connection = await connections.create_connection({"name": "Bench warehouse", "connector": "ftp_warehouse", "settings": {
        "host": ftp["host"], "port": ftp["port"], "username": ftp["username"], "password": ftp["password"],
        "tls": False, "timeout_seconds": 30}}, ACTOR)  # fmt: skip
    place = await locations.create_location("Centre", ACTOR)
    place = await set_location_fulfilment(place.id, {"connection_id": connection.id}, ACTOR)
    items = [StockItem(id=uuid.uuid4(), sku=f"SKU-{n:05d}", title=f"Bench product {n}", barcode=f"50{n:011d}",
                       weight=Decimal("0.250"), unit_price=Decimal("9.99")) for n in range(1, skus + 1)]  # fmt: skip
    await StockItem.bulk_create(items, batch_size=1000)
    await StockLevel.bulk_create([StockLevel(item_id=i.id, location_id=place.id, level=START_LEVEL) for i in items],
                                 batch_size=1000)  # fmt: skip
    return connection.id, place.id, items


# --- orders in bulk ----------------------------------------------------------------------------


async def load_orders(database: Any, count: int, location_id: uuid.UUID, items: list[StockItem], *,
                      exported: bool, seed: int) -> tuple[int, int]:  # fmt: skip
    """COPY ``count`` open, paid direct orders at the location (1-3 lines each on distinct SKUs,
    quantity 1-5, addresses filled), numbered after every order there is, and allocate them: their
    ``allocation`` rows and ``stock_level.allocated``, as the services would have. ``exported``:
    already with the centre (fulfilment_state EXPORTED, label printed, exported_at, export_file).
    Returns the first and last number."""
    rng = random.Random(seed)
    conn = await database.raw()
    try:
        async with conn.transaction():
            first = await conn.fetchval("SELECT coalesce(max(number), 0) + 1 FROM orders")
            first = max(first, await conn.fetchval("SELECT last_value + 1 FROM order_number_seq"))
            now = datetime.now(UTC).replace(microsecond=0)
            orders, lines = [], []
            for n in range(count):
                number, oid = first + n, uuid.uuid4()
                received = now - timedelta(days=1) + timedelta(seconds=n * 86_000 / max(count, 1))
                subtotal = tax = weight = ZERO
                for position, item in enumerate(rng.sample(items, rng.randint(1, 3))):
                    qty = rng.randint(1, 5)
                    net, line_tax, line_total = line_amounts(qty, item.unit_price, ZERO, TAX_RATE)
                    subtotal, tax, weight = subtotal + net, tax + line_tax, weight + item.weight * qty
                    lines.append((uuid.uuid4(), position, item.sku, "", "", item.title, qty, item.unit_price, ZERO,
                                  TAX_RATE, line_tax, line_total, oid, item.id))  # fmt: skip
                name = f"Buyer {number}"
                address = (name, "", f"{number} High Street", "Flat 2", "", TOWNS[number % len(TOWNS)], "West Yorkshire",
                           "LS1 4AP", "GB", "0113 496 0000")  # fmt: skip
                orders.append((
                    oid, number, "DIRECT", "", f"FC-{number:08d}", None, None, "PAID", "OPEN", False, False, False,
                    exported, False, received, received + timedelta(days=2), received, None, None, name,
                    f"buyer{number}@example.com", *address, *address, "Standard", "", "", weight, subtotal, POSTAGE,
                    ZERO, tax, subtotal + tax + POSTAGE, "GBP", "card", received, received, location_id, None, None,
                    False, "EXPORTED" if exported else None, now if exported else None,
                    PRE_EXPORTED_FILE if exported else "",
                ))  # fmt: skip
            await conn.copy_records_to_table("orders", records=orders, columns=(*ORDER_COLUMNS, *FULFIL_COLUMNS))
            await conn.copy_records_to_table("order_item", records=lines, columns=ITEM_COLUMNS)
            last = first + count - 1
            await conn.execute("""
                INSERT INTO allocation (order_id, item_id, location_id, received_at, order_number, quantity)
                SELECT oi.order_id, oi.stock_item_id, o.location_id, o.received_at, o.number, SUM(oi.quantity)
                FROM order_item oi JOIN orders o ON o.id = oi.order_id
                WHERE o.number BETWEEN $1 AND $2
                GROUP BY oi.order_id, oi.stock_item_id, o.location_id, o.received_at, o.number""", first, last)  # fmt: skip
            await conn.execute("""
                UPDATE stock_level sl SET allocated = sl.allocated + h.held
                FROM (SELECT oi.stock_item_id, o.location_id, SUM(oi.quantity) AS held
                      FROM order_item oi JOIN orders o ON o.id = oi.order_id
                      WHERE o.number BETWEEN $1 AND $2 GROUP BY 1, 2) h
                WHERE sl.item_id = h.stock_item_id AND sl.location_id = h.location_id""", first, last)  # fmt: skip
            await conn.execute("SELECT setval('order_number_seq', $1)", last)
        await conn.execute("ANALYZE orders, order_item, allocation, stock_level")
        if bad := await conn.fetchval(ALLOCATION_CHECK):
            raise RuntimeError(f"the loaded orders break the allocation invariant at {bad} levels")
        return first, last
    finally:
        await conn.close()


# --- export --------------------------------------------------------------------------------


async def export_all(connection_id: uuid.UUID) -> list[SyncRun]:
    """``export_orders`` until nothing is due; the runs."""
    runs = []
    while (run := await exports.export_orders(connection_id)) is not None:
        runs.append(run)
        if run.exported == 0:
            break  # a run that exports nothing would loop for ever
    return runs


async def export_baseline(orders: list[Order], batch_size: int, folder: Path, repeats: int) -> tuple[float, int]:
    """The same batches written as CSV to local files (median seconds of ``repeats``; bytes)."""
    batches = []
    for start in range(0, len(orders), batch_size):
        chunk = orders[start : start + batch_size]
        batches.append((f"orders-{start // batch_size + 1:04d}.csv", await exports._fulfilment_orders(chunk)))
    times, size = [], 0
    for _ in range(repeats):
        size = 0
        with Clock() as clock:
            for name, found in batches:
                batch = ExportBatch(name, found)
                data = write_csv(batch.rows(), batch.columns)
                (folder / name).write_bytes(data)
                size += len(data)
        times.append(clock.seconds)
    return median(times), size


async def check_export(database: Any, control: httpx.AsyncClient, first: int, last: int,
                       runs: list[SyncRun]) -> list[tuple[str, bool, str]]:  # fmt: skip
    n = last - first + 1
    conn = await database.raw()
    try:
        rows = await conn.fetch("SELECT number, fulfilment_state, export_file, label_printed, label_error, "
                                "(SELECT count(*) FROM order_item oi WHERE oi.order_id = o.id) AS lines "
                                "FROM orders o WHERE number BETWEEN $1 AND $2", first, last)  # fmt: skip
    finally:
        await conn.close()
    exported = [r for r in rows if r["fulfilment_state"] == "EXPORTED" and r["export_file"] and r["label_printed"]
                and not r["label_error"]]  # fmt: skip
    by_file: dict[str, set[int]] = {}
    for r in exported:
        by_file.setdefault(r["export_file"], set()).add(r["number"])
    # The sandbox's word: each order it took (a dict by number), each order file and its outcome.
    for _ in range(100):  # it takes a file as the FTP command that completed it returns
        state = (await control.get(f"{CONTROL}/state")).json()
        taken = {o["number"]: o for o in state["orders"] if first <= o["number"] <= last}
        if len(taken) >= n:
            break
        await asyncio.sleep(0.1)
    files = [f for f in state["files"]["orders"] if f["name"] in by_file]
    per_file_ok = all(set(f["orders"]) == by_file[f["name"]] for f in files) and len(files) == len(by_file)
    outcomes = Tally(f["outcome"] for f in state["files"]["orders"])
    requests = (await control.get(f"{CONTROL}/requests")).json()
    requests = requests.get("requests", requests) if isinstance(requests, dict) else requests
    stores = [r for r in requests if str(r.get("method", "")).upper() == "STOR"]
    lines = {r["number"]: r["lines"] for r in rows}
    lines_ok = all(len(taken[number]["lines"]) == lines[number] for number in taken if number in lines)
    return [
        ("every order EXPORTED, labelled, with its file", len(exported) == n, f"{fmt(len(exported))} of {fmt(n)}"),
        ("the runs say so", sum(r.exported for r in runs) == n and not any(r.failed for r in runs),
         f"{len(runs)} run(s), {sum(r.pages for r in runs)} batches, exported {fmt(sum(r.exported for r in runs))}, "
         f"failed {sum(r.failed for r in runs)}"),
        ("the sandbox took each order once", len(taken) == n and set(taken) == set(range(first, last + 1)),
         f"{fmt(len(taken))} distinct orders taken of {fmt(n)}"),
        ("each file held exactly its recorded orders", per_file_ok and outcomes.get("repeat", 0) == 0
         and outcomes.get("unreadable", 0) == 0,
         f"{len(files)} files ({dict(outcomes)} over the whole run, warm-up included)"),
        ("one upload per batch", len(stores) == len(by_file) + 1,  # + the warm-up's file
         f"{len(stores)} STOR (warm-up included) for {len(by_file)} files + 1"),
        ("every line arrived", lines_ok and len(taken) == n, "the warehouse's lines per order = order_item's"),
    ]  # fmt: skip


# --- status import ---------------------------------------------------------------------------


async def upload_status_file(control: httpx.AsyncClient, first: int, last: int) -> tuple[str, int]:
    """One status file of every order first..last SHIPPED, into the sandbox's statuses folder by
    FTP (the way the warehouse's own files come: complete before they have their name)."""
    rows = [{"order_number": number, "reference": f"FC-{number:08d}", "status": "SHIPPED", "carrier": CARRIER,
             "service": SERVICE, "tracking_number": tracking(number), "message": ""}
            for number in range(first, last + 1)]  # fmt: skip
    data = write_csv(rows, STATUS_COLUMNS)
    state = (await control.get(f"{CONTROL}/state")).json()
    ftp, folders = state["ftp"], state["folders"]
    settings = FtpSettings(host=ftp["host"], port=ftp["port"], username=ftp["username"], password=ftp["password"],
                           tls=False, upload_folder=folders["statuses"])  # fmt: skip
    async with FtpTransport(settings) as transfer:
        await transfer.upload("status-bench.csv", data)
    return "status-bench.csv", len(data)


def update_statement(first: int, last: int) -> str:
    """The baseline: one UPDATE of every order first..last from a VALUES list of its shipment."""
    values = ",".join(f"({number},'{tracking(number)}','{CARRIER}','{SERVICE}')" for number in range(first, last + 1))
    return (f"UPDATE orders o SET state = 'PROCESSED', fulfilment_state = 'SHIPPED', processed_at = now(), "
            f"updated_at = now(), tracking_number = v.tracking, shipping_vendor = v.carrier, "
            f"shipping_service = v.service FROM (VALUES {values}) AS v(number, tracking, carrier, service) "
            f"WHERE o.number = v.number")  # fmt: skip


async def update_baseline(database: Any, first: int, last: int, repeats: int) -> float:
    """Median seconds of the one-statement UPDATE (committed; the orders reset after each)."""
    conn = await database.raw()
    times = []
    try:
        for _ in range(repeats):
            with Clock() as clock:
                status = await conn.execute(update_statement(first, last))
            times.append(clock.seconds)
            if status != f"UPDATE {last - first + 1}":
                raise RuntimeError(f"the baseline UPDATE changed {status}")
            await conn.execute("UPDATE orders SET state = 'OPEN', fulfilment_state = 'EXPORTED', processed_at = NULL, "
                               "tracking_number = '', shipping_vendor = '', shipping_service = 'Standard', "
                               "updated_at = received_at WHERE number BETWEEN $1 AND $2", first, last)  # fmt: skip
        await conn.execute("VACUUM ANALYZE orders")
    finally:
        await conn.close()
    return median(times)


async def check_import(database: Any, connection_id: uuid.UUID, location_id: uuid.UUID, first: int, last: int,
                       run: SyncRun | None, held_before: int, level_before: int) -> list[tuple[str, bool, str]]:  # fmt: skip
    n = last - first + 1
    conn = await database.raw()
    try:
        rows = await conn.fetch("SELECT number, state, fulfilment_state, tracking_number, shipping_vendor, "
                                "processed_at FROM orders WHERE number BETWEEN $1 AND $2", first, last)  # fmt: skip
        dispatches = await conn.fetchval("SELECT count(*) FROM dispatch d JOIN orders o ON o.id = d.order_id "
                                         "WHERE o.number BETWEEN $1 AND $2", first, last)  # fmt: skip
        shipped_qty = await conn.fetchval("SELECT coalesce(sum(oi.quantity), 0) FROM order_item oi JOIN orders o "
                                          "ON o.id = oi.order_id WHERE o.number BETWEEN $1 AND $2", first, last)  # fmt: skip
        level_after, held_after = await conn.fetchrow(
            "SELECT sum(level), sum(allocated) FROM stock_level WHERE location_id = $1", location_id)
        bad_allocation = await conn.fetchval(ALLOCATION_CHECK)
    finally:
        await conn.close()
    done = [r for r in rows if r["state"] == "PROCESSED" and r["fulfilment_state"] == "SHIPPED" and r["processed_at"]
            and r["tracking_number"] == tracking(r["number"]) and r["shipping_vendor"] == CARRIER]  # fmt: skip
    reports = await ImportedReport.filter(connection_id=connection_id, name__contains="status-bench").count()
    return [
        ("every order PROCESSED, SHIPPED, its tracking and carrier", len(done) == n, f"{fmt(len(done))} of {fmt(n)}"),
        ("the run imported every row", run is not None and run.imported == n and run.failed == 0,
         f"imported {fmt(run.imported) if run else '-'}, failed {run.failed if run else '-'}, "
         f"outcome {run.outcome.value if run and run.outcome else '-'}"),
        ("one dispatch per order", dispatches == n, f"{fmt(dispatches)}"),
        ("levels deducted by the quantities shipped", level_before - level_after == shipped_qty,
         f"{fmt(level_before - level_after)} units deducted, {fmt(shipped_qty)} shipped"),
        ("allocation released", held_before - held_after == shipped_qty and bad_allocation == 0,
         f"{fmt(held_before - held_after)} units released; invariant broken at {bad_allocation} levels"),
        ("the report recorded once", reports == 1, f"{reports} imported report(s)"),
    ]  # fmt: skip


# --- profiling -------------------------------------------------------------------------------


class Profiled:
    """Runs a block under pyinstrument when asked (else does nothing)."""

    def __init__(self, on: bool, label: str) -> None:
        self.on, self.label, self.profiler, self.out = on, label, None, None

    def __enter__(self) -> Profiled:
        if self.on:
            from pyinstrument import Profiler

            self.profiler = Profiler(async_mode="enabled", interval=0.001)
            self.profiler.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.profiler is None:
            return
        self.profiler.stop()
        self.out = Path(tempfile.gettempdir()) / f"orderdeck_bench_fulfilment_{self.label}_{os.getpid()}.txt"
        self.out.write_text(self.profiler.output_text(unicode=True, show_all=False))

    def top(self, count: int = 15) -> list[list[str]]:
        """The functions with the most self time (waiting on I/O apart)."""
        if self.profiler is None:
            return []
        session = self.profiler.last_session
        tally: Tally = Tally()

        def walk(frame: Any) -> None:
            where = f"{Path(frame.file_path or '?').name}:{frame.line_no}" if frame.file_path else ""
            tally[(frame.function, where)] += frame.total_self_time
            for child in frame.children:
                walk(child)

        root = session.root_frame()
        walk(root)
        total = session.duration
        return [[name, where, f"{seconds:.2f}", f"{100 * seconds / total:.0f}%"]
                for (name, where), seconds in tally.most_common(count)]  # fmt: skip


# --- the run ---------------------------------------------------------------------------------


async def main(args: argparse.Namespace) -> None:
    if args.profile:
        import pyinstrument  # noqa: F401 - fail now, not after the set-up
    n, m = args.orders, args.rows
    # pyftpdlib logs every FTP command at INFO unless its logger is configured already.
    logging.getLogger("pyftpdlib").addHandler(logging.NullHandler())
    logging.getLogger("pyftpdlib").setLevel(logging.WARNING)
    checks: list[tuple[str, str, bool, str]] = []
    async with bench_database() as database:
        with serve(manager.sandbox("ftp_warehouse").create_app(username=FTP_USER, password=FTP_PASSWORD)) as running:
            async with httpx.AsyncClient(base_url=running.url, timeout=60) as control:
                connection_id, location_id, items = await make_centre(control, args.skus)
                batch_size = manager.fulfilment_connector("ftp_warehouse").export_batch_size
                print(f"fulfilment benchmark: export {fmt(n)} orders, import {fmt(m)} status rows; "
                      f"{args.skus} SKUs; FTP warehouse sandbox on loopback; {machine_note()}")  # fmt: skip

                # Warm-up (imports, statement caches, the first FTP logins); not measured.
                w_first, w_last = await load_orders(database, WARM_UP, location_id, items, exported=False, seed=99)
                await export_all(connection_id)
                response = await control.post(f"{CONTROL}/ship", json={"orders": list(range(w_first, w_last + 1))})
                response.raise_for_status()
                warm = await imports.import_statuses(connection_id)
                if warm is None or warm.imported != WARM_UP:
                    raise SystemExit(f"warm-up failed: the import of {WARM_UP} shipped orders gave {warm}")

                # 1. export
                with Clock() as loading:
                    first, last = await load_orders(database, n, location_id, items, exported=False, seed=1)
                print(f"\nexport: {fmt(n)} open orders loaded in {loading.seconds:.1f} s (numbers {first}..{last})")
                with Profiled(args.profile, "export") as export_profile, Clock() as export_clock:
                    runs = await export_all(connection_id)
                export_s = export_clock.seconds
                for label, ok, detail in await check_export(database, control, first, last, runs):
                    checks.append(("export", label, ok, detail))
                orders = await Order.filter(number__gte=first, number__lte=last).order_by("number")
                with tempfile.TemporaryDirectory(prefix="orderdeck-bench-csv-") as folder:
                    csv_s, csv_bytes = await export_baseline(orders, batch_size, Path(folder), args.repeats)
                del orders

                # 2. status import
                with Clock() as loading:
                    s_first, s_last = await load_orders(database, m, location_id, items, exported=True, seed=2)
                print(f"import: {fmt(m)} exported orders loaded in {loading.seconds:.1f} s "
                      f"(numbers {s_first}..{s_last})")  # fmt: skip
                update_s = await update_baseline(database, s_first, s_last, args.repeats)
                name, status_bytes = await upload_status_file(control, s_first, s_last)
                level_before = sum(await StockLevel.filter(location_id=location_id).values_list("level", flat=True))
                held_before = sum(await StockLevel.filter(location_id=location_id).values_list("allocated", flat=True))
                with Profiled(args.profile, "import") as import_profile, Clock() as import_clock:
                    run = await imports.import_statuses(connection_id)
                import_s = import_clock.seconds
                for label, ok, detail in await check_import(database, connection_id, location_id, s_first, s_last, run,
                                                            held_before, level_before):  # fmt: skip
                    checks.append(("import", label, ok, detail))

    under = " (under pyinstrument)" if args.profile else ""
    export_rate, csv_rate = n / export_s, n / csv_s
    print_table(f"1. Export: {fmt(n)} orders in batches of {batch_size} (ratios to the local CSV baseline, same run)",
                ["method", "seconds", "orders/s", "/ baseline"],
                [[f"exports.export_orders until done{under}", f"{export_s:.2f}", fmt(export_rate),
                  ratio(export_rate, csv_rate)],
                 [f"baseline: ExportBatch.rows() + write_csv to local files (median of {args.repeats})",
                  f"{csv_s:.3f}", fmt(csv_rate), "1.00"]])  # fmt: skip
    print(f"{sum(r.pages for r in runs)} batches in {len(runs)} run(s); {fmt(csv_bytes)} bytes of CSV; "
          f"export = {export_s / csv_s:.1f}x the baseline's time")  # fmt: skip
    import_rate, update_rate = m / import_s, m / update_s
    print_table(f"2. Status import: one file of {fmt(m)} SHIPPED rows ({fmt(status_bytes)} bytes; ratios to the "
                f"one-statement UPDATE, same run)", ["method", "seconds", "rows/s", "/ baseline"],
                [[f"imports.import_statuses{under}", f"{import_s:.2f}", fmt(import_rate), ratio(import_rate, update_rate)],
                 [f"baseline: one UPDATE ... FROM (VALUES ...) (median of {args.repeats})", f"{update_s:.3f}",
                  fmt(update_rate), "1.00"]])  # fmt: skip
    print(f"import = {import_s / update_s:.1f}x the baseline's time")
    print_table("Correctness checks", ["phase", "check", "result", "detail"],
                [[phase, label, "OK" if ok else "FAILED", detail] for phase, label, ok, detail in checks], left=4)  # fmt: skip
    for profile in (export_profile, import_profile):
        if profile.profiler is not None:
            print_table(f"Most self time in the {profile.label} (pyinstrument; full tree: {profile.out})",
                        ["function", "where", "seconds", "% of call"], profile.top(), left=2)  # fmt: skip
    if not all(ok for _, _, ok, _ in checks):
        print("\nFAILED: a check did not pass", file=sys.stderr)
        raise SystemExit(1)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=10_000, help="orders exported (default 10000)")
    parser.add_argument("--rows", type=int, default=10_000, help="status rows imported (default 10000)")
    parser.add_argument("--skus", type=int, default=200, help="stock items at the centre (default 200)")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each baseline, median (default 3)")
    parser.add_argument("--profile", action="store_true", help="run the measured calls under pyinstrument")
    args = parser.parse_args(argv)
    if args.orders < 1 or args.rows < 1 or args.skus < 3:
        parser.error("--orders and --rows must be at least 1, --skus at least 3")
    return args


if __name__ == "__main__":
    asyncio.run(main(parse()))

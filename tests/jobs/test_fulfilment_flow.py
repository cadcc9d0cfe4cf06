"""Fulfilment centres end to end through the jobs, against each built-in connector's sandbox (the FTP
warehouse over real FTP, the URL drop shipper over real HTTP): on PostgreSQL with the Redis broker
and `orderdeck worker` processes, and on the embedded default (SQLite, the in-process worker).

Covered: the whole cycle (a shop's order downloaded, moved to the centre, exported by the job the
move wakes, shipped by the centre, imported, processed with its tracking number, the dispatch note
back at the shop); a centre's cancel and error reports; a worker killed (SIGKILL) between the
upload and its commit, whose export the next worker sends again under the same name, which the
centre takes once; export jobs sent many times at once to two worker processes; a status import
racing users' moves and cancels of the same orders (PostgreSQL); an order on its way to the centre
(uploaded, not yet recorded) that a user tries to move or cancel; bad report files through the
real import.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tests.jobs.test_embedded_flow import connect, place, shop_state
from tests.jobs.test_worker_process import (  # noqa: F401 - fixtures
    namespace,
    redis_jobs,
    standby_worker,
    stop_worker,
    sweep_until_closed,
)
from tests.services.allocation_oracle import assert_allocation_matches_oracle
from tests.services.helpers import assert_stock_consistent, levels_of, make_item, make_order
from tests.services.test_fulfilment import ADDRESS, OPTIONS, Centre, _settings
from orderdeck.jobs import scheduler
from orderdeck.models import (
    AuditEntry,
    AuditKind,
    ConnectionKind,
    Dispatch,
    DispatchState,
    FulfilmentState,
    Location,
    Order,
    OrderState,
    SyncIssue,
    SyncKind,
    SyncOutcome,
    StockItem,
    SyncRun,
)
from orderdeck.plugins import manager
from orderdeck.plugins.sandbox.serving import RunningApp, serve
from orderdeck.services import connections, locations, orders, stock, work
from orderdeck.services.context import Actor
from orderdeck.services.errors import ErrorCode
from orderdeck.services.fulfilment import exports, imports
from orderdeck.services.fulfilment.locations import set_location_fulfilment

T = TypeVar("T")
WAIT = 60.0
"""The longest wait for a job's effect (seconds); the polls end as soon as it is there."""


# --- the centre: a sandbox served over real FTP / HTTP, its connection, the location it serves


class HeldAnswers:
    """The drop shipper's app, able to hold back its answer to the next POST /orders after the
    drop shipper has taken the batch (as a connection lost after the request reached it): the
    orders are at the centre, the caller has not heard so."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.state = app.state
        self.hold = 0
        self.holding = threading.Event()
        self.released = threading.Event()

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] != "/orders" or self.hold <= 0:
            return await self.app(scope, receive, send)
        self.hold -= 1

        async def held(message: dict) -> None:
            if message["type"] == "http.response.start":
                self.holding.set()
                deadline = time.monotonic() + 60
                while not self.released.is_set() and time.monotonic() < deadline:
                    await asyncio.sleep(0.05)
            await send(message)

        await self.app(scope, receive, held)


@pytest.fixture(params=sorted(OPTIONS))
def centre_app(request: pytest.FixtureRequest) -> Iterator[tuple[str, RunningApp]]:
    """Each connector's sandbox (the drop shipper's behind HeldAnswers), served on loopback."""
    app = manager.sandbox(request.param).create_app(**OPTIONS[request.param])
    with serve(HeldAnswers(app) if request.param == "url_dropship" else app) as running:
        yield request.param, running


async def open_centre(centre_app: tuple[str, RunningApp], actor: Actor, *, location_id: uuid.UUID | None = None,
                      serve_now: bool = True, **settings: Any) -> Centre:  # fmt: skip
    """A fulfilment connection to the sandbox and a location it serves (a new one unless given;
    ``serve_now`` False: the location is not yet served), MUG and CUP stocked there."""
    connector, running = centre_app
    control = httpx.Client(base_url=running.url, timeout=10)
    connection = await connections.create_connection(
        {"name": "Centre", "connector": connector,
         "settings": _settings(connector, running.url, control) | settings}, actor)  # fmt: skip
    if location_id is None:
        place_ = await locations.create_location("Centre stock", actor)
        location_id = place_.id
        for sku in ("MUG", "CUP"):
            await stocked(sku, 10, location_id, actor)
    if serve_now:
        await set_location_fulfilment(location_id, {"connection_id": connection.id}, actor)
    return Centre(connector, control, connection.id, await Location.get(id=location_id))


async def stocked(sku: str, quantity: int, location_id: uuid.UUID, actor: Actor) -> None:
    """``quantity`` more of the item at the location (the item made first if need be)."""
    if not await StockItem.filter(sku=sku).exists():
        await make_item(sku, actor, level=quantity, location_id=location_id)
    else:
        await stock.adjust_stock_levels({"levels": [{"sku": sku, "location_id": location_id, "quantity": quantity}]}, actor)


def requests_of(centre: Centre) -> list[dict]:
    return centre.call("GET", "/requests")


# --- the workers: Redis and worker processes on PostgreSQL, the in-process worker on SQLite


@pytest.fixture
def workers(request: pytest.FixtureRequest, database: str) -> Iterator[object]:
    """The production shape on PostgreSQL (a worker process behind Redis), the embedded default on
    SQLite (the in-process worker): either way, each commit's wake-ups become jobs."""
    yield request.getfixturevalue("redis_jobs" if database == "postgres" else "jobs")


async def until(check: Callable[[], Awaitable[T]], what: str, timeout: float = WAIT, every: float = 0.05) -> T:
    """``check()``'s first truthy answer, polled until ``timeout`` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        found = await check()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out waiting: {what}"
        await asyncio.sleep(every)


async def all_exported(ids: list[uuid.UUID]) -> bool:
    return await Order.filter(id__in=ids, fulfilment_state=FulfilmentState.EXPORTED).count() == len(ids)


async def run_of(connection_id: uuid.UUID, kind: SyncKind, after: set[int] | None = None) -> SyncRun | None:
    """The connection's latest finished run of ``kind`` not among ``after`` (ids)."""
    runs = await SyncRun.filter(connection_id=connection_id, kind=kind).exclude(outcome=SyncOutcome.RUNNING).order_by("-id")
    return next((r for r in runs if r.id not in (after or set())), None)


async def import_now(centre: Centre, kind: SyncKind = SyncKind.STATUS_IMPORT) -> SyncRun:
    """Ask for the centre's import ("sync now": the job goes to the worker) and wait for its run."""
    before = set(await SyncRun.filter(connection_id=centre.connection_id, kind=kind).values_list("id", flat=True))
    await work.request_sync(centre.connection_id, [kind], ConnectionKind.FULFILMENT_CENTRE)
    return await until(lambda: run_of(centre.connection_id, kind, before), f"{kind.value} run")


def numbers_received(centre: Centre) -> list[int]:
    """Every order the centre took, with repeats (it never takes a number twice: these count how
    often one was sent and taken, by the files or batches it took)."""
    state = centre.call("GET", "/state")
    if centre.connector == "ftp_warehouse":
        return [n for f in state["files"]["orders"] if f["outcome"] == "taken" for n in f["orders"]]
    return [n for b in state["batches"].values() for n in b["taken"] + [d["order_number"] for d in b["duplicates"]]]


# --- 1. the whole cycle


async def test_a_shop_order_goes_to_the_centre_and_comes_back_shipped_to_the_shop(
    workers, centre_app, shop_a, default_location, actor
):
    started = time.monotonic()
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    shop = await connect(shop_a, "Shop A", "ck_a", "cs_a", default_location, actor)  # downloads to the default
    centre = await open_centre(centre_app, actor)
    place(shop_a, "MUG", 2)

    await work.request_sync(shop.id, [SyncKind.DOWNLOAD])
    order = await until(lambda: Order.get_or_none(channel_id=shop.id), "the shop's order downloaded")
    assert order.location_id == default_location.id and await levels_of("MUG", default_location.id) == (10, 2)

    moved = await orders.move_orders([order.id], centre.location.id, actor)  # wakes the export
    assert not moved.failures
    await until(lambda: all_exported([order.id]), "the order exported")
    order = await Order.get(id=order.id)
    assert order.label_printed and order.export_file and order.exported_at
    assert centre.received() == [order.number]
    assert [f.code for f in (await orders.move_orders([order.id], default_location.id, actor)).failures] == [
        ErrorCode.FULFILMENT_LOCKED]  # fmt: skip

    centre.report(order.number, "SHIPPED", carrier="DPD", service="Next Day", tracking="TRK-FC-77")
    run = await import_now(centre)
    assert (run.outcome, run.imported) == (SyncOutcome.SUCCEEDED, 1)
    order = await Order.get(id=order.id)
    assert (order.state, order.fulfilment_state) == (OrderState.PROCESSED, FulfilmentState.SHIPPED)
    assert (order.tracking_number, order.shipping_vendor, order.shipping_service) == ("TRK-FC-77", "DPD", "Next Day")
    assert await levels_of("MUG", centre.location.id) == (8, 0) and await levels_of("MUG", default_location.id) == (10, 0)

    async def dispatched() -> bool:
        return (await Dispatch.get(order_id=order.id)).state == DispatchState.SENT

    await until(dispatched, "the dispatch note sent to the shop")
    shop_order = next(o for o in shop_state(shop_a)["orders"] if o["number"] == order.reference)
    assert shop_order["status"] == "completed" and any("TRK-FC-77" in n["note"] for n in shop_order["notes"])
    audit = await AuditEntry.filter(subject_id=order.id).values_list("kind", flat=True)
    assert [audit.count(k) for k in (AuditKind.EXPORTED, AuditKind.FULFIL_STATUS, AuditKind.PROCESSED)] == [1, 1, 1]
    await assert_stock_consistent()
    print(f"whole cycle ({centre.connector}): {time.monotonic() - started:.1f} s")


# --- 2. cancelled and errored


async def test_a_cancelled_order_comes_back_and_an_errored_one_stays_locked_in(workers, centre_app, default_location, actor):
    centre = await open_centre(centre_app, actor)
    cancelled = await make_order(actor, ("MUG", 1), shipping_address=ADDRESS, location_id=centre.location.id)
    errored = await make_order(actor, ("CUP", 2), shipping_address=ADDRESS, location_id=centre.location.id)
    await until(lambda: all_exported([cancelled.id, errored.id]), "both orders exported")  # woken by their creation

    centre.report(cancelled.number, "CANCELLED", message="Out of stock here")
    centre.report(errored.number, "ERROR", message="Address incomplete")
    run = await import_now(centre)
    assert (run.outcome, run.imported) == (SyncOutcome.SUCCEEDED, 2)

    c, e = await Order.get(id=cancelled.id), await Order.get(id=errored.id)
    assert (c.state, c.fulfilment_state, c.fulfilment_message) == (OrderState.OPEN, FulfilmentState.CANCELLED, "Out of stock here")
    assert (e.state, e.fulfilment_state, e.fulfilment_message) == (OrderState.OPEN, FulfilmentState.ERROR, "Address incomplete")
    refused = await orders.move_orders([errored.id], default_location.id, actor)
    assert [f.code for f in refused.failures] == [ErrorCode.FULFILMENT_LOCKED]
    assert [f.code for f in (await orders.cancel_orders([errored.id], "no", actor)).failures] == [ErrorCode.FULFILMENT_LOCKED]

    await stocked("MUG", 5, default_location.id, actor)
    moved = await orders.move_orders([cancelled.id], default_location.id, actor)
    assert not moved.failures
    c = await Order.get(id=cancelled.id)
    assert (c.location_id, c.fulfilment_state) == (default_location.id, None)
    assert await levels_of("MUG", default_location.id) == (5, 1) and await levels_of("MUG", centre.location.id) == (10, 0)
    assert await levels_of("CUP", centre.location.id) == (10, 2), "the errored order still holds its stock"

    again = await import_now(centre)  # nothing new: the reports were consumed
    assert (again.outcome, again.imported) == (SyncOutcome.SUCCEEDED, 0)
    assert sorted(numbers_received(centre)) == sorted([cancelled.number, errored.number])
    await assert_stock_consistent()


# --- 3. a worker killed between the upload and its commit


async def test_an_export_whose_worker_dies_after_the_upload_is_taken_over_and_reaches_the_centre_once(
    redis_jobs, database_url, namespace, centre_app, actor, monkeypatch, postgres_only
):
    connector, running = centre_app
    place_ = await locations.create_location("Centre stock", actor)
    await stocked("MUG", 10, place_.id, actor)
    made = [await make_order(actor, ("MUG", 1), shipping_address=ADDRESS, location_id=place_.id) for _ in range(3)]
    ids, numbers = [o.id for o in made], sorted(o.number for o in made)
    extra = {"timeout_seconds": 30} if connector == "ftp_warehouse" else {}
    centre = await open_centre(centre_app, actor, location_id=place_.id, serve_now=False, **extra)
    if connector == "ftp_warehouse":
        # USER, PASS, TYPE I, PASV, STOR .name.part, RNFR, RNTO answered; the goodbye (QUIT) stalls.
        centre.call("POST", "/faults", json={"kind": "delay", "seconds": 60, "after": 7})
    else:
        running.app.hold = 1
    await set_location_fulfilment(place_.id, {"connection_id": centre.connection_id}, actor)  # wakes the export

    async def uploaded_and_held() -> bool:
        if sorted(centre.received()) != numbers:
            return False
        if connector == "ftp_warehouse":
            return any(r["method"] == "QUIT" and r["status"] == 0 for r in requests_of(centre))
        return running.app.holding.is_set()

    await until(uploaded_and_held, "the batch at the centre, its answer held")
    dead = await SyncRun.get(connection_id=centre.connection_id, kind=SyncKind.EXPORT, outcome=SyncOutcome.RUNNING)
    left = await Order.filter(id__in=ids)
    assert all(o.fulfilment_state is None and o.export_claimed_at is not None for o in left), "not yet recorded"
    deadline = time.monotonic() + WAIT
    standby = await standby_worker(database_url, namespace, deadline)
    try:
        redis_jobs.kill_worker()  # dies before recording the export: the orders stay claimed
        killed = time.monotonic()
        if connector == "url_dropship":
            running.app.released.set()
        closed_after = await sweep_until_closed(redis_jobs, dead, killed, monkeypatch)
        while not await all_exported(ids):  # the sweep finds the claimed orders: the standby worker sends them
            assert time.monotonic() < deadline, "the export was not taken over"
            await scheduler.tick()
            await asyncio.sleep(0.1)
        exported_after = time.monotonic() - killed
    finally:
        redis_jobs.output += stop_worker(standby)
    print(f"{connector}: dead export closed {closed_after:.2f} s and taken over {exported_after:.2f} s after the kill")

    exported = await Order.filter(id__in=ids)
    assert {o.export_file for o in exported} != {""} and len({o.export_file for o in exported}) == 1
    assert all(o.export_claimed_at is None and o.label_printed for o in exported)
    for order in exported:
        assert await AuditEntry.filter(subject_id=order.id, kind=AuditKind.EXPORTED).count() == 1
    assert sorted(numbers_received(centre)) == numbers, "each order taken once"
    state = centre.call("GET", "/state")
    if connector == "ftp_warehouse":
        files = state["files"]["orders"]
        assert [(f["outcome"], sorted(f["orders"])) for f in files] == [("taken", numbers), ("repeat", [])]
        assert files[0]["name"] == files[1]["name"] == exported[0].export_file, "sent again under the same name"
        stored = [r["path"] for r in requests_of(centre) if r["method"] == "STOR"]
        assert len(stored) == 2 and stored[0] == stored[1]
    else:
        posts = [r for r in requests_of(centre) if r["method"] == "POST" and r["path"] == "/orders"]
        assert len(posts) == 2 and len(state["batches"]) == 1, "the same idempotency key twice, one batch"
    runs = await SyncRun.filter(connection_id=centre.connection_id, kind=SyncKind.EXPORT).exclude(id=dead.id)
    assert sum(r.exported for r in runs) == 3 and all(r.outcome == SyncOutcome.SUCCEEDED for r in runs)
    await assert_stock_consistent()


# --- 4. duplicated jobs


async def test_export_jobs_sent_many_times_at_once_export_each_order_once(
    redis_jobs, database_url, namespace, centre_app, actor, postgres_only
):
    centre = await open_centre(centre_app, actor)
    for sku in ("MUG", "CUP"):
        await stocked(sku, 90, centre.location.id, actor)
    deadline = time.monotonic() + WAIT
    second = await standby_worker(database_url, namespace, deadline)  # two worker processes, four threads each
    try:
        async def create(n: int) -> Order:
            return await make_order(actor, ("MUG" if n % 2 else "CUP", 1 + n % 3), shipping_address=ADDRESS,
                                    location_id=centre.location.id)  # fmt: skip

        made: list[Order] = []
        for start in range(0, 24, 8):  # each creation wakes an export, and five more jobs each round
            sends = [asyncio.to_thread(redis_jobs.send, SyncKind.EXPORT, centre.connection_id) for _ in range(5)]
            made += [o for o in await asyncio.gather(*(create(n) for n in range(start, start + 8)), *sends) if isinstance(o, Order)]
            ids = [o.id for o in made]
            await until(lambda: all_exported(ids), "the round's orders exported")
        await asyncio.to_thread(redis_jobs.drain, WAIT)  # the late jobs find nothing to do
    finally:
        redis_jobs.output += stop_worker(second)

    assert sorted(numbers_received(centre)) == sorted(o.number for o in made), "the centre took each order once"
    if centre.connector == "ftp_warehouse":
        assert all(f["outcome"] == "taken" for f in centre.call("GET", "/state")["files"]["orders"]), "no file repeated"
    else:
        assert not any(b["duplicates"] for b in centre.call("GET", "/state")["batches"].values()), "no order sent twice"
    entries = await AuditEntry.filter(subject_id__in=ids, kind=AuditKind.EXPORTED).values_list("subject_id", flat=True)
    assert sorted(map(str, entries)) == sorted(map(str, ids)), "one EXPORTED entry an order"
    runs = await SyncRun.filter(connection_id=centre.connection_id, kind=SyncKind.EXPORT)
    assert sum(r.exported for r in runs) == 24 and all(r.outcome == SyncOutcome.SUCCEEDED for r in runs)
    print(f"{centre.connector}: 24 orders, {len(runs)} export runs")
    await assert_stock_consistent()


# --- 5. a status import racing users' moves and cancels


async def test_a_status_import_racing_users_moves_and_cancels_leaves_every_order_consistent(
    centre_app, default_location, actor, postgres_only
):
    centre = await open_centre(centre_app, actor)
    await stocked("MUG", 40, default_location.id, actor)
    await stocked("MUG", 20, centre.location.id, actor)
    made = [await make_order(actor, ("MUG", 1 + n % 2), shipping_address=ADDRESS, location_id=centre.location.id)
            for n in range(16)]  # fmt: skip
    run = await exports.export_orders(centre.connection_id)
    assert run is not None and run.exported == len(made)
    rng = random.Random(7)
    outcomes: dict[str, int] = {}
    timing = []
    for n, order in enumerate(made):
        cancel = n % 2 == 1
        centre.report(order.number, "CANCELLED", message=f"cancelled {order.number}")
        began = time.monotonic()
        typical = timing and sum(timing) / len(timing) or 0.05

        async def user() -> Any:
            await asyncio.sleep(rng.uniform(0, typical * 1.2))  # anywhere in the import's time
            if cancel:
                return await orders.cancel_orders([order.id], "buyer asked", actor)
            return await orders.move_orders([order.id], default_location.id, actor)

        imported, result = await asyncio.gather(imports.import_statuses(centre.connection_id), user())
        timing.append(time.monotonic() - began)
        assert imported is not None and imported.outcome == SyncOutcome.SUCCEEDED
        after = await Order.get(id=order.id)
        if result.failures:  # the user came first: refused, then the centre's cancel applied
            assert [f.code for f in result.failures] == [ErrorCode.FULFILMENT_LOCKED]
            assert (after.state, after.location_id, after.fulfilment_state) == (
                OrderState.OPEN, centre.location.id, FulfilmentState.CANCELLED)  # fmt: skip
            assert imported.imported == 1
            key = "refused"
        elif cancel:  # the import came first: the lock-in ended, the cancel applied
            assert (after.state, after.location_id, after.fulfilment_state) == (
                OrderState.CANCELLED, centre.location.id, FulfilmentState.CANCELLED)  # fmt: skip
            key = "cancelled"
        else:
            assert (after.state, after.location_id, after.fulfilment_state) == (
                OrderState.OPEN, default_location.id, None)  # fmt: skip
            key = "moved"
        assert await AuditEntry.filter(subject_id=order.id, kind=AuditKind.FULFIL_STATUS).count() == 1
        outcomes[key] = outcomes.get(key, 0) + 1
    print(f"{centre.connector}: import vs user, outcomes {outcomes}")

    assert await Order.all().count() == len(made)
    assert len(set(await Order.all().values_list("number", flat=True))) == len(made)
    quantity = {o.id: 1 + n % 2 for n, o in enumerate(made)}
    want = {centre.location.id: 0, default_location.id: 0}
    for o in await Order.filter(state=OrderState.OPEN):  # every open order holds its quantity where it is
        want[o.location_id] += quantity[o.id]
    assert (await levels_of("MUG", centre.location.id))[1] == want[centre.location.id]
    assert (await levels_of("MUG", default_location.id))[1] == want[default_location.id]
    await assert_stock_consistent()
    await assert_allocation_matches_oracle()


# --- 5b. a user's move or cancel while the export is on its way


async def test_an_order_on_its_way_to_the_centre_cannot_be_moved_or_cancelled(centre_app, default_location, actor):
    connector, running = centre_app
    place_ = await locations.create_location("Centre stock", actor)
    await stocked("MUG", 10, place_.id, actor)
    order = await make_order(actor, ("MUG", 1), shipping_address=ADDRESS, location_id=place_.id)
    centre = await open_centre(centre_app, actor, location_id=place_.id, serve_now=False, timeout_seconds=30)
    if connector == "ftp_warehouse":
        centre.call("POST", "/faults", json={"kind": "delay", "seconds": 1.5, "after": 7})  # QUIT answered late
    else:
        running.app.hold = 1
    await set_location_fulfilment(place_.id, {"connection_id": centre.connection_id}, actor)
    exporting = asyncio.create_task(exports.export_orders(centre.connection_id))
    await until(lambda: asyncio.sleep(0, centre.received() == [order.number]), "the order at the centre")
    try:
        for refused in (await orders.move_orders([order.id], default_location.id, actor),
                        await orders.cancel_orders([order.id], "buyer asked", actor)):  # fmt: skip
            assert [f.code for f in refused.failures] == [ErrorCode.FULFILMENT_LOCKED], refused.failures
    finally:
        running.app.released.set() if connector == "url_dropship" else None
        run = await exporting
    assert run is not None and run.exported == 1
    after = await Order.get(id=order.id)
    assert (after.state, after.location_id, after.fulfilment_state) == (OrderState.OPEN, place_.id, FulfilmentState.EXPORTED)
    assert await levels_of("MUG", place_.id) == (10, 1)
    await assert_stock_consistent()


# --- 6. bad files


def leave_report(centre_app: tuple[str, RunningApp], kind: str, name: str, data: bytes) -> str:
    """A report file as the centre would leave it, whatever is in it: the FTP warehouse's folder
    (written whole, then named), or the drop shipper's queue of reports; its name as read."""
    connector, running = centre_app
    emulator = running.app.state.sandbox
    if connector == "ftp_warehouse":
        folder = emulator.folders["statuses" if kind == "status" else "stock"]
        target: Path = emulator.home / folder / name
        partial = target.with_name(f".{name}.part")
        partial.write_bytes(data)
        partial.replace(target)
        return f"{folder}/{name}"
    return emulator._add(kind, data, "text/csv; charset=utf-8", emulator._next("R")).id


async def test_bad_report_files_are_issues_of_the_run_and_their_good_rows_apply(workers, centre_app, actor):
    connector = centre_app[0]
    settings = {"file_format": {"fallback_encoding": "cp1252"}} if connector == "ftp_warehouse" else {"status_format": "csv"}
    centre = await open_centre(centre_app, actor, **settings)
    good, windows, bad = [await make_order(actor, ("MUG", 1), shipping_address=ADDRESS, location_id=centre.location.id)
                          for _ in range(3)]  # fmt: skip
    await until(lambda: all_exported([good.id, windows.id, bad.id]), "the orders exported")

    header = "Order Number,Reference,Status,Carrier,Service,Tracking Number,Message\n"
    if connector == "url_dropship":
        header = header.lower().replace(" ", "_")
    missing = leave_report(centre_app, "status", "status-a.csv",
                           f"Order Number,Carrier\n{good.number},DPD\n".encode())  # fmt: skip
    mixed = leave_report(centre_app, "status", "status-b.csv", (
        header + f"{good.number},,SHIPPED,DPD,Next Day,TRK-GOOD,\n"
        + "twelve,,SHIPPED,DPD,,TRK-X,\n"
        + f"{bad.number},,LOST IN SPACE,,,,\n"
        + "999999,,SHIPPED,DPD,,TRK-Y,\n"
    ).encode())  # fmt: skip
    cp1252 = (header + f"{windows.number},,ERROR,,,,Adresse incomplète – façade\n").encode("cp1252")
    windows_name = leave_report(centre_app, "status", "status-c.csv", cp1252)

    run = await import_now(centre)
    issues = [(i.reference, i.kind, i.message) for i in await SyncIssue.filter(run_id=run.id)]
    text = "\n".join(map(str, issues))
    print(text)
    assert run.outcome != SyncOutcome.RUNNING
    g = await Order.get(id=good.id)
    assert (g.state, g.tracking_number) == (OrderState.PROCESSED, "TRK-GOOD"), "the good row applied"
    assert (await Order.get(id=bad.id)).fulfilment_state == FulfilmentState.EXPORTED, "a bad status changes nothing"
    w = await Order.get(id=windows.id)
    if connector == "ftp_warehouse":  # its fallback encoding reads the Windows file
        assert (w.fulfilment_state, w.fulfilment_message) == (FulfilmentState.ERROR, "Adresse incomplète – façade")
    else:  # UTF-8 only: the file is an issue, named
        assert w.fulfilment_state == FulfilmentState.EXPORTED
        assert windows_name in text
    for named in (missing, mixed):
        assert named in text, f"the issues name {named}"
    assert "999999" in text and "UNKNOWN_ORDER" in text
    assert "twelve" in text and "LOST IN SPACE" in text

    stock_name = leave_report(centre_app, "stock", "stock-a.csv", b"SKU,Quantity\nMUG,7\nCUP,lots\nNOSUCH,3\n")
    stock_run = await import_now(centre, SyncKind.STOCK_IMPORT)
    stock_issues = "\n".join(f"{i.reference} {i.kind} {i.message}" for i in await SyncIssue.filter(run_id=stock_run.id))
    assert await levels_of("MUG", centre.location.id) == (7, 2), "set; the two orders still held keep their stock"
    assert await levels_of("CUP", centre.location.id) == (10, 0), "a bad quantity changes nothing"
    assert "lots" in stock_issues and "NOSUCH" in stock_issues and stock_name in stock_issues

    # The worker is still there: a shipment reported now goes through.
    leave_report(centre_app, "status", "status-d.csv", f"{header}{bad.number},,SHIPPED,DPD,,TRK-LATE,\n".encode())
    late = await import_now(centre)
    assert (await Order.get(id=bad.id)).state == OrderState.PROCESSED, [
        (i.reference, i.message) for i in await SyncIssue.filter(run_id=late.id)]  # fmt: skip
    await assert_stock_consistent()

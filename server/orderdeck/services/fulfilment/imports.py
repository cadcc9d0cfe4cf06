"""Importing a fulfilment centre's reports: order statuses and stock levels (see the package
docstring).

Each run reads the reports waiting at the centre, applies each one in its own transaction (fenced
by the run's claim) and records it by name and content hash (ImportedReport) in that
transaction; then asks the connector to consume it. A report met again (consuming failed, or the
centre wrote the same file twice) is consumed without being applied: importing the same report
twice changes nothing. A bad row, an unknown order or SKU is an issue of the run (its message
starting with the report's name); the good rows apply.

Statuses, keyed by order number or reference, among the orders at the centre's locations:
SHIPPED or COMPLETE processes an order the centre holds, with the reported carrier, service and
tracking number (services.orders.process_orders, by_centre: the dispatch goes to its channel);
CANCELLED ends the lock-in (the order stays open, movable again); ERROR keeps the centre's text
on the order. Each change is a FULFIL_STATUS audit entry in the centre's words; a status the
order already has changes nothing.

Stock: each (SKU or the item's fulfilment SKU, quantity) sets the level at each location the
centre serves (negative as 0), ledger reason FULFILMENT_STOCK; the change reaches the channels
as any stock change does (the outbox).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from tortoise.expressions import Q

from orderdeck.models import (
    LOCKED_IN,
    AuditKind,
    Connection,
    ImportedReport,
    Location,
    Order,
    StockChangeReason,
    StockItem,
    SyncKind,
    SyncRun,
)
from orderdeck.models.orders import FulfilmentState
from orderdeck.plugins.connectors import FulfilmentConnector
from orderdeck.plugins.dto import FulfilmentStatus, ImportedFile, RowProblem, StatusLine, StatusReport, StockReport
from orderdeck.services import claims
from orderdeck.services.audit import AuditLog
from orderdeck.services.claims import Claim
from orderdeck.services.connections import hook_connection
from orderdeck.services.context import Actor, save_fields, transaction
from orderdeck.services.orders.process import process_orders
from orderdeck.services.runs import Issue, RunLog, recording
from orderdeck.services.fields import MAX_LEVEL
from orderdeck.services.stock import StockChange, apply_stock_changes, lock_levels
from orderdeck.services.sync import sync_actor

SHIPPED = (FulfilmentStatus.SHIPPED, FulfilmentStatus.COMPLETE)


def _problems(problems: list[RowProblem]) -> list[Issue]:
    return [(f"row {p.row}", "BAD_ROW", f"column {p.column!r}: {p.reason}" if p.column else p.reason)
            for p in problems]  # fmt: skip


async def _seen(connection_id: uuid.UUID, kind: SyncKind, file: ImportedFile) -> bool:
    return await ImportedReport.filter(connection_id=connection_id, kind=kind, name=file.name[:255],
                                       content_hash=file.content_hash).exists()  # fmt: skip


Apply = Callable[[Connection, Any, SyncRun, Actor], Awaitable[list[Issue]]]


async def _import(connection_id: uuid.UUID, kind: SyncKind,
                  read: Callable[[FulfilmentConnector, Any], Awaitable[list[Any]]], apply: Apply) -> SyncRun | None:  # fmt: skip
    """One import run of ``kind``: read the reports, apply each new one (recording it in the same
    transaction), consume each."""
    account = await Connection.get_or_none(id=connection_id)
    if account is None or not account.enabled:
        return None
    async with claims.holding(connection_id, kind) as claim:
        if claim is None:
            return None
        async with recording(claim) as log:
            run = await log.start()
            connector, connection = hook_connection(account)
            for report in await read(connector, connection):
                if not await _seen(connection_id, kind, report.file):
                    issues = await _apply_once(claim, log, account, kind, report, apply)
                else:
                    run.duplicates += 1
                    issues = [(report.file.name, "ALREADY_IMPORTED", "read again: it was applied before")]
                await connector.consume(connection, report.file)
                run.pages += 1
                await log.progress(issues)
    return log.run


async def _apply_once(claim: Claim, log: RunLog, account: Connection, kind: SyncKind, report: Any,
                      apply: Apply) -> list[Issue]:  # fmt: skip
    run = log.run
    assert run is not None
    async with transaction():
        await claim.renew()
        issues = _problems(report.problems) + await apply(account, report, run, sync_actor(account))
        await ImportedReport.create(connection_id=account.id, kind=kind, name=report.file.name[:255],
                                    content_hash=report.file.content_hash, run_id=run.id)  # fmt: skip
    run.failed += len(issues)
    # A run reads several reports: each issue says which one it is in.
    return [(reference, what, f"{report.file.name}: {message}") for reference, what, message in issues]


# --- statuses


async def import_statuses(connection_id: uuid.UUID) -> SyncRun | None:
    """Apply the centre's status reports (see the module docstring) as one run of the log; None
    when the connection is disabled or another status import of it runs."""
    return await _import(connection_id, SyncKind.STATUS_IMPORT, lambda c, conn: c.import_statuses(conn), _apply_statuses)


async def _orders_of(account: Connection, lines: list[StatusLine]) -> tuple[dict[int, Order], dict[str, Order]]:
    """The orders the lines name at the centre's locations, locked: by number and by reference."""
    numbers = {line.order_number for line in lines if line.order_number}
    references = {line.reference for line in lines if not line.order_number and line.reference}
    if not numbers and not references:
        return {}, {}
    found = await Order.filter(Q(number__in=numbers) | Q(reference__in=references),
                               location__fulfilment_connection_id=account.id).select_for_update().order_by("number")  # fmt: skip
    return {o.number: o for o in found}, {o.reference: o for o in found if o.reference}


async def _apply_statuses(account: Connection, report: StatusReport, run: SyncRun, actor: Actor) -> list[Issue]:
    by_number, by_reference = await _orders_of(account, report.statuses)
    issues: list[Issue] = []
    audit, changed, shipments, shipped_lines = AuditLog(actor), [], [], {}
    for line in report.statuses:
        key = str(line.order_number) if line.order_number else line.reference
        order = by_number.get(line.order_number) if line.order_number else by_reference.get(line.reference)
        words = f"{account.name}: {line.status.value}" + (f" ({line.message})" if line.message else "")
        if order is None:
            issues.append((key, "UNKNOWN_ORDER", f"row {line.row}: no order {key} at {account.name}'s locations"))
            continue
        if order.fulfilment_state not in LOCKED_IN:
            if _already(order, line.status):
                run.duplicates += 1
            else:
                state = order.fulfilment_state.value.lower() if order.fulfilment_state else "not exported"
                issues.append((key, "NOT_AT_CENTRE", f"row {line.row}: {line.status.value} for an order the centre "
                                                     f"does not hold ({order.state.value.lower()}, {state})"))  # fmt: skip
            continue
        if line.status in SHIPPED:
            shipments.append({"order_id": order.id, "tracking_number": line.tracking_number or None,
                              "shipping_vendor": line.carrier or None, "shipping_service": line.service or None})  # fmt: skip
            shipped_lines[order.id] = (order, line, words)
            continue
        target = FulfilmentState.CANCELLED if line.status == FulfilmentStatus.CANCELLED else FulfilmentState.ERROR
        if order.fulfilment_state == target and order.fulfilment_message == line.message[:1000]:
            run.duplicates += 1
            continue
        order.fulfilment_state, order.fulfilment_message = target, line.message[:1000]
        changed.append(order)
        audit.order(AuditKind.FULFIL_STATUS, order, words[:2000], after={"status": line.status.value,
                                                                         "message": line.message})  # fmt: skip
    if changed:
        await save_fields(changed, ["fulfilment_state", "fulfilment_message"])
        run.imported += len(changed)
    for start in range(0, len(shipments), 100):
        result = await process_orders(shipments[start : start + 100], actor, by_centre=True)
        for order in result.orders:
            _, line, words = shipped_lines[order.id]
            audit.order(AuditKind.FULFIL_STATUS, order, words[:2000],
                        after={"status": line.status.value, "carrier": line.carrier, "trackingNumber": line.tracking_number})  # fmt: skip
        run.imported += len(result.orders)
        issues += [(str(f.order_number or f.order_id), "NOT_PROCESSED", f.message) for f in result.failures]
    await audit.write()
    return issues


def _already(order: Order, status: FulfilmentStatus) -> bool:
    """Whether the order already is what the centre reports (a report repeated)."""
    if status in SHIPPED:
        return order.fulfilment_state == FulfilmentState.SHIPPED
    return status == FulfilmentStatus.CANCELLED and order.fulfilment_state == FulfilmentState.CANCELLED


# --- stock


async def import_stock(connection_id: uuid.UUID) -> SyncRun | None:
    """Set the stock levels the centre reports at its locations (see the module docstring), as
    one run of the log; None when disabled or another stock import of it runs."""
    return await _import(connection_id, SyncKind.STOCK_IMPORT, lambda c, conn: c.import_stock(conn), _apply_stock)


async def _apply_stock(account: Connection, report: StockReport, run: SyncRun, actor: Actor) -> list[Issue]:
    locations = list(await Location.filter(fulfilment_connection_id=account.id).values_list("id", flat=True))
    skus = {line.sku for line in report.levels}
    items = {}
    for item in await StockItem.filter(Q(sku__in=skus) | Q(fulfilment_sku__in=skus)).only("id", "sku", "fulfilment_sku"):
        items.setdefault(item.sku, item.id)
        if item.fulfilment_sku:
            items[item.fulfilment_sku] = item.id
    issues: list[Issue] = []
    wanted: dict[tuple[int, uuid.UUID], int] = {}
    for line in report.levels:
        item = items.get(line.sku)
        if item is None:
            issues.append((line.sku, "UNKNOWN_SKU", f"row {line.row}: no stock item has SKU or fulfilment SKU {line.sku}"))
            continue
        for location in locations:
            wanted[(item, location)] = min(max(line.quantity, 0), MAX_LEVEL)
    if not wanted:
        return issues
    current = await lock_levels(set(wanted))
    changes = [StockChange(key[0], key[1], StockChangeReason.FULFILMENT_STOCK, level=quantity - current[key].level,
                           note=f"{account.name}: {report.file.name}"[:500])
               for key, quantity in wanted.items() if quantity != current[key].level]  # fmt: skip
    await apply_stock_changes(changes, actor)
    run.imported += len(changes)
    run.duplicates += len(wanted) - len(changes)
    return issues


"""Exporting orders to a fulfilment centre: the export job's work (see the package docstring).

An order is due for export when it is open at a location the connection serves, paid, not
parked, on hold or locked, not yet with the centre (fulfilment_state empty) and past its next
attempt. A run claims a batch of them (export_claimed_at, under the connection's EXPORT claim),
hands it to the connector as one file named by the location's pattern, and records each order's
result. Orders still claimed when a run claims are left by a run that died: they are taken over
first, as the same batch (same file name).
"""

from __future__ import annotations

import hashlib
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from tortoise.expressions import Q

from orderdeck.models import AuditKind, Connection, Location, Order, OrderStatus, StockItem, SyncKind, SyncRun
from orderdeck.models.orders import FulfilmentState, OrderState
from orderdeck.plugins.connectors import FulfilmentConnector
from orderdeck.plugins.csvfiles import Column
from orderdeck.plugins.dto import DEFAULT_EXPORT_COLUMNS, Address, ExportBatch, FulfilmentOrder, FulfilmentOrderLine, ItemResult
from orderdeck.plugins.errors import PartnerError
from orderdeck.services import claims, outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.claims import Claim
from orderdeck.services.connections import hook_connection
from orderdeck.services.context import save_fields, transaction
from orderdeck.services.orders.common import lines_by_order
from orderdeck.services.runs import RETRYABLE, SWEEP_GRACE, Issue, RunLog, backoff, outbound_run, retry_after
from orderdeck.services.sync import sync_actor


def exportable(now: datetime) -> Q:
    """Orders due for export at ``now`` (at any centre's location; see the module docstring)."""
    return Q(
        state=OrderState.OPEN, fulfilment_state__isnull=True, parked=False, on_hold=False, locked=False,
        export_claimed_at__isnull=True,
    ) & ~Q(status=OrderStatus.UNPAID) & (Q(export_next_at__isnull=True) | Q(export_next_at__lte=now))  # fmt: skip


def file_name(pattern: str, location: Location, orders: list[Order]) -> str:
    """The export file's name for a batch (models.locations.DEFAULT_FILE_PATTERN): the same orders
    give the same name."""
    numbers = sorted(o.number for o in orders)
    digest = hashlib.sha256(",".join(sorted(str(o.id) for o in orders)).encode()).hexdigest()[:12]
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", location.name).strip("-") or "location"
    return pattern.format(location=safe, first=numbers[0], last=numbers[-1], count=len(orders), batch=digest)


def columns_of(location: Location) -> tuple[Column, ...]:
    """The location's export columns (the default ones when it names none)."""
    return tuple(Column(**c) for c in location.export_columns) or DEFAULT_EXPORT_COLUMNS


@dataclass
class Batch:
    """Orders claimed for one export: their location, the file name, and what is handed over."""

    location: Location
    orders: list[Order]
    name: str
    export: ExportBatch
    reference: str = ""

    def __len__(self) -> int:
        return len(self.orders)


async def _fulfilment_orders(orders: list[Order]) -> list[FulfilmentOrder]:
    """The orders as the connector takes them, with their lines and each item's centre SKU."""
    lines = await lines_by_order([o.id for o in orders])
    items = {i.id: i.fulfilment_sku for i in await StockItem.filter(
        id__in={l.stock_item_id for ls in lines.values() for l in ls if l.stock_item_id}).only("id", "fulfilment_sku")}  # fmt: skip
    found = []
    for order in orders:
        address = Address(**{part: getattr(order, f"shipping_{part}") for part in Address.__dataclass_fields__})
        found.append(FulfilmentOrder(
            order_id=str(order.id), number=order.number, reference=order.reference or str(order.number),
            received_at=order.received_at, buyer_name=order.buyer_name, email=order.email, shipping_address=address,
            shipping_service=order.shipping_service, currency=order.currency, total=Decimal(order.total),
            channel_reference=order.external_reference or "",
            lines=[FulfilmentOrderLine(str(line.id), line.sku, line.quantity, line.title,
                                       items.get(line.stock_item_id, ""), Decimal(line.unit_price))
                   for line in lines[order.id]],
        ))  # fmt: skip
    return found


class Exporting:
    """An export run's steps (services.runs.Outbound): due orders out to the centre."""

    def __init__(self, connection: Connection, locations: list[Location]) -> None:
        self.account = connection
        self.connector: FulfilmentConnector
        self.connector, self.connection = hook_connection(connection)
        self.locations = {location.id: location for location in locations}

    @classmethod
    async def start(cls, connection: Connection) -> Exporting:
        """The steps of a run for the centre of ``connection`` (the locations it serves)."""
        return cls(connection, await Location.filter(fulfilment_connection_id=connection.id).order_by("name"))

    async def claim(self, claim: Claim) -> Batch | None:
        """Orders left claimed by a dead run (the same batch again), else the next due ones of
        one location, oldest number first; None when nothing is due."""
        if not self.locations:
            return None
        served = Q(location_id__in=list(self.locations))
        async with transaction():
            await claim.renew()
            left = await Order.filter(served, state=OrderState.OPEN, fulfilment_state__isnull=True,
                                      export_claimed_at__isnull=False).select_for_update().order_by("number")  # fmt: skip
            if left:
                location_id = left[0].location_id
                orders = [o for o in left if o.location_id == location_id][: self.connector.export_batch_size]
            else:
                first = await Order.filter(served, exportable(datetime.now(timezone.utc))).order_by("number").first()
                if first is None:
                    return None
                orders = await Order.filter(exportable(datetime.now(timezone.utc)), location_id=first.location_id).order_by(
                    "number").limit(self.connector.export_batch_size).select_for_update(skip_locked=True)  # fmt: skip
                if not orders:
                    return None
                stamp = datetime.now(timezone.utc)
                await Order.filter(id__in=[o.id for o in orders]).update(export_claimed_at=stamp)
        location = self.locations[orders[0].location_id]
        name = file_name(location.export_file_pattern, location, orders)
        export = ExportBatch(name, await _fulfilment_orders(orders), columns_of(location))
        return Batch(location, orders, name, export)

    async def send(self, batch: Batch) -> list[ItemResult]:
        result = await self.connector.export_orders(self.connection, batch.export)
        batch.reference = result.reference or batch.name
        refused = {r.id: r for r in result.refused}
        return [refused.get(str(o.id)) or ItemResult(str(o.id), True) for o in batch.orders]

    async def record(self, log: RunLog, batch: Batch, results: list[ItemResult] | None,
                     error: PartnerError | None) -> list[Issue]:  # fmt: skip
        run = await log.start()
        by_id = {r.id: r for r in results or []}
        now, issues, audit = datetime.now(timezone.utc), [], AuditLog(sync_actor(self.account))
        for order in batch.orders:
            order.export_claimed_at = None
            result = by_id.get(str(order.id))
            if error is None and result is not None and result.ok:
                order.fulfilment_state, order.exported_at, order.export_file = FulfilmentState.EXPORTED, now, batch.reference[:255]
                order.label_printed, order.label_error, order.export_next_at = True, "", None
                run.exported += 1
                audit.order(AuditKind.EXPORTED, order, f"Exported to {self.account.name} in {batch.reference}",
                            after={"file": batch.reference})  # fmt: skip
                continue
            reason = f"{type(error).__name__}: {error}" if error is not None else (result.error if result else "no answer")
            order.export_attempts += 1
            order.export_next_at = now + backoff(order.export_attempts, retry_after(error) if error else 0)
            order.label_error = reason[:1000]
            run.failed += 1
            run.retrying += 1
            kind = "RETRYING" if error is None or isinstance(error, RETRYABLE) else "FAILED"
            issues.append((order.reference or str(order.number), kind, f"attempt {order.export_attempts}: {reason}"))
            audit.order(AuditKind.EXPORT_FAILED, order, f"Not exported to {self.account.name}: {reason}"[:2000])
        async with transaction():
            await log.claim.renew()
            await save_fields(batch.orders, ["export_claimed_at", "fulfilment_state", "exported_at", "export_file",
                                             "label_printed", "label_error", "export_next_at", "export_attempts"])  # fmt: skip
            await audit.write()
        return issues

    async def release(self, claim: Claim, batch: Batch, error: BaseException) -> None:
        await Order.filter(id__in=[o.id for o in batch.orders]).update(export_claimed_at=None)


async def export_orders(connection_id: uuid.UUID, *, max_batches: int = 100) -> SyncRun | None:
    """Export the orders due at the centre's locations as one run of the log (see the module
    docstring); None, logging nothing, when the connection is disabled, another export of it
    runs, or nothing is due. A connector error ends the run FAILED without raising: each order's
    next attempt paces the retries."""

    async def still_due() -> bool:
        return await Order.filter(exportable(datetime.now(timezone.utc)),
                                  location__fulfilment_connection_id=connection_id).exists()  # fmt: skip

    return await outbound_run(connection_id, SyncKind.EXPORT, Exporting.start, still_due, max_batches=max_batches)


async def forgotten(now: datetime) -> set[uuid.UUID]:
    """The scheduler's sweep: centres (no live export run) with orders due for longer than
    SWEEP_GRACE (or past their next attempt), or left claimed by a run that died."""
    waiting = exportable(now) & (Q(export_next_at__lte=now) | Q(updated_at__lt=now - SWEEP_GRACE))
    left = Q(state=OrderState.OPEN, fulfilment_state__isnull=True, export_claimed_at__isnull=False)
    busy = await claims.live_connections(SyncKind.EXPORT)
    found: set[Any] = set(await Order.filter(waiting | left, location__fulfilment_connection_id__isnull=False)
                          .order_by("location__fulfilment_connection_id").distinct()
                          .values_list("location__fulfilment_connection_id", flat=True))  # fmt: skip
    return {c for c in found if c not in busy}


async def retry_now(connection_id: uuid.UUID) -> None:
    """Sync now of exports: the orders waiting out a failed export's backoff go at once (their
    attempts start over), and the export is woken."""
    served = await Location.filter(fulfilment_connection_id=connection_id).values_list("id", flat=True)
    await Order.filter(state=OrderState.OPEN, fulfilment_state__isnull=True, export_next_at__isnull=False,
                       location_id__in=list(served)).update(export_next_at=None, export_attempts=0)  # fmt: skip
    outbox.wake(SyncKind.EXPORT, [connection_id])


async def next_attempt(connection_id: uuid.UUID) -> datetime | None:
    """When the centre's earliest failed export is due its next attempt (None: none waits)."""
    waiting = await Order.filter(state=OrderState.OPEN, fulfilment_state__isnull=True, export_next_at__isnull=False,
                                 location__fulfilment_connection_id=connection_id).order_by("export_next_at").first()  # fmt: skip
    return waiting.export_next_at if waiting else None

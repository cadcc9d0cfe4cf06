"""The sync engine's state changes: a downloaded page of channel orders, written in one transaction.

What a channel status means comes first from the channel's own overrides, then from its plugin.
For each order of a page:
- already known (same channel and reference): its status and payment are brought up to date
  (unpaid -> paid unparks it); cancelled on the channel flags it for the seller; nothing else
  changes (the seller may have edited it);
- new: skipped when cancelled, already shipped on the channel, or unpaid on a channel that does
  not take unpaid orders (each skip logged with its reference); otherwise created at the
  channel's download location (unpaid ones parked), lines linked through the channel's listings
  then by SKU, stock reserved (a line whose SKU matches nothing stays unlinked, and is logged);
- fulfilled by the channel itself (Amazon FBA): created at the channel's fulfilment location,
  held there (BY_CHANNEL: locked and parked, reserving nothing, never exported), then processed
  when the channel reports it shipped (no dispatch note is owed) or cancelled when it cancels it;
  refused (logged) while the channel has no fulfilment location;
- unreadable (rejected by the plugin, or invalid for orderdeck): logged as failed, the rest of
  the page goes on.
The page's notices (what the plugin says about the download itself) are logged as NOTICE issues.
The channel's cursor advances in the same transaction, so a page is never half taken.

download_channel runs those pages as one SyncRun of the automation log (counts and each skipped or
failed reference), holding the channel's DOWNLOAD claim (services.claims) so that one download of
a channel runs at a time, whatever the number of workers; each page's transaction renews the
claim, so a download whose claim was taken over writes nothing more.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any


from orderdeck.models import (
    ActorKind,
    AuditKind,
    Channel,
    Connection,
    FulfilmentState,
    Order,
    OrderItem,
    OrderState,
    OrderStatus,
    SyncKind,
    SyncRun,
)
from orderdeck.plugins import connectors
from orderdeck.plugins.connectors import ChannelConnector
from orderdeck.plugins.dto import ChannelOrder, OrderPage, StatusMapping
from orderdeck.services import claims, outbox
from orderdeck.services import orders as order_service
from orderdeck.services.audit import AuditLog
from orderdeck.services.channels import channel_connection
from orderdeck.services.context import Actor, transaction
from orderdeck.services.errors import ServiceError, validated
from orderdeck.services.claims import Claim
from orderdeck.services.runs import recording
from orderdeck.services.orders.inputs import OrderInput


def sync_actor(connection: Connection) -> Actor:
    """The actor recorded for a connection's work."""
    return Actor(f"sync:{connection.name}"[:100], ActorKind.SYNC)


@dataclass
class PageCounts:
    """What happened to the orders of a page (summed into the run's counters)."""

    downloaded: int = 0
    updated: int = 0
    duplicates: int = 0
    skipped_shipped: int = 0
    skipped_unpaid: int = 0
    skipped_cancelled: int = 0
    failed: int = 0
    issues: list[tuple[str, str, str]] = field(default_factory=list)
    """(reference, kind, message) for every skip and failure."""

    def add_to(self, run: SyncRun) -> None:
        """Add these counts to a run's counters."""
        for name in ("downloaded", "updated", "duplicates", "skipped_shipped", "skipped_unpaid",
                     "skipped_cancelled", "failed"):  # fmt: skip
            setattr(run, name, getattr(run, name) + getattr(self, name))


def status_of(
    channel: Channel, connector: ChannelConnector, connection: connectors.Connection[Any], order: ChannelOrder
) -> StatusMapping:
    """What the order's channel status means: the channel's override, else the connector's
    mapping (``connection`` is the channel's, built once per page: it decrypts the secrets)."""
    override = channel.status_overrides.get(order.status)
    if override is not None:
        return StatusMapping(**override)
    return connector.map_status(connection, order)


def order_input(connection: Connection, channel: Channel, order: ChannelOrder, paid: bool) -> dict:
    """The create_orders input of a new channel order (lines keep the channel's SKU)."""
    return {
        "reference": order.reference, "subsource": connection.name, "location_id": channel.download_location_id,
        "status": OrderStatus.PAID if paid else OrderStatus.UNPAID,
        "external_reference": order.external_reference or None, "received_at": order.received_at,
        "paid_at": order.paid_at if paid else None, "buyer_name": order.buyer_name, "email": order.email,
        "shipping_address": asdict(order.shipping_address),
        "billing_address": asdict(order.billing_address) if order.billing_address else None,
        "shipping_service": order.shipping_service, "postage": order.postage, "currency": order.currency,
        "payment_method": order.payment_method,
        "properties": [{"name": name, "value": value} for name, value in order.properties.items()],
        "items": [{"sku": line.channel_sku, "channel_sku": line.channel_sku, "item_number": line.line_id,
                   "title": line.title, "quantity": line.quantity, "unit_price": line.unit_price,
                   "discount": line.discount} for line in order.lines],
    }  # fmt: skip


async def ingest_page(channel_id: uuid.UUID, page: OrderPage, claim: Claim | None = None) -> PageCounts:
    """Write one downloaded page (see the module docstring) and advance the channel's cursor;
    fenced by the download's ``claim`` when given (ClaimLost: nothing is written)."""
    counts = PageCounts()
    for reference, reason in page.rejected:
        counts.failed += 1
        counts.issues.append((reference, "REJECTED", reason))
    counts.issues += [("", "NOTICE", notice) for notice in page.notices]
    async with transaction():
        if claim is not None:
            await claim.renew()
        account = await Connection.filter(id=channel_id).select_for_update().get()
        channel = await Channel.get(id=channel_id)
        actor = sync_actor(account)
        connector, connection = channel_connection(account)
        latest: dict[str, ChannelOrder] = {}
        for order in page.orders:
            if order.reference in latest:
                counts.duplicates += 1
            latest[order.reference] = order
        known = {o.reference: o for o in await Order.filter(channel_id=channel.id, reference__in=list(latest))}
        new_inputs, held_inputs, paid_now, cancelled_now = [], [], [], []
        shipped_by_channel, cancelled_by_channel = [], []
        for reference, order in latest.items():
            mapping = status_of(channel, connector, connection, order)
            existing = known.get(reference)
            if existing is not None and existing.fulfilment_state == FulfilmentState.BY_CHANNEL:
                change = _update_by_channel(existing, mapping)
                if change == "shipped":
                    shipped_by_channel.append(existing.id)
                elif change == "cancelled":
                    cancelled_by_channel.append(existing.id)
                counts.updated += change is not None
                counts.duplicates += change is None
            elif existing is not None:
                change = _update_for(existing, mapping)
                if change == "paid":
                    paid_now.append(existing.id)
                elif change == "cancelled":
                    cancelled_now.append(existing)
                counts.updated += change is not None
                counts.duplicates += change is None
            elif mapping.cancelled:
                counts.skipped_cancelled += 1
                counts.issues.append((reference, "SKIPPED_CANCELLED", f"cancelled on the channel ({order.status})"))
            elif mapping.shipped:
                counts.skipped_shipped += 1
                counts.issues.append((reference, "SKIPPED_SHIPPED", f"already shipped on the channel ({order.status})"))
            elif not mapping.paid and not channel.download_unpaid:
                counts.skipped_unpaid += 1
                counts.issues.append((reference, "SKIPPED_UNPAID", f"not paid ({order.status}); the channel takes paid orders only"))
            elif order.fulfilled_by_channel and channel.fulfilment_location_id is None:
                counts.failed += 1
                counts.issues.append((reference, "FAILED", "the channel fulfils this order itself (e.g. Amazon FBA): give "
                                                           "the channel a fulfilment location to download such orders"))  # fmt: skip
            else:
                try:
                    given = validated(OrderInput, order_input(account, channel, order, mapping.paid))
                except ServiceError as exc:
                    counts.failed += 1
                    counts.issues.append((reference, "FAILED", str(exc)))
                else:
                    (held_inputs if order.fulfilled_by_channel else new_inputs).append(given)
        for inputs, held in ((new_inputs, False), (held_inputs, True)):
            if inputs:
                await _create(inputs, held, channel, actor, counts)
        if paid_now:
            await order_service.set_status(paid_now, OrderStatus.PAID, actor)
        if cancelled_now:
            await _flag_cancelled(cancelled_now, actor)
        if shipped_by_channel:
            done = await order_service.process_orders([{"order_id": i} for i in shipped_by_channel], actor, by_centre=True)
            counts.failed += len(done.failures)
            counts.issues += [(_reference(known, f.order_id), "FAILED", f"shipped by the channel, not processed "
                               f"here: {f.message}") for f in done.failures]  # fmt: skip
        if cancelled_by_channel:
            await order_service.cancel_by_channel(cancelled_by_channel, actor)
        account.cursor = page.cursor
        account.last_run_at = datetime.now(timezone.utc)
        await account.save(update_fields=["cursor", "last_run_at", "updated_at"])
    return counts


async def _create(inputs: list[OrderInput], held: bool, channel: Channel, actor: Actor, counts: PageCounts) -> None:
    """Create new channel orders (``held``: ones the channel fulfils itself, at its fulfilment
    location); count them and log their unlinked lines."""
    if held:
        inputs = [i.model_copy(update={"location_id": channel.fulfilment_location_id}) for i in inputs]
    created = await order_service.create_orders(inputs, actor, source=channel.source, allow_unlinked=True,
                                                channel_id=channel.id, fulfilled_by_channel=held)  # fmt: skip
    counts.downloaded += len(created)
    unlinked = await OrderItem.filter(order_id__in=[o.id for o in created], stock_item_id=None).values_list(
        "order__reference", "sku")
    counts.issues += [(ref, "UNLINKED", f"{sku} matches no listing or stock item: link it to reserve its stock")
                      for ref, sku in unlinked]  # fmt: skip


def _reference(known: dict[str, Order], order_id: uuid.UUID) -> str:
    """The reference of a known order, by id."""
    return next((ref for ref, o in known.items() if o.id == order_id), "")


def _update_by_channel(existing: Order, mapping: StatusMapping) -> str | None:
    """What a re-downloaded order the channel fulfils itself changes: "shipped", "cancelled" or
    nothing (None)."""
    if existing.state != OrderState.OPEN:
        return None
    if mapping.cancelled:
        return "cancelled"
    if mapping.shipped:
        return "shipped"
    return None


def _update_for(existing: Order, mapping: StatusMapping) -> str | None:
    """What a re-downloaded known order changes: "paid", "cancelled" or nothing (None)."""
    if existing.state != OrderState.OPEN:
        return None
    if mapping.cancelled and not existing.channel_cancelled:
        return "cancelled"
    if mapping.paid and existing.status == OrderStatus.UNPAID:
        return "paid"
    return None


async def _flag_cancelled(found: list[Order], actor: Actor) -> None:
    await Order.filter(id__in=[o.id for o in found]).update(channel_cancelled=True)
    audit = AuditLog(actor)
    for order in found:
        audit.order(AuditKind.CANCELLED_ON_CHANNEL, order, "Cancelled on the channel: cancel it here too, or ship it")
    await audit.write()


# --- download runs ---------------------------------------------------------------------------


async def download_channel(channel_id: uuid.UUID, *, page_size: int = 100, max_pages: int = 100) -> SyncRun | None:
    """Download a channel's new and changed orders, page by page, into a SyncRun of the log.

    Returns None (and does nothing) when the channel is disabled or another download of it is
    running. Each page is written in its own transaction (ingest_page), so a run that stops half
    way keeps what it wrote and resumes from the cursor; the next page is asked for while one is
    written, so the shop's answer time and the writes overlap. Plugin errors end the run as
    FAILED with the error (after the page before them is written); rate limits and unavailability
    are then raised again, for the job to retry later.
    """
    account = await Connection.get_or_none(id=channel_id)
    if account is None or not account.enabled:
        return None
    more = False
    async with claims.holding(channel_id, SyncKind.DOWNLOAD) as claim:
        if claim is None:
            return None
        async with recording(claim) as log:
            run = await log.start()
            connector, connection = channel_connection(account)

            def ask(cursor: str | None) -> asyncio.Future[OrderPage]:
                return asyncio.ensure_future(connector.download_orders(connection, cursor, page_size))

            asked, ahead = ask(account.cursor), True
            try:
                for number in range(1, max_pages + 1):
                    page = await asked
                    ahead = page.has_more and number < max_pages
                    if ahead:
                        asked = ask(page.cursor)  # the next page, while this one is written
                    counts = await ingest_page(channel_id, page, claim)
                    counts.add_to(run)
                    run.pages += 1
                    await log.progress(counts.issues)
                    if not page.has_more:
                        break
                else:
                    more = True
            finally:
                if ahead:
                    _drop(asked)
    if more:  # max_pages reached with more to come: another job goes on (after the claim is free)
        outbox.wake(SyncKind.DOWNLOAD, [channel_id])
    return log.run


def _drop(asked: asyncio.Future[OrderPage]) -> None:
    """Give up a page asked for ahead (the run ended before it): cancel it, and let its failure,
    if it has failed already, go unreported (the run ended for a reason of its own)."""
    if not asked.cancel():
        asked.exception()

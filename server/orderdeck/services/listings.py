"""Listings: which stock item a channel SKU is, and how its quantity is published.

Linking a channel SKU also links that channel's open order lines still waiting with that SKU
(unlinked when they were downloaded): they reserve their stock at once. Every listing change
marks the listing due for a stock push (the outbox the stock job reads).
"""

from __future__ import annotations

import uuid

from pydantic import Field
from tortoise.exceptions import IntegrityError

from orderdeck.models import AuditKind, AuditSubject, Channel, Listing, OrderItem, OrderState, StockChangeReason, StockItem
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.context import Actor, locked, transaction
from orderdeck.services.errors import ErrorCode, ServiceError, not_found, validated
from orderdeck.services.fields import MAX_LEVEL, Strict, text
from orderdeck.services.orders.common import lock_orders
from orderdeck.services.stock import StockChange, apply_stock_changes


class ListingInput(Strict):
    """A channel SKU linked to the stock item with SKU ``sku``."""

    channel_id: uuid.UUID
    channel_sku: text(100, 1)
    sku: text(100, 1)
    channel_reference: text(100) = ""
    max_listed_quantity: int | None = Field(None, ge=0, le=MAX_LEVEL)
    end_when_stock_at: int | None = Field(None, ge=0, le=MAX_LEVEL)
    ignore_sync: bool = False


class ListingPatch(Strict):
    """Changes to how a listing is published; fields left out stay (null clears a cap)."""

    channel_reference: text(100) | None = None
    max_listed_quantity: int | None = Field(None, ge=0, le=MAX_LEVEL)
    end_when_stock_at: int | None = Field(None, ge=0, le=MAX_LEVEL)
    ignore_sync: bool | None = None


def _snapshot(listing: Listing, sku: str) -> dict[str, object]:
    return {
        "channelSku": listing.channel_sku, "sku": sku, "channelReference": listing.channel_reference,
        "maxListedQuantity": listing.max_listed_quantity, "endWhenStockAt": listing.end_when_stock_at,
        "ignoreSync": listing.ignore_sync,
    }  # fmt: skip


async def link_listing(data: ListingInput | dict, actor: Actor) -> Listing:
    """List a stock item on a channel under the channel's SKU; link waiting order lines with it."""
    given = validated(ListingInput, data)
    async with transaction():
        channel = await Channel.get_or_none(id=given.channel_id).select_related("connection")
        if channel is None:
            raise not_found("Channel", given.channel_id, "channelId")
        item = await StockItem.get_or_none(sku=given.sku)
        if item is None:
            raise not_found("SKU", given.sku, "sku")
        if await Listing.filter(channel_id=channel.id, channel_sku=given.channel_sku).exists():
            raise ServiceError.one(f"{given.channel_sku} is already listed on {channel.connection.name}", "channelSku",
                                   ErrorCode.DUPLICATE)  # fmt: skip
        listing = Listing(channel_id=channel.id, stock_item_id=item.id,
                          **given.model_dump(exclude={"channel_id", "sku"}))  # fmt: skip
        outbox.listing_changed(listing)
        try:
            await listing.save()
        except IntegrityError:
            raise ServiceError.one(f"{given.channel_sku} is already listed on {channel.connection.name}", "channelSku",
                                   ErrorCode.DUPLICATE) from None  # fmt: skip
        linked = await _link_waiting_lines(channel, given.channel_sku, item, actor)
        audit = AuditLog(actor)
        audit.add(AuditKind.LISTING_LINKED, AuditSubject.CHANNEL, channel.id,
                  f"{given.channel_sku} -> {item.sku}" + (f"; {linked} waiting order lines linked" if linked else ""),
                  after=_snapshot(listing, item.sku))  # fmt: skip
        await audit.write()
    return listing


async def _link_waiting_lines(channel: Channel, channel_sku: str, item: StockItem, actor: Actor) -> int:
    """Link the channel's open, unlinked order lines with this channel SKU; reserve their stock."""
    waiting = dict(
        order__channel_id=channel.id, order__state=OrderState.OPEN, stock_item_id=None, channel_sku=channel_sku
    )
    order_ids = set(await OrderItem.filter(**waiting).values_list("order_id", flat=True))
    if not order_ids:
        return 0
    orders = await lock_orders(order_ids)  # orders before their lines, as every operation locks
    still_open = [oid for oid, order in orders.items() if order.state == OrderState.OPEN]
    lines = await OrderItem.filter(order_id__in=still_open, stock_item_id=None, channel_sku=channel_sku).select_for_update()
    changes = [
        StockChange(item.id, orders[line.order_id].location_id, StockChangeReason.ITEM_LINKED,
                    allocated=line.quantity, order_id=line.order_id, order_number=orders[line.order_id].number)
        for line in lines if orders[line.order_id].holds_stock
    ]  # fmt: skip
    await OrderItem.filter(id__in=[line.id for line in lines]).update(stock_item_id=item.id)
    await apply_stock_changes(changes, actor)
    return len(lines)


async def update_listing(listing_id: uuid.UUID, data: ListingPatch | dict, actor: Actor) -> Listing:
    """Change a listing's channel reference, quantity cap, end-when level or ignore-sync flag."""
    patch = validated(ListingPatch, data)
    changes = patch.model_dump(exclude_unset=True)
    if changes.get("ignore_sync", False) is None or ("channel_reference" in changes and changes["channel_reference"] is None):
        raise ServiceError.one("cannot be null", "ignoreSync" if "ignore_sync" in changes else "channelReference")
    async with transaction():
        listing = await locked(Listing, listing_id, "Listing")
        item = await StockItem.get(id=listing.stock_item_id)
        before = _snapshot(listing, item.sku)
        listing.update_from_dict(changes)
        outbox.listing_changed(listing)
        await listing.save()
        after = _snapshot(listing, item.sku)
        changed = {k: v for k, v in before.items() if after[k] != v}
        audit = AuditLog(actor)
        audit.add(AuditKind.LISTING_UPDATED, AuditSubject.CHANNEL, listing.channel_id, listing.channel_sku,
                  before=changed, after={k: after[k] for k in changed})  # fmt: skip
        await audit.write()
    return listing


async def unlink_listing(listing_id: uuid.UUID, actor: Actor) -> None:
    """Stop listing a stock item under this channel SKU (order lines already linked stay linked)."""
    async with transaction():
        listing = await locked(Listing, listing_id, "Listing")
        item = await StockItem.get(id=listing.stock_item_id)
        await listing.delete()
        audit = AuditLog(actor)
        audit.add(AuditKind.LISTING_UNLINKED, AuditSubject.CHANNEL, listing.channel_id,
                  f"{listing.channel_sku} -> {item.sku}", before=_snapshot(listing, item.sku))  # fmt: skip
        await audit.write()

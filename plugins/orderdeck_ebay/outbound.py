"""What orderdeck tells eBay: quantities (bulkUpdatePriceQuantity) and dispatches
(createShippingFulfillment), one result per listing or note.

Quantities: a listing's ``channel_sku`` is its eBay inventory item SKU; each SKU's ship-to-home
quantity (below zero: 0) is set, 25 SKUs a call (eBay's limit; a SKU twice in one batch goes in
the next call). eBay answers 200 or 207 with one response per SKU: ``statusCode`` 200 is ok (its
``warnings``, if any, kept with the listing), anything else fails that listing alone with eBay's
``errors``. A call eBay refuses as a whole (400) fails its SKUs; auth, rate limits and
unavailability end the push (the batch is sent again later).

Dispatch, per note (the order is ``external_reference``, else the reference: eBay's orderId):
1. getOrder: unknown (400/404) or cancelled on eBay -> the note fails alone;
2. getShippingFulfillments when eBay has any: a fulfillment with the note's tracking number means
   the note was sent before (after a crash): ok, nothing sent again, the buyer told once;
3. createShippingFulfillment with the note's line items (all of the order's when the note names
   none) that eBay does not show as shipped yet: ``{lineItems: [{lineItemId, quantity}],
   shippedDate, shippingCarrierCode, trackingNumber}``; 201 with the new fulfillment's Location.
   Lines eBay shows as shipped already are not sent again (all of them: ok). eBay takes a carrier
   and a tracking number together or neither: a note without tracking sends neither, one without
   a carrier sends ``Other``. The carrier is eBay's code (``CARRIER_CODES``, then the channel's
   ``carrier_codes``; otherwise the name without spaces); the tracking number without spaces.
"""

from __future__ import annotations

import re
from typing import Any

from orderdeck.plugins.dto import DispatchNote, ItemResult, StockUpdate
from orderdeck.plugins.errors import PartnerDataError
from orderdeck_ebay import mapping
from orderdeck_ebay.client import MAX_PRICE_QUANTITY_REQUESTS, EbayClient, describe_errors

CARRIER_CODES = {
    "royalmail": "RoyalMail", "parcelforce": "Parcelforce", "parcelforceworldwide": "Parcelforce", "dpd": "DPD",
    "dhl": "DHL", "evri": "Hermes", "hermes": "Hermes", "yodel": "Yodel", "ups": "UPS", "usps": "USPS",
    "fedex": "FedEx", "tnt": "TNT", "gls": "GLS", "deutschepost": "DeutschePost", "colissimo": "Colissimo",
    "other": "Other",
}  # fmt: skip
"""eBay's shippingCarrierCode for common carrier names (lower case, letters and digits only)."""


def carrier_code(carrier: str, overrides: dict[str, str]) -> str:
    """eBay's code for a carrier's name: the channel's own mapping, the common ones, else the name."""
    if carrier in overrides:
        return overrides[carrier]
    key = re.sub(r"[^a-z0-9]", "", carrier.lower())
    return CARRIER_CODES.get(key) or re.sub(r"\s+", "", carrier) or "Other"


# Quantities


def _batches(updates: list[tuple[StockUpdate, str]]) -> list[list[tuple[StockUpdate, str]]]:
    """At most 25 updates a batch, no SKU twice in one."""
    batches: list[list[tuple[StockUpdate, str]]] = []
    for update, sku in updates:
        home = next((b for b in batches if len(b) < MAX_PRICE_QUANTITY_REQUESTS and all(s != sku for _, s in b)), None)
        if home is None:
            batches.append(home := [])
        home.append((update, sku))
    return batches


def _quantity_result(update: StockUpdate, sku: str, answer: dict[str, Any] | None) -> ItemResult:
    if answer is None:
        return ItemResult(update.listing_id, False, f"eBay gave no result for SKU {sku}")
    status = answer.get("statusCode")
    if isinstance(status, int) and 200 <= status < 300:
        warnings = describe_errors([w for w in answer.get("warnings") or [] if isinstance(w, dict)])
        return ItemResult(update.listing_id, True, f"SKU {sku}: {warnings}" if warnings else "")
    errors = describe_errors([e for e in answer.get("errors") or [] if isinstance(e, dict)]) or "no reason given"
    return ItemResult(update.listing_id, False, f"SKU {sku}: statusCode {status}: {errors}")


async def push_quantities(client: EbayClient, updates: list[StockUpdate]) -> list[ItemResult]:
    """One result per update (see the module docstring)."""
    outcome: dict[str, ItemResult] = {}
    ready = []
    for update in updates:
        sku = update.channel_sku.strip()
        if sku:
            ready.append((update, sku))
        else:
            outcome[update.listing_id] = ItemResult(update.listing_id, False, "the listing has no SKU (eBay's inventory is by SKU)")
    for batch in _batches(ready):
        try:
            answers = await client.bulk_update_quantities([(sku, max(0, update.quantity)) for update, sku in batch])
        except PartnerDataError as exc:
            outcome.update({u.listing_id: ItemResult(u.listing_id, False, str(exc)) for u, _ in batch})
            continue
        by_sku: dict[str, dict[str, Any]] = {}
        for answer in answers:
            if isinstance(answer.get("sku"), str) and not answer.get("offerId"):
                by_sku.setdefault(answer["sku"], answer)
        for update, sku in batch:
            outcome[update.listing_id] = _quantity_result(update, sku, by_sku.get(sku))
    return [outcome[update.listing_id] for update in updates]


# Dispatch


async def dispatch(client: EbayClient, note: DispatchNote, carriers: dict[str, str]) -> ItemResult:
    """Tell eBay one note's order shipped (see the module docstring)."""
    order_id = note.external_reference or note.order_reference
    failed = lambda reason: ItemResult(note.dispatch_id, False, reason)  # noqa: E731
    try:
        order = await client.get_order(order_id)
    except PartnerDataError as exc:
        return failed(f"eBay has no order {order_id}: {exc}")
    if mapping.order_status(order) == "CANCELED":
        return failed(f"order {order_id} is cancelled on eBay")
    items = {str(i.get("lineItemId")): i for i in order.get("lineItems") or [] if isinstance(i, dict)}
    tracking = "".join(note.tracking_number.split())
    shipped_any = any(i.get("lineItemFulfillmentStatus") != "NOT_STARTED" for i in items.values())
    if tracking and (order.get("fulfillmentHrefs") or shipped_any):
        existing = await client.get_fulfillments(order_id)
        if any(f.get("shipmentTrackingNumber") == tracking for f in existing):
            return ItemResult(note.dispatch_id, True)  # sent before: the buyer is told once
    wanted = [(line.line_id, line.quantity) for line in note.lines] or [
        (line_id, i.get("quantity") or 1) for line_id, i in items.items()]  # fmt: skip
    unknown = [line_id for line_id, _ in wanted if line_id not in items]
    if unknown:
        return failed(f"order {order_id} on eBay has no line items {', '.join(unknown)}")
    to_ship = [(line_id, quantity) for line_id, quantity in wanted
               if items[line_id].get("lineItemFulfillmentStatus") != "FULFILLED"]  # fmt: skip
    if not to_ship:
        return ItemResult(note.dispatch_id, True)  # eBay shows every line shipped already
    details: dict[str, Any] = {"lineItems": [{"lineItemId": line_id, "quantity": quantity} for line_id, quantity in to_ship],
                               "shippedDate": mapping.format_date(note.shipped_at)}  # fmt: skip
    if tracking:
        details["shippingCarrierCode"] = carrier_code(note.carrier or "Other", carriers)
        details["trackingNumber"] = tracking
    try:
        await client.create_fulfillment(order_id, details)
    except PartnerDataError as exc:
        return failed(str(exc))
    return ItemResult(note.dispatch_id, True)

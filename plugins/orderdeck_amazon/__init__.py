"""orderdeck's Amazon channel (Selling Partner API), a plugin package like any third-party one.

Registered in pyproject.toml as ``[project.entry-points.orderdeck] amazon = "orderdeck_amazon"``;
this module holds the settings and the hook implementations, ``client`` the API calls (Login with
Amazon tokens, usage plans), ``mapping`` the translation to orderdeck's DTOs, ``solicitations`` the
follow-up on a sale and ``sandbox`` an emulated seller account (offered through
``orderdeck_register_sandboxes``).

Download cursor
---------------
Orders v0 ``getOrders`` by ``LastUpdatedAfter``. The cursor is ``"<LastUpdatedAfter>"`` or
``"<LastUpdatedAfter>|<NextToken>"``: a *window* of changes, from LastUpdatedAfter to the
``LastUpdatedBefore`` Amazon fixes on the window's first request (two minutes before it, so that
changes still being written are left to the next window), walked with NextToken pages.

Each call (one OrderPage) asks for one page (``MaxResultsPerPage`` = page_size, at most 100):
- with a NextToken, the window's next page; the cursor stays ``after|<the next NextToken>`` while
  more follow (has_more);
- on the window's last page (no NextToken), the cursor becomes the window's end,
  ``<LastUpdatedBefore>``, where the next window starts (has_more is False: what changes from now
  on comes on a later run).

A page asked again (the cursor is stored only once a page is written) is asked with the same
NextToken, and answers the same orders; a NextToken Amazon no longer takes is dropped and the
window read again from its start: orders handed over again are updates, never duplicates. An
order changed after its window is handed over again in a later window. The first download (no
cursor) starts ``first_download_days`` ago.

Items: ``getOrderItems`` (with its own NextToken pages) for each order of the page, except those
nothing would be read from: cancelled ones and shipped ones the seller fulfilled
(``mapping.needs_items``; each saves a call at 0.5 a second).

Follow-up on a sale
-------------------
Amazon's Solicitations API asks the buyer for a product review and seller feedback, once per
order, 5 to 30 days after delivery: see ``solicitations``.
"""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from orderdeck.plugins.connectors import ChannelConnector, Connection, FulfilmentConnector
from orderdeck.plugins.dto import (
    ChannelOrder,
    ConnectionResult,
    DispatchLine,
    DispatchNote,
    FollowUp,
    ItemResult,
    OrderPage,
    StatusMapping,
    StockUpdate,
)
from orderdeck.plugins.errors import PartnerAuthError, PartnerDataError, PartnerError, PartnerUnreadable
from orderdeck.plugins.hookspecs import hookimpl
from orderdeck.plugins.sandbox import Sandbox
from orderdeck.plugins.toolkit import http_address
from orderdeck_amazon import mapping, solicitations
from orderdeck_amazon.client import OPERATION_RATES, REGIONS, TOKEN_URL, AmazonClient, Credentials, seller_account
from orderdeck_amazon.sandbox import SANDBOX

__version__ = "0.1.0"


class OperationRate(BaseModel):
    """A usage plan: requests a second and burst."""

    rate: float = Field(gt=0, le=10_000)
    burst: int = Field(ge=1, le=100_000)


class AmazonSettings(BaseModel):
    """An Amazon seller account: the selling region and marketplaces, and a Login with Amazon app
    (Seller Central > Develop Apps) the seller authorised, with its refresh token."""

    region: Literal["na", "eu", "fe"] = Field("na", description="Selling region: na (North America), eu (Europe), fe (Far East)")
    marketplace_ids: list[str] = Field(min_length=1, description="Marketplaces to sell in, e.g. A1F83G8C2ARO7P (UK)")
    seller_id: str = Field(min_length=1, description="The merchant token (Seller Central > Account info)")
    client_id: str = Field(min_length=1, description="LWA client identifier (amzn1.application-oa2-client...)")
    client_secret: SecretStr = Field(description="LWA client secret")
    refresh_token: SecretStr = Field(description="The seller's LWA refresh token (Atzr|...)")
    endpoint: str | None = Field(None, description="SP-API endpoint instead of the region's (e.g. a sandbox)")
    token_url: str | None = Field(None, description="LWA token URL instead of Amazon's (e.g. a sandbox)")
    product_type: str = Field("PRODUCT", min_length=1, description="productType of the listing patches that set quantities")
    first_download_days: int = Field(30, ge=1, le=730, description="How far back the first download reaches")
    timeout_seconds: float = Field(30.0, gt=0, le=120, description="Longest wait for one answer from Amazon")
    rate_overrides: dict[str, OperationRate] = Field(
        default_factory=dict, description="Usage plans Amazon raised for this seller, by operation (else its defaults)")

    @field_validator("marketplace_ids")
    @classmethod
    def _marketplaces(cls, value: list[str]) -> list[str]:
        cleaned = [item.strip() for item in value if item.strip()]
        if not cleaned or any(not re.fullmatch(r"[A-Z0-9]{5,20}", item) for item in cleaned):
            raise ValueError("must be Amazon marketplace ids, e.g. ATVPDKIKX0DER")
        return cleaned

    @field_validator("endpoint", "token_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return (http_address(value, required=False) or None) if value is not None else None  # blank: Amazon's own

    @field_validator("rate_overrides")
    @classmethod
    def _operations(cls, value: dict[str, OperationRate]) -> dict[str, OperationRate]:
        unknown = sorted(set(value) - set(OPERATION_RATES))
        if unknown:
            raise ValueError(f"unknown operations {unknown}; one of {sorted(OPERATION_RATES)}")
        return value


def _client(connection: Connection[AmazonSettings]) -> AmazonClient:
    settings = connection.settings
    credentials = Credentials(settings.client_id, settings.client_secret.get_secret_value(),
                              settings.refresh_token.get_secret_value())  # fmt: skip
    endpoint = settings.endpoint or REGIONS[settings.region]
    return AmazonClient(
        endpoint, settings.token_url or TOKEN_URL, credentials, cache_key=connection.connection_id,
        limit_key=seller_account(endpoint, settings.seller_id, settings.client_id), timeout=settings.timeout_seconds,
        rates={op: (plan.rate, plan.burst) for op, plan in settings.rate_overrides.items()},
    )  # fmt: skip


# Downloading orders


def encode_cursor(after: str, next_token: str | None = None) -> str:
    return f"{after}|{next_token}" if next_token else after


def decode_cursor(cursor: str) -> tuple[str, str | None]:
    after, _, next_token = cursor.partition("|")
    try:
        return mapping.iso(mapping.parse_date(after)), next_token or None
    except ValueError:
        raise PartnerDataError(f"unreadable Amazon download cursor: {cursor!r}") from None


def _orders_of(payload: dict[str, Any]) -> list[Any]:
    orders = payload.get("Orders")
    if not isinstance(orders, list):
        raise PartnerUnreadable(f"getOrders: Orders is not a list: {str(orders)[:200]}")
    return orders


def _window_end(payload: dict[str, Any], orders: list[Any], after: str) -> str:
    """Where the next window starts: the LastUpdatedBefore Amazon applied, else the latest change
    seen, else where this one started."""
    try:
        return mapping.iso(mapping.parse_date(payload.get("LastUpdatedBefore")))
    except ValueError:
        pass
    seen = [after]
    for raw in orders:
        try:
            seen.append(mapping.iso(mapping.parse_date(raw.get("LastUpdateDate"))))
        except (ValueError, AttributeError):
            continue
    return max(seen)


# Dispatch


def package_reference(dispatch_id: str) -> str:
    """confirmShipment's packageReferenceId (positive digits) for a dispatch, the same every time."""
    return str(int(hashlib.sha256(dispatch_id.encode()).hexdigest()[:12], 16) % 999_999_999 + 1)


def _remaining(item: dict[str, Any]) -> int:
    ordered, shipped = item.get("QuantityOrdered"), item.get("QuantityShipped") or 0
    if not isinstance(ordered, int) or not isinstance(shipped, int):
        return 0
    return max(0, ordered - shipped)


def _package_lines(note: DispatchNote, items: list[dict[str, Any]]) -> list[DispatchLine] | str:
    """The lines of the note still to confirm (those whose quantity is still unshipped), or why the
    note cannot be confirmed. No lines given: every unshipped quantity."""
    by_id = {str(item.get("OrderItemId")): item for item in items}
    if not note.lines:
        return [DispatchLine(item_id, _remaining(item)) for item_id, item in by_id.items() if _remaining(item) > 0]
    unknown = [line.line_id for line in note.lines if line.line_id not in by_id]
    if unknown:
        return f"order {note.order_reference} has no item {', '.join(unknown)}"
    # A line already confirmed (its quantity no longer fits what is unshipped) was sent before.
    return [line for line in note.lines if 0 < line.quantity <= _remaining(by_id[line.line_id])]


async def _dispatch(client: AmazonClient, note: DispatchNote, marketplace: str) -> ItemResult:
    """One note: see ``Amazon.send_dispatches``; ``marketplace``: where an order that does not
    name its own was sold."""
    order_id = note.order_reference or note.external_reference
    try:
        order = await client.get_order(order_id)
        status = order.get("OrderStatus")
        if mapping.map_status(str(status)).shipped:
            return ItemResult(note.dispatch_id, True)  # confirmed before (or shipped in Seller Central)
        if order.get("FulfillmentChannel") == "AFN":
            return ItemResult(note.dispatch_id, False, f"Amazon fulfils order {order_id} (FBA): it confirms the shipment itself")
        if status not in ("Unshipped", "PartiallyShipped"):
            return ItemResult(note.dispatch_id, False, f"order {order_id} is {status} on Amazon: it cannot be shipped")
        lines = _package_lines(note, await client.get_order_items(order_id))
        if isinstance(lines, str):
            return ItemResult(note.dispatch_id, False, lines)
        if not lines:
            return ItemResult(note.dispatch_id, True)  # every line was confirmed before
        await client.confirm_shipment(order_id, {
            "marketplaceId": order.get("MarketplaceId") or marketplace,
            "packageDetail": {
                "packageReferenceId": package_reference(note.dispatch_id),
                "carrierCode": note.carrier or "Other",
                **({"carrierName": note.carrier} if note.carrier else {}),
                **({"shippingMethod": note.service} if note.service else {}),
                "trackingNumber": note.tracking_number,
                "shipDate": mapping.iso(note.shipped_at),
                "orderItems": [{"orderItemId": line.line_id, "quantity": line.quantity} for line in lines],
            },
        })  # fmt: skip
    except PartnerDataError as exc:
        return ItemResult(note.dispatch_id, False, str(exc))
    return ItemResult(note.dispatch_id, True)


# Stock


def quantity_patch(product_type: str, quantity: int) -> dict[str, Any]:
    """The patchListingsItem body setting a listing's quantity (the seller-fulfilled DEFAULT channel)."""
    value = [{"fulfillment_channel_code": "DEFAULT", "quantity": max(0, quantity)}]
    return {"productType": product_type,
            "patches": [{"op": "replace", "path": "/attributes/fulfillment_availability", "value": value}]}  # fmt: skip


def listing_result(update: StockUpdate, answer: dict[str, Any]) -> ItemResult:
    """A patchListingsItem answer as the update's result: ACCEPTED is ok; otherwise the status and
    the issues Amazon gave (code, message, the attributes they concern) are the error."""
    status = answer.get("status")
    issues = answer.get("issues") if isinstance(answer.get("issues"), list) else []
    errors = [issue for issue in issues if isinstance(issue, dict) and issue.get("severity") == "ERROR"]
    if status == "ACCEPTED" and not errors:
        return ItemResult(update.listing_id, True)
    described = []
    for issue in errors or [i for i in issues if isinstance(i, dict)]:
        text = f"{issue.get('code', '')}: {issue.get('message', '')}"
        if issue.get("attributeNames"):
            text += f" ({', '.join(map(str, issue['attributeNames']))})"
        described.append(text)
    reason = "; ".join(described) or "no issues given"
    return ItemResult(update.listing_id, False, f"Amazon answered {status or 'no status'} for SKU {update.channel_sku}: {reason}")


class Amazon(ChannelConnector):
    """Amazon seller accounts over the Selling Partner API: orders (v0), quantities (Listings
    Items), shipment confirmations and review requests (Solicitations)."""

    name = "amazon"
    title = "Amazon"
    version = __version__
    description = ("Amazon seller accounts over the Selling Partner API: orders, listing quantities, shipment "
                   "confirmations and review requests.")  # fmt: skip
    settings = AmazonSettings
    source = "AMAZON"
    fulfilment_connector = "amazon_fba"  # FBA: each channel comes with its FBA centre and location (fba.py)
    stock_batch_size = 20  # patchListingsItem: one call per SKU, 5 a second
    dispatch_batch_size = 10  # getOrder, getOrderItems and confirmShipment per note
    follow_up_batch_size = 10  # two Solicitations calls an order, each 1 a second (burst 5): ~15 s a batch

    async def test_connection(self, connection: Connection[AmazonSettings]) -> ConnectionResult:
        """A token from LWA, then one getOrders of the last day (one order): the app is authorised
        and the marketplaces are the seller's."""
        since = mapping.iso(datetime.now(UTC) - timedelta(days=1))
        try:
            async with _client(connection) as client:
                await client.get_orders(connection.settings.marketplace_ids, last_updated_after=since, max_results=1)
        except PartnerAuthError as exc:
            return ConnectionResult(False, f"Amazon refused the credentials (LWA app or refresh token): {exc}")
        except (PartnerDataError, PartnerUnreadable) as exc:
            return ConnectionResult(False, f"Amazon refused the request (check the marketplace ids and endpoint): {exc}")
        except PartnerError as exc:
            return ConnectionResult(False, f"Could not reach Amazon: {exc}")
        marketplaces = ", ".join(connection.settings.marketplace_ids)
        return ConnectionResult(True, f"Connected to Amazon as seller {connection.settings.seller_id} ({marketplaces}).")

    async def download_orders(self, connection: Connection[AmazonSettings], cursor: str | None, page_size: int) -> OrderPage:
        """The next page of the window the cursor names (see the module docstring)."""
        settings = connection.settings
        if cursor:
            after, next_token = decode_cursor(cursor)
        else:
            after, next_token = mapping.iso(datetime.now(UTC) - timedelta(days=settings.first_download_days)), None
        orders: list[ChannelOrder] = []
        rejected: list[tuple[str, str]] = []
        async with _client(connection) as client:
            ask = {"last_updated_after": after, "max_results": page_size}
            try:
                payload = await client.get_orders(settings.marketplace_ids, next_token=next_token, **ask)
            except PartnerDataError:
                if next_token is None:
                    raise
                next_token = None  # a NextToken Amazon no longer takes: the window again from its start
                payload = await client.get_orders(settings.marketplace_ids, **ask)
            found = _orders_of(payload)
            for raw in found:
                reference = str(raw.get("AmazonOrderId") or "") if isinstance(raw, dict) else ""
                try:
                    items = await client.get_order_items(reference) if reference and mapping.needs_items(raw) else None
                    orders.append(mapping.map_order(raw, items))
                except mapping.RejectedOrder as exc:
                    rejected.append((exc.reference, exc.reason))
                except PartnerDataError as exc:  # Amazon refused this order's items alone
                    rejected.append((reference, f"its items could not be read: {exc}"))
        following = payload.get("NextToken") or None
        if following:
            return OrderPage(orders, encode_cursor(after, str(following)), True, rejected)
        return OrderPage(orders, encode_cursor(_window_end(payload, found, after)), False, rejected)

    def map_status(self, connection: Connection[AmazonSettings], order: ChannelOrder) -> StatusMapping:
        """Amazon's OrderStatus (``mapping.STATUS_MAPPINGS``)."""
        return mapping.map_status(order.status)

    async def push_stock(self, connection: Connection[AmazonSettings], updates: list[StockUpdate]) -> list[ItemResult]:
        """One patchListingsItem per SKU setting ``fulfillment_availability`` (DEFAULT channel) in the
        connection's marketplaces; quantities below zero are published as 0. A SKU Amazon answers
        INVALID (unknown SKU, refused attributes) or refuses (4xx) fails alone, its issues the error."""
        settings = connection.settings
        results: list[ItemResult] = []
        async with _client(connection) as client:
            for update in updates:
                if not update.channel_sku:
                    results.append(ItemResult(update.listing_id, False, "the listing has no seller SKU"))
                    continue
                try:
                    answer = await client.patch_listing(settings.seller_id, update.channel_sku, settings.marketplace_ids,
                                                        quantity_patch(settings.product_type, update.quantity))  # fmt: skip
                except PartnerDataError as exc:
                    results.append(ItemResult(update.listing_id, False, f"SKU {update.channel_sku}: {exc}"))
                    continue
                results.append(listing_result(update, answer))
        return results

    async def send_dispatches(self, connection: Connection[AmazonSettings], notes: list[DispatchNote]) -> list[ItemResult]:
        """Per note: getOrder (a shipped order was confirmed before: ok; a cancelled, unpaid or FBA
        one fails), getOrderItems, then one confirmShipment of the package (carrier, tracking, ship
        date, the items and quantities still unshipped). A note sent again confirms nothing twice."""
        async with _client(connection) as client:
            return [await _dispatch(client, note, connection.settings.marketplace_ids[0]) for note in notes]


    async def follow_up(self, connection: Connection[AmazonSettings], requests: list[FollowUp]) -> list[ItemResult]:
        """Per order, getSolicitationActionsForOrder in its marketplace; when Amazon offers
        productReviewAndSellerFeedback, createProductReviewAndSellerFeedbackSolicitation (the buyer
        is asked for a product review and seller feedback). Not offered (too early, too late, asked
        before, not eligible), unknown to Amazon, or refused with a 403 right after the offer: a
        failed result saying so. A call failing as a whole raises (the batch is asked again later;
        orders asked in between are then refused as asked before)."""
        async with _client(connection) as client:
            return [await solicitations.follow_up(client, request, connection.settings.marketplace_ids)
                    for request in requests]


@hookimpl
def orderdeck_register_connectors() -> list[ChannelConnector | FulfilmentConnector]:
    """The Amazon channel and its FBA centre (``orderdeck_amazon.fba``)."""
    from orderdeck_amazon.fba import AmazonFba  # it builds on this module's settings

    return [Amazon(), AmazonFba()]


@hookimpl
def orderdeck_register_sandboxes() -> list[Sandbox]:
    """The emulated seller account (``orderdeck sandbox amazon``, the tests)."""
    return [SANDBOX]

"""orderdeck's WooCommerce channel (REST API v3), a plugin package like any third-party one.

Registered in pyproject.toml as ``[project.entry-points.orderdeck] woocommerce =
"orderdeck_woocommerce"``; this module holds the hook implementations, ``client`` the API calls,
``mapping`` the translation to orderdeck's DTOs and ``sandbox`` an emulated shop (offered through
``orderdeck_register_sandboxes``).

Download cursor
---------------
The cursor is ``"<date_modified_gmt>|<id>"`` of the last order handed to orderdeck, e.g.
``"2024-05-01T10:00:00|1234"`` (WooCommerce's GMT format, one-second resolution). It means: every
order at or before that position in WooCommerce's ``orderby=modified&order=asc`` order — a total
order on (date_modified_gmt, id), since WooCommerce sorts by ID second — has been handed over.

Each call (one OrderPage):
1. Asks for page 1 of the orders modified at or after the cursor's second (``modified_after`` =
   that second minus one, because ``modified_after`` is exclusive; ``dates_are_gmt=true``),
   100 per page, and drops the orders at or before the cursor position (same second, id <= the
   cursor's id). Always page 1 from the cursor, never page N: offset paging while orders change
   would skip orders that move between pages.
2. If that whole page is in the cursor's second and more pages follow (over 100 orders share the
   second), reads the rest of that one second by id (``modified_after``/``modified_before``
   around it, ``orderby=id``), keeping ids above the cursor's, restarting if X-WP-Total changes
   between its pages; then continues with the orders strictly after that second.
3. Holds back orders modified within the last ``SETTLE_SECONDS`` seconds of the shop's clock (its
   Date header): later writes may still get that same second with a lower id, which a cursor past
   them would skip. Those orders come on the next run (has_more is False when held back).
4. Returns at most ``page_size`` orders (accepted plus rejected) in that order; the cursor is the
   position of the last one; has_more says whether more are ready now.

An order changed after it was handed over moves behind the cursor and is handed over again (an
update, not a duplicate); an order that has not been handed over yet is never skipped.

The first download (no cursor) reads all orders of the downloaded statuses (see
``mapping.DOWNLOAD_STATUSES``), oldest change first.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, SecretStr, field_validator

from orderdeck.plugins.connectors import ChannelConnector, Connection
from orderdeck.plugins.dto import (
    ChannelOrder,
    ConnectionResult,
    DispatchNote,
    ItemResult,
    OrderPage,
    StatusMapping,
    StockUpdate,
)
from orderdeck.plugins.errors import (
    PartnerAuthError,
    PartnerDataError,
    PartnerError,
    PartnerUnavailable,
    PartnerUnreadable,
)
from orderdeck.plugins.hookspecs import hookimpl
from orderdeck.plugins.sandbox import Sandbox
from orderdeck.plugins.toolkit import TrustedCertificate, http_address
from orderdeck_woocommerce import mapping
from orderdeck_woocommerce.client import MAX_BATCH, MAX_PER_PAGE, WooCommerceClient, gmt
from orderdeck_woocommerce.sandbox import SANDBOX

__version__ = "0.1.0"

SETTLE_SECONDS = 1
"""Orders modified in the shop's current second or the SETTLE_SECONDS before it wait for the next
run (see the module docstring, step 3)."""
TIE_RESTARTS = 3
CANCELLED_STATUSES = {"cancelled", "refunded", "failed", "trash"}


class WooCommerceSettings(BaseModel):
    """A WooCommerce channel: the shop and a REST API key (WooCommerce > Settings > Advanced >
    REST API; Read/Write permission)."""

    url: str = Field(description="The shop's address, e.g. https://shop.example.com (over http:// requests are "
                                 "signed with OAuth 1.0a, but orders travel unencrypted)")
    consumer_key: str = Field(min_length=1, description="REST API consumer key (ck_...)")
    consumer_secret: SecretStr = Field(description="REST API consumer secret (cs_...)")
    trusted_certificate: TrustedCertificate = Field(
        None, description="A PEM certificate to trust instead of the public CAs (a shop with a self-signed certificate)"
    )
    requests_per_second: float = Field(5.0, gt=0, le=100, description="Most API requests a second")
    timeout_seconds: float = Field(20.0, ge=1, le=120, description="Longest wait for one answer from the shop")

    @field_validator("url")
    @classmethod
    def _shop_url(cls, value: str) -> str:
        return http_address(value, "the shop's http(s) address, e.g. https://shop.example.com")

    @field_validator("consumer_key")
    @classmethod
    def _key(cls, value: str) -> str:
        return value.strip()


def _client(connection: Connection[WooCommerceSettings]) -> WooCommerceClient:
    settings = connection.settings
    return WooCommerceClient(
        settings.url,
        settings.consumer_key,
        settings.consumer_secret.get_secret_value(),
        trusted_certificate=settings.trusted_certificate,
        rate=settings.requests_per_second,
        timeout=settings.timeout_seconds,
        limit_key=connection.connection_id,  # one budget per shop, shared by every call and worker
    )


# Downloading orders


def encode_cursor(position: tuple[datetime, int]) -> str:
    return f"{gmt(position[0])}|{position[1]}"


def decode_cursor(cursor: str) -> tuple[datetime, int]:
    try:
        moment, _, identifier = cursor.partition("|")
        return mapping.parse_gmt(moment), int(identifier)
    except ValueError:
        raise PartnerDataError(f"unreadable WooCommerce download cursor: {cursor!r}") from None


def _horizon(server_time: datetime | None) -> datetime:
    """Orders modified at or after this moment are held back (see SETTLE_SECONDS)."""
    now = server_time or datetime.now(UTC)
    return now.replace(microsecond=0) - timedelta(seconds=SETTLE_SECONDS)


def _select(
    items: list[dict[str, Any]], cursor: tuple[datetime, int] | None, horizon: datetime
) -> tuple[list[dict[str, Any]], bool]:
    """The orders of a page (sorted by position) after ``cursor`` and before ``horizon``, and
    whether any were held back. Orders without a readable position (no id or modified date) go
    with their neighbours: dropped while still at or before the cursor, kept after it."""
    fresh: list[dict[str, Any]] = []
    for item in items:
        position = mapping.order_position(item)
        if position is None:
            if fresh or cursor is None:
                fresh.append(item)
            continue
        if cursor is not None and position <= cursor:
            continue
        if position[0] >= horizon:
            return fresh, True
        fresh.append(item)
    return fresh, False


async def _rest_of_second(client: WooCommerceClient, cursor: tuple[datetime, int], limit: int) -> list[dict[str, Any]]:
    """Orders modified in the cursor's second with an id above the cursor's, by id (at most
    ``limit`` + 1, so the caller knows whether more follow)."""
    second, last_id = cursor
    for _ in range(TIE_RESTARTS):
        found: list[dict[str, Any]] = []
        total, page_number = None, 1
        while True:
            page = await client.list_orders(
                mapping.DOWNLOAD_STATUSES,
                modified_after=second - timedelta(seconds=1),
                modified_before=second + timedelta(seconds=1),
                orderby="id",
                order="asc",
                page=page_number,
            )
            if total is not None and page.total != total:
                break  # an order left (or joined) the second between pages: read it again
            total = page.total
            for item in page.items:
                identifier = mapping.order_id(item)
                if identifier is not None and identifier > last_id:
                    found.append(item)
            if len(found) > limit or not page.has_next:
                return found
            page_number += 1
    raise PartnerUnavailable("WooCommerce orders kept changing while reading them; try again")


# Stock


async def _resolve_products(client: WooCommerceClient, updates: list[StockUpdate]) -> dict[str, int | str]:
    """Each update's WooCommerce product id (from its channel reference, else by SKU), or the
    reason there is none."""
    resolved: dict[str, int | str] = {}
    by_sku: dict[str, list[StockUpdate]] = {}
    for update in updates:
        reference = update.channel_reference.strip()
        if reference:
            resolved[update.listing_id] = (
                int(reference) if reference.isdigit() else f"not a WooCommerce product id: {reference!r}"
            )
        elif update.channel_sku:
            by_sku.setdefault(update.channel_sku, []).append(update)
        else:
            resolved[update.listing_id] = "the listing has neither a product id nor a SKU"
    # SKUs with a comma are looked up alone (WooCommerce reads "a,b" as a list and as one SKU).
    plain = [sku for sku in by_sku if "," not in sku]
    groups = [plain[i : i + MAX_PER_PAGE] for i in range(0, len(plain), MAX_PER_PAGE)]
    groups += [[sku] for sku in by_sku if "," in sku]
    for group in groups:
        try:
            products = await client.find_products_by_sku(group)
        except PartnerDataError as exc:  # this lookup failed; the other groups may not
            for sku in group:
                for update in by_sku[sku]:
                    resolved[update.listing_id] = f"looking up SKU {sku} failed: {exc}"
            continue
        for sku in group:
            matches = [p for p in products if p.get("sku") == sku]
            simple = [p for p in matches if p.get("type") != "variation" and isinstance(p.get("id"), int)]
            if simple:
                outcome: int | str = simple[0]["id"]
            elif matches:
                outcome = f"SKU {sku} is a product variation; variations are not supported yet"
            else:
                outcome = f"no WooCommerce product has SKU {sku}"
            for update in by_sku[sku]:
                resolved[update.listing_id] = outcome
    return resolved


def _stock_result(update: StockUpdate, product_id: int, answer: dict[str, Any] | None) -> ItemResult:
    if answer is None:
        return ItemResult(update.listing_id, False, f"WooCommerce did not answer for product {product_id}")
    error = answer.get("error")
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        code = error.get("code", "") if isinstance(error, dict) else ""
        return ItemResult(update.listing_id, False, f"product {product_id}: {message} ({code})".replace(" ()", ""))
    if answer.get("id") != product_id:
        answered = answer.get("id")
        return ItemResult(update.listing_id, False, f"WooCommerce answered for product {answered}, not {product_id}")
    return ItemResult(update.listing_id, True)


# Dispatch


def tracking_note(note: DispatchNote) -> str:
    """The customer note telling the buyer how the order shipped."""
    carrier = note.carrier or note.service
    text = f"Shipped with {carrier}" if carrier else "Shipped"
    if note.tracking_number:
        text += f", tracking {note.tracking_number}"
    return text


async def _dispatch(client: WooCommerceClient, note: DispatchNote) -> ItemResult:
    order_id = note.external_reference or note.order_reference
    if not order_id.isdigit():
        return ItemResult(note.dispatch_id, False, f"no WooCommerce order id for order {note.order_reference}")
    try:
        order = await client.get_order(order_id)
        if note.order_reference and str(order.get("number", order_id)) != note.order_reference:
            number = order.get("number")
            mismatch = f"WooCommerce order {order_id} is number {number}, not {note.order_reference}"
            return ItemResult(note.dispatch_id, False, mismatch)
        status = order.get("status")
        if status in CANCELLED_STATUSES:
            return ItemResult(note.dispatch_id, False, f"order {note.order_reference} is {status} in WooCommerce")
        text = tracking_note(note)
        # A retried dispatch must not mail the buyer twice: add the note only if it is not there.
        notes = await client.list_order_notes(order_id)
        if not any(existing.get("note") == text for existing in notes):
            await client.add_order_note(order_id, text, customer_note=True)
        if status != "completed":
            await client.update_order(order_id, {"status": "completed"})
    except PartnerDataError as exc:
        return ItemResult(note.dispatch_id, False, str(exc))
    return ItemResult(note.dispatch_id, True)


class WooCommerce(ChannelConnector):
    """WooCommerce shops over the REST API v3: orders, stock levels and dispatch (tracking notes)."""

    name = "woocommerce"
    title = "WooCommerce"
    version = __version__
    description = "WooCommerce shops over the REST API v3: orders, stock levels and dispatch (tracking notes)."
    settings = WooCommerceSettings
    source = "WOOCOMMERCE"
    stock_batch_size = MAX_BATCH
    dispatch_batch_size = 20

    async def test_connection(self, connection: Connection[WooCommerceSettings]) -> ConnectionResult:
        """One order asked for: the key is accepted and the API answers as WooCommerce's."""
        try:
            async with _client(connection) as client:
                page = await client.list_orders([], orderby="id", order="desc", per_page=1)
        except PartnerAuthError as exc:
            return ConnectionResult(False, f"WooCommerce refused the consumer key and secret: {exc}")
        except (PartnerDataError, PartnerUnreadable) as exc:
            return ConnectionResult(False, f"This does not answer as a WooCommerce REST API (v3): {exc}")
        except PartnerError as exc:
            return ConnectionResult(False, f"Could not reach the shop: {exc}")
        count = f"{page.total} orders" if page.total >= 0 else "orders"
        return ConnectionResult(True, f"Connected to WooCommerce: {count} visible.")

    async def download_orders(self, connection: Connection[WooCommerceSettings], cursor: str | None, page_size: int) -> OrderPage:
        """The next orders after the cursor (see the module docstring)."""
        limit = max(1, page_size)
        position = decode_cursor(cursor) if cursor else None
        async with _client(connection) as client:
            page = await client.list_orders(
                mapping.DOWNLOAD_STATUSES,
                modified_after=position[0] - timedelta(seconds=1) if position else None,
                per_page=MAX_PER_PAGE,
            )
            horizon = _horizon(page.server_time)
            fresh, held = _select(page.items, position, horizon)
            more = page.has_next and not held
            last = mapping.order_position(page.items[-1]) if page.items else None
            if position is not None and more and len(fresh) < limit and last is not None and last[0] == position[0]:
                # The whole answer is in the cursor's second and more follow: read the rest of that
                # second by id, then what comes after it.
                seen = max([position[1], *(mapping.order_id(item) or 0 for item in fresh)])
                fresh += await _rest_of_second(client, (position[0], seen), limit - len(fresh))
                if len(fresh) <= limit:
                    after = await client.list_orders(
                        mapping.DOWNLOAD_STATUSES, modified_after=position[0], per_page=MAX_PER_PAGE
                    )
                    later, held = _select(after.items, None, horizon)
                    fresh += later
                    more = after.has_next and not held
        chosen = fresh[:limit]
        has_more = len(fresh) > limit or more

        orders: list[ChannelOrder] = []
        rejected: list[tuple[str, str]] = []
        for raw in chosen:
            try:
                orders.append(mapping.map_order(raw))
            except mapping.RejectedOrder as exc:
                rejected.append((exc.reference, exc.reason))
            found = mapping.order_position(raw)
            if found is not None:
                position = found
        return OrderPage(
            orders=orders,
            cursor=encode_cursor(position) if position else cursor,
            has_more=has_more and bool(chosen),
            rejected=rejected,
        )

    def map_status(self, connection: Connection[WooCommerceSettings], order: ChannelOrder) -> StatusMapping:
        """WooCommerce's status names (``mapping.map_status``)."""
        return mapping.map_status(order.status)

    async def push_stock(self, connection: Connection[WooCommerceSettings], updates: list[StockUpdate]) -> list[ItemResult]:
        """Quantities below zero are published as 0. One batch call per 100 products; a product
            WooCommerce refuses fails alone."""
        outcome: dict[str, ItemResult] = {}
        async with _client(connection) as client:
            targets = await _resolve_products(client, updates)
            ready = []
            for update in updates:
                target = targets[update.listing_id]
                if isinstance(target, str):
                    outcome[update.listing_id] = ItemResult(update.listing_id, False, target)
                else:
                    ready.append((update, target))
            for start in range(0, len(ready), MAX_BATCH):
                chunk = ready[start : start + MAX_BATCH]
                try:
                    answers = await client.batch_update_stock([(pid, max(0, u.quantity)) for u, pid in chunk])
                except PartnerDataError as exc:
                    for update, _ in chunk:
                        outcome[update.listing_id] = ItemResult(update.listing_id, False, str(exc))
                    continue
                for index, (update, product_id) in enumerate(chunk):
                    answer = answers[index] if index < len(answers) else None
                    outcome[update.listing_id] = _stock_result(update, product_id, answer)
        return [outcome[update.listing_id] for update in updates]

    async def send_dispatches(
        self, connection: Connection[WooCommerceSettings], notes: list[DispatchNote]
    ) -> list[ItemResult]:
        """Per order: a customer note "Shipped with CARRIER, tracking NUMBER" (once), then status
        completed. WooCommerce has no partial shipments: every dispatch completes its order. An
        order WooCommerce refuses (unknown, cancelled) fails alone; auth, rate-limit and
        availability errors end the call (retrying is safe: notes are not repeated)."""
        async with _client(connection) as client:
            return [await _dispatch(client, note) for note in notes]


@hookimpl
def orderdeck_register_connectors() -> list[ChannelConnector]:
    """The WooCommerce channel."""
    return [WooCommerce()]


@hookimpl
def orderdeck_register_sandboxes() -> list[Sandbox]:
    """The emulated WooCommerce shop (``orderdeck sandbox woocommerce``, the demo, the tests)."""
    return [SANDBOX]

"""The sample channel: orders come from a JSON file on disk. A complete, small third-party
orderdeck plugin, installed like any package (``pip install -e tests/sample_plugin``) and found
through its entry point ``[project.entry-points.orderdeck] sample = "orderdeck_sample"``.

It imports only orderdeck's public plugin API (``orderdeck.plugins.hookspecs``, ``.connectors``, ``.dto`` and
``.errors``), pydantic (which orderdeck brings) and the standard library.

The channel
-----------
The ``orders_file`` setting names a JSON list of orders, oldest first, each like::

    {"number": "S-1001", "status": "paid", "placed_at": "2026-01-05T10:00:00Z",
     "buyer": "Ada Lovelace", "email": "ada@example.com", "currency": "GBP", "postage": "3.50",
     "address": {"address1": "12 St James Square", "town": "London", "postcode": "SW1Y 4JH",
                 "country": "GB"},
     "lines": [{"sku": "MUG-BLUE", "quantity": 2, "price": "8.50", "title": "Blue mug"}]}

``status`` is paid, unpaid, shipped or cancelled; ``"fulfilled_by": "channel"`` (default ``"seller"``)
marks an order the channel ships itself, as Amazon does its FBA orders. The file only grows: a changed order is appended
again under the same number (orderdeck updates the order it already has). The download cursor is
the count of entries already handed over ("0", "2", ...), so each entry is downloaded once and a
download from the stored cursor finds only what was appended since.

Beside ``orders.json``, push_stock keeps ``orders.stock.json`` (channel SKU -> quantity),
send_dispatches ``orders.dispatches.json`` (dispatch id -> what shipped) and follow_up (the optional
hook: the channel asks the buyer for a review) ``orders.follow_ups.json`` (order number -> when). ``api_key`` is a SecretStr,
so orderdeck stores it encrypted and never returns it; it stands in for a real channel's
credentials (any non-empty key is accepted).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
from dataclasses import asdict
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field, SecretStr, ValidationError, field_validator

from orderdeck.plugins.connectors import ChannelConnector, Connection, Connector, FulfilmentConnector
from orderdeck.plugins.dto import (
    Address,
    ChannelOrder,
    ChannelOrderLine,
    ConnectionResult,
    DispatchNote,
    ExportBatch,
    ExportResult,
    FollowUp,
    ImportedFile,
    ItemResult,
    OrderPage,
    StatusMapping,
    StatusReport,
    StockLine,
    StockReport,
    StockUpdate,
)
from orderdeck.plugins.errors import PartnerAuthError, PartnerDataError, PartnerError, PartnerUnavailable
from orderdeck.plugins.hookspecs import hookimpl

__version__ = "0.1.0"

STATUSES = {
    "paid": StatusMapping(paid=True),
    "unpaid": StatusMapping(paid=False),
    "shipped": StatusMapping(paid=True, shipped=True),
    "cancelled": StatusMapping(paid=False, cancelled=True),
}
"""What each status of the channel means to orderdeck."""


class SampleSettings(BaseModel):
    """A sample channel's settings, checked when a channel is saved (errors name the field)."""

    orders_file: Path = Field(description="Absolute path of the JSON file holding the channel's orders")
    api_key: SecretStr = Field(description="The channel's API key (a secret: stored encrypted, never shown)")

    @field_validator("orders_file")
    @classmethod
    def _absolute_json(cls, value: Path) -> Path:
        if not value.is_absolute() or value.suffix != ".json":
            raise ValueError("must be the absolute path of a .json file, e.g. /srv/shop/orders.json")
        return value


class SampleLine(BaseModel):
    """A line of an order in the channel's own format."""

    sku: str = Field(min_length=1)
    quantity: int = Field(gt=0)
    price: Decimal = Field(Decimal(0), ge=0)
    title: str = ""


class SampleOrder(BaseModel):
    """An entry of the orders file, in the channel's own format."""

    number: str = Field(min_length=1)
    status: Literal["paid", "unpaid", "shipped", "cancelled"]
    placed_at: AwareDatetime
    lines: list[SampleLine] = Field(min_length=1)
    buyer: str = ""
    email: str = ""
    currency: str = Field("GBP", pattern=r"^[A-Z]{3}$")
    postage: Decimal = Field(Decimal(0), ge=0)
    address: Address = Field(default_factory=Address)
    fulfilled_by: Literal["seller", "channel"] = "seller"
    """Who ships the order: the seller (from orderdeck) or the channel itself (like Amazon FBA)."""

    def to_channel_order(self) -> ChannelOrder:
        """The order as orderdeck takes it (lines are numbered from 1: the ids dispatches quote)."""
        lines = [
            ChannelOrderLine(line_id=str(n), channel_sku=line.sku, quantity=line.quantity, title=line.title,
                             unit_price=line.price)
            for n, line in enumerate(self.lines, 1)
        ]  # fmt: skip
        return ChannelOrder(
            reference=self.number, status=self.status, received_at=self.placed_at, lines=lines,
            paid_at=self.placed_at if STATUSES[self.status].paid else None, buyer_name=self.buyer,
            email=self.email, currency=self.currency, postage=self.postage, shipping_address=self.address,
            fulfilled_by_channel=self.fulfilled_by == "channel",
        )  # fmt: skip


def _settings(connection: Connection[SampleSettings]) -> SampleSettings:
    """The channel's settings (orderdeck hands them over validated, secrets decrypted), with a
    usable API key: an empty one is refused as a real channel would refuse bad credentials."""
    settings = connection.settings
    if not settings.api_key.get_secret_value().strip():
        raise PartnerAuthError("the sample channel refuses an empty API key")
    return settings


def _read_orders_file(path: Path) -> list[Any]:
    """The entries of the orders file; PartnerDataError when it is missing, unreadable or not a
    JSON list. Blocking: called through asyncio.to_thread, never on the event loop."""
    try:
        entries = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PartnerDataError(f"the orders file {path} does not exist") from None
    except OSError as exc:
        raise PartnerDataError(f"cannot read the orders file {path}: {exc.strerror}") from None
    except ValueError as exc:  # not UTF-8, or not JSON
        raise PartnerDataError(f"the orders file {path} is not JSON: {exc}") from None
    if not isinstance(entries, list):
        raise PartnerDataError(f"the orders file {path} must hold a JSON list, not a {type(entries).__name__}")
    return entries


def _merge_into(path: Path, records: dict[str, Any]) -> None:
    """Add ``records`` to the JSON object in ``path`` (created if missing), replacing the file
    atomically. A write that fails is PartnerUnavailable: the job retries it later."""
    try:
        current = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except ValueError as exc:
        raise PartnerDataError(f"{path} is not JSON: {exc}") from None
    if not isinstance(current, dict):
        raise PartnerDataError(f"{path} must hold a JSON object, not a {type(current).__name__}")
    staging = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        staging.write_text(json.dumps({**current, **records}, indent=2, default=_json_value), encoding="utf-8")
        os.replace(staging, path)
    except OSError as exc:
        raise PartnerUnavailable(f"cannot write {path}: {exc.strerror}") from None


def _json_value(value: Any) -> str:
    """Dates as ISO 8601, decimals and the rest as text (for json.dumps)."""
    return value.isoformat() if isinstance(value, datetime) else str(value)


def _reference_of(entry: Any) -> str:
    """An unreadable entry's order number, if it has one (for the log)."""
    number = entry.get("number") if isinstance(entry, dict) else None
    return str(number) if isinstance(number, str | int) else ""


def _reason(exc: ValidationError) -> str:
    """A pydantic error as one line: ``lines.0.quantity: Input should be greater than 0; ...``."""
    return "; ".join(f"{'.'.join(map(str, e['loc'])) or 'order'}: {e['msg']}" for e in exc.errors())


class SampleChannel(ChannelConnector):
    """A channel whose orders come from a JSON file on disk (see the module docstring)."""

    name = "sample"  # what channels are configured with
    title = "Sample (JSON file)"
    version = __version__
    description = "A channel whose orders come from a JSON file on disk: the example for plugin authors."
    settings = SampleSettings
    source = "SAMPLE"
    fulfilment_connector = "sample_centre"  # its own fulfilment centre, set up with each channel
    stock_batch_size = 100
    dispatch_batch_size = 50

    async def test_connection(self, connection: Connection[SampleSettings]) -> ConnectionResult:
        """The API key is set and the orders file can be read."""
        try:
            entries = await asyncio.to_thread(_read_orders_file, _settings(connection).orders_file)
        except PartnerError as exc:
            return ConnectionResult(False, str(exc))
        return ConnectionResult(True, f"Connected: {len(entries)} orders in the file")


    async def download_orders(
        self, connection: Connection[SampleSettings], cursor: str | None, page_size: int
    ) -> OrderPage:
        """At most ``page_size`` entries after ``cursor`` (an offset into the file). An entry that is
        not a valid order is rejected with its reason; the rest of the page goes on."""
        settings = _settings(connection)
        if cursor is not None and not cursor.isdigit():
            raise PartnerDataError(f"unreadable sample download cursor: {cursor!r}")
        start = int(cursor or 0)
        entries = await asyncio.to_thread(_read_orders_file, settings.orders_file)
        chosen = entries[start : start + max(1, page_size)]
        orders: list[ChannelOrder] = []
        rejected: list[tuple[str, str]] = []
        for entry in chosen:
            try:
                orders.append(SampleOrder.model_validate(entry).to_channel_order())
            except ValidationError as exc:
                rejected.append((_reference_of(entry), _reason(exc)))
        end = start + len(chosen)
        return OrderPage(orders=orders, cursor=str(end), has_more=end < len(entries), rejected=rejected)


    def map_status(self, connection: Connection[SampleSettings], order: ChannelOrder) -> StatusMapping:
        """paid, unpaid, shipped (paid too) and cancelled; downloads reject any other status."""
        try:
            return STATUSES[order.status]
        except KeyError:
            raise PartnerDataError(f"unknown sample order status {order.status!r}") from None


    async def push_stock(self, connection: Connection[SampleSettings], updates: list[StockUpdate]) -> list[ItemResult]:
        """Write each quantity (below zero: 0) under its channel SKU in ``orders.stock.json``; an
        update without a channel SKU fails alone."""
        settings = _settings(connection)
        levels: dict[str, int] = {}
        results = []
        for update in updates:
            if update.channel_sku:
                levels[update.channel_sku] = max(0, update.quantity)
                results.append(ItemResult(update.listing_id, True))
            else:
                results.append(ItemResult(update.listing_id, False, "the listing has no channel SKU"))
        if levels:
            await asyncio.to_thread(_merge_into, settings.orders_file.with_suffix(".stock.json"), levels)
        return results


    async def send_dispatches(
        self, connection: Connection[SampleSettings], notes: list[DispatchNote]
    ) -> list[ItemResult]:
        """Record each dispatch under its id in ``orders.dispatches.json`` (a retried note replaces its
        own record, never adds another). A note for an order the file does not hold, or holds as
        cancelled (its latest entry), fails alone."""
        settings = _settings(connection)
        entries = await asyncio.to_thread(_read_orders_file, settings.orders_file)
        statuses = {_reference_of(entry): entry.get("status") for entry in entries if _reference_of(entry)}
        records: dict[str, Any] = {}
        results = []
        for note in notes:
            status = statuses.get(note.order_reference)
            if status is None or status == "cancelled":
                problem = "is not on the channel" if status is None else "is cancelled on the channel"
                results.append(ItemResult(note.dispatch_id, False, f"order {note.order_reference} {problem}"))
            else:
                records[note.dispatch_id] = asdict(note)
                results.append(ItemResult(note.dispatch_id, True))
        if records:
            await asyncio.to_thread(_merge_into, settings.orders_file.with_suffix(".dispatches.json"), records)
        return results


    async def follow_up(self, connection: Connection[SampleSettings], requests: list[FollowUp]) -> list[ItemResult]:
        """Record a review request per order in ``orders.follow_ups.json``. An order the file does
        not hold, or one already asked about, is refused, as a real channel would."""
        settings = _settings(connection)
        entries = await asyncio.to_thread(_read_orders_file, settings.orders_file)
        known = {_reference_of(entry) for entry in entries}
        path = settings.orders_file.with_suffix(".follow_ups.json")
        asked = await asyncio.to_thread(lambda: json.loads(path.read_text()) if path.exists() else {})
        records: dict[str, Any] = {}
        results = []
        for request in requests:
            if request.order_reference not in known:
                results.append(ItemResult(request.dispatch_id, False, f"order {request.order_reference} is not on the channel"))
            elif request.order_reference in asked or request.order_reference in records:
                results.append(ItemResult(request.dispatch_id, False, f"order {request.order_reference} was already asked"))
            else:
                records[request.order_reference] = request.shipped_at.isoformat()
                results.append(ItemResult(request.dispatch_id, True))
        if records:
            await asyncio.to_thread(_merge_into, path, records)
        return results


class SampleCentre(FulfilmentConnector):
    """The sample channel's own fulfilment centre (as Amazon has FBA): it ships the orders marked
    ``"fulfilled_by": "channel"`` itself, and reports its stock in ``orders.centre_stock.json``
    (SKU -> quantity). orderdeck sets one up with each sample channel, with the channel's settings."""

    name = "sample_centre"
    title = "Sample fulfilment"
    version = __version__
    description = "The sample channel's own fulfilment centre: the example of a channel's companion centre."
    settings = SampleSettings

    async def test_connection(self, connection: Connection[SampleSettings]) -> ConnectionResult:
        """The channel's test: the API key is set and the orders file can be read."""
        return await SampleChannel().test_connection(connection)

    async def export_orders(self, connection: Connection[SampleSettings], batch: ExportBatch) -> ExportResult:
        """The centre takes no orders from orderdeck: it ships those its channel hands it."""
        refused = [ItemResult(order.order_id, False, "the sample centre ships only the orders its channel gives it")
                   for order in batch.orders]  # fmt: skip
        return ExportResult(reference=batch.file_name, refused=refused)

    async def import_statuses(self, connection: Connection[SampleSettings]) -> list[StatusReport]:
        """None: the channel's own downloads say when it shipped or cancelled an order."""
        return []

    async def import_stock(self, connection: Connection[SampleSettings]) -> list[StockReport]:
        """The levels in ``orders.centre_stock.json``, if the centre has written it."""
        path = _settings(connection).orders_file.with_suffix(".centre_stock.json")
        if not path.exists():
            return []
        content = await asyncio.to_thread(path.read_bytes)
        try:
            levels = json.loads(content)
        except ValueError as exc:
            raise PartnerDataError(f"{path} is not JSON: {exc}") from None
        if not isinstance(levels, dict):
            raise PartnerDataError(f"{path} must hold a JSON object of SKU -> quantity")
        lines = [StockLine(row=n, sku=str(sku), quantity=int(quantity)) for n, (sku, quantity) in enumerate(levels.items(), 1)]
        return [StockReport(file=ImportedFile(path.name, hashlib.sha256(content).hexdigest()), levels=lines)]


@hookimpl
def orderdeck_register_connectors() -> list[Connector]:
    """This plugin's connectors: the sample channel and its fulfilment centre."""
    return [SampleChannel(), SampleCentre()]

"""The demo's fulfilment centres: an FTP warehouse and a URL drop shipper, the sandboxes of the
built-in fulfilment connectors, each serving a location of its own.

Some of the orders the shops' channels download are moved to them (as a seller's rules would);
the move wakes the export, the centre ships the order a few seconds later by itself, and the next
status import processes it with the centre's tracking number, so its dispatch note goes back to
the shop. The centres report their stock too. The drop shipper is mounted into the app like the
shops (``/demo/dropship/``); the warehouse's FTP server listens on a free loopback port of its own
(its state page is mounted at ``/demo/warehouse/``).
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.responses import RedirectResponse
from starlette.routing import get_route_path
from starlette.types import Receive, Scope, Send

from orderdeck.demo.catalogue import DEMO_ACTOR, PRODUCTS
from orderdeck.demo.shops import Address
from orderdeck.models import Connection, ConnectionKind, Location, Order, OrderState, OrderStatus, SyncKind


@dataclass(frozen=True)
class CentreSpec:
    """A demo centre: its connection's and location's names, its connector and sandbox options,
    the share of new orders moved to it, and whether processing takes stock off its location."""

    name: str
    slug: str
    location: str
    connector: str
    options: dict[str, Any]
    share: float
    deduct_stock: bool = True
    stock: int = 40


CENTRES = (
    CentreSpec("Demo Warehouse (FTP)", "warehouse", "Demo Warehouse", "ftp_warehouse",
               {"username": "demo", "password": "demo-ftp", "ship_after_seconds": 8}, share=0.25),
    CentreSpec("Demo Drop Shipper", "dropship", "Demo Drop Shipper", "url_dropship",
               {"api_key": "demo-dropship-key", "ship_after_seconds": 8, "skus": [p.sku for p in PRODUCTS]},
               share=0.2, deduct_stock=False),
)  # fmt: skip


class DemoCentre:
    """A centre's sandbox mounted at /demo/<slug>, and its connection and location once configured."""

    def __init__(self, spec: CentreSpec, address: Address) -> None:
        from orderdeck.plugins import manager

        self.spec = spec
        self.path = f"/demo/{spec.slug}"
        self.url = address.base_url + self.path
        self.app: Starlette = manager.sandbox(spec.connector).create_app(**spec.options)
        self.control = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://centre")
        self.connection_id: uuid.UUID | None = None
        self.location_id: uuid.UUID | None = None
        self.seen: set[uuid.UUID] = set()
        """The orders decided (moved here or not), so each is decided once."""

    async def mounted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The sandbox as an ASGI app mounted at self.path (its front page shows its state)."""
        if scope["type"] == "http" and get_route_path(scope) in ("", "/"):
            await RedirectResponse(f"{scope.get('root_path', '')}/__sandbox/state")(scope, receive, send)
            return
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "app_root_path": scope.get("root_path", "")}
        await self.app(scope, receive, send)

    async def settings(self) -> dict[str, Any]:
        """The connection's settings: the FTP login the warehouse listens with, or the drop shipper's URL."""
        if self.spec.connector == "ftp_warehouse":
            ftp = (await self.control.get("/__sandbox/state")).json()["ftp"]
            return {"host": ftp["host"], "port": ftp["port"], "username": ftp["username"], "password": ftp["password"],
                    "tls": False, "timeout_seconds": 10}  # fmt: skip
        return {"url": self.url, "api_key": self.spec.options["api_key"], "requests_per_second": 20}

    async def report_stock(self) -> None:
        """The centre counts its stock of every demo product (its next stock import brings it in)."""
        levels = {p.sku: self.spec.stock for p in PRODUCTS}
        (await self.control.post("/__sandbox/stock", json={"levels": levels})).raise_for_status()


async def configure_centres(centres: list[DemoCentre]) -> None:
    """Make what is missing: each centre's connection (pointed at its sandbox now) and location."""
    from orderdeck.services import connections, locations
    from orderdeck.services.fulfilment.locations import set_location_fulfilment

    for centre in centres:
        spec, settings = centre.spec, await centre.settings()
        connection = await Connection.get_or_none(name=spec.name, kind=ConnectionKind.FULFILMENT_CENTRE)
        if connection is None:
            connection = await connections.create_connection(
                {"name": spec.name, "connector": spec.connector, "settings": settings, "sync_interval_seconds": 60},
                DEMO_ACTOR)  # fmt: skip
        else:
            connection = await connections.update_connection(connection.id, {"settings": settings}, DEMO_ACTOR)
        location = await Location.get_or_none(name=spec.location) or await locations.create_location(spec.location,
                                                                                                      DEMO_ACTOR)  # fmt: skip
        if location.fulfilment_connection_id != connection.id:
            await set_location_fulfilment(location.id, {"connection_id": connection.id,
                                                        "deduct_stock_when_processed": spec.deduct_stock}, DEMO_ACTOR)  # fmt: skip
        centre.connection_id, centre.location_id = connection.id, location.id
        await centre.report_stock()
        await request(centre, {SyncKind.STOCK_IMPORT})


async def send_to_centres(centres: list[DemoCentre], home: uuid.UUID, rng: random.Random) -> list[tuple[DemoCentre, int]]:
    """Move a share of the channels' new open, paid orders at ``home`` to the centres (each order
    is decided once); the (centre, order number) moved."""
    from orderdeck.services import orders

    ready = [c for c in centres if c.location_id is not None]
    if not ready:
        return []
    fresh = await Order.filter(state=OrderState.OPEN, location_id=home, channel_id__isnull=False, parked=False,
                               status=OrderStatus.PAID).order_by("number").limit(50)  # fmt: skip
    moved: list[tuple[DemoCentre, int]] = []
    for order in fresh:
        if any(order.id in c.seen for c in ready):
            continue
        draw = rng.random()
        for centre in ready:
            centre.seen.add(order.id)
            if draw < centre.spec.share:
                assert centre.location_id is not None
                result = await orders.move_orders([order.id], centre.location_id, DEMO_ACTOR)
                if result.orders:
                    moved.append((centre, order.number))
                break
            draw -= centre.spec.share
    return moved


async def request(centre: DemoCentre, kinds: set[SyncKind]) -> None:
    """Ask for the centre's work now (nothing when its connection was disabled or deleted)."""
    from orderdeck.services.errors import ServiceError
    from orderdeck.services.work import request_sync

    if centre.connection_id is not None:
        try:
            await request_sync(centre.connection_id, kinds, ConnectionKind.FULFILMENT_CENTRE)
        except ServiceError:
            pass

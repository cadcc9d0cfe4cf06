"""A WooCommerce sandbox shop for the stock push and dispatch tests: served over real HTTP, driven
through its control API, with a channel connected to it and a spy on the plugin's hooks."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from orderdeck.models import Channel
from orderdeck.plugins.dto import DispatchNote, ItemResult, StockUpdate
from orderdeck.services import channels
from orderdeck.services.context import Actor
from orderdeck_woocommerce import WooCommerce
from tests.plugins.support import RunningApp

KEY, SECRET = "ck_shop", "cs_shop"
PAST = "2026-11-20T10:00:00"
"""A modification date old enough that a download takes the order at once."""


class Shop:
    """The sandbox's control API (/__sandbox/): arrange the shop, read its state and request log."""

    def __init__(self, running: RunningApp) -> None:
        self.url = running.url
        self.http = httpx.Client(base_url=f"{running.url}/__sandbox", timeout=10)

    def _ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    def place(self, *lines: tuple[str, int], status: str = "processing", **spec: Any) -> dict[str, Any]:
        """An order with (sku, quantity) lines, modified in the past (a download takes it at once)."""
        spec = {"status": status, "date_created_gmt": PAST, "date_modified_gmt": PAST,
                "lines": [{"sku": sku, "quantity": qty, "price": "5.00"} for sku, qty in lines], **spec}  # fmt: skip
        return self._ok(self.http.post("/orders", json={"orders": [spec]}))["orders"][0]

    def set_status(self, order_id: int, status: str) -> None:
        """A change made in the shop's back office (e.g. the order moved to the bin: "trash")."""
        self._ok(self.http.patch(f"/orders/{order_id}", json={"status": status}))

    def add_products(self, *skus: str, stock: int = 0) -> list[dict[str, Any]]:
        specs = [{"sku": sku, "stock_quantity": stock} for sku in skus]
        return self._ok(self.http.post("/products", json={"products": specs}))["products"]

    def fault(self, kind: str, **options: Any) -> None:
        self._ok(self.http.post("/faults", json={"kind": kind, **options}))

    def state(self) -> dict[str, Any]:
        return self._ok(self.http.get("/state"))

    def stock(self, sku: str) -> int | None:
        return next(p["stock_quantity"] for p in self.state()["products"] if p["sku"] == sku)

    def order(self, order_id: int) -> dict[str, Any]:
        return next(o for o in self.state()["orders"] if o["id"] == order_id)

    def requests(self, method: str | None = None, path_ends: str = "") -> list[dict[str, Any]]:
        """The API requests the shop received (optionally of one method, to paths ending so)."""
        log = self._ok(self.http.get("/requests"))
        return [r for r in log if (method is None or r["method"] == method) and r["path"].endswith(path_ends)]

    def clear_requests(self) -> None:
        self._ok(self.http.delete("/requests"))

    def close(self) -> None:
        self.http.close()


async def connect(shop: Shop, actor: Actor, stock_locations: list[uuid.UUID], *, secret: str = SECRET,
                  name: str = "Sandbox shop") -> Channel:  # fmt: skip
    """A WooCommerce channel on the sandbox offering stock from ``stock_locations``."""
    return await channels.create_channel({
        "name": name, "plugin": "woocommerce", "stock_location_ids": stock_locations,
        "settings": {"url": shop.url, "consumer_key": KEY, "consumer_secret": secret, "requests_per_second": 100},
    }, actor)  # fmt: skip


class HookSpy(WooCommerce):
    """The WooCommerce connector, recording what each call was given; ``before`` (if set) runs
    before each call is passed on, e.g. to change something while listings are claimed. Its batch
    sizes may be changed on the instance. ``install`` makes a service module use it."""

    def __init__(self) -> None:
        self.stock_calls: list[list[StockUpdate]] = []
        self.dispatch_calls: list[list[DispatchNote]] = []
        self.before: Callable[[int], Awaitable[None]] | None = None

    def install(self, monkeypatch: Any, service: Any) -> None:
        """Have ``service`` (stock_push or dispatches) call this spy for every channel."""
        monkeypatch.setattr(service, "channel_connection", lambda channel: (self, channels.channel_connection(channel)[1]))

    async def push_stock(self, connection: Any, updates: list[StockUpdate]) -> list[ItemResult]:
        self.stock_calls.append(list(updates))
        if self.before is not None:
            await self.before(len(self.stock_calls))
        return await super().push_stock(connection, updates)

    async def send_dispatches(self, connection: Any, notes: list[DispatchNote]) -> list[ItemResult]:
        self.dispatch_calls.append(list(notes))
        if self.before is not None:
            await self.before(len(self.dispatch_calls))
        return await super().send_dispatches(connection, notes)

    def pushed(self) -> dict[str, list[int]]:
        """Per channel SKU, the quantities sent, in order."""
        sent: dict[str, list[int]] = {}
        for call in self.stock_calls:
            for update in call:
                sent.setdefault(update.channel_sku, []).append(update.quantity)
        return sent

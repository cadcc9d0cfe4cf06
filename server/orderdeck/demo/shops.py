"""The demo's shops: sandbox shops of the demo connector, mounted into orderdeck's app."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass

import httpx
from starlette.responses import RedirectResponse
from starlette.routing import get_route_path
from starlette.types import Receive, Scope, Send

from orderdeck.demo.catalogue import DEMO_CONNECTOR, FIRST_ORDER_NUMBER, PRODUCTS, ShopSpec

@dataclass(frozen=True)
class Address:
    """Where the server listens, and so where the shops are."""

    host: str
    port: int

    @property
    def base_url(self) -> str:
        """The server's URL as seen from this machine (loopback when it listens everywhere)."""
        host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "[::1]"}.get(self.host, self.host)
        if ":" in host and not host.startswith("["):
            host = f"[{host}]"
        return f"http://{host}:{self.port}"


class DemoShop:
    """A sandbox shop mounted at /demo/<slug>, and its channel once configured."""

    def __init__(self, spec: ShopSpec, address: Address) -> None:
        from orderdeck.plugins import manager

        self.spec = spec
        self.path = f"/demo/{spec.slug}"
        self.url = address.base_url + self.path
        self.app = manager.sandbox(DEMO_CONNECTOR).create_app(skus=[p.sku for p in PRODUCTS], key=spec.consumer_key,
                                                              secret=spec.consumer_secret)  # fmt: skip
        # The control API is called in-process: it needs no network and works before the server listens.
        self.control = httpx.AsyncClient(transport=httpx.ASGITransport(app=self.app), base_url="http://shop")
        self.channel_id: uuid.UUID | None = None
        self.next_number = FIRST_ORDER_NUMBER

    async def mounted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The shop as an ASGI app mounted at self.path: it sees itself as a site in that folder
        (so the links it writes, built from its base URL, include the folder). Its front page
        (``/demo/<slug>/``, which the README links) shows the shop's state."""
        if scope["type"] == "http" and get_route_path(scope) in ("", "/"):
            await RedirectResponse(f"{scope.get('root_path', '')}/__sandbox/state")(scope, receive, send)
            return
        if scope["type"] in ("http", "websocket"):
            scope = {**scope, "app_root_path": scope.get("root_path", "")}
        await self.app(scope, receive, send)

    async def stock_products(self) -> None:
        """Give the shop's products their names and prices (stock comes from orderdeck's push)."""
        products = [{"sku": p.sku, "name": p.title, "price": p.price} for p in PRODUCTS]
        (await self.control.post("/__sandbox/products", json={"products": products})).raise_for_status()

    async def place_orders(self, count: int, rng: random.Random) -> list[str]:
        """Place ``count`` paid orders of 1-3 random lines; return their numbers."""
        specs = []
        for _ in range(count):
            picked = rng.sample(PRODUCTS, k=rng.choices([1, 2, 3], [60, 30, 10])[0])
            lines = [{"sku": p.sku, "quantity": rng.choices([1, 2, 3], [75, 20, 5])[0]} for p in picked]
            specs.append({"number": f"{self.spec.prefix}-{self.next_number}", "status": "processing", "lines": lines})
            self.next_number += 1
        (await self.control.post("/__sandbox/orders", json={"orders": specs})).raise_for_status()
        return [spec["number"] for spec in specs]

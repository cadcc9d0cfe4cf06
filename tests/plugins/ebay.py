"""What the eBay tests share: the sandbox served behind eBay's OpenAPI 3 contracts (Sell
Fulfillment, Sell Inventory: every request and answer checked, tests.plugins.support.SpecChecked),
its control API, and connections to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from orderdeck.plugins.connectors import Connection
from orderdeck.plugins.sandbox.serving import serve
from orderdeck_ebay import EbaySettings
from orderdeck_ebay.sandbox import create_app
from tests.plugins.support import ApiSpec, SpecChecked

CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "test-app", "test-cert", "v^1.1#test-refresh"
SKUS = ["MUG-RED", "MUG-BLUE", "TEE-S"]
EBAY_ERRORS = {"type": "object", "required": ["errors"], "properties": {
    "errors": {"type": "array", "minItems": 1, "items": {"allOf": [
        {"$ref": "#/components/schemas/Error"}, {"type": "object", "required": ["errorId", "domain", "category", "message"]}]}}}}  # fmt: skip
"""eBay's error body: ``{"errors": [Error...]}`` with the spec's Error schema (its operations
declare few of their error statuses, and none with a body)."""


@cache
def contracts() -> list[ApiSpec]:
    """eBay's Sell Fulfillment and Sell Inventory contracts (errors: EBAY_ERRORS; 207: the 200's body)."""
    return [ApiSpec.load("ebay-sell-fulfillment-v1-oas3.json", error_schema=EBAY_ERRORS),
            ApiSpec.load("ebay-sell-inventory-v1-oas3.json", error_schema=EBAY_ERRORS, same_body_as={"207": "200"})]  # fmt: skip


def assert_kept(checked: SpecChecked) -> int:
    """Every API request and answer (the token endpoint is in neither contract) kept eBay's
    contracts; the number of answers checked."""
    assert not checked.problems, "\n".join(checked.problems)
    return checked.checked


def past(seconds_ago: float) -> str:
    """An eBay timestamp ``seconds_ago`` before now."""
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class EbayControl:
    """The sandbox's control API (/__sandbox/) and what its contract checks saw (``checked``)."""

    def __init__(self, url: str, checked: SpecChecked) -> None:
        self.url = url
        self.checked = checked
        self.http = httpx.Client(base_url=f"{url}/__sandbox", timeout=10)

    def _ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    def orders(self, *specs: dict[str, Any]) -> list[dict[str, Any]]:
        return self._ok(self.http.post("/orders", json={"orders": list(specs)}))["orders"]

    def change(self, order_id: str, **changes: Any) -> dict[str, Any]:
        return self._ok(self.http.patch(f"/orders/{order_id}", json=changes))

    def fault(self, kind: str, **options: Any) -> Any:
        return self._ok(self.http.post("/faults", json={"kind": kind, **options}))

    def post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return self._ok(self.http.post(path, json=body or {}))

    def state(self) -> dict[str, Any]:
        return self._ok(self.http.get("/state"))

    def order(self, order_id: str) -> dict[str, Any]:
        return next(o for o in self.state()["orders"] if o["orderId"] == order_id)

    def requests(self) -> list[dict[str, Any]]:
        return self._ok(self.http.get("/requests"))


@contextmanager
def ebay_sandbox(**options: Any) -> Iterator[EbayControl]:
    """A fresh sandbox account, served on loopback behind eBay's contracts."""
    app = create_app(**{"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN,
                        "skus": SKUS, "seed": 3, **options})  # fmt: skip
    checked = SpecChecked(app, contracts(), skip=("/__sandbox", "/identity/"))
    with serve(checked) as running:
        control = EbayControl(running.url, checked)
        try:
            yield control
        finally:
            control.http.close()


def connection(url: str, connection_id: str = "ch-ebay", **settings: Any) -> Connection[EbaySettings]:
    """A connection to the sandbox at ``url``, with call limits generous enough for tests and no
    settle time (orders placed now download at once)."""
    options = {"api_url": url, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN,
               "fulfillment_calls_per_day": 50_000_000, "inventory_calls_per_day": 50_000_000, "burst": 50,
               "settle_seconds": 0, **settings}  # fmt: skip
    return Connection(connection_id=connection_id, name="Test eBay", settings=EbaySettings(**options))

"""Fixtures: a WooCommerce sandbox served over real HTTP, its control API, and a channel on it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

pytest.register_assert_rewrite("orderdeck.plugins.testing")  # the contract suite's assertions, explained

from orderdeck.plugins.connectors import ChannelConnector, Connection
from orderdeck.plugins.manager import channel_connector
from orderdeck.plugins.sandbox.ftp import self_signed_certificate
from orderdeck.plugins.toolkit import tls_context
from orderdeck_woocommerce import WooCommerceSettings
from orderdeck_woocommerce.sandbox import create_app
from tests.plugins.support import RunningApp, serve

KEY, SECRET = "ck_test_key", "cs_test_secret"
SKUS = ["MUG-RED", "MUG-BLUE", "TEE-S", "TEE-M", "POSTER-A2"]


class Control:
    """The sandbox's control API (/__sandbox/), for arranging and inspecting the shop."""

    def __init__(self, running: RunningApp, trusted_certificate: str | None = None) -> None:
        self.url = running.url
        self.http = httpx.Client(base_url=f"{running.url}/__sandbox", timeout=10, verify=tls_context(trusted_certificate))

    def _ok(self, response: httpx.Response) -> Any:
        assert response.status_code < 300, response.text
        return response.json()

    def orders(self, *specs: dict[str, Any], random: int = 0) -> list[dict[str, Any]]:
        return self._ok(self.http.post("/orders", json={"orders": list(specs), "random": random}))["orders"]

    def touch(self, order_id: int, **changes: Any) -> dict[str, Any]:
        return self._ok(self.http.patch(f"/orders/{order_id}", json=changes))

    def products(self, *specs: dict[str, Any]) -> list[dict[str, Any]]:
        return self._ok(self.http.post("/products", json={"products": list(specs)}))["products"]

    def fault(self, kind: str, **options: Any) -> Any:
        return self._ok(self.http.post("/faults", json={"kind": kind, **options}))

    def state(self) -> dict[str, Any]:
        return self._ok(self.http.get("/state"))

    def requests(self) -> list[dict[str, Any]]:
        return self._ok(self.http.get("/requests"))

    def clear_requests(self) -> None:
        self._ok(self.http.delete("/requests"))

    def order(self, order_id: int) -> dict[str, Any]:
        return next(o for o in self.state()["orders"] if o["id"] == order_id)

    def product(self, sku: str) -> dict[str, Any]:
        return next(p for p in self.state()["products"] if p["sku"] == sku)


def past(seconds_ago: float) -> str:
    """A GMT timestamp as WooCommerce writes it, ``seconds_ago`` before now."""
    moment = datetime.now(UTC) - timedelta(seconds=seconds_ago)
    return moment.replace(tzinfo=None, microsecond=0).isoformat()


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    """Options of the sandbox app (override in a module or test to change the shop)."""
    return {"skus": SKUS, "key": KEY, "secret": SECRET, "seed": 7, "utc_offset_hours": 2}


@pytest.fixture
def sandbox(sandbox_options: dict[str, Any]) -> Iterator[RunningApp]:
    """A fresh sandbox shop served on loopback (its site clock two hours ahead of GMT, so a client
    that forgets dates_are_gmt=true filters on the wrong dates)."""
    with serve(create_app(**sandbox_options)) as running:
        yield running


@pytest.fixture
def control(sandbox: RunningApp) -> Iterator[Control]:
    control = Control(sandbox)
    yield control
    control.http.close()


def make_channel(url: str, *, key: str = KEY, secret: str = SECRET, rate: float = 50.0) -> Connection[WooCommerceSettings]:
    settings = WooCommerceSettings(url=url, consumer_key=key, consumer_secret=secret, requests_per_second=rate)
    return Connection(connection_id="ch-1", name="Test shop", settings=settings)


@pytest.fixture
def channel(sandbox: RunningApp) -> Connection[WooCommerceSettings]:
    """A WooCommerce channel configured for the sandbox (a generous rate, for test speed)."""
    return make_channel(sandbox.url)


@pytest.fixture
def hooks() -> ChannelConnector:
    """The WooCommerce connector, as the sync engine finds and calls it."""
    return channel_connector("woocommerce")


@pytest.fixture(scope="session")
def shop_certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A throwaway self-signed certificate for 127.0.0.1: the PEM file of it and its key (for the
    server) and the certificate alone as PEM text (for a client to trust)."""
    return self_signed_certificate(tmp_path_factory.mktemp("shop-tls"))


@pytest.fixture
def tls_sandbox(sandbox_options: dict[str, Any], shop_certificate: tuple[Path, str]) -> Iterator[RunningApp]:
    """A fresh sandbox shop served over HTTPS on loopback, with ``shop_certificate``."""
    with serve(create_app(**sandbox_options), certificate=shop_certificate[0]) as running:
        yield running


@pytest.fixture
def tls_control(tls_sandbox: RunningApp, shop_certificate: tuple[Path, str]) -> Iterator[Control]:
    """The control API of ``tls_sandbox`` (over HTTPS, trusting its certificate)."""
    control = Control(tls_sandbox, shop_certificate[1])
    yield control
    control.http.close()

"""The Amazon sandbox with its FBA side, served over real HTTP behind a check of every request and
answer against Amazon's API models (Orders v0, Listings Items, FBA Inventory), for the FBA tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import httpx

from orderdeck.plugins.connectors import Connection
from orderdeck_amazon.fba import FbaSettings
from orderdeck_amazon.sandbox import SellerAccount, create_app
from orderdeck_amazon.sandbox.fba import FulfilmentNetwork
from tests.plugins.support import ApiSpec, SpecChecked, serve
from tests.plugins.test_amazon_contract import CLIENT_ID, CLIENT_SECRET, FAST, MARKETPLACE, REFRESH_TOKEN, SELLER

SPECS = ("amazon-sp-api-ordersV0.json", "amazon-sp-api-listingsItems_2021-08-01.json", "amazon-sp-api-fbaInventory.json")
FBA_FAST = {**FAST, "getInventorySummaries": (1000.0, 1000)}
"""Usage plans raised for the tests: Amazon's 2 a second would make paging tests wait."""
SHIP_AFTER = 600
"""Seconds of the account's clock after which the sandbox ships the AFN orders it placed."""


@dataclass
class FbaSandbox:
    """A served seller account: its address, state, FBA network and the spec check."""

    url: str
    account: SellerAccount
    network: FulfilmentNetwork
    checked: SpecChecked

    def control(self, method: str, path: str, **kwargs: Any) -> Any:
        answer = httpx.request(method, f"{self.url}/__sandbox{path}", timeout=10, **kwargs)
        assert answer.status_code < 300, answer.text
        return answer.json()

    def stock(self, **fulfillable: int) -> None:
        """Set FBA fulfillable units by SKU (in the first marketplace)."""
        self.control("POST", "/fba/inventory", json={"inventory": [{"sku": s, "fulfillable": q} for s, q in fulfillable.items()]})

    def advance(self, seconds: float) -> None:
        """Move the account's clock."""
        self.control("POST", "/clock", json={"advance": seconds})

    def fault(self, kind: str, **options: Any) -> None:
        self.control("POST", "/faults", json={"kind": kind, **options})

    def requests(self, path_part: str = "") -> list[dict[str, Any]]:
        return [r for r in self.control("GET", "/requests") if path_part in r["path"]]

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """The Amazon channel's settings for this account (what the FBA connection is copied from)."""
        return {"marketplace_ids": [MARKETPLACE], "seller_id": SELLER, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                "refresh_token": REFRESH_TOKEN, "endpoint": self.url, "token_url": f"{self.url}/auth/o2/token",
                "rate_overrides": {op: {"rate": r, "burst": b} for op, (r, b) in FAST.items()}, **overrides}  # fmt: skip

    def connection(self, **overrides: Any) -> Connection[FbaSettings]:
        """An amazon_fba connection to this account (a fresh token cache and usage budget)."""
        settings = {name: value for name, value in self.settings().items() if name in FbaSettings.model_fields}
        settings["inventory_rate"] = {"rate": 1000, "burst": 1000}
        return Connection(f"fba-{uuid.uuid4().hex[:8]}", "Amazon UK (Amazon FBA)", FbaSettings(**{**settings, **overrides}))


@contextmanager
def fba_sandbox(**options: Any) -> Iterator[FbaSandbox]:
    """A fresh seller account (listings AMZ-MUG and AMZ-CUP) behind the API models' check."""
    app = create_app(**{"skus": ["AMZ-MUG", "AMZ-CUP"], "seed": 4, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                        "refresh_token": REFRESH_TOKEN, "seller_id": SELLER, "marketplace_ids": [MARKETPLACE],
                        "rates": FBA_FAST, "fba_ship_after_seconds": SHIP_AFTER, **options})  # fmt: skip
    checked = SpecChecked(app, [ApiSpec.load(name) for name in SPECS], skip=("/__sandbox", "/auth/o2/token"))
    with serve(checked) as running:
        yield FbaSandbox(running.url, app.state.sandbox, app.state.fba, checked)
    assert checked.problems == [], checked.problems

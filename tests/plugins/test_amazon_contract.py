"""The Amazon connector keeps the channel contract (orderdeck.plugins.testing) against its sandbox,
found through orderdeck_register_sandboxes and served over real HTTP; every request the connector
sends and every answer the sandbox gives is checked against Amazon's API models on the way."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from orderdeck.plugins import manager
from orderdeck.plugins.connectors import Connection
from orderdeck.plugins.testing import ChannelContract, ChannelSandboxAdapter
from orderdeck_amazon import AmazonSettings
from tests.plugins.support import ApiSpec, SpecChecked, serve

CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "amzn1.application-oa2-client.contract", "contract-secret", "Atzr|contract"
SELLER, MARKETPLACE = "A1CONTRACTSELLER", "A1F83G8C2ARO7P"
STATUSES = {"paid": "Unshipped", "unpaid": "Pending", "shipped": "Shipped", "cancelled": "Canceled"}
"""Amazon's OrderStatus for each state the contract places orders in."""
FAST = {op: (1000.0, 1000) for op in ("getOrders", "getOrder", "getOrderItems", "confirmShipment", "patchListingsItem",
                                      "getSolicitationActionsForOrder", "createProductReviewAndSellerFeedbackSolicitation")}
"""Usage plans raised for the tests (sandbox and connection alike): Amazon's would make them wait minutes."""
SPECS = ("amazon-sp-api-ordersV0.json", "amazon-sp-api-listingsItems_2021-08-01.json")


def amazon_settings(url: str, *, refresh_token: str = REFRESH_TOKEN, **overrides) -> AmazonSettings:
    """Settings of a connection to the sandbox at ``url`` (its own endpoint and token URL)."""
    return AmazonSettings(**{
        "marketplace_ids": [MARKETPLACE], "seller_id": SELLER, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
        "refresh_token": refresh_token, "endpoint": url, "token_url": f"{url}/auth/o2/token",
        "rate_overrides": {op: {"rate": rate, "burst": burst} for op, (rate, burst) in FAST.items()}, **overrides,
    })  # fmt: skip


class AmazonAdapter(ChannelSandboxAdapter):
    """The Amazon sandbox's control API, in the contract's terms."""

    connector = "amazon"
    sandbox_options = {"skus": [], "seed": 3, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
                       "refresh_token": REFRESH_TOKEN, "seller_id": SELLER, "marketplace_ids": [MARKETPLACE],
                       "items_per_page": 1, "rates": FAST}  # fmt: skip

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.connection_id = f"amazon-contract-{uuid.uuid4().hex[:8]}"  # a fresh token cache

    def connection(self, *, valid: bool = True) -> Connection[AmazonSettings]:
        settings = amazon_settings(self.url, refresh_token=REFRESH_TOKEN if valid else "Atzr|revoked")
        return Connection(connection_id=self.connection_id, name="Contract seller", settings=settings)

    def settle(self) -> None:
        """getOrders shows changes two minutes old: move the account's clock past them."""
        self.control_call("POST", "/clock", json={"advance": 121})

    def place_order(self, reference: str, lines: list[tuple[str, int]], state: str = "paid") -> None:
        spec = {"AmazonOrderId": reference, "status": STATUSES[state],
                "items": [{"sku": sku, "quantity": quantity} for sku, quantity in lines]}  # fmt: skip
        self.control_call("POST", "/orders", json={"orders": [spec]})
        self.settle()

    def change_order(self, reference: str, state: str) -> None:
        self.control_call("PATCH", f"/orders/{reference}", json={"status": STATUSES[state]})
        self.settle()

    def list_product(self, sku: str, quantity: int) -> str:
        self.control_call("POST", "/listings", json={"listings": [{"sku": sku, "quantity": quantity}]})
        return ""  # Amazon addresses listings by seller SKU

    def stock(self, sku: str) -> int | None:
        return next(x["quantity"] for x in self.control_call("GET", "/state")["listings"] if x["sku"] == sku)

    def buyer_messages(self, reference: str) -> list[str]:
        order = next(o for o in self.control_call("GET", "/state")["orders"] if o["AmazonOrderId"] == reference)
        return order["buyer_messages"]


class TestAmazonContract(ChannelContract):
    adapter = AmazonAdapter

    @pytest.fixture
    def sandbox(self) -> Iterator[AmazonAdapter]:
        """The suite's sandbox, behind a check of every request and answer against the API models."""
        app = manager.sandbox(AmazonAdapter.connector).create_app(**AmazonAdapter.sandbox_options)
        checked = SpecChecked(app, [ApiSpec.load(name) for name in SPECS], skip=("/__sandbox", "/auth/o2/token"))
        with serve(checked) as running:
            driver = AmazonAdapter(running.url)
            try:
                yield driver
            finally:
                driver.close()
        assert checked.problems == [], checked.problems

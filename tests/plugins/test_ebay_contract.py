"""The eBay connector keeps the channel contract (orderdeck.plugins.testing) against its sandbox,
found through orderdeck_register_sandboxes and served over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orderdeck.plugins.connectors import Connection
from orderdeck.plugins.testing import ChannelContract, ChannelSandboxAdapter
from orderdeck_ebay import EbaySettings

CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN = "contract-app", "contract-cert", "v^1.1#contract-refresh"
STATES: dict[str, dict[str, Any]] = {
    "paid": {"orderPaymentStatus": "PAID"},
    "unpaid": {"orderPaymentStatus": "PENDING"},
    "shipped": {"orderPaymentStatus": "PAID", "orderFulfillmentStatus": "FULFILLED"},
    "cancelled": {"orderPaymentStatus": "FULLY_REFUNDED", "cancelState": "CANCELED"},
}
"""eBay's payment, fulfillment and cancel states for each state the contract places orders in."""


def ebay_settings(url: str, *, client_secret: str = CLIENT_SECRET, refresh_token: str = REFRESH_TOKEN,
                  **options: Any) -> EbaySettings:  # fmt: skip
    """A connection's settings for a sandbox at ``url``, with call limits generous enough for tests."""
    defaults = {"fulfillment_calls_per_day": 50_000_000, "inventory_calls_per_day": 50_000_000, "burst": 50}
    return EbaySettings(api_url=url, client_id=CLIENT_ID, client_secret=client_secret, refresh_token=refresh_token,
                        **{**defaults, **options})  # fmt: skip


class EbayAdapter(ChannelSandboxAdapter):
    """The eBay sandbox's control API, in the contract's terms."""

    connector = "ebay"
    sandbox_options = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "refresh_token": REFRESH_TOKEN,
                       "skus": [], "seed": 5}  # fmt: skip

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # Orders change an hour ago, a second apart in the order they are placed: the connector
        # holds back orders changed in eBay's last settle_seconds.
        self.modified = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)

    def _tick(self) -> str:
        self.modified += timedelta(seconds=1)
        return self.modified.isoformat().replace("+00:00", ".000Z")

    def connection(self, *, valid: bool = True) -> Connection[EbaySettings]:
        settings = ebay_settings(self.url, refresh_token=REFRESH_TOKEN if valid else "v^1.1#revoked")
        return Connection(connection_id="ch-ebay-contract", name="Contract eBay", settings=settings)

    def place_order(self, reference: str, lines: list[tuple[str, int]], state: str = "paid") -> None:
        moment = self._tick()
        spec = {"orderId": reference, "creationDate": moment, "lastModifiedDate": moment, **STATES[state],
                "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines]}  # fmt: skip
        self.control_call("POST", "/orders", json={"orders": [spec]})

    def change_order(self, reference: str, state: str) -> None:
        self.control_call("PATCH", f"/orders/{reference}", json={**STATES[state], "lastModifiedDate": self._tick()})

    def list_product(self, sku: str, quantity: int) -> str:
        self.control_call("POST", "/inventory", json={"items": {sku: quantity}})
        return ""  # eBay's inventory is by SKU

    def stock(self, sku: str) -> int | None:
        return self.control_call("GET", "/state")["inventory"].get(sku)

    def buyer_messages(self, reference: str) -> list[str]:
        order = next(o for o in self.control_call("GET", "/state")["orders"] if o["orderId"] == reference)
        return order["buyerMessages"]


class TestEbayContract(ChannelContract):
    adapter = EbayAdapter

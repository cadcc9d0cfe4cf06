"""The WooCommerce connector keeps the channel contract (orderdeck.plugins.testing) against its
sandbox, found through orderdeck_register_sandboxes and served over real HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from orderdeck.plugins.connectors import Connection
from orderdeck.plugins.testing import ChannelContract, ChannelSandboxAdapter
from orderdeck_woocommerce import WooCommerceSettings

KEY, SECRET = "ck_contract", "cs_contract"
STATUSES = {"paid": "processing", "unpaid": "pending", "shipped": "completed", "cancelled": "cancelled"}
"""WooCommerce's status for each state the contract places orders in."""


class WooCommerceAdapter(ChannelSandboxAdapter):
    """The WooCommerce sandbox's control API, in the contract's terms."""

    connector = "woocommerce"
    sandbox_options = {"key": KEY, "secret": SECRET, "skus": [], "seed": 11, "utc_offset_hours": 2}

    def __init__(self, url: str) -> None:
        super().__init__(url)
        # Orders are modified an hour ago, one second apart in the order they are placed: the
        # connector holds back orders changed in the shop's last seconds.
        self.modified = datetime.now(UTC).replace(tzinfo=None, microsecond=0) - timedelta(hours=1)

    def connection(self, *, valid: bool = True) -> Connection[WooCommerceSettings]:
        settings = WooCommerceSettings(url=self.url, consumer_key=KEY, consumer_secret=SECRET if valid else "cs_wrong",
                                       requests_per_second=100)  # fmt: skip
        return Connection(connection_id="ch-contract", name="Contract shop", settings=settings)

    def place_order(self, reference: str, lines: list[tuple[str, int]], state: str = "paid") -> None:
        self.modified += timedelta(seconds=1)
        spec = {"number": reference, "status": STATUSES[state], "date_created_gmt": self.modified.isoformat(),
                "date_modified_gmt": self.modified.isoformat(),
                "lines": [{"sku": sku, "quantity": quantity} for sku, quantity in lines]}  # fmt: skip
        self.control_call("POST", "/orders", json={"orders": [spec]})

    def change_order(self, reference: str, state: str) -> None:
        self.modified += timedelta(seconds=1)
        order = next(o for o in self.control_call("GET", "/state")["orders"] if o["number"] == reference)
        self.control_call("PATCH", f"/orders/{order['id']}",
                          json={"status": STATUSES[state], "date_modified_gmt": self.modified.isoformat()})

    def list_product(self, sku: str, quantity: int) -> str:
        self.control_call("POST", "/products", json={"products": [{"sku": sku, "stock_quantity": quantity}]})
        return ""  # the connector finds products by SKU

    def stock(self, sku: str) -> int | None:
        return next(p["stock_quantity"] for p in self.control_call("GET", "/state")["products"] if p["sku"] == sku)

    def buyer_messages(self, reference: str) -> list[str]:
        order = next(o for o in self.control_call("GET", "/state")["orders"] if o["number"] == reference)
        return [note["note"] for note in order["notes"] if note["customer_note"]]


class TestWooCommerceContract(ChannelContract):
    adapter = WooCommerceAdapter


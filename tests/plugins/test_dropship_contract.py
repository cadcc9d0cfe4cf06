"""The URL drop shipper keeps the fulfilment contract (orderdeck.plugins.testing) against its
sandbox, found through orderdeck_register_sandboxes and served over real HTTP."""

from __future__ import annotations

from orderdeck.plugins.connectors import Connection
from orderdeck.plugins.testing import SKUS, FulfilmentContract, FulfilmentSandboxAdapter
from orderdeck_dropship import DropshipSettings

KEY = "dropship-contract-key"
CONTROL_ROUTES = {"SHIPPED": "/ship", "CANCELLED": "/cancel", "ERROR": "/error"}
"""The sandbox's control route making it report each status."""


class DropshipAdapter(FulfilmentSandboxAdapter):
    """The drop shipper sandbox's control API, in the contract's terms."""

    connector = "url_dropship"
    sandbox_options = {"api_key": KEY, "skus": [*SKUS, "WH-CUP"]}

    def connection(self, *, valid: bool = True) -> Connection[DropshipSettings]:
        settings = DropshipSettings(url=self.url, api_key=KEY if valid else "wrong-key", requests_per_second=100)
        return Connection(connection_id="fc-contract", name="Contract drop shipper", settings=settings)

    def received(self) -> list[tuple[int, list[tuple[str, int]]]]:
        return [(order["order_number"], [(line["sku"], line["quantity"]) for line in order["lines"]])
                for order in self.control_call("GET", "/state")["orders"]]  # fmt: skip

    def report(self, number: int, status: str, *, carrier: str = "", service: str = "", tracking: str = "",
               message: str = "") -> None:  # fmt: skip
        self.control_call("POST", CONTROL_ROUTES[status], json={"orders": [number], "carrier": carrier, "service": service,
                                                                "tracking_number": tracking, "message": message})  # fmt: skip

    def report_unreadable(self) -> None:
        self.control_call("POST", "/unreadable", json={"kind": "status"})

    def set_stock(self, sku: str, quantity: int) -> None:
        self.control_call("POST", "/stock", json={"levels": {sku: quantity}})


class TestDropshipContract(FulfilmentContract):
    adapter = DropshipAdapter

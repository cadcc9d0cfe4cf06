"""The fulfilment contract (orderdeck.plugins.testing) kept by the FTP warehouse connector against
its own sandbox: a real FTP server on loopback."""

from __future__ import annotations

from typing import Any

from orderdeck.plugins.connectors import Connection
from orderdeck.plugins.testing import FulfilmentContract, FulfilmentSandboxAdapter
from orderdeck_ftp_fulfilment import FtpWarehouseSettings

ROUTES = {"SHIPPED": "/ship", "CANCELLED": "/cancel", "ERROR": "/error"}


class FtpWarehouseAdapter(FulfilmentSandboxAdapter):
    """Drives the emulated warehouse through its control API."""

    connector = "ftp_warehouse"
    sandbox_options = {"username": "fc-user", "password": "fc-pass"}

    def connection(self, *, valid: bool = True) -> Connection[FtpWarehouseSettings]:
        ftp = self.control_call("GET", "/state")["ftp"]
        settings = FtpWarehouseSettings(host=ftp["host"], port=ftp["port"], username=ftp["username"],
                                        password=ftp["password"] if valid else "wrong", tls=False,
                                        timeout_seconds=5)  # fmt: skip
        return Connection("fc-1", "Sandbox warehouse", settings)

    def received(self) -> list[tuple[int, list[tuple[str, int]]]]:
        return [(o["number"], [tuple(line) for line in o["lines"]]) for o in self.control_call("GET", "/state")["orders"]]

    def report(self, number: int, status: str, *, carrier: str = "", service: str = "", tracking: str = "",
               message: str = "") -> None:  # fmt: skip
        body: dict[str, Any] = {"orders": [number], "carrier": carrier, "service": service, "tracking": tracking,
                                "message": message}  # fmt: skip
        self.control_call("POST", ROUTES[status], json=body)

    def report_unreadable(self) -> None:
        self.control_call("POST", "/unreadable", json={"kind": "status"})

    def set_stock(self, sku: str, quantity: int) -> None:
        self.control_call("POST", "/stock", json={"levels": {sku: quantity}})


class TestFtpWarehouseContract(FulfilmentContract):
    adapter = FtpWarehouseAdapter

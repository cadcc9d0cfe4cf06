"""Fulfilment centres end to end through the services, against each built-in connector's sandbox (a
real FTP server on loopback; a drop shipper over real HTTP), on SQLite and PostgreSQL: export,
lock-in, status import (shipped, cancelled, error), stock import, repeats and bad reports."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.services.helpers import levels_of, make_item, make_order, reload
from orderdeck.models import (
    AuditEntry,
    AuditKind,
    Connection,
    Dispatch,
    DispatchState,
    FulfilmentState,
    ImportedReport,
    Location,
    OrderState,
    SyncIssue,
    SyncOutcome,
)
from orderdeck.plugins import manager
from orderdeck.plugins.sandbox import CONTROL
from orderdeck.plugins.sandbox.serving import serve
from orderdeck.services import connections, locations, orders
from orderdeck.services.errors import ErrorCode, ServiceError
from orderdeck.services.fulfilment import exports, imports
from orderdeck.services.fulfilment.locations import set_location_fulfilment

ADDRESS = {"full_name": "Ada Lovelace", "address1": "1 Analytical Row", "town": "London", "postcode": "N1 1AA",
           "country": "GB"}  # fmt: skip
ROUTES = {"SHIPPED": "/ship", "CANCELLED": "/cancel", "ERROR": "/error"}


@dataclass
class Centre:
    """A running sandbox, the connection to it and the location it serves."""

    connector: str
    control: httpx.Client
    connection_id: uuid.UUID
    location: Location

    def call(self, method: str, path: str, **kwargs: Any) -> Any:
        response = self.control.request(method, f"{CONTROL}{path}", **kwargs)
        assert response.status_code < 300, response.text
        return response.json()

    def received(self) -> list[int]:
        key = "number" if self.connector == "ftp_warehouse" else "order_number"
        return [o[key] for o in self.call("GET", "/state")["orders"]]

    def report(self, number: int, status: str, **words: str) -> None:
        tracking = "tracking" if self.connector == "ftp_warehouse" else "tracking_number"
        body = {"orders": [number], "carrier": words.get("carrier", ""), "service": words.get("service", ""),
                tracking: words.get("tracking", ""), "message": words.get("message", "")}  # fmt: skip
        self.call("POST", ROUTES[status], json=body)


def _settings(connector: str, url: str, control: httpx.Client) -> dict[str, Any]:
    if connector == "ftp_warehouse":
        ftp = control.get(f"{CONTROL}/state").json()["ftp"]
        return {"host": ftp["host"], "port": ftp["port"], "username": ftp["username"], "password": ftp["password"],
                "tls": False, "timeout_seconds": 5}  # fmt: skip
    return {"url": url, "api_key": "fulfil-key", "requests_per_second": 100}


OPTIONS = {"ftp_warehouse": {"username": "fc", "password": "fc-pass"},
           "url_dropship": {"api_key": "fulfil-key", "skus": ["MUG", "CUP"]}}  # fmt: skip


@pytest.fixture(params=sorted(OPTIONS))
def sandbox(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    offered = manager.sandbox(request.param)
    with serve(offered.create_app(**OPTIONS[request.param])) as running:
        yield request.param, running.url


@pytest.fixture
async def centre(sandbox, default_location, actor) -> Centre:
    connector, url = sandbox
    control = httpx.Client(base_url=url, timeout=10)
    connection = await connections.create_connection(
        {"name": "Centre", "connector": connector, "settings": _settings(connector, url, control)}, actor)
    place = await locations.create_location("Centre stock", actor)
    place = await set_location_fulfilment(place.id, {"connection_id": connection.id}, actor)
    for sku in ("MUG", "CUP"):
        await make_item(sku, actor, level=10, location_id=place.id)
    return Centre(connector, control, connection.id, place)


async def test_an_order_goes_to_the_centre_once_and_comes_back_shipped(centre, actor):
    order = await make_order(actor, ("MUG", 2), shipping_address=ADDRESS, location_id=centre.location.id, reference="FC-1")
    run = await exports.export_orders(centre.connection_id)
    assert run is not None and run.outcome == SyncOutcome.SUCCEEDED and run.exported == 1
    order = await reload(order)
    assert order.fulfilment_state == FulfilmentState.EXPORTED and order.label_printed and order.export_file
    assert centre.received() == [order.number]
    assert await exports.export_orders(centre.connection_id) is None, "nothing left to export"

    centre.report(order.number, "SHIPPED", carrier="Royal Mail", service="Tracked 48", tracking="RM1GB")
    run = await imports.import_statuses(centre.connection_id)
    assert run is not None and run.imported == 1, [i.message async for i in SyncIssue.filter(run_id=run.id)]
    order = await reload(order)
    assert (order.state, order.fulfilment_state, order.tracking_number) == (OrderState.PROCESSED, FulfilmentState.SHIPPED, "RM1GB")
    assert await levels_of("MUG", centre.location.id) == (8, 0), "deducted where the location says so"
    assert (await Dispatch.get(order_id=order.id)).state == DispatchState.NOT_REQUIRED  # a direct order
    words = await AuditEntry.filter(subject_id=order.id, kind=AuditKind.FULFIL_STATUS).values_list("note", flat=True)
    assert len(words) == 1 and "SHIPPED" in words[0]

    again = await imports.import_statuses(centre.connection_id)
    assert again is not None and again.imported == 0, "nothing new at the centre"
    assert await ImportedReport.filter(connection_id=centre.connection_id).count() == 1


async def test_an_exported_order_is_locked_in_until_the_centre_cancels_it(centre, actor, default_location):
    order = await make_order(actor, ("CUP", 1), shipping_address=ADDRESS, location_id=centre.location.id)
    await exports.export_orders(centre.connection_id)
    for refused in (
        await orders.move_orders([order.id], default_location.id, actor),
        await orders.cancel_orders([order.id], "buyer asked", actor),
        await orders.process_orders([{"order_id": order.id}], actor),
    ):
        assert [f.code for f in refused.failures] == [ErrorCode.FULFILMENT_LOCKED], refused.failures
    with pytest.raises(ServiceError) as edit:
        await orders.update_order(order.id, {"buyer_name": "Someone else"}, actor)
    assert edit.value.errors[0].code == ErrorCode.FULFILMENT_LOCKED

    centre.report(order.number, "ERROR", message="Address incomplete")
    await imports.import_statuses(centre.connection_id)
    order = await reload(order)
    assert (order.fulfilment_state, order.fulfilment_message) == (FulfilmentState.ERROR, "Address incomplete")
    assert (await orders.move_orders([order.id], default_location.id, actor)).failures, "still held in error"

    centre.report(order.number, "CANCELLED", message="Out of stock")
    await imports.import_statuses(centre.connection_id)
    order = await reload(order)
    assert (order.state, order.fulfilment_state) == (OrderState.OPEN, FulfilmentState.CANCELLED)
    assert await exports.export_orders(centre.connection_id) is None, "a cancelled order is not sent again"
    moved = await orders.move_orders([order.id], default_location.id, actor)
    assert not moved.failures and (await reload(order)).fulfilment_state is None


async def test_stock_reports_set_the_centres_levels(centre, actor):
    centre.call("POST", "/stock", json={"levels": {"MUG": 25, "CUP": -3, "NOSUCH": 4}})
    run = await imports.import_stock(centre.connection_id)
    assert run is not None
    assert await levels_of("MUG", centre.location.id) == (25, 0)
    assert await levels_of("CUP", centre.location.id) == (0, 0), "negative as 0"
    issues = await SyncIssue.filter(run_id=run.id).values_list("kind", flat=True)
    assert "UNKNOWN_SKU" in issues


async def test_an_unknown_order_and_an_unreadable_report_are_issues_and_the_rest_applies(centre, actor):
    order = await make_order(actor, ("MUG", 1), shipping_address=ADDRESS, location_id=centre.location.id)
    await exports.export_orders(centre.connection_id)
    centre.call("POST", "/unreadable", json={"kind": "status"})
    centre.report(order.number, "SHIPPED", tracking="T-1")
    run = await imports.import_statuses(centre.connection_id)
    assert run is not None and run.imported == 1
    assert (await reload(order)).state == OrderState.PROCESSED
    kinds = await SyncIssue.filter(run_id=run.id).values_list("kind", flat=True)
    assert "BAD_ROW" in kinds


async def test_a_failed_export_keeps_the_partners_message_and_goes_again(centre, actor):
    order = await make_order(actor, ("MUG", 1), shipping_address=ADDRESS, location_id=centre.location.id)
    centre.call("POST", "/faults", json={"kind": "server_error", "count": 50, "status": 503})
    run = await exports.export_orders(centre.connection_id)
    assert run is not None and run.failed == 1
    order = await reload(order)
    assert order.fulfilment_state is None and order.label_error and order.export_next_at is not None
    centre.call("DELETE", "/faults")
    await type(order).filter(id=order.id).update(export_next_at=None)
    await exports.export_orders(centre.connection_id)
    order = await reload(order)
    assert order.fulfilment_state == FulfilmentState.EXPORTED and order.label_error == ""
    assert centre.received() == [order.number]


async def test_bad_fulfilment_settings_are_refused_by_field_and_change_nothing(default_location, actor):
    from orderdeck.services import channels

    centre = await connections.create_connection(
        {"name": "Drop", "connector": "url_dropship", "settings": {"url": "https://drop.example.com", "api_key": "k"}},
        actor)  # fmt: skip
    shop = await channels.create_channel({"name": "Shop", "plugin": "woocommerce", "settings": {
        "url": "https://shop.example.com", "consumer_key": "ck", "consumer_secret": "cs"}}, actor)  # fmt: skip
    place = await locations.create_location("Centre stock", actor)
    cases = [
        ({"connection_id": centre.id, "export_file_pattern": "orders-{nope}.csv"}, "exportFilePattern", ErrorCode.INVALID),
        ({"connection_id": centre.id, "export_file_pattern": "orders.csv"}, "exportFilePattern", ErrorCode.INVALID),
        ({"connection_id": centre.id, "export_file_pattern": "out/{batch}.csv"}, "exportFilePattern", ErrorCode.INVALID),
        ({"connection_id": centre.id, "export_columns": [{"source": "password"}]}, "exportColumns.0.source", ErrorCode.INVALID),
        ({"connection_id": shop.id}, "id", ErrorCode.NOT_FOUND),  # a channel is not a fulfilment connection
        ({"connection_id": uuid.uuid4()}, "id", ErrorCode.NOT_FOUND),
    ]
    for data, field, code in cases:
        with pytest.raises(ServiceError) as refused:
            await set_location_fulfilment(place.id, data, actor)
        assert [(e.field, e.code) for e in refused.value.errors] == [(field, code)], (data, refused.value.errors)
        after = await Location.get(id=place.id)
        assert (after.fulfilment_connection_id, after.export_columns) == (None, []), data
    for data, field in (({"name": "X", "connector": "nosuch"}, "connector"),
                        ({"name": "X", "connector": "url_dropship", "settings": {"url": "not a url"}}, "settings.url"),
                        ({"name": "Drop", "connector": "url_dropship",
                          "settings": {"url": "https://drop.example.com", "api_key": "k"}}, "name")):  # fmt: skip
        with pytest.raises(ServiceError) as refused:
            await connections.create_connection(data, actor)
        assert field in [e.field for e in refused.value.errors], (data, refused.value.errors)
    names = set(await Connection.all().values_list("name", flat=True))
    assert names == {"Drop", "Shop"}, "nothing was created"

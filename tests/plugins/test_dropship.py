"""The URL drop shipper beyond the fulfilment contract: refusals per order, CSV reports, bad rows
named by row and field, 429s, the sandbox's own API (its key, automatic shipping, driven by plain
httpx as its docstring documents it) and ``orderdeck sandbox url_dropship``. All over real HTTP."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest

from orderdeck.plugins.connectors import Connection, FulfilmentConnector
from orderdeck.plugins.dto import Address, ExportBatch, FulfilmentStatus, RowProblem
from orderdeck.plugins.errors import PartnerRateLimited
from orderdeck.plugins.manager import fulfilment_connector
from orderdeck.plugins.testing import fulfilment_order
from orderdeck_dropship import DropshipSettings
from orderdeck_dropship.sandbox import create_app
from tests.plugins.support import RunningApp, sandbox_command, serve

KEY = "dropship-test-key"
SKUS = ["MUG-RED", "MUG-BLUE"]


@pytest.fixture
def sandbox_options() -> dict[str, Any]:
    return {"api_key": KEY, "skus": SKUS}


@pytest.fixture
def sandbox(sandbox_options: dict[str, Any]) -> Iterator[RunningApp]:
    with serve(create_app(**sandbox_options)) as running:
        yield running


@pytest.fixture
def control(sandbox: RunningApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{sandbox.url}/__sandbox", timeout=10) as client:
        yield client


@pytest.fixture
def connector() -> FulfilmentConnector:
    return fulfilment_connector("url_dropship")


def connection(url: str, **settings: Any) -> Connection[DropshipSettings]:
    options = {"api_key": KEY, "requests_per_second": 100, **settings}
    return Connection("fc-1", "Drop shipper", DropshipSettings(url=url, **options))


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, response.text
    return response.json()


async def test_refused_orders_come_back_alone_and_the_rest_are_taken(connector, sandbox, control):
    good = fulfilment_order(11, [("MUG-RED", 2)])
    unknown = fulfilment_order(12, [("MUG-RED", 1), ("NO-SUCH-SKU", 1)])
    homeless = replace(fulfilment_order(13, [("MUG-BLUE", 1)]), shipping_address=Address(full_name="Nobody", town="Leeds"))
    result = await connector.export_orders(connection(sandbox.url), ExportBatch("orders-11-13.json", [good, unknown, homeless]))
    assert result.reference.startswith("B-")
    assert [(r.id, r.ok) for r in result.refused] == [("order-12", False), ("order-13", False)]
    assert "NO-SUCH-SKU" in result.refused[0].error and "address" in result.refused[1].error
    state = ok(control.get("/state"))
    assert [o["order_number"] for o in state["orders"]] == [11]
    assert list(state["batches"]) == ["orders-11-13.json"], "the batch's file name is its idempotency key"


async def test_an_order_sent_again_in_another_batch_is_not_taken_twice(connector, sandbox, control):
    fc = connection(sandbox.url)
    await connector.export_orders(fc, ExportBatch("orders-21.json", [fulfilment_order(21, [("MUG-RED", 1)])]))
    again = await connector.export_orders(fc, ExportBatch("orders-21-22.json", [fulfilment_order(21, [("MUG-RED", 1)]),
                                                                                fulfilment_order(22, [("MUG-BLUE", 1)])]))
    assert again.refused == [], "an order taken before is handed over, not refused"
    assert [o["order_number"] for o in ok(control.get("/state"))["orders"]] == [21, 22]


@pytest.mark.parametrize("sandbox_options", [{"api_key": KEY, "skus": SKUS, "status_format": "csv"}])
async def test_csv_status_and_stock_reports(connector, sandbox, control):
    fc = connection(sandbox.url, status_format="csv")
    await connector.export_orders(fc, ExportBatch("orders-31.json", [fulfilment_order(n, [("MUG-RED", 1)]) for n in (31, 32)]))
    ok(control.post("/ship", json={"orders": [31], "carrier": "DPD", "service": "Next Day", "tracking_number": "DPD31"}))
    ok(control.post("/cancel", json={"orders": [32], "message": "Out of stock"}))
    ok(control.post("/stock", json={"levels": {"MUG-RED": 7, "MUG-BLUE": -2}}))
    reports = await connector.import_statuses(fc)
    assert [r.problems for r in reports] == [[], []]
    lines = [line for report in reports for line in report.statuses]
    assert [(l.row, l.order_number, l.reference, l.status, l.carrier, l.service, l.tracking_number, l.message) for l in lines] == [
        (2, 31, "FC-31", FulfilmentStatus.SHIPPED, "DPD", "Next Day", "DPD31", ""),
        (2, 32, "FC-32", FulfilmentStatus.CANCELLED, "", "", "", "Out of stock"),
    ]  # fmt: skip
    body = httpx.get(f"{sandbox.url}/reports/{reports[0].file.name}", headers={"X-Api-Key": KEY})
    assert body.headers["content-type"].startswith("text/csv")
    assert body.text.splitlines()[0] == "order_number,reference,status,carrier,service,tracking_number,message"
    [stock] = await connector.import_stock(fc)
    assert [(l.row, l.sku, l.quantity) for l in stock.levels] == [(2, "MUG-RED", 7), (3, "MUG-BLUE", -2)]


async def test_bad_rows_are_named_by_row_and_field_and_the_good_ones_come_through(connector, sandbox, control):
    rows = [
        {"order_number": 41, "status": "dispatched", "carrier": "Evri", "tracking_number": "EV41"},
        {"order_number": 42, "status": "LOST"},
        {"order_number": "forty-three", "status": "SHIPPED"},
        {"order_number": 44, "status": "SHIPPED", "tracking_number": ["EV44", "EV44b"]},
        {"carrier": "Evri", "status": "SHIPPED"},
        {"reference": "FC-46", "status": "Canceled"},
        {"order_number": 47, "status": "failed", "message": "Parcel refused"},
        {"order_number": 48, "status": "Complete"},
        "not a row",
    ]
    ok(control.post("/report", json={"statuses": rows}))
    [report] = await connector.import_statuses(connection(sandbox.url))
    assert [(l.row, l.order_number, l.reference, l.status) for l in report.statuses] == [
        (1, 41, "", FulfilmentStatus.SHIPPED), (6, 0, "FC-46", FulfilmentStatus.CANCELLED),
        (7, 47, "", FulfilmentStatus.ERROR), (8, 48, "", FulfilmentStatus.COMPLETE),
    ]  # fmt: skip
    assert report.statuses[2].message == "Parcel refused"
    assert [(p.row, p.column) for p in report.problems] == [(2, "status"), (3, "order_number"), (4, "tracking_number"),
                                                            (5, "order_number"), (9, "")]  # fmt: skip
    assert all(p.reason for p in report.problems)
    assert "'LOST' is not a status" in report.problems[0].reason


@pytest.mark.parametrize("sandbox_options", [{"api_key": KEY, "skus": SKUS, "status_format": "csv"}])
async def test_a_csv_report_without_a_status_column_is_one_problem(connector, sandbox, control):
    ok(control.post("/unreadable", json={"kind": "stock"}))
    ok(control.post("/stock", json={"levels": {"MUG-RED": 3}}))
    unreadable, good = await connector.import_stock(connection(sandbox.url, status_format="csv"))
    assert unreadable.levels == [] and len(unreadable.problems) == 1 and "missing column" in unreadable.problems[0].reason
    assert [(l.sku, l.quantity) for l in good.levels] == [("MUG-RED", 3)] and good.problems == []


async def test_a_report_answer_cut_short_is_a_problem_not_an_exception(connector, sandbox, control):
    await connector.export_orders(connection(sandbox.url), ExportBatch("orders-51.json", [fulfilment_order(51, [("MUG-RED", 1)])]))
    ok(control.post("/ship", json={"orders": [51]}))
    ok(control.post("/faults", json={"kind": "malformed", "after": 1}))  # the index answers, the report does not
    [report] = await connector.import_statuses(connection(sandbox.url))
    assert report.statuses == [] and report.problems == [RowProblem(0, "", report.problems[0].reason)]
    [again] = await connector.import_statuses(connection(sandbox.url))
    assert again.file.name == report.file.name and again.file.content_hash != report.file.content_hash
    assert [line.tracking_number for line in again.statuses] == ["SBX00000051"]


async def test_a_short_429_is_waited_out_and_a_long_one_raises(connector, sandbox, control):
    fc = connection(sandbox.url)
    ok(control.post("/faults", json={"kind": "rate_limit", "retry_after": 0.2}))
    assert await connector.import_stock(fc) == []
    assert [r["status"] for r in ok(control.get("/requests"))] == [429, 200]
    ok(control.post("/faults", json={"kind": "rate_limit", "retry_after": 3600}))
    with pytest.raises(PartnerRateLimited) as raised:
        await connector.export_orders(fc, ExportBatch("orders-61.json", [fulfilment_order(61, [("MUG-RED", 1)])]))
    assert raised.value.retry_after == 3600
    assert ok(control.get("/state"))["orders"] == []


async def test_the_sandbox_refuses_a_wrong_key_and_takes_it_as_a_bearer_token(connector, sandbox):
    refused = httpx.get(f"{sandbox.url}/reports/status", headers={"X-Api-Key": "wrong"})
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_api_key"
    assert httpx.get(f"{sandbox.url}/reports/status").status_code == 401
    assert httpx.get(f"{sandbox.url}/reports/status", headers={"Authorization": f"Bearer {KEY}"}).json() == {"reports": []}
    result = await connector.test_connection(connection(sandbox.url, api_key="wrong"))
    assert not result.ok and "refused the API key" in result.message
    bearer = connection(sandbox.url, auth_header="Authorization", auth_prefix="Bearer ")
    assert (await connector.test_connection(bearer)).ok


@pytest.mark.parametrize("sandbox_options", [{"api_key": KEY, "skus": SKUS, "ship_after_seconds": 0.5}])
async def test_received_orders_ship_by_themselves_after_ship_after_seconds(connector, sandbox):
    fc = connection(sandbox.url)
    await connector.export_orders(fc, ExportBatch("orders-71.json", [fulfilment_order(n, [("MUG-RED", 1)]) for n in (71, 72)]))
    assert await connector.import_statuses(fc) == [], "not yet"
    await asyncio.sleep(0.6)
    [report] = await connector.import_statuses(fc)
    assert [(l.order_number, l.status, l.carrier, l.tracking_number) for l in report.statuses] == [
        (71, FulfilmentStatus.SHIPPED, "Sandbox Parcels", "SBX00000071"),
        (72, FulfilmentStatus.SHIPPED, "Sandbox Parcels", "SBX00000072"),
    ]  # fmt: skip
    await connector.consume(fc, report.file)
    assert await connector.import_statuses(fc) == [], "shipped once, acknowledged once"


def test_a_plain_http_client_uses_the_api_as_documented(sandbox, control):
    """httpx alone, no orderdeck code: the wire format of orderdeck_dropship's docstring."""
    api = httpx.Client(base_url=sandbox.url, headers={"X-Api-Key": KEY}, timeout=10)
    batch = {"batch": "b-1", "orders": [
        {"order_number": 1, "reference": "R-1", "address": {"address1": "1 High St", "postcode": "AB1 2CD"},
         "lines": [{"sku": "MUG-RED", "quantity": 1}]},
        {"order_number": 2, "reference": "R-2", "address": {"address1": ""}, "lines": [{"sku": "MUG-RED", "quantity": 1}]},
    ]}  # fmt: skip
    first = api.post("/orders", json=batch, headers={"Idempotency-Key": "b-1"})
    assert first.status_code == 201
    assert first.json() == {"batch_id": first.json()["batch_id"], "taken": [1], "duplicates": [],
                            "refused": [{"order_number": 2, "reference": "R-2", "reason": "no address line"}]}  # fmt: skip
    repeat = api.post("/orders", json=batch, headers={"Idempotency-Key": "b-1"})
    assert (repeat.status_code, repeat.headers["Idempotent-Replayed"], repeat.json()) == (200, "true", first.json())
    assert api.post("/orders", json=batch).json()["code"] == "missing_idempotency_key"
    ok(control.post("/ship", json={"orders": [1], "carrier": "DPD", "tracking_number": "DPD1"}))
    [listed] = api.get("/reports/status").json()["reports"]
    report = api.get(f"/reports/{listed['id']}")
    assert report.headers["content-type"] == "application/json"
    assert json.loads(report.content)["statuses"] == [{"order_number": 1, "reference": "R-1", "status": "SHIPPED",
                                                       "carrier": "DPD", "service": "", "tracking_number": "DPD1",
                                                       "message": ""}]  # fmt: skip
    assert api.post(f"/reports/{listed['id']}/ack").json() == {"id": listed["id"], "acknowledged": True}
    assert api.get("/reports/status").json() == {"reports": []}
    assert api.get("/reports/R-999").status_code == 404
    state = ok(control.get("/state"))
    assert [(o["order_number"], o["status"]) for o in state["orders"]] == [(1, "shipped")] and state["reports"] == []
    api.close()


def test_orderdeck_sandbox_serves_it(tmp_path: Path):
    with sandbox_command("url_dropship", log=tmp_path / "sandbox.log") as running:
        assert running.state["orders"] == [] and "MUG-RED" in running.state["stock"]
        assert httpx.get(f"{running.url}/reports/status", headers={"X-Api-Key": "sandbox-key"}).json() == {"reports": []}
    assert "API key 'sandbox-key'" in running.log.read_text()

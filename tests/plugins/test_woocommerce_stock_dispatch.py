"""Connection test, stock pushes and dispatches through the plugin manager, against the sandbox."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orderdeck.plugins.dto import DispatchLine, DispatchNote, ItemResult, StockUpdate
from orderdeck.plugins.errors import PartnerAuthError, PartnerUnavailable
from orderdeck.plugins.manager import channel_connector
from orderdeck_woocommerce import WooCommerceSettings
from tests.plugins.conftest import make_channel


def test_the_connector_describes_the_channel():
    info = channel_connector("woocommerce")
    assert (info.name, info.title, info.kind.value, info.source) == ("woocommerce", "WooCommerce", "CHANNEL", "WOOCOMMERCE")
    assert info.settings is WooCommerceSettings
    assert (info.stock_batch_size, info.dispatch_batch_size) == (100, 20)
    secret_fields = {name for name, f in WooCommerceSettings.model_fields.items() if "SecretStr" in str(f.annotation)}
    assert secret_fields == {"consumer_secret"}


def test_settings_are_validated():
    settings = WooCommerceSettings(url=" https://shop.example.com/ ", consumer_key="ck_1", consumer_secret="cs_1")
    assert settings.url == "https://shop.example.com" and settings.requests_per_second == 5
    assert settings.trusted_certificate is None, "the public CAs vouch for the shop"
    assert "cs_1" not in repr(settings)
    for bad in [{"url": "shop.example.com"}, {"url": "ftp://x"}, {"consumer_key": ""}, {"requests_per_second": 0},
                {"trusted_certificate": "not a certificate"}]:  # fmt: skip
        with pytest.raises(ValueError):
            WooCommerceSettings(**{"url": "https://s.example", "consumer_key": "ck", "consumer_secret": "cs", **bad})


async def test_connection_ok(hooks, channel, control):
    control.orders(random=3)
    result = await hooks.test_connection(channel)
    assert result.ok, result.message
    assert "3 orders" in result.message


async def test_connection_with_a_wrong_secret(hooks, sandbox):
    result = await hooks.test_connection(make_channel(sandbox.url, secret="cs_wrong"))
    assert not result.ok
    assert "refused" in result.message and "Invalid signature" in result.message


async def test_connection_to_something_that_is_not_woocommerce(hooks, sandbox):
    result = await hooks.test_connection(make_channel(sandbox.url + "/not-a-shop"))
    assert not result.ok and "WooCommerce REST API" in result.message


async def test_connection_to_nothing(hooks):
    channel = make_channel("http://127.0.0.1:9")  # discard port: nothing listens
    result = await hooks.test_connection(channel)
    assert not result.ok and "Could not reach" in result.message


# Stock


async def test_push_stock_updates_products_by_id_and_by_sku(hooks, channel, control):
    red, blue, tee = control.product("MUG-RED"), control.product("MUG-BLUE"), control.product("TEE-S")
    control.clear_requests()
    results = await hooks.push_stock(channel, updates=[
        StockUpdate("l-1", "MUG-RED", 7, channel_reference=str(red["id"])),
        StockUpdate("l-2", "MUG-BLUE", 0),  # no product id: found by SKU
        StockUpdate("l-3", "TEE-S", -4, channel_reference=str(tee["id"])),  # below zero: published as 0
    ])  # fmt: skip
    assert results == [ItemResult("l-1", True), ItemResult("l-2", True), ItemResult("l-3", True)]
    assert control.product("MUG-RED")["stock_quantity"] == 7
    assert control.product("MUG-BLUE")["stock_quantity"] == 0
    assert control.product("TEE-S")["stock_quantity"] == 0
    assert blue["id"] != red["id"]
    calls = [(r["method"], r["path"]) for r in control.requests()]
    assert calls == [("GET", "/wp-json/wc/v3/products"), ("POST", "/wp-json/wc/v3/products/batch")]


async def test_push_stock_reports_unknown_products_per_item(hooks, channel, control):
    control.products({"sku": "SIZE-M", "type": "variation", "parent_id": 1})
    results = await hooks.push_stock(channel, updates=[
        StockUpdate("l-1", "MUG-RED", 3),
        StockUpdate("l-2", "GONE", 3, channel_reference="999999"),  # WooCommerce refuses the id
        StockUpdate("l-3", "NO-SUCH-SKU", 3),
        StockUpdate("l-4", "SIZE-M", 3),
        StockUpdate("l-5", "X", 3, channel_reference="abc"),
        StockUpdate("l-6", "TEE-M", 9),
    ])  # fmt: skip
    by_id = {r.id: r for r in results}
    assert [r.id for r in results] == ["l-1", "l-2", "l-3", "l-4", "l-5", "l-6"]
    assert by_id["l-1"].ok and by_id["l-6"].ok
    assert not by_id["l-2"].ok and "Invalid ID" in by_id["l-2"].error and "999999" in by_id["l-2"].error
    assert not by_id["l-3"].ok and "no WooCommerce product has SKU NO-SUCH-SKU" in by_id["l-3"].error
    assert not by_id["l-4"].ok and "variation" in by_id["l-4"].error
    assert not by_id["l-5"].ok and "not a WooCommerce product id" in by_id["l-5"].error
    assert control.product("MUG-RED")["stock_quantity"] == 3 and control.product("TEE-M")["stock_quantity"] == 9


async def test_push_stock_of_a_full_batch_is_one_call(hooks, channel, control):
    products = control.products(*[{"sku": f"BULK-{i:03}", "stock_quantity": 1} for i in range(100)])
    control.clear_requests()
    updates = [StockUpdate(f"l-{i}", p["sku"], i, channel_reference=str(p["id"])) for i, p in enumerate(products)]
    results = await hooks.push_stock(channel, updates=updates)
    assert all(r.ok for r in results) and len(results) == 100
    assert len(control.requests()) == 1
    assert [control.product(f"BULK-{i:03}")["stock_quantity"] for i in (0, 57, 99)] == [0, 57, 99]


async def test_push_stock_auth_failure_raises(hooks, sandbox):
    with pytest.raises(PartnerAuthError):
        await hooks.push_stock(make_channel(sandbox.url, secret="x"),
                                         updates=[StockUpdate("l-1", "MUG-RED", 1, channel_reference="101")])  # fmt: skip


# Dispatch


def note(order: dict, dispatch_id: str = "d-1", **extra) -> DispatchNote:
    lines = [DispatchLine(str(line["id"]), line["quantity"]) for line in order["line_items"]]
    options = {"carrier": "Royal Mail", "tracking_number": "AB123456789GB", "external_reference": str(order["id"]), **extra}
    return DispatchNote(dispatch_id, order["number"], lines, datetime.now(UTC), **options)


async def test_send_dispatches_completes_orders_with_a_tracking_note(hooks, channel, control):
    first, second = control.orders({"status": "processing"}, {"status": "processing"})
    results = await hooks.send_dispatches(channel, notes=[
        note(first, "d-1"), note(second, "d-2", carrier="DPD", tracking_number="15501234"),
    ])  # fmt: skip
    assert results == [ItemResult("d-1", True), ItemResult("d-2", True)]
    one, two = control.order(first["id"]), control.order(second["id"])
    assert one["status"] == two["status"] == "completed"
    assert one["notes"] == [{"note": "Shipped with Royal Mail, tracking AB123456789GB", "customer_note": True}]
    assert two["notes"] == [{"note": "Shipped with DPD, tracking 15501234", "customer_note": True}]


async def test_a_failing_dispatch_does_not_fail_the_others(hooks, channel, control):
    good, cancelled = control.orders({"status": "processing"}, {"status": "cancelled"})
    missing = {**good, "id": 999999, "number": "999999"}
    results = await hooks.send_dispatches(channel, notes=[
        note(missing, "d-missing"), note(cancelled, "d-cancelled"), note(good, "d-good"),
        DispatchNote("d-noid", "SO-12", [], datetime.now(UTC)),
    ])  # fmt: skip
    by_id = {r.id: r for r in results}
    assert by_id["d-good"].ok
    assert not by_id["d-missing"].ok and "Invalid ID" in by_id["d-missing"].error
    assert not by_id["d-cancelled"].ok and "cancelled" in by_id["d-cancelled"].error
    assert not by_id["d-noid"].ok and "no WooCommerce order id" in by_id["d-noid"].error
    assert control.order(cancelled["id"])["status"] == "cancelled"
    assert control.order(good["id"])["status"] == "completed"


async def test_a_dispatch_without_the_order_id_uses_the_number_and_checks_it(hooks, channel, control):
    plain, renumbered = control.orders({}, {"number": "SO-7"})
    by_number = note(plain, "d-1", external_reference="")
    results = await hooks.send_dispatches(channel, notes=[by_number])
    assert results == [ItemResult("d-1", True)]
    # An order whose number is not its id cannot be found by number; the id check catches a wrong hit.
    wrong = DispatchNote("d-2", str(renumbered["id"] - 1), [], datetime.now(UTC), external_reference=str(renumbered["id"]))
    assert not (await hooks.send_dispatches(channel, notes=[wrong]))[0].ok
    assert control.order(renumbered["id"])["status"] != "completed"


async def test_a_retried_dispatch_does_not_repeat_the_note(hooks, channel, control):
    (order,) = control.orders({"status": "processing"})
    control.fault("server_error", count=10)  # the shop is down: the whole call fails, to be retried
    with pytest.raises(PartnerUnavailable):
        await hooks.send_dispatches(channel, notes=[note(order)])
    control.http.delete("/faults")
    for _ in range(2):
        assert (await hooks.send_dispatches(channel, notes=[note(order)]))[0].ok
    state = control.order(order["id"])
    assert state["status"] == "completed" and len(state["notes"]) == 1


async def test_a_note_without_carrier_or_tracking(hooks, channel, control):
    (order,) = control.orders({})
    await hooks.send_dispatches(channel, notes=[note(order, carrier="", tracking_number="")])
    assert control.order(order["id"])["notes"][0]["note"] == "Shipped"

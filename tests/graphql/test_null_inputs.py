"""Explicit nulls: in an input that creates something, null means the same as leaving the field out
(clients generated from the schema send null for empty form fields); in a patch, null clears a field
that may be empty and is refused for one that may not."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from orderdeck.models import Order, OrderReturn, StockItem
from tests.graphql.test_orders_support import ORDER_FIELDS, create_order, fields_of, gid, levels, stock_up

ADDRESS_FIELDS = ["fullName", "company", "address1", "address2", "address3", "town", "region", "postcode",
                  "country", "phone"]  # fmt: skip
NULL_ADDRESS = dict.fromkeys(ADDRESS_FIELDS)
ERRORS = "errors { field message code }"


def nulls(*names: str) -> dict[str, None]:
    return dict.fromkeys(names)


async def test_an_order_created_with_every_optional_field_null_takes_the_defaults(client, actor, default_location):
    await stock_up(actor, default_location, MUG=10)
    line = {"sku": "MUG", "quantity": 2,
            **nulls("unitPrice", "discount", "taxRate", "title", "channelSku", "itemNumber")}  # fmt: skip
    order = await create_order(
        client,
        items=[line],
        **nulls("locationId", "reference", "secondaryReference", "externalReference", "subsource", "status",
                "receivedAt", "despatchByAt", "paidAt", "buyerName", "email", "billingAddress", "shippingService",
                "shippingVendor", "trackingNumber", "postage", "currency", "paymentMethod", "tags"),
        shippingAddress=NULL_ADDRESS,
        notes=[{"text": "Ring twice", "internal": None}],
        properties=[{"name": "gift", "value": None, "type": None}],
    )  # fmt: skip
    assert (order["status"], order["state"], order["reference"], order["buyerName"]) == ("PAID", "OPEN", None, "")
    assert order["location"]["name"] == default_location.name
    assert order["receivedAt"] and order["paidAt"] == order["receivedAt"]
    assert order["shippingAddress"] == dict.fromkeys(ADDRESS_FIELDS, "")
    assert order["totals"]["currency"] == "GBP" and order["totals"]["total"] == "0.00"
    [item] = order["items"]
    assert (item["unitPrice"], item["taxRate"], item["title"]) == ("0.00", "0.000", "Item MUG")
    assert [(n["text"], n["internal"]) for n in order["notes"]] == [("Ring twice", True)]
    assert order["extendedProperties"] == [{"name": "gift", "value": "", "type": "Info"}]
    assert order["tags"] == [] and order["allocation"] == "FULL"
    assert await levels("MUG", default_location) == (10, 2)


async def test_notes_and_properties_added_with_nulls_take_the_defaults(client, actor, default_location):
    await stock_up(actor, default_location, MUG=1)
    order = await create_order(client, items=[{"sku": "MUG", "quantity": 1}])
    note = await client.gql(
        f"""mutation($id: ID!) {{ addOrderNote(orderId: $id, input: {{text: "Hi", internal: null}}) {{
            note {{ internal }} {ERRORS} }} }}""", {"id": order["id"]})  # fmt: skip
    assert note["addOrderNote"] == {"note": {"internal": True}, "errors": []}
    prop = await client.gql(
        f"""mutation($id: ID!) {{ setOrderProperty(orderId: $id, input: {{name: "n", value: null, type: null}}) {{
            property {{ name value type }} {ERRORS} }} }}""", {"id": order["id"]})  # fmt: skip
    assert prop["setOrderProperty"] == {"property": {"name": "n", "value": "", "type": "Info"}, "errors": []}


async def test_returns_and_resends_created_with_nulls_take_the_defaults(client, actor, default_location):
    await stock_up(actor, default_location, MUG=5)
    order = await create_order(client, items=[{"sku": "MUG", "quantity": 3}])
    processed = await client.gql(
        f"""mutation($id: ID!) {{ processOrder(input: {{orderId: $id, trackingNumber: null, shippingVendor: null,
            shippingService: null}}) {{ failures {{ message }} {ERRORS} }} }}""", {"id": order["id"]})  # fmt: skip
    assert processed["processOrder"] == {"failures": [], "errors": []}
    lines = [{"itemId": order["items"][0]["id"], "quantity": 1}]
    returned = await client.gql(
        f"""mutation($input: ReturnInput!) {{ createReturn(input: $input) {{
            orderReturn {{ restock location {{ name }} }} {ERRORS} }} }}""",
        {"input": {"orderId": order["id"], "items": lines, "reason": "Broken", "restock": None, "locationId": None}},
    )  # fmt: skip
    assert returned["createReturn"] == {"orderReturn": {"restock": True, "location": {"name": default_location.name}},
                                        "errors": []}  # fmt: skip
    assert await OrderReturn.filter(restock=True).count() == 1
    resent = await client.gql(
        f"mutation($input: ResendInput!) {{ createResend(input: $input) {{ order {{ {ORDER_FIELDS} }} {ERRORS} }} }}",
        {"input": {"orderId": order["id"], "items": lines, "reason": "Lost", "locationId": None, "cost": None}},
    )
    assert resent["createResend"]["errors"] == []
    assert Decimal(resent["createResend"]["order"]["totals"]["postage"]) == 0
    assert resent["createResend"]["order"]["location"]["name"] == default_location.name


async def test_a_stock_item_created_with_nulls_takes_the_defaults(client):
    data = await client.gql(
        f"""mutation {{ createStockItem(input: {{sku: "MUG", title: "Mug", barcode: null, weight: null,
            unitPrice: null}}) {{ stockItem {{ sku barcode weight unitPrice }} {ERRORS} }} }}"""
    )  # fmt: skip
    assert data["createStockItem"] == {
        "stockItem": {"sku": "MUG", "barcode": None, "weight": "0.000", "unitPrice": "0.00"}, "errors": []
    }  # fmt: skip
    assert await StockItem.filter(sku="MUG").count() == 1


UPDATE_ORDER = f"""mutation($id: ID!, $input: OrderPatchInput!) {{
  updateOrder(id: $id, input: $input) {{ order {{ secondaryReference despatchByAt buyerName }} {ERRORS} }} }}"""


async def test_in_a_patch_null_clears_a_field_or_is_refused(client, actor, default_location):
    await stock_up(actor, default_location, MUG=1)
    order = await create_order(client, items=[{"sku": "MUG", "quantity": 1}], secondaryReference="S-1",
                               despatchByAt="2026-12-01T00:00:00Z", buyerName="Ada")  # fmt: skip
    cleared = await client.gql(UPDATE_ORDER, {"id": order["id"], "input": {"secondaryReference": None,
                                                                         "despatchByAt": None}})  # fmt: skip
    assert cleared["updateOrder"] == {"order": {"secondaryReference": None, "despatchByAt": None, "buyerName": "Ada"},
                                      "errors": []}  # fmt: skip
    refused: dict[str, Any] = await client.gql(UPDATE_ORDER, {"id": order["id"], "input": {"email": None}})
    assert fields_of(refused["updateOrder"]["errors"]) == [("email", "INVALID")]
    stored = await Order.get(number=order["number"])
    assert (stored.secondary_reference, stored.despatch_by_at, stored.email) == (None, None, "")
    assert gid("Order", stored.id) == order["id"]

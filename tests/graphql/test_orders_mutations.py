"""A tour through every order mutation, checking the returned data, the stored data and the stock
levels (and stock invariant 2, recomputed from the raw tables) after each step."""

from __future__ import annotations

from typing import Any

from orderdeck.models import AuditEntry, DeletedOrder, Order
from tests.graphql.test_orders_support import (
    BATCH_FIELDS,
    ORDER_FIELDS,
    create_order,
    gid,
    levels,
    raw_id,
    second_location,
    stock_up,
)
from tests.services.helpers import assert_stock_consistent

ERRORS = "errors { field message code }"


async def batch(client: Any, name: str, order_ids: list[str], **args: Any) -> dict[str, Any]:
    """Run a batch mutation taking orderIds (plus scalar ``args``); assert no errors; return its payload."""
    types = {"status": "OrderStatus!", "tags": "[String!]!", "locationId": "ID!", "reason": "String!"}
    params = "".join(f", ${k}: {types[k]}" for k in args)
    passed = "".join(f", {k}: ${k}" for k in args)
    query = f"mutation($ids: [ID!]!{params}) {{ {name}(orderIds: $ids{passed}) {{ {BATCH_FIELDS} }} }}"
    payload = (await client.gql(query, {"ids": order_ids, **args}))[name]
    assert payload["errors"] == [], payload["errors"]
    return payload


async def fetch(client: Any, order_id: str) -> dict[str, Any]:
    data = await client.gql(f"query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}", {"id": order_id})
    return data["order"]


def line(order: dict[str, Any], sku: str) -> dict[str, Any]:
    return next(i for i in order["items"] if i["sku"] == sku)


async def test_every_order_mutation(client, actor, default_location):
    home = default_location
    away = await second_location(actor)
    await stock_up(actor, home, MUG=10, TEE=5, CAP=0)
    await stock_up(actor, away, CAP=3)

    # --- createOrder ------------------------------------------------------------------------
    first = await create_order(
        client,
        reference="R-1", secondaryReference="S-1", externalReference="X-1",
        receivedAt="2026-03-01T12:00:00+02:00", despatchByAt="2026-03-03T12:00:00Z",
        buyerName="Ada Lovelace", email="ada@example.com",
        shippingAddress={"fullName": "Ada Lovelace", "address1": "1 Analytical St", "town": "London",
                         "postcode": "N1 1AA", "country": "GB"},
        shippingService="Tracked 24", shippingVendor="Royal Mail", postage="3.50", paymentMethod="card",
        items=[{"sku": "MUG", "quantity": 2, "unitPrice": "5.00", "taxRate": "20", "itemNumber": "L1"},
               {"sku": "TEE", "quantity": 1, "unitPrice": "10.00", "discount": "1.00"}],
        tags=["gift"], notes=[{"text": "Wrap it", "internal": False}],
        properties=[{"name": "colour", "value": "blue"}],
    )  # fmt: skip
    assert first["state"] == "OPEN" and first["status"] == "PAID" and first["source"] == "DIRECT"
    assert first["receivedAt"] == "2026-03-01T10:00:00+00:00"
    assert first["paidAt"] == first["receivedAt"]
    assert (first["reference"], first["secondaryReference"], first["externalReference"]) == ("R-1", "S-1", "X-1")
    assert first["billingAddress"] == {"fullName": "Ada Lovelace", "town": "London", "postcode": "N1 1AA", "country": "GB"}
    assert first["shippingAddress"]["address1"] == "1 Analytical St"
    assert first["shipping"] == {"service": "Tracked 24", "vendor": "Royal Mail", "trackingNumber": "",
                                 "totalWeight": "1.500", "postage": "3.50"}  # fmt: skip
    assert first["totals"] == {"subtotal": "19.00", "postage": "3.50", "discount": "1.00", "tax": "2.00",
                               "total": "24.50", "currency": "GBP", "paymentMethod": "card"}  # fmt: skip
    assert line(first, "MUG")["lineTotal"] == "12.00" and line(first, "MUG")["itemNumber"] == "L1"
    assert line(first, "MUG")["stockLevel"] == {"level": 10, "allocated": 2, "available": 8}
    assert line(first, "TEE")["stockItem"] == {"sku": "TEE"} and line(first, "TEE")["linked"]
    assert first["location"]["name"] == home.name
    assert first["tags"] == ["gift"]
    assert [(n["text"], n["internal"], n["author"]) for n in first["notes"]] == [("Wrap it", False, "test-admin")]
    assert first["extendedProperties"] == [{"name": "colour", "value": "blue", "type": "Info"}]
    assert first["allocation"] == "FULL" and first["dispatch"] is None
    assert await levels("MUG", home) == (10, 2) and await levels("TEE", home) == (5, 1)
    await assert_stock_consistent()

    # --- createOrders -------------------------------------------------------------------------
    data = await client.gql(
        f"mutation($input: [OrderInput!]!) {{ createOrders(input: $input) {{ orders {{ {ORDER_FIELDS} }} {ERRORS} }} }}",
        {"input": [
            {"reference": "R-2", "locationId": gid("Location", away.id), "items": [{"sku": "CAP", "quantity": 1}]},
            {"reference": "R-3", "status": "UNPAID", "items": [{"sku": "MUG", "quantity": 3}]},
            {"reference": "R-4", "items": [{"sku": "TEE", "quantity": 2}]},
            {"reference": "R-5", "items": [{"sku": "TEE", "quantity": 1}]},
        ]},
    )  # fmt: skip
    assert data["createOrders"]["errors"] == []
    second, third, fourth, fifth = data["createOrders"]["orders"]
    assert [o["number"] for o in (second, third, fourth, fifth)] == [first["number"] + n for n in range(1, 5)]
    assert second["location"]["name"] == away.name and second["allocation"] == "FULL"
    assert third["status"] == "UNPAID" and third["parked"] is True
    assert await levels("MUG", home) == (10, 5)
    assert await levels("TEE", home) == (5, 4)
    assert await levels("CAP", away) == (3, 1)
    await assert_stock_consistent()

    # --- updateOrder: a changed line (by id), a dropped line, a new line; unset fields stay -------
    mug_line = line(first, "MUG")["id"]
    data = await client.gql(
        f"mutation($id: ID!, $input: OrderPatchInput!) {{ updateOrder(id: $id, input: $input) {{ order {{ {ORDER_FIELDS} }} {ERRORS} }} }}",
        {"id": first["id"], "input": {
            "buyerName": "Ada King", "secondaryReference": None,
            "items": [{"id": mug_line, "sku": "MUG", "quantity": 4, "unitPrice": "5.00", "taxRate": "20"},
                      {"sku": "CAP", "quantity": 1, "unitPrice": "8.00"}],
        }},
    )  # fmt: skip
    assert data["updateOrder"]["errors"] == []
    edited = data["updateOrder"]["order"]
    assert edited["buyerName"] == "Ada King" and edited["secondaryReference"] is None
    assert edited["email"] == "ada@example.com" and edited["reference"] == "R-1"
    assert edited["shipping"]["postage"] == "3.50"
    assert [(i["sku"], i["quantity"]) for i in edited["items"]] == [("MUG", 4), ("CAP", 1)]
    assert line(edited, "MUG")["id"] == mug_line
    assert edited["totals"]["subtotal"] == "28.00" and edited["totals"]["total"] == "35.50"
    assert edited["allocation"] == "PARTIAL"  # MUG covered at home, CAP not (none there)
    assert await levels("MUG", home) == (10, 7)
    assert await levels("TEE", home) == (5, 3)
    assert await levels("CAP", home) == (0, 1)
    await assert_stock_consistent()

    # --- setOrderStatus -------------------------------------------------------------------------
    payload = await batch(client, "setOrderStatus", [third["id"]], status="PAID")
    assert [(o["status"], o["parked"]) for o in payload["orders"]] == [("PAID", False)]
    assert payload["orders"][0]["paidAt"] is not None
    assert await levels("MUG", home) == (10, 7)

    # --- park / unpark --------------------------------------------------------------------------
    payload = await batch(client, "parkOrders", [first["id"]])
    assert payload["orders"][0]["parked"] is True
    assert await levels("MUG", home) == (10, 7)  # parked orders keep their stock
    payload = await batch(client, "unparkOrders", [first["id"]])
    assert payload["orders"][0]["parked"] is False
    payload = await batch(client, "unparkOrders", [first["id"]])
    assert payload["orders"] == [] and payload["failures"][0]["code"] == "INVALID_TRANSITION"
    assert payload["failures"][0]["orderId"] == first["id"] and payload["failures"][0]["number"] == first["number"]

    # --- lock / unlock: stock released and allocated again ------------------------------------------
    payload = await batch(client, "lockOrders", [first["id"]])
    assert payload["orders"][0]["locked"] is True and payload["orders"][0]["allocation"] == "NOT_ALLOCATED"
    assert await levels("MUG", home) == (10, 3) and await levels("CAP", home) == (0, 0)
    await assert_stock_consistent()
    payload = await batch(client, "unlockOrders", [first["id"]])
    assert payload["orders"][0]["locked"] is False
    assert await levels("MUG", home) == (10, 7) and await levels("CAP", home) == (0, 1)
    await assert_stock_consistent()

    # --- hold / release -------------------------------------------------------------------------
    payload = await batch(client, "holdOrders", [first["id"], second["id"]])
    assert [o["onHold"] for o in payload["orders"]] == [True, True]
    payload = await batch(client, "releaseOrders", [first["id"], second["id"]])
    assert [o["onHold"] for o in payload["orders"]] == [False, False]
    assert await levels("MUG", home) == (10, 7)

    # --- tags ---------------------------------------------------------------------------------
    payload = await batch(client, "addOrderTags", [first["id"], second["id"]], tags=["priority", "gift"])
    assert [o["tags"] for o in payload["orders"]] == [["gift", "priority"], ["gift", "priority"]]
    payload = await batch(client, "removeOrderTags", [first["id"]], tags=["gift"])
    assert payload["orders"][0]["tags"] == ["priority"]

    # --- moveOrders: the allocation moves with the order ------------------------------------------
    payload = await batch(client, "moveOrders", [first["id"]], locationId=gid("Location", away.id))
    moved = payload["orders"][0]
    assert moved["location"]["name"] == away.name
    assert line(moved, "CAP")["stockLevel"] == {"level": 3, "allocated": 2, "available": 1}
    assert await levels("MUG", home) == (10, 3) and await levels("MUG", away) == (0, 4)
    assert await levels("CAP", home) == (0, 0) and await levels("CAP", away) == (3, 2)
    assert moved["allocation"] == "PARTIAL"  # CAP covered at away, MUG not
    await assert_stock_consistent()

    # --- processOrder: level deducted, allocation released, dispatch recorded ---------------------
    data = await client.gql(
        f"mutation($input: ProcessOrderInput!) {{ processOrder(input: $input) {{ {BATCH_FIELDS} }} }}",
        {"input": {"orderId": third["id"], "trackingNumber": "TRK-3", "shippingVendor": "DPD"}},
    )
    assert data["processOrder"]["errors"] == [] and data["processOrder"]["failures"] == []
    [processed] = data["processOrder"]["orders"]
    assert processed["state"] == "PROCESSED" and processed["processedAt"] is not None
    assert processed["shipping"]["trackingNumber"] == "TRK-3" and processed["shipping"]["vendor"] == "DPD"
    assert processed["dispatch"] == {"state": "NOT_REQUIRED", "carrier": "DPD", "service": "", "trackingNumber": "TRK-3",
                                     "attempts": 0, "lastError": None, "sentAt": None}  # fmt: skip
    assert processed["allocation"] == "NOT_ALLOCATED"
    assert await levels("MUG", home) == (7, 0)
    await assert_stock_consistent()

    # --- processOrders -------------------------------------------------------------------------
    data = await client.gql(
        f"mutation($input: [ProcessOrderInput!]!) {{ processOrders(input: $input) {{ {BATCH_FIELDS} }} }}",
        {"input": [{"orderId": second["id"]}, {"orderId": first["id"]}]},
    )
    payload = data["processOrders"]
    assert [o["number"] for o in payload["orders"]] == [second["number"]]
    assert [(f["orderId"], f["code"]) for f in payload["failures"]] == [(first["id"], "INSUFFICIENT_STOCK")]
    assert await levels("CAP", away) == (2, 1)
    assert await levels("MUG", away) == (0, 4)
    await assert_stock_consistent()

    # --- cancelOrders ----------------------------------------------------------------------------
    payload = await batch(client, "cancelOrders", [fourth["id"]], reason="Customer changed their mind")
    assert payload["orders"][0]["state"] == "CANCELLED" and payload["orders"][0]["cancelledAt"] is not None
    assert await levels("TEE", home) == (5, 1)
    await assert_stock_consistent()

    # --- deleteOrders: stock released, a deleted-order record kept ----------------------------------
    payload = await batch(client, "deleteOrders", [fifth["id"]], reason="Duplicate")
    assert payload["orders"][0]["number"] == fifth["number"]
    assert await levels("TEE", home) == (5, 0)
    assert not await Order.filter(id=raw_id(fifth["id"])).exists()
    gone = await DeletedOrder.get(id=raw_id(fifth["id"]))
    assert (gone.reason, gone.deleted_by, gone.reference) == ("Duplicate", "test-admin", "R-5")
    await assert_stock_consistent()

    # --- notes ---------------------------------------------------------------------------------
    data = await client.gql(
        """mutation($id: ID!) { addOrderNote(orderId: $id, input: {text: "Call before delivery"}) {
             note { id text internal author } order { notes { text } } errors { field } } }""",
        {"id": first["id"]},
    )
    note = data["addOrderNote"]["note"]
    assert (note["text"], note["internal"], note["author"]) == ("Call before delivery", True, "test-admin")
    assert [n["text"] for n in data["addOrderNote"]["order"]["notes"]] == ["Wrap it", "Call before delivery"]
    data = await client.gql(
        "mutation($id: ID!) { deleteOrderNote(noteId: $id) { order { notes { text } } errors { field } } }",
        {"id": note["id"]},
    )
    assert data["deleteOrderNote"] == {"order": {"notes": [{"text": "Wrap it"}]}, "errors": []}

    # --- extended properties ------------------------------------------------------------------------
    set_property = """mutation($id: ID!, $input: OrderPropertyInput!) { setOrderProperty(orderId: $id, input: $input) {
        property { name value type } order { extendedProperties { name value } } errors { field } } }"""
    data = await client.gql(set_property, {"id": first["id"], "input": {"name": "gift-wrap", "value": "yes", "type": "Flag"}})
    assert data["setOrderProperty"]["property"] == {"name": "gift-wrap", "value": "yes", "type": "Flag"}
    data = await client.gql(set_property, {"id": first["id"], "input": {"name": "gift-wrap", "value": "no"}})
    assert data["setOrderProperty"]["order"]["extendedProperties"] == [
        {"name": "colour", "value": "blue"}, {"name": "gift-wrap", "value": "no"}]  # fmt: skip
    data = await client.gql(
        """mutation($id: ID!) { removeOrderProperty(orderId: $id, name: "colour") {
             order { extendedProperties { name } } errors { field } } }""",
        {"id": first["id"]},
    )
    assert data["removeOrderProperty"] == {"order": {"extendedProperties": [{"name": "gift-wrap"}]}, "errors": []}

    # --- createReturn: restocked at the order's location ------------------------------------------
    mug_of_third = line(processed, "MUG")["id"]
    data = await client.gql(
        f"""mutation($input: ReturnInput!) {{ createReturn(input: $input) {{
              orderReturn {{ reason restock createdBy location {{ name }} items {{ quantity orderItem {{ sku }} }} }}
              order {{ {ORDER_FIELDS} }} {ERRORS} }} }}""",
        {"input": {"orderId": third["id"], "items": [{"itemId": mug_of_third, "quantity": 1}], "reason": "Broken"}},
    )
    assert data["createReturn"]["errors"] == []
    assert data["createReturn"]["orderReturn"] == {"reason": "Broken", "restock": True, "createdBy": "test-admin",
                                                   "location": {"name": home.name},
                                                   "items": [{"quantity": 1, "orderItem": {"sku": "MUG"}}]}  # fmt: skip
    assert len(data["createReturn"]["order"]["returns"]) == 1
    assert await levels("MUG", home) == (8, 0)
    await assert_stock_consistent()

    # --- createResend: a new open RESEND order linked to the original --------------------------------
    data = await client.gql(
        f"mutation($input: ResendInput!) {{ createResend(input: $input) {{ order {{ {ORDER_FIELDS} }} {ERRORS} }} }}",
        {"input": {"orderId": third["id"], "items": [{"itemId": mug_of_third, "quantity": 2}], "reason": "Lost",
                   "cost": "4.00"}},
    )  # fmt: skip
    assert data["createResend"]["errors"] == []
    resend = data["createResend"]["order"]
    assert (resend["status"], resend["state"], resend["originalOrder"]) == ("RESEND", "OPEN", {"number": third["number"]})
    assert [(i["sku"], i["quantity"]) for i in resend["items"]] == [("MUG", 2)]
    assert resend["totals"]["postage"] == "4.00" and resend["allocation"] == "FULL"
    assert (await fetch(client, third["id"]))["resends"] == [{"number": resend["number"], "status": "RESEND"}]
    assert await levels("MUG", home) == (8, 2)
    await assert_stock_consistent()

    # --- the audit trail: the newest entries on the order, the whole of it a page at a time ---------
    expected = [e.kind.value for e in await AuditEntry.filter(subject_id=raw_id(first["id"])).order_by("-id")]
    newest = "query($id: ID!) { order(id: $id) { auditTrail(limit: 3) { kind actor subjectNodeId } } }"
    entries = (await client.gql(newest, {"id": first["id"]}))["order"]["auditTrail"]
    assert [e["kind"] for e in entries] == expected[:3] == ["PROPERTY_REMOVED", "PROPERTY_SET", "PROPERTY_SET"]
    assert {(e["actor"], e["subjectNodeId"]) for e in entries} == {("test-admin", first["id"])}
    trail = """query($id: String!, $after: String) { auditTrail(filter: {subjectId: $id}, first: 3, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } nodes { kind } } }"""
    page = (await client.gql(trail, {"id": first["id"]}))["auditTrail"]
    assert page["totalCount"] == len(expected) > 10
    assert [n["kind"] for n in page["nodes"]] == expected[:3]
    nxt = (await client.gql(trail, {"id": first["id"], "after": page["pageInfo"]["endCursor"]}))["auditTrail"]
    assert [n["kind"] for n in nxt["nodes"]] == expected[3:6]
    assert expected[-1] == "ORDER_CREATED"

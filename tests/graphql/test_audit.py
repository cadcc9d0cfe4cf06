"""The audit trail over GraphQL: filters, cursors, and the entries mutations leave behind."""

from __future__ import annotations

import asyncio
import uuid

from orderdeck.graphql.common import encode_id
from orderdeck.models import AuditEntry, Role, StockItem
from orderdeck.services import auth, locations, orders, stock
from orderdeck.services.context import Actor

TRAIL = """query($filter: AuditFilter, $first: Int, $after: String, $last: Int, $before: String) {
  auditTrail(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes { id kind subject subjectId orderNumber note tag before after actor actorKind createdAt }
  }
}"""


async def trail(client, filter: dict | None = None, **page) -> dict:
    return (await client.gql(TRAIL, {"filter": filter, **page}))["auditTrail"]


def kinds(page: dict) -> list[str]:
    return [n["kind"] for n in page["nodes"]]


async def test_mutations_leave_entries_by_the_token(client, default_location):
    await client.gql('mutation { createStockItem(input: {sku: "MUG", title: "Mug"}) { errors { code } } }')
    await client.gql('mutation { createLocation(name: "North") { errors { code } } }')
    page = await trail(client, {"actor": "test-admin"})
    assert kinds(page) == ["LOCATION_CREATED", "STOCK_ITEM_CREATED"]
    assert {(n["actor"], n["actorKind"]) for n in page["nodes"]} == {("test-admin", "TOKEN")}
    item_entry = page["nodes"][1]
    assert item_entry["subject"] == "STOCK_ITEM" and item_entry["after"]["sku"] == "MUG" and item_entry["before"] is None
    stored = await AuditEntry.get(kind="STOCK_ITEM_CREATED")
    assert item_entry["id"] == encode_id("AuditEntry", stored.id)
    assert item_entry["subjectId"] == str(stored.subject_id)


async def test_audit_filters(client, default_location, actor):
    other = Actor("someone-else")
    item = await stock.create_stock_item({"sku": "MUG", "title": "Mug"}, actor)
    north = await locations.create_location("North", other)
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id, "quantity": 3}]}, actor)
    order = await orders.create_direct_order({"items": [{"sku": "MUG", "quantity": 1, "unit_price": "2"}]}, other)

    item_kinds = ["STOCK_LEVEL_SET", "STOCK_ITEM_CREATED"]
    assert kinds(await trail(client, {"subjectId": str(item.id)})) == item_kinds
    assert kinds(await trail(client, {"subjectId": encode_id("StockItem", item.id)})) == item_kinds
    assert kinds(await trail(client, {"subjectId": encode_id("Location", north.id)})) == ["LOCATION_CREATED"]
    by_order = await trail(client, {"subjectId": encode_id("Order", order.id)})
    assert kinds(by_order) and {n["orderNumber"] for n in by_order["nodes"]} == {order.number}
    assert (await trail(client, {"orderNumber": order.number}))["totalCount"] == by_order["totalCount"]
    assert (await trail(client, {"orderNumber": order.number + 1}))["totalCount"] == 0

    assert kinds(await trail(client, {"kinds": ["STOCK_ITEM_CREATED", "LOCATION_CREATED"]})) == [
        "LOCATION_CREATED", "STOCK_ITEM_CREATED", "LOCATION_CREATED"  # North, MUG, Default (first start)
    ]  # fmt: skip
    assert kinds(await trail(client, {"kinds": ["LOCATION_CREATED"], "actor": "someone-else"})) == ["LOCATION_CREATED"]
    assert {n["subject"] for n in (await trail(client, {"subject": "LOCATION"}))["nodes"]} == {"LOCATION"}
    assert (await trail(client, {"subject": "LOCATION"}))["totalCount"] == 2
    assert (await trail(client, {"actor": "tester"}))["totalCount"] == 2
    assert (await trail(client, {"actor": "nobody"}))["totalCount"] == 0
    assert (await trail(client, {"subjectId": str(uuid.uuid4())}))["totalCount"] == 0
    assert (await trail(client, {"kinds": []}))["totalCount"] == 0


async def test_time_window(client, default_location, actor):
    await stock.create_stock_item({"sku": "A", "title": "A"}, actor)
    await asyncio.sleep(0.01)
    await stock.create_stock_item({"sku": "B", "title": "B"}, actor)
    await asyncio.sleep(0.01)
    await stock.create_stock_item({"sku": "C", "title": "C"}, actor)
    b = await AuditEntry.get(note="B")
    at = b.created_at.isoformat()
    window = {"kinds": ["STOCK_ITEM_CREATED"]}
    assert [n["note"] for n in (await trail(client, {**window, "from": at}))["nodes"]] == ["C", "B"]
    assert [n["note"] for n in (await trail(client, {**window, "to": at}))["nodes"]] == ["B", "A"]
    c = await AuditEntry.get(note="C")
    between = await trail(client, {**window, "from": at, "to": c.created_at.isoformat()})
    assert [n["note"] for n in between["nodes"]] == ["C", "B"]
    assert [n["note"] for n in (await trail(client, {**window, "from": at, "to": at}))["nodes"]] == ["B"]


async def test_audit_pages_newest_first_both_ways(client, default_location, actor):
    for n in range(6):
        await stock.create_stock_item({"sku": f"S{n}", "title": "x"}, actor)
    window = {"kinds": ["STOCK_ITEM_CREATED"]}
    first = await trail(client, window, first=4)
    assert [n["note"] for n in first["nodes"]] == ["S5", "S4", "S3", "S2"]
    assert first["totalCount"] == 6
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    rest = await trail(client, window, first=4, after=first["pageInfo"]["endCursor"])
    assert [n["note"] for n in rest["nodes"]] == ["S1", "S0"]
    assert not rest["pageInfo"]["hasNextPage"] and rest["pageInfo"]["hasPreviousPage"]
    back = await trail(client, window, last=2, before=rest["pageInfo"]["startCursor"])
    assert [n["note"] for n in back["nodes"]] == ["S3", "S2"]
    assert back["pageInfo"]["hasPreviousPage"] and back["pageInfo"]["hasNextPage"]
    oldest = await trail(client, window, last=3)
    assert [n["note"] for n in oldest["nodes"]] == ["S2", "S1", "S0"]
    body = (await client.post(TRAIL, {"first": 101})).json()
    assert "between 0 and 100" in body["errors"][0]["message"]


async def test_bad_subject_ids_are_errors(client, default_location):
    for bad, message in [
        ("garbage", "not a valid id"),
        (encode_id("ApiToken", uuid.uuid4()), "not an audit subject"),
        (encode_id("StockItem", "12"), "not a valid StockItem id"),
    ]:
        body = (await client.post(TRAIL, {"filter": {"subjectId": bad}})).json()
        assert body["data"] is None
        assert message in body["errors"][0]["message"], body


async def test_reader_may_read_the_trail(client, default_location):
    _, secret = await auth.create_token("reader", Actor.system(), Role.READER)
    data = await client.gql('{ auditTrail(filter: {kinds: [TOKEN_CREATED]}) { nodes { note } } }', token=secret)
    assert [n["note"] for n in data["auditTrail"]["nodes"]] == ["reader (READER)", "test-admin (ADMIN)"]


NEWEST = """query($order: ID!, $item: ID!, $location: ID!, $limit: Int!) {
  order: node(id: $order) { ... on Order { auditTrail(limit: $limit) { kind subjectNodeId } } }
  item: node(id: $item) { ... on StockItem { auditTrail(limit: $limit) { kind subjectNodeId } } }
  location: node(id: $location) { ... on Location { auditTrail(limit: $limit) { kind subjectNodeId } } }
}"""


async def test_orders_stock_items_and_locations_list_their_newest_entries(client, default_location, actor):
    item = await stock.create_stock_item({"sku": "MUG", "title": "Mug"}, actor)
    for level in (3, 4, 5):
        row = {"sku": "MUG", "location_id": default_location.id, "quantity": level}
        await stock.set_stock_levels({"levels": [row]}, actor)
    order = await orders.create_direct_order({"items": [{"sku": "MUG", "quantity": 1}]}, actor)
    await orders.set_parked([order.id], True, actor)
    await orders.set_parked([order.id], False, actor)
    ids = {"order": encode_id("Order", order.id), "item": encode_id("StockItem", item.id),
           "location": encode_id("Location", default_location.id)}  # fmt: skip

    data = await client.gql(NEWEST, {**ids, "limit": 50})
    assert [e["kind"] for e in data["order"]["auditTrail"]] == ["UNPARKED", "PARKED", "ORDER_CREATED"]
    assert [e["kind"] for e in data["item"]["auditTrail"]] == ["STOCK_LEVEL_SET"] * 3 + ["STOCK_ITEM_CREATED"]
    assert [e["kind"] for e in data["location"]["auditTrail"]] == ["LOCATION_CREATED"]
    for name, global_id in ids.items():
        assert {e["subjectNodeId"] for e in data[name]["auditTrail"]} == {global_id}

    data = await client.gql(NEWEST, {**ids, "limit": 2})
    assert [e["kind"] for e in data["order"]["auditTrail"]] == ["UNPARKED", "PARKED"]
    assert [e["kind"] for e in data["item"]["auditTrail"]] == ["STOCK_LEVEL_SET"] * 2
    for limit in (0, 201):
        body = (await client.post(NEWEST, {**ids, "limit": limit})).json()
        assert "limit must be between 1 and 200" in body["errors"][0]["message"]


async def test_each_trail_gets_its_own_limit_in_one_query(client, default_location, actor, count_queries):
    for n in range(3):
        await stock.create_stock_item({"sku": f"S{n}", "title": "x"}, actor)
        await stock.update_stock_item((await StockItem.get(sku=f"S{n}")).id, {"title": "y"}, actor)
    query = """{ stockItems { nodes { sku one: auditTrail(limit: 1) { kind } all: auditTrail { kind } } } }"""
    with count_queries() as counter:
        nodes = (await client.gql(query))["stockItems"]["nodes"]
    assert [(n["sku"], [e["kind"] for e in n["one"]], [e["kind"] for e in n["all"]]) for n in nodes] == [
        (f"S{n}", ["STOCK_ITEM_UPDATED"], ["STOCK_ITEM_UPDATED", "STOCK_ITEM_CREATED"]) for n in range(3)
    ]
    assert counter.count == 3  # the token, the page, the trails


async def test_subject_node_id_is_the_subjects_global_id_and_null_for_tokens(client, default_location, actor):
    item = await stock.create_stock_item({"sku": "MUG", "title": "Mug"}, actor)
    nodes = (await client.gql("{ auditTrail { nodes { kind subjectNodeId } } }"))["auditTrail"]["nodes"]
    assert [(n["kind"], n["subjectNodeId"]) for n in nodes] == [
        ("STOCK_ITEM_CREATED", encode_id("StockItem", item.id)),
        ("TOKEN_CREATED", None),
        ("LOCATION_CREATED", encode_id("Location", default_location.id)),
    ]

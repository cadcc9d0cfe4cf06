"""Stock items over GraphQL: create, update, look up, list with filters and cursors; permissions;
the cost in SQL statements of a page of items with their levels."""

from __future__ import annotations

import pytest

from orderdeck.graphql.common import encode_id
from orderdeck.models import AuditEntry, AuditKind, Role, StockItem
from orderdeck.services import auth, stock
from orderdeck.services.context import Actor
from tests.services.helpers import assert_unchanged_by, db_state

ITEM_FIELDS = "id sku title barcode weight unitPrice"
CREATE = f"""mutation($input: CreateStockItemInput!) {{
  createStockItem(input: $input) {{ stockItem {{ {ITEM_FIELDS} }} errors {{ field code message }} }}
}}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateStockItemInput!) {{
  updateStockItem(id: $id, input: $input) {{ stockItem {{ {ITEM_FIELDS} }} errors {{ field code message }} }}
}}"""
ITEMS = """query($filter: StockItemFilter, $first: Int, $after: String, $last: Int, $before: String) {
  stockItems(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    nodes { sku }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}"""


def location_gid(location) -> str:
    return encode_id("Location", location.id)


async def skus(client, filter: dict | None = None, **page) -> list[str]:
    data = await client.gql(ITEMS, {"filter": filter, **page})
    return [n["sku"] for n in data["stockItems"]["nodes"]]


async def refused(client, query: str, variables: dict, field: str | None, code: str) -> dict:
    """Run a mutation that must be refused with (field, code) and change nothing; return its payload."""
    before = await db_state()
    data = await client.gql(query, variables)
    (payload,) = data.values()
    assert (field, code) in [(e["field"], e["code"]) for e in payload["errors"]], payload["errors"]
    await assert_unchanged_by(before)
    return payload


# --- create ------------------------------------------------------------------------------------


async def test_create_stock_item_is_stored_queryable_and_audited(client):
    data = await client.gql(CREATE, {"input": {"sku": "MUG-1", "title": "Blue mug", "barcode": "5012345",
                                               "weight": "0.350", "unitPrice": "4.99"}})  # fmt: skip
    payload = data["createStockItem"]
    assert payload["errors"] == []
    created = payload["stockItem"]
    assert created["sku"] == "MUG-1" and created["weight"] == "0.350" and created["unitPrice"] == "4.99"

    row = await StockItem.get(sku="MUG-1")
    assert (row.title, row.barcode, str(row.weight), str(row.unit_price)) == ("Blue mug", "5012345", "0.350", "4.99")
    assert created["id"] == encode_id("StockItem", row.id)

    by_id = await client.gql("query($id: ID!) { stockItem(id: $id) { sku title } }", {"id": created["id"]})
    by_sku = await client.gql('{ stockItem(sku: "MUG-1") { id } }')
    assert by_id["stockItem"] == {"sku": "MUG-1", "title": "Blue mug"}
    assert by_sku["stockItem"]["id"] == created["id"]

    entry = await AuditEntry.get(subject_id=row.id)
    assert (entry.kind, entry.actor, entry.after["sku"]) == (AuditKind.STOCK_ITEM_CREATED, "test-admin", "MUG-1")


async def test_duplicate_sku_is_refused(client, actor):
    await stock.create_stock_item({"sku": "MUG-1", "title": "Mug"}, actor)
    await refused(client, CREATE, {"input": {"sku": "MUG-1", "title": "Another"}}, "sku", "DUPLICATE")


async def test_too_long_sku_is_refused(client):
    await refused(client, CREATE, {"input": {"sku": "X" * 101, "title": "Long"}}, "sku", "INVALID")
    ok = await client.gql(CREATE, {"input": {"sku": "X" * 100, "title": "Long"}})
    assert ok["createStockItem"]["errors"] == []


async def test_negative_price_is_refused(client):
    await refused(client, CREATE, {"input": {"sku": "A", "title": "A", "unitPrice": "-1"}}, "unitPrice", "INVALID")


# --- update ------------------------------------------------------------------------------------


async def test_update_changes_only_the_fields_given(client, actor):
    item = await stock.create_stock_item({"sku": "MUG-1", "title": "Mug", "barcode": "111", "weight": "2"}, actor)
    gid = encode_id("StockItem", item.id)

    data = await client.gql(UPDATE, {"id": gid, "input": {"title": "Large mug"}})
    assert data["updateStockItem"]["errors"] == []
    assert data["updateStockItem"]["stockItem"]["title"] == "Large mug"
    row = await StockItem.get(id=item.id)
    assert (row.sku, row.title, row.barcode, str(row.weight)) == ("MUG-1", "Large mug", "111", "2.000")

    data = await client.gql(UPDATE, {"id": gid, "input": {"barcode": None, "sku": "MUG-L"}})
    assert data["updateStockItem"]["stockItem"]["barcode"] is None
    row = await StockItem.get(id=item.id)
    assert (row.sku, row.title, row.barcode) == ("MUG-L", "Large mug", None)

    entries = await AuditEntry.filter(subject_id=item.id, kind=AuditKind.STOCK_ITEM_UPDATED).order_by("id")
    assert [(e.before["title"], e.after["title"]) for e in entries] == [("Mug", "Large mug"), ("Large mug", "Large mug")]
    assert [(e.before["sku"], e.after["sku"]) for e in entries][1] == ("MUG-1", "MUG-L")
    assert {e.actor for e in entries} == {"test-admin"}


@pytest.mark.parametrize(
    ("patch", "field", "code"),
    [
        ({"sku": None}, "sku", "INVALID"),
        ({"title": ""}, "title", "INVALID"),
        ({"weight": None}, "weight", "INVALID"),
        ({"unitPrice": None}, "unitPrice", "INVALID"),
        ({"sku": "OTHER"}, "sku", "DUPLICATE"),
        ({"sku": "Y" * 101}, "sku", "INVALID"),
    ],
)
async def test_bad_update_is_refused(client, actor, patch, field, code):
    item = await stock.create_stock_item({"sku": "MUG-1", "title": "Mug"}, actor)
    await stock.create_stock_item({"sku": "OTHER", "title": "Other"}, actor)
    await refused(client, UPDATE, {"id": encode_id("StockItem", item.id), "input": patch}, field, code)


async def test_update_with_malformed_or_unknown_id_is_refused(client, default_location, actor):
    await stock.create_stock_item({"sku": "MUG-1", "title": "Mug"}, actor)
    for bad in ["not-an-id", location_gid(default_location), encode_id("StockItem", "123")]:
        await refused(client, UPDATE, {"id": bad, "input": {"title": "X"}}, "id", "INVALID")
    unknown = encode_id("StockItem", "00000000-0000-4000-8000-000000000000")
    await refused(client, UPDATE, {"id": unknown, "input": {"title": "X"}}, "id", "NOT_FOUND")


# --- look-up -----------------------------------------------------------------------------------


async def test_stock_item_wants_exactly_one_of_id_and_sku(client, actor):
    item = await stock.create_stock_item({"sku": "MUG-1", "title": "Mug"}, actor)
    for args in ["", f'(id: "{encode_id("StockItem", item.id)}", sku: "MUG-1")']:
        body = (await client.post(f"{{ stockItem{args} {{ sku }} }}")).json()
        assert "exactly one" in body["errors"][0]["message"]
    assert (await client.gql('{ stockItem(sku: "NOPE") { sku } }'))["stockItem"] is None
    body = (await client.post('{ stockItem(id: "garbage") { sku } }')).json()
    assert "not a valid StockItem id" in body["errors"][0]["message"]


# --- list ----------------------------------------------------------------------------------------


async def test_search_matches_sku_title_or_barcode_case_insensitively(client, actor):
    await stock.create_stock_item({"sku": "MUG-BLUE", "title": "Mug", "barcode": "5000"}, actor)
    await stock.create_stock_item({"sku": "CUP-1", "title": "Blue cup"}, actor)
    await stock.create_stock_item({"sku": "PLATE", "title": "Plate", "barcode": "77BLUE77"}, actor)
    await stock.create_stock_item({"sku": "BOWL_100%", "title": "Bowl"}, actor)
    assert await skus(client, {"search": "blue"}) == ["CUP-1", "MUG-BLUE", "PLATE"]
    assert await skus(client, {"search": "500"}) == ["MUG-BLUE"]
    assert await skus(client, {"search": "%"}) == ["BOWL_100%"]
    assert await skus(client, {"search": "P_1"}) == []  # "_" is no wildcard (CUP-1)
    assert await skus(client, {"search": "nothing"}) == []


async def test_items_page_forwards_and_backwards_with_total_count(client, actor):
    for n in range(7):
        await stock.create_stock_item({"sku": f"SKU-{n}", "title": f"Item {n}"}, actor)
    first = (await client.gql(ITEMS, {"first": 3}))["stockItems"]
    assert [n["sku"] for n in first["nodes"]] == ["SKU-0", "SKU-1", "SKU-2"]
    assert first["totalCount"] == 7
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]

    second = (await client.gql(ITEMS, {"first": 3, "after": first["pageInfo"]["endCursor"]}))["stockItems"]
    assert [n["sku"] for n in second["nodes"]] == ["SKU-3", "SKU-4", "SKU-5"]
    third = (await client.gql(ITEMS, {"first": 3, "after": second["pageInfo"]["endCursor"]}))["stockItems"]
    assert [n["sku"] for n in third["nodes"]] == ["SKU-6"]
    assert not third["pageInfo"]["hasNextPage"] and third["pageInfo"]["hasPreviousPage"]

    back = (await client.gql(ITEMS, {"last": 2, "before": second["pageInfo"]["startCursor"]}))["stockItems"]
    assert [n["sku"] for n in back["nodes"]] == ["SKU-1", "SKU-2"]
    assert back["pageInfo"]["hasPreviousPage"] and back["pageInfo"]["hasNextPage"]
    tail = (await client.gql(ITEMS, {"last": 2}))["stockItems"]
    assert [n["sku"] for n in tail["nodes"]] == ["SKU-5", "SKU-6"]

    filtered = (await client.gql(ITEMS, {"filter": {"search": "sku-"}, "first": 1}))["stockItems"]
    assert filtered["totalCount"] == 7 and filtered["nodes"] == [{"sku": "SKU-0"}]


async def test_location_and_below_minimum_filters(client, default_location, actor):
    from orderdeck.services.locations import create_location

    north = await create_location("North", actor)
    for sku in ["A", "B", "C", "D"]:
        await stock.create_stock_item({"sku": sku, "title": sku}, actor)
    await stock.set_stock_levels({"levels": [
        {"sku": "A", "location_id": default_location.id, "quantity": 2},
        {"sku": "B", "location_id": default_location.id, "quantity": 10},
        {"sku": "C", "location_id": north.id, "quantity": 1},
    ]}, actor)  # fmt: skip
    await stock.set_minimum_level("A", default_location.id, 5, actor)  # 2 < 5: low here
    await stock.set_minimum_level("B", default_location.id, 10, actor)  # 10 is not below 10
    await stock.set_minimum_level("C", north.id, 3, actor)  # 1 < 3: low at North
    await stock.set_minimum_level("D", north.id, 0, actor)  # a zero row at North, not low

    here, there = location_gid(default_location), location_gid(north)
    assert await skus(client, {"belowMinimum": True}) == ["A", "C"]
    assert await skus(client, {"belowMinimum": True, "locationId": here}) == ["A"]
    assert await skus(client, {"belowMinimum": True, "locationId": there}) == ["C"]
    assert await skus(client, {"locationId": there}) == ["C", "D"]
    assert await skus(client, {"belowMinimum": False}) == ["A", "B", "C", "D"]

    # Orders holding stock count: available = level - allocated.
    await stock.set_minimum_level("B", default_location.id, 9, actor)
    assert await skus(client, {"belowMinimum": True, "locationId": here}) == ["A"]
    from orderdeck.services.orders import create_direct_order

    await create_direct_order({"items": [{"sku": "B", "quantity": 2, "unit_price": "1"}],
                               "location_id": default_location.id}, actor)  # fmt: skip
    assert await skus(client, {"belowMinimum": True, "locationId": here}) == ["A", "B"]
    data = await client.gql(ITEMS.replace("nodes { sku }", "nodes { sku levels { available belowMinimum } }"),
                            {"filter": {"belowMinimum": True, "locationId": here}})  # fmt: skip
    assert data["stockItems"]["nodes"][1]["levels"] == [{"available": 8, "belowMinimum": True}]
    assert data["stockItems"]["totalCount"] == 2


async def test_malformed_location_filter_is_an_error(client):
    body = (await client.post(ITEMS, {"filter": {"locationId": "nope"}})).json()
    assert body["data"] is None
    assert "filter.locationId" in body["errors"][0]["message"]


# --- cost ----------------------------------------------------------------------------------------

LEVELS_PAGE = """query($first: Int) {
  stockItems(first: $first) { nodes { sku levels { available location { name } } } }
}"""


async def _page_cost(client, count_queries, size: int) -> int:
    with count_queries() as counter:
        data = await client.gql(LEVELS_PAGE, {"first": size})
    nodes = data["stockItems"]["nodes"]
    assert len(nodes) == size
    assert all(len(n["levels"]) == 2 and {lv["location"]["name"] for lv in n["levels"]} == {"Default", "North"}
               for n in nodes)  # fmt: skip
    return counter.count


async def test_a_page_of_items_with_levels_costs_the_same_for_5_and_60_items(
    client, default_location, actor, count_queries
):
    from orderdeck.services.locations import create_location

    north = await create_location("North", actor)
    rows = []
    for n in range(60):
        await stock.create_stock_item({"sku": f"SKU-{n:03}", "title": f"Item {n}"}, actor)
        rows += [{"sku": f"SKU-{n:03}", "location_id": default_location.id, "quantity": n + 1},
                 {"sku": f"SKU-{n:03}", "location_id": north.id, "quantity": 1}]  # fmt: skip
    await stock.set_stock_levels({"levels": rows[:100]}, actor)
    await stock.set_stock_levels({"levels": rows[100:]}, actor)

    small = await _page_cost(client, count_queries, 5)
    large = await _page_cost(client, count_queries, 60)
    # The token look-up, the page, the levels of all its items, the locations of all those levels.
    assert small == large == 4


# --- permissions -------------------------------------------------------------------------------

STOCK_MUTATIONS = [
    'createStockItem(input: {sku: "A", title: "A"}) { errors { code } }',
    'updateStockItem(id: "x", input: {title: "A"}) { errors { code } }',
    'setStockLevels(input: {levels: [{sku: "A", locationId: "x", level: 1}]}) { errors { code } }',
    'adjustStockLevels(input: {levels: [{sku: "A", locationId: "x", change: 1}]}) { errors { code } }',
    'setMinimumLevel(sku: "A", locationId: "x", minimumLevel: 1) { errors { code } }',
]


@pytest.mark.parametrize("mutation", STOCK_MUTATIONS)
async def test_reader_can_read_stock_but_not_change_it(client, actor, mutation):
    await stock.create_stock_item({"sku": "MUG-1", "title": "Mug"}, actor)
    _, secret = await auth.create_token("reader", Actor.system(), Role.READER)
    data = await client.gql("{ stockItems { nodes { sku } } stockLedger { totalCount } }", token=secret)
    assert data["stockItems"]["nodes"] == [{"sku": "MUG-1"}]

    before = await db_state()
    body = (await client.post(f"mutation {{ {mutation} }}", token=secret)).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await assert_unchanged_by(before)


async def test_operator_may_change_stock(client):
    _, secret = await auth.create_token("operator", Actor.system(), Role.OPERATOR)
    data = await client.gql('mutation { createStockItem(input: {sku: "A", title: "A"}) { errors { code } } }',
                            token=secret)  # fmt: skip
    assert data["createStockItem"]["errors"] == []
    assert (await AuditEntry.get(kind=AuditKind.STOCK_ITEM_CREATED)).actor == "operator"

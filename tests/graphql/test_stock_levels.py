"""Stock levels over GraphQL: set, adjust, minimum levels, levels per location, and the stock ledger
(filters, cursors, before/after values)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime

import pytest

from orderdeck.graphql.common import encode_id
from orderdeck.models import AuditEntry, AuditKind, StockChangeReason, StockItem, StockLedgerEntry, StockLevel
from orderdeck.services import locations, orders, stock
from tests.services.helpers import assert_stock_consistent, assert_unchanged_by, db_state

SET = """mutation($input: SetStockLevelsInput!) {
  setStockLevels(input: $input) {
    levels { level allocated available minimumLevel item { sku } location { name } }
    errors { field code message }
  }
}"""
ADJUST = SET.replace("SetStockLevelsInput", "AdjustStockLevelsInput").replace("setStockLevels", "adjustStockLevels")
MINIMUM = """mutation($sku: String!, $locationId: ID!, $minimum: Int!) {
  setMinimumLevel(sku: $sku, locationId: $locationId, minimumLevel: $minimum) {
    level { level minimumLevel belowMinimum item { sku } location { name } }
    errors { field code message }
  }
}"""
LEDGER = """query($filter: StockLedgerFilter, $first: Int, $after: String, $last: Int, $before: String) {
  stockLedger(filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    nodes {
      id reason levelBefore levelAfter allocatedBefore allocatedAfter levelChange allocatedChange
      orderNumber note actor actorKind createdAt item { sku } location { name }
    }
  }
}"""


def gid(location) -> str:
    return encode_id("Location", location.id)


async def level_of(sku: str, location) -> tuple[int, int, int] | None:
    row = await StockLevel.get_or_none(item__sku=sku, location_id=location.id)
    return (row.level, row.allocated, row.minimum_level) if row else None


async def ledger(client, filter: dict | None = None, **page) -> dict:
    return (await client.gql(LEDGER, {"filter": filter, **page}))["stockLedger"]


async def refused(client, query: str, variables: dict, field: str | None, code: str) -> dict:
    """Run a mutation that must be refused with (field, code) and change nothing; return its payload."""
    before = await db_state()
    data = await client.gql(query, variables)
    (payload,) = data.values()
    assert (field, code) in [(e["field"], e["code"]) for e in payload["errors"]], payload["errors"]
    await assert_unchanged_by(before)
    return payload


@pytest.fixture
async def north(database, actor):
    return await locations.create_location("North", actor)


@pytest.fixture
async def items(database, actor):
    return {sku: await stock.create_stock_item({"sku": sku, "title": f"Item {sku}"}, actor) for sku in ["MUG", "CUP"]}


# --- set and adjust ------------------------------------------------------------------------------


async def test_set_levels_writes_levels_ledger_and_audit(client, default_location, north, items):
    data = await client.gql(SET, {"input": {"reason": "stock count", "levels": [
        {"sku": "MUG", "locationId": gid(default_location), "level": 12},
        {"sku": "CUP", "locationId": gid(north), "level": 3},
    ]}})  # fmt: skip
    payload = data["setStockLevels"]
    assert payload["errors"] == []
    assert [(lv["item"]["sku"], lv["location"]["name"], lv["level"], lv["available"]) for lv in payload["levels"]] == [
        ("MUG", "Default", 12, 12), ("CUP", "North", 3, 3)
    ]  # fmt: skip
    assert await level_of("MUG", default_location) == (12, 0, 0)
    assert await level_of("CUP", north) == (3, 0, 0)

    # A second count replaces the level; the ledger records the difference.
    await client.gql(SET, {"input": {"levels": [{"sku": "MUG", "locationId": gid(default_location), "level": 7}]}})
    assert await level_of("MUG", default_location) == (7, 0, 0)

    rows = await StockLedgerEntry.filter(item_id=items["MUG"].id).order_by("id")
    assert [(r.reason, r.level_before, r.level_after, r.allocated_before, r.allocated_after, r.note, r.actor)
            for r in rows] == [
        (StockChangeReason.LEVEL_SET, 0, 12, 0, 0, "stock count", "test-admin"),
        (StockChangeReason.LEVEL_SET, 12, 7, 0, 0, "", "test-admin"),
    ]  # fmt: skip
    audit = await AuditEntry.filter(subject_id=items["MUG"].id, kind=AuditKind.STOCK_LEVEL_SET).order_by("id")
    assert [(e.before["level"], e.after["level"], e.actor) for e in audit] == [(0, 12, "test-admin"), (12, 7, "test-admin")]
    assert audit[0].after["locationId"] == str(default_location.id)

    page = await ledger(client, {"sku": "MUG"})
    assert [(n["levelBefore"], n["levelAfter"], n["levelChange"], n["reason"]) for n in page["nodes"]] == [
        (12, 7, -5, "LEVEL_SET"), (0, 12, 12, "LEVEL_SET")
    ]  # fmt: skip
    newest = page["nodes"][0]
    assert (newest["actor"], newest["actorKind"], newest["location"], newest["item"]) == (
        "test-admin", "TOKEN", {"name": "Default"}, {"sku": "MUG"}
    )  # fmt: skip
    assert newest["id"] == encode_id("StockLedgerEntry", rows[1].id)
    await assert_stock_consistent()


async def test_adjust_levels_adds_and_removes(client, default_location, items, actor):
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id, "quantity": 10}]}, actor)
    data = await client.gql(ADJUST, {"input": {"reason": "delivery", "levels": [
        {"sku": "MUG", "locationId": gid(default_location), "change": -4},
        {"sku": "CUP", "locationId": gid(default_location), "change": 6},
    ]}})  # fmt: skip
    assert data["adjustStockLevels"]["errors"] == []
    assert [lv["level"] for lv in data["adjustStockLevels"]["levels"]] == [6, 6]
    assert await level_of("MUG", default_location) == (6, 0, 0)
    assert await level_of("CUP", default_location) == (6, 0, 0)

    page = await ledger(client, {"reason": "LEVEL_ADJUSTED"})
    assert sorted((n["item"]["sku"], n["levelBefore"], n["levelAfter"], n["levelChange"], n["note"])
                  for n in page["nodes"]) == [("CUP", 0, 6, 6, "delivery"), ("MUG", 10, 6, -4, "delivery")]  # fmt: skip
    kinds = await AuditEntry.filter(kind=AuditKind.STOCK_LEVEL_ADJUSTED, actor="test-admin").count()
    assert kinds == 2
    await assert_stock_consistent()


async def test_levels_show_what_orders_hold(client, default_location, items, actor):
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id, "quantity": 5}]}, actor)
    order = await orders.create_direct_order({"items": [{"sku": "MUG", "quantity": 2, "unit_price": "1"}]}, actor)
    row = {"sku": "MUG", "locationId": gid(default_location), "change": 1}
    data = await client.gql(ADJUST, {"input": {"levels": [row]}})
    level = data["adjustStockLevels"]["levels"][0]
    assert (level["level"], level["allocated"], level["available"]) == (6, 2, 4)
    page = await ledger(client, {"orderNumber": order.number})
    assert [(n["reason"], n["allocatedBefore"], n["allocatedAfter"], n["allocatedChange"], n["orderNumber"])
            for n in page["nodes"]] == [("ORDER_CREATED", 0, 2, 2, order.number)]  # fmt: skip
    assert (await ledger(client, {"orderNumber": order.number + 1}))["totalCount"] == 0


async def test_bad_rows_are_refused_and_nothing_is_written(client, default_location, north, items, actor):
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id, "quantity": 2}]}, actor)
    here, there = gid(default_location), gid(north)
    unknown_location = encode_id("Location", uuid.uuid4())

    def rows(*levels: tuple[str, str, int], key: str = "level") -> dict:
        return {"input": {"levels": [{"sku": s, "locationId": loc, key: n} for s, loc, n in levels]}}

    # A good row then a bad one: neither is written.
    await refused(client, SET, rows(("CUP", here, 5), ("NOPE", here, 1)), "levels.1.sku", "NOT_FOUND")
    await refused(client, SET, rows(("CUP", here, 5), ("MUG", unknown_location, 1)), "levels.1.locationId", "NOT_FOUND")
    await refused(client, SET, rows(("CUP", here, 5), ("MUG", "garbage", 1)), "levels.1.locationId", "INVALID")
    await refused(client, SET, rows(("CUP", encode_id("StockItem", items["CUP"].id), 5)), "levels.0.locationId", "INVALID")
    await refused(client, SET, rows(("CUP", here, 5), ("MUG", here, -1)), "levels.1.level", "INVALID")
    await refused(client, SET, rows(("MUG", here, 5), ("MUG", here, 6)), "levels", "INVALID")
    await refused(client, SET, rows(("MUG", here, 2_000_000_001)), "levels.0.level", "INVALID")
    await refused(client, SET, rows(), "levels", "INVALID")
    await refused(client, SET, rows(*[("MUG", there, 1)] * 101), "levels", "TOO_MANY")
    # Adjusting: the resulting level may not go below zero.
    await refused(client, ADJUST, rows(("CUP", there, 4), ("MUG", here, -3), key="change"), "levels.1.change", "INVALID")
    await refused(client, ADJUST, rows(("NOPE", here, 1), key="change"), "levels.0.sku", "NOT_FOUND")
    await refused(client, ADJUST, rows(*[("MUG", here, 1)] * 101, key="change"), "levels", "TOO_MANY")
    assert await level_of("MUG", default_location) == (2, 0, 0)
    assert await level_of("CUP", default_location) is None


async def test_a_hundred_rows_are_accepted(client, default_location, actor):
    for n in range(100):
        await stock.create_stock_item({"sku": f"S{n}", "title": "x"}, actor)
    variables = {"input": {"levels": [{"sku": f"S{n}", "locationId": gid(default_location), "level": n + 1}
                                      for n in range(100)]}}  # fmt: skip
    data = await client.gql(SET, variables)
    assert data["setStockLevels"]["errors"] == [] and len(data["setStockLevels"]["levels"]) == 100
    assert await StockLedgerEntry.filter(reason=StockChangeReason.LEVEL_SET).count() == 100
    await assert_stock_consistent()


# --- minimum levels and levels per location --------------------------------------------------------


async def test_set_minimum_level(client, default_location, items, actor):
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id, "quantity": 2}]}, actor)
    data = await client.gql(MINIMUM, {"sku": "MUG", "locationId": gid(default_location), "minimum": 3})
    payload = data["setMinimumLevel"]
    assert payload["errors"] == []
    assert payload["level"] == {"level": 2, "minimumLevel": 3, "belowMinimum": True, "item": {"sku": "MUG"},
                                "location": {"name": "Default"}}  # fmt: skip
    assert await level_of("MUG", default_location) == (2, 0, 3)
    entry = await AuditEntry.get(kind=AuditKind.MINIMUM_LEVEL_SET)
    assert (entry.subject_id, entry.before["minimumLevel"], entry.after["minimumLevel"], entry.actor) == (
        items["MUG"].id, 0, 3, "test-admin"
    )  # fmt: skip
    # No stock movement: the ledger has only the count.
    assert (await ledger(client))["totalCount"] == 1


async def test_bad_minimum_level_is_refused(client, default_location, items):
    here = gid(default_location)
    await refused(client, MINIMUM, {"sku": "NOPE", "locationId": here, "minimum": 1}, "sku", "NOT_FOUND")
    await refused(client, MINIMUM, {"sku": "MUG", "locationId": "garbage", "minimum": 1}, "locationId", "INVALID")
    unknown = encode_id("Location", uuid.uuid4())
    await refused(client, MINIMUM, {"sku": "MUG", "locationId": unknown, "minimum": 1}, "locationId", "NOT_FOUND")
    await refused(client, MINIMUM, {"sku": "MUG", "locationId": here, "minimum": -1}, "minimumLevel", "INVALID")


async def test_stock_levels_of_a_location(client, default_location, north, items, actor):
    await stock.set_stock_levels({"levels": [
        {"sku": "MUG", "location_id": default_location.id, "quantity": 1},
        {"sku": "CUP", "location_id": default_location.id, "quantity": 9},
        {"sku": "CUP", "location_id": north.id, "quantity": 4},
    ]}, actor)  # fmt: skip
    await stock.set_minimum_level("MUG", default_location.id, 2, actor)
    query = """query($l: ID!, $low: Boolean!, $first: Int, $after: String) {
      stockLevels(locationId: $l, belowMinimum: $low, first: $first, after: $after) {
        totalCount nodes { level item { sku } } pageInfo { endCursor hasNextPage }
      }
    }"""
    here = (await client.gql(query, {"l": gid(default_location), "low": False, "first": 1}))["stockLevels"]
    assert here["totalCount"] == 2 and here["pageInfo"]["hasNextPage"]
    rest = (await client.gql(query, {"l": gid(default_location), "low": False, "after": here["pageInfo"]["endCursor"]}))
    assert {n["item"]["sku"] for n in here["nodes"] + rest["stockLevels"]["nodes"]} == {"MUG", "CUP"}
    low = (await client.gql(query, {"l": gid(default_location), "low": True}))["stockLevels"]
    assert low["nodes"] == [{"level": 1, "item": {"sku": "MUG"}}]
    there = (await client.gql(query, {"l": gid(north), "low": False}))["stockLevels"]
    assert there["nodes"] == [{"level": 4, "item": {"sku": "CUP"}}]


async def test_a_level_has_the_same_id_wherever_it_is_read(client, default_location, north, items, actor):
    """Client caches normalise levels by id: one id per (item, location), the same from every path."""
    await stock.set_stock_levels({"levels": [
        {"sku": "MUG", "location_id": default_location.id, "quantity": 1},
        {"sku": "MUG", "location_id": north.id, "quantity": 2},
    ]}, actor)  # fmt: skip
    rows = {row.location_id: row.id for row in await StockLevel.filter(item_id=items["MUG"].id)}
    expected = {default_location.name: encode_id("StockLevel", rows[default_location.id]),
                north.name: encode_id("StockLevel", rows[north.id])}  # fmt: skip
    by_item = await client.gql('{ stockItem(sku: "MUG") { levels { id location { name } } } }')
    assert {lv["location"]["name"]: lv["id"] for lv in by_item["stockItem"]["levels"]} == expected
    by_location = await client.gql("query($l: ID!) { stockLevels(locationId: $l) { nodes { id } } }",
                                   {"l": gid(north)})  # fmt: skip
    assert by_location["stockLevels"]["nodes"] == [{"id": expected[north.name]}]


# --- the ledger ------------------------------------------------------------------------------------


async def test_ledger_filters(client, default_location, north, items, actor):
    await stock.set_stock_levels({"levels": [
        {"sku": "MUG", "location_id": default_location.id, "quantity": 5},
        {"sku": "CUP", "location_id": north.id, "quantity": 5},
    ]}, actor)  # fmt: skip
    await asyncio.sleep(0.01)
    middle = datetime.now().astimezone()
    await asyncio.sleep(0.01)
    await stock.adjust_stock_levels({"levels": [{"sku": "MUG", "location_id": north.id, "quantity": 2}]}, actor)

    def described(page: dict) -> list[tuple[str, str, str]]:
        return [(n["item"]["sku"], n["location"]["name"], n["reason"]) for n in page["nodes"]]

    assert described(await ledger(client)) == [
        ("MUG", "North", "LEVEL_ADJUSTED"), ("CUP", "North", "LEVEL_SET"), ("MUG", "Default", "LEVEL_SET")
    ]  # fmt: skip
    assert described(await ledger(client, {"sku": "MUG"})) == [
        ("MUG", "North", "LEVEL_ADJUSTED"), ("MUG", "Default", "LEVEL_SET")
    ]  # fmt: skip
    assert described(await ledger(client, {"itemId": encode_id("StockItem", items["CUP"].id)})) == [
        ("CUP", "North", "LEVEL_SET")
    ]  # fmt: skip
    assert described(await ledger(client, {"locationId": gid(north), "reason": "LEVEL_SET"})) == [
        ("CUP", "North", "LEVEL_SET")
    ]  # fmt: skip
    assert described(await ledger(client, {"from": middle.isoformat()})) == [("MUG", "North", "LEVEL_ADJUSTED")]
    assert described(await ledger(client, {"to": middle.isoformat()})) == [
        ("CUP", "North", "LEVEL_SET"), ("MUG", "Default", "LEVEL_SET")
    ]  # fmt: skip
    assert (await ledger(client, {"sku": "NOPE"}))["totalCount"] == 0
    # A ledger row's time bounds it exactly: both ends are included.
    newest = await StockLedgerEntry.filter(reason=StockChangeReason.LEVEL_ADJUSTED).first()
    at = newest.created_at.isoformat()
    assert (await ledger(client, {"from": at}))["totalCount"] == 1
    assert (await ledger(client, {"to": at}))["totalCount"] == 3
    assert (await ledger(client, {"from": at, "to": at}))["totalCount"] == 1

    body = (await client.post(LEDGER, {"filter": {"itemId": gid(north)}})).json()
    assert "filter.itemId" in body["errors"][0]["message"]


async def test_ledger_pages_newest_first_both_ways(client, default_location, items, actor):
    for n in range(1, 8):
        await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id, "quantity": n}]}, actor)
    first = await ledger(client, first=3)
    assert [n["levelAfter"] for n in first["nodes"]] == [7, 6, 5]
    assert first["totalCount"] == 7
    assert first["pageInfo"]["hasNextPage"] and not first["pageInfo"]["hasPreviousPage"]
    second = await ledger(client, first=3, after=first["pageInfo"]["endCursor"])
    assert [n["levelAfter"] for n in second["nodes"]] == [4, 3, 2]
    third = await ledger(client, first=3, after=second["pageInfo"]["endCursor"])
    assert [n["levelAfter"] for n in third["nodes"]] == [1]
    assert not third["pageInfo"]["hasNextPage"]

    back = await ledger(client, last=2, before=second["pageInfo"]["startCursor"])
    assert [n["levelAfter"] for n in back["nodes"]] == [6, 5]
    assert back["pageInfo"]["hasPreviousPage"] and back["pageInfo"]["hasNextPage"]
    oldest = await ledger(client, last=2)
    assert [n["levelAfter"] for n in oldest["nodes"]] == [2, 1]
    assert oldest["pageInfo"]["hasPreviousPage"]
    filtered = await ledger(client, {"reason": "LEVEL_SET"}, first=1)
    assert filtered["totalCount"] == 7


async def test_ledger_outlives_a_deleted_location(client, north, items, actor):
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": north.id, "quantity": 3}]}, actor)
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": north.id, "quantity": 0}]}, actor)
    await locations.delete_location(north.id, actor)
    page = await ledger(client, {"sku": "MUG"})
    assert [(n["levelAfter"], n["location"]) for n in page["nodes"]] == [(0, None), (3, None)]
    assert await StockItem.filter(sku="MUG").exists()

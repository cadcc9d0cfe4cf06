"""Order queries: one order, filters, keyset pagination both ways, search across states, deleted orders."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from orderdeck.models import Order
from orderdeck.services import orders as service
from tests.graphql.test_orders_support import gid, second_location, stock_up

PAGE = """query($filter: OrderFilter, $sort: OrderSort, $first: Int, $after: String, $last: Int, $before: String) {
  orders(filter: $filter, sort: $sort, first: $first, after: $after, last: $last, before: $before) {
    totalCount pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { number } } nodes { number } } }"""

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def day(n: int) -> str:
    return (T0 + timedelta(days=n)).isoformat()


async def numbers(client: Any, query: str = PAGE, name: str = "orders", **variables: Any) -> list[int]:
    data = (await client.gql(query, variables))[name]
    assert [e["node"]["number"] for e in data["edges"]] == [n["number"] for n in data["nodes"]]
    return [n["number"] for n in data["nodes"]]


@pytest.fixture
async def shop(client, actor, default_location) -> dict[str, Any]:
    """Twelve orders of various kinds, received one a day from T0 (numbers 1..12):
    1-4 DIRECT open (2 parked/unpaid, 3 locked, 4 on hold, tagged "vip"), 5-8 EBAY/EBAY1 open at a second
    location (6, 7 tagged "vip"), 9-10 EBAY/EBAY2 processed on T0+20 / T0+21, 11 cancelled, 12 deleted."""
    away = await second_location(actor)
    await stock_up(actor, default_location, MUG=100)
    await stock_up(actor, away, MUG=100)

    def new(n: int, **fields: Any) -> dict[str, Any]:
        return {"items": [{"sku": "MUG", "quantity": 1}], "received_at": day(n), "reference": f"REF-{n}",
                "secondary_reference": f"SEC-{n}", "external_reference": f"EXT-{n}", **fields}  # fmt: skip

    direct = await service.create_orders([new(n, status="UNPAID" if n == 2 else "PAID") for n in range(1, 5)], actor)
    ebay1 = await service.create_orders([new(n, subsource="EBAY1", location_id=away.id) for n in range(5, 9)],
                                        actor, source="EBAY")  # fmt: skip
    rest = await service.create_orders([new(n, subsource="EBAY2") for n in range(9, 13)], actor, source="EBAY")
    everything = [*direct, *ebay1, *rest]
    assert [o.number for o in everything] == list(range(1, 13))
    await service.set_locked([everything[2].id], True, actor)
    await service.set_on_hold([everything[3].id], True, actor)
    await service.add_tags([everything[n].id for n in (3, 5, 6)], ["vip"], actor)
    for n, when in ((8, 20), (9, 21)):
        await service.process_orders([{"order_id": everything[n].id}], actor)
        await Order.filter(id=everything[n].id).update(processed_at=T0 + timedelta(days=when))
    await service.cancel_orders([everything[10].id], "cancelled", actor)
    await service.delete_orders([everything[11].id], "deleted", actor)
    return {"orders": everything, "away": away, "home": default_location}


async def test_order_by_id_or_number(client, shop):
    order = shop["orders"][4]
    query = "query($id: ID, $number: Int) { order(id: $id, number: $number) { id number reference } }"
    by_id = (await client.gql(query, {"id": gid("Order", order.id)}))["order"]
    by_number = (await client.gql(query, {"number": 5}))["order"]
    assert by_id == by_number == {"id": gid("Order", order.id), "number": 5, "reference": "REF-5"}
    assert (await client.gql(query, {"number": 999}))["order"] is None
    for variables in ({}, {"id": gid("Order", order.id), "number": 5}):
        body = (await client.post(query, variables)).json()
        assert "exactly one" in body["errors"][0]["message"]
    body = (await client.post(query, {"id": "xyz"})).json()
    assert "not a valid Order id" in body["errors"][0]["message"]
    node = await client.gql("query($id: ID!) { node(id: $id) { ... on Order { number } } }", {"id": gid("Order", order.id)})
    assert node["node"] == {"number": 5}


async def test_an_order_says_when_it_was_recorded_and_last_changed(client, shop, actor):
    order = shop["orders"][0]
    query = "query($id: ID!) { order(id: $id) { receivedAt createdAt updatedAt } }"
    before = (await client.gql(query, {"id": gid("Order", order.id)}))["order"]
    stored = await Order.get(id=order.id)
    assert before == {"receivedAt": day(1), "createdAt": stored.created_at.isoformat(),
                      "updatedAt": stored.updated_at.isoformat()}  # fmt: skip
    await service.set_on_hold([order.id], True, actor)
    after = (await client.gql(query, {"id": gid("Order", order.id)}))["order"]
    assert after["createdAt"] == before["createdAt"]
    assert datetime.fromisoformat(after["updatedAt"]) > datetime.fromisoformat(before["updatedAt"])


async def test_filters(client, shop):
    away = gid("Location", shop["away"].id)
    cases: list[tuple[dict[str, Any], list[int]]] = [
        ({}, list(range(1, 12))),
        ({"state": "OPEN"}, list(range(1, 9))),
        ({"state": "PROCESSED"}, [9, 10]),
        ({"state": "CANCELLED"}, [11]),
        ({"locationId": away}, [5, 6, 7, 8]),
        ({"source": "EBAY"}, list(range(5, 12))),
        ({"source": "EBAY", "subsource": "EBAY2"}, [9, 10, 11]),
        ({"status": "UNPAID"}, [2]),
        ({"parked": True}, [2]),
        ({"locked": True}, [3]),
        ({"onHold": True}, [4]),
        ({"onHold": False, "state": "OPEN", "source": "DIRECT"}, [1, 2, 3]),
        ({"tag": "vip"}, [4, 6, 7]),
        ({"tag": "vip", "locationId": away}, [6, 7]),
        ({"receivedFrom": day(3), "receivedTo": day(5)}, [3, 4, 5]),
        ({"receivedFrom": day(10)}, [10, 11]),
        ({"receivedTo": "2026-01-02T02:00:00+02:00"}, [1]),  # day(1) in another time zone; ends included
        ({"processedFrom": day(21)}, [10]),
        ({"processedFrom": day(19), "processedTo": day(20)}, [9]),
    ]
    for where, expected in cases:
        assert await numbers(client, filter=where) == expected, where
        total = (await client.gql(PAGE, {"filter": where}))["orders"]["totalCount"]
        assert total == len(expected), where


async def test_open_and_processed_orders_preset_the_state(client, shop):
    query = "query($f: OrderFilter) { %s(filter: $f) { totalCount nodes { number } } }"
    assert await numbers_of(client, query % "openOrders", "openOrders") == list(range(1, 9))
    assert await numbers_of(client, query % "processedOrders", "processedOrders") == [9, 10]
    assert await numbers_of(client, query % "openOrders", "openOrders", {"source": "EBAY"}) == [5, 6, 7, 8]
    body = (await client.post(query % "openOrders", {"f": {"state": "PROCESSED"}})).json()
    assert "OPEN orders only" in body["errors"][0]["message"]


async def numbers_of(client: Any, query: str, name: str, where: dict[str, Any] | None = None) -> list[int]:
    return [n["number"] for n in (await client.gql(query, {"f": where}))[name]["nodes"]]


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"locationId": "xyz"}, "filter.locationId: 'xyz' is not a valid Location id"),
        ({"receivedFrom": day(5), "receivedTo": day(4)}, "filter.receivedFrom"),
        ({"processedFrom": day(5), "processedTo": day(4)}, "is after filter.processedTo"),
        ({"receivedFrom": "2026-01-01T00:00:00"}, "must include a time zone"),
    ],
)
async def test_invalid_filters_are_errors(client, shop, where, message):
    body = (await client.post(PAGE, {"filter": where})).json()
    assert body["data"] is None
    assert message in body["errors"][0]["message"]


async def test_pagination_forward_and_backward(client, shop):
    page = (await client.gql(PAGE, {"first": 4}))["orders"]
    assert [n["number"] for n in page["nodes"]] == [1, 2, 3, 4]
    assert page["totalCount"] == 11
    assert page["pageInfo"]["hasNextPage"] is True and page["pageInfo"]["hasPreviousPage"] is False
    seen = [n["number"] for n in page["nodes"]]
    while page["pageInfo"]["hasNextPage"]:
        page = (await client.gql(PAGE, {"first": 4, "after": page["pageInfo"]["endCursor"]}))["orders"]
        assert page["pageInfo"]["hasPreviousPage"] is True
        seen += [n["number"] for n in page["nodes"]]
    assert seen == list(range(1, 12)) and [n["number"] for n in page["nodes"]] == [9, 10, 11]

    page = (await client.gql(PAGE, {"last": 4}))["orders"]
    assert [n["number"] for n in page["nodes"]] == [8, 9, 10, 11]
    assert page["pageInfo"]["hasPreviousPage"] is True and page["pageInfo"]["hasNextPage"] is False
    back = [n["number"] for n in page["nodes"]]
    while page["pageInfo"]["hasPreviousPage"]:
        page = (await client.gql(PAGE, {"last": 4, "before": page["pageInfo"]["startCursor"]}))["orders"]
        assert page["pageInfo"]["hasNextPage"] is True
        back = [n["number"] for n in page["nodes"]] + back
    assert back == list(range(1, 12)) and [n["number"] for n in page["nodes"]] == [1, 2, 3]

    assert await numbers(client, sort="NUMBER_DESC", first=3) == [11, 10, 9]
    desc = (await client.gql(PAGE, {"sort": "NUMBER_DESC", "first": 3}))["orders"]["pageInfo"]["endCursor"]
    assert await numbers(client, sort="NUMBER_DESC", first=3, after=desc) == [8, 7, 6]
    assert await numbers(client, sort="NUMBER_DESC", last=2) == [2, 1]
    filtered = await client.gql(PAGE, {"filter": {"source": "EBAY"}, "first": 2})
    assert filtered["orders"]["totalCount"] == 7
    assert [n["number"] for n in filtered["orders"]["nodes"]] == [5, 6]


async def test_pagination_arguments_are_checked(client, shop):
    for variables, message in (({"first": 1, "last": 1}, "either first or last"), ({"first": 101}, "between 0 and 100"),
                               ({"after": "not-a-cursor"}, "not a valid cursor")):  # fmt: skip
        body = (await client.post(PAGE, variables)).json()
        assert message in body["errors"][0]["message"], variables


SEARCH = """query($q: String!) { searchOrders(query: $q) {
  __typename ... on Order { number state } ... on DeletedOrder { id number reason deletedBy reference } } }"""


@pytest.mark.parametrize(("number", "state"), [(1, "OPEN"), (9, "PROCESSED"), (11, "CANCELLED"), (12, "DELETED")])
async def test_search_finds_an_order_by_number_or_any_reference_in_every_state(client, shop, number, state):
    for text in (str(number), f"REF-{number}", f"ref-{number}", f"SEC-{number}", f"ext-{number}", f"  EXT-{number} "):
        found = (await client.gql(SEARCH, {"q": text}))["searchOrders"]
        assert len(found) == 1, (text, found)
        assert found[0]["number"] == number
        if state == "DELETED":
            assert found[0]["__typename"] == "DeletedOrder"
            assert found[0]["id"] == gid("DeletedOrder", shop["orders"][11].id)
            assert (found[0]["reason"], found[0]["deletedBy"], found[0]["reference"]) == ("deleted", "tester", "REF-12")
        else:
            assert (found[0]["__typename"], found[0]["state"]) == ("Order", state)


async def test_search_returns_every_match_newest_first(client, shop, actor):
    await service.create_orders([{"items": [{"sku": "MUG", "quantity": 1}], "reference": "REF-1", "subsource": "X"}],
                                actor, source="EBAY")  # fmt: skip
    found = (await client.gql(SEARCH, {"q": "REF-1"}))["searchOrders"]
    assert [o["number"] for o in found] == [13, 1]
    assert (await client.gql(SEARCH, {"q": "REF-"}))["searchOrders"] == []
    assert (await client.gql(SEARCH, {"q": "%"}))["searchOrders"] == []
    body = (await client.post(SEARCH, {"q": "  "})).json()
    assert "give an order number or reference" in body["errors"][0]["message"]


async def test_deleted_orders(client, shop, actor):
    orders = shop["orders"]
    await service.delete_orders([orders[0].id, orders[1].id], "duplicates", actor)
    query = """query($first: Int, $after: String, $search: String) { deletedOrders(first: $first, after: $after, search: $search) {
      totalCount pageInfo { hasNextPage endCursor } nodes { number source subsource reference secondaryReference
      externalReference reason deletedBy deletedAt snapshot } } }"""
    page = (await client.gql(query, {"first": 2}))["deletedOrders"]
    assert [n["number"] for n in page["nodes"]] == [12, 2] and page["totalCount"] == 3
    assert page["pageInfo"]["hasNextPage"] is True
    newest = page["nodes"][0]
    assert (newest["source"], newest["subsource"], newest["reason"], newest["deletedBy"]) == ("EBAY", "EBAY2", "deleted", "tester")
    assert (newest["reference"], newest["secondaryReference"], newest["externalReference"]) == ("REF-12", "SEC-12", "EXT-12")
    assert newest["snapshot"]["number"] == 12 and newest["snapshot"]["items"][0]["sku"] == "MUG"
    assert newest["deletedAt"]
    page = (await client.gql(query, {"first": 2, "after": page["pageInfo"]["endCursor"]}))["deletedOrders"]
    assert [n["number"] for n in page["nodes"]] == [1] and page["pageInfo"]["hasNextPage"] is False
    found = (await client.gql(query, {"search": "sec-2"}))["deletedOrders"]
    assert [n["number"] for n in found["nodes"]] == [2] and found["totalCount"] == 1

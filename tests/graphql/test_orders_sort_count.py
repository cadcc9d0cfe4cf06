"""Order lists sorted by received date (keyset cursors, number breaks ties) and totals that stay
cheap on a big book (exact up to ORDERDECK_EXACT_COUNT_LIMIT, then an estimate on PostgreSQL)."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from typing import Any


from orderdeck.config import get_settings
from orderdeck.models import Order, OrderState
from orderdeck.services import orders as service
from tests.graphql.test_orders_support import stock_up

T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)

PAGE = """query($sort: OrderSort!, $filter: OrderFilter, $first: Int, $after: String, $last: Int, $before: String) {
  orders(sort: $sort, filter: $filter, first: $first, after: $after, last: $last, before: $before) {
    nodes { number } pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  } }"""
SORTS = ["NUMBER_ASC", "NUMBER_DESC", "RECEIVED_ASC", "RECEIVED_DESC", "DESPATCH_BY_ASC", "DESPATCH_BY_DESC",
         "PROCESSED_ASC", "PROCESSED_DESC"]  # fmt: skip


async def _walk(client: Any, sort: str, backwards: bool = False, filter: dict[str, Any] | None = None) -> list[int]:
    """Every order's number, three at a time, forwards with first/after or backwards with last/before."""
    seen: list[int] = []
    cursor = None
    while True:
        args = {"sort": sort, "last": 3, "before": cursor} if backwards else {"sort": sort, "first": 3, "after": cursor}
        page = (await client.gql(PAGE, {**args, "filter": filter}))["orders"]
        numbers = [n["number"] for n in page["nodes"]]
        seen = numbers + seen if backwards else seen + numbers
        info = page["pageInfo"]
        if not (info["hasPreviousPage"] if backwards else info["hasNextPage"]):
            return seen
        cursor = info["startCursor"] if backwards else info["endCursor"]


async def test_received_date_sorts_page_by_keyset_both_ways(client, actor, default_location):
    await stock_up(actor, default_location, MUG=5)
    rng = random.Random(3)
    minutes = [rng.randint(0, 4) for _ in range(11)]  # ties on the date
    created = await service.create_orders(
        [{"items": [{"sku": "MUG", "quantity": 1}], "received_at": T0 + timedelta(minutes=m)} for m in minutes], actor
    )
    expected = [o.number for o in sorted(created, key=lambda o: (o.received_at, o.number))]
    assert expected != sorted(expected)  # the date order is not the number order
    assert await _walk(client, "RECEIVED_ASC") == expected
    assert await _walk(client, "RECEIVED_DESC") == expected[::-1]
    assert await _walk(client, "RECEIVED_ASC", backwards=True) == expected
    assert await _walk(client, "RECEIVED_DESC", backwards=True) == expected[::-1]


async def test_despatch_by_sorts_page_dated_orders_then_undated_both_ways(client, actor, default_location):
    await stock_up(actor, default_location, MUG=5)
    rng = random.Random(4)
    dates = [T0 + timedelta(days=rng.randint(0, 3)) if rng.random() < 0.6 else None for _ in range(13)]
    created = await service.create_orders(
        [{"items": [{"sku": "MUG", "quantity": 1}], "despatch_by_at": d} for d in dates], actor
    )
    dated = sorted((o for o in created if o.despatch_by_at), key=lambda o: (o.despatch_by_at, o.number))
    expected = [o.number for o in dated] + sorted(o.number for o in created if o.despatch_by_at is None)
    assert expected != sorted(expected) and None in dates
    assert await _walk(client, "DESPATCH_BY_ASC") == expected
    assert await _walk(client, "DESPATCH_BY_DESC") == expected[::-1]
    assert await _walk(client, "DESPATCH_BY_ASC", backwards=True) == expected
    assert await _walk(client, "DESPATCH_BY_DESC", backwards=True) == expected[::-1]
    for size in (1, 4, 100):  # page boundaries inside and across the two parts
        page = (await client.gql(PAGE, {"sort": "DESPATCH_BY_ASC", "first": size}))["orders"]
        assert [n["number"] for n in page["nodes"]] == expected[:size]


async def test_processed_date_sorts_page_processed_orders_then_the_rest_both_ways(client, actor, default_location):
    await stock_up(actor, default_location, MUG=50)
    created = await service.create_orders([{"items": [{"sku": "MUG", "quantity": 1}]} for _ in range(9)], actor)
    shipped = random.Random(5).sample(created, 6)  # processed one at a time, not in number order
    for order in shipped:
        result = await service.process_orders([{"order_id": order.id}], actor)
        assert [o.id for o in result.orders] == [order.id]
    expected = [o.number for o in shipped] + sorted(o.number for o in created if o not in shipped)
    assert expected[:6] != sorted(expected[:6])
    assert await _walk(client, "PROCESSED_ASC") == expected
    assert await _walk(client, "PROCESSED_DESC") == expected[::-1]
    assert await _walk(client, "PROCESSED_ASC", backwards=True) == expected


async def test_a_tags_list_pages_in_every_sort_as_the_whole_list_does(client, actor, default_location):
    """A tagged list is sorted by the tag's copy of its orders' state and keys: the copy follows
    tagging at creation and later, processing, cancelling and editing the despatch-by date."""
    await stock_up(actor, default_location, MUG=50)
    rng = random.Random(6)
    created = await service.create_orders([
        {"items": [{"sku": "MUG", "quantity": 1}], "received_at": T0 + timedelta(minutes=rng.randint(0, 5)),
         "despatch_by_at": T0 + timedelta(days=rng.randint(0, 2)) if rng.random() < 0.6 else None,
         "tags": ["gift"] if n % 3 == 0 else []}
        for n in range(18)
    ], actor)  # fmt: skip
    await service.add_tags([o.id for n, o in enumerate(created) if n % 3 == 1], ["gift", "later"], actor)
    await service.remove_tags([created[1].id, created[3].id], ["gift"], actor)
    tagged = {o.number for n, o in enumerate(created) if n % 3 in (0, 1)} - {created[1].number, created[3].number}
    for order in rng.sample(created, 8):  # processed one at a time, not in number order
        assert (await service.process_orders([{"order_id": order.id}], actor)).orders
    still_open = [o for o in created if (await Order.get(id=o.id)).state == OrderState.OPEN]
    cancelled = next(o for o in still_open if o.number in tagged)
    await service.cancel_orders([cancelled.id], "duplicate", actor)
    still_open.remove(cancelled)
    for order in still_open[:3]:  # dated, undated, and back
        await service.update_order(order.id, {"despatch_by_at": rng.choice([None, T0 + timedelta(days=5)])}, actor)
    for sort in SORTS:
        everything = await _walk(client, sort)
        expected = [n for n in everything if n in tagged]
        assert await _walk(client, sort, filter={"tag": "gift"}) == expected, sort
        assert await _walk(client, sort, backwards=True, filter={"tag": "gift"}) == expected, sort
    for state in ("OPEN", "PROCESSED", "CANCELLED"):
        everything = await _walk(client, "DESPATCH_BY_DESC", filter={"state": state})
        assert await _walk(client, "DESPATCH_BY_DESC", filter={"state": state, "tag": "gift"}) == [
            n for n in everything if n in tagged]  # fmt: skip


COUNT = """query($filter: OrderFilter) { orders(filter: $filter, first: 1) { totalCount totalCountIsEstimate } }"""


async def test_total_is_exact_up_to_the_limit_then_estimated_on_postgres(client, actor, default_location, database,
                                                                         monkeypatch):  # fmt: skip
    await stock_up(actor, default_location, MUG=5)
    await service.create_orders([{"items": [{"sku": "MUG", "quantity": 1}]} for _ in range(6)], actor)
    monkeypatch.setattr(get_settings(), "exact_count_limit", 6)
    assert (await client.gql(COUNT))["orders"] == {"totalCount": 6, "totalCountIsEstimate": False}
    monkeypatch.setattr(get_settings(), "exact_count_limit", 4)
    total = (await client.gql(COUNT))["orders"]
    if database == "postgres":
        assert total["totalCountIsEstimate"] is True and total["totalCount"] >= 5
    else:
        assert total == {"totalCount": 6, "totalCountIsEstimate": False}
    closed = (await client.gql(COUNT, {"filter": {"state": "CANCELLED"}}))["orders"]
    assert closed == {"totalCount": 0, "totalCountIsEstimate": False}

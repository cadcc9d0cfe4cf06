"""Order.allocation: first come (by receivedAt, then number) first served, per item and location."""

from __future__ import annotations

import random
import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

from orderdeck.models import Order
from orderdeck.services import orders as service
from orderdeck.services.allocation import AllocationState, allocation_of
from tests.graphql.test_orders_support import gid, second_location, stock_up

T0 = datetime(2026, 6, 1, tzinfo=timezone.utc)

ALLOCATIONS = """query($first: Int) { orders(first: $first) { nodes { number receivedAt allocation } } }"""


async def allocations(client: Any) -> dict[int, str]:
    data = await client.gql(ALLOCATIONS, {"first": 100})
    return {n["number"]: n["allocation"] for n in data["orders"]["nodes"]}


async def test_fifo_by_received_time_not_by_number(client, actor, default_location):
    await stock_up(actor, default_location, MUG=20)
    minutes = list(range(30))
    random.Random(7).shuffle(minutes)  # numbers and arrival order disagree
    created = await service.create_orders(
        [{"items": [{"sku": "MUG", "quantity": 1}], "received_at": T0 + timedelta(minutes=m)} for m in minutes], actor
    )
    by_arrival = [o.number for o in sorted(created, key=lambda o: o.received_at)]

    result = await allocations(client)
    assert [result[n] for n in by_arrival] == ["FULL"] * 20 + ["INSUFFICIENT"] * 10

    # Locked orders hold no stock: the next in the queue move up.
    locked = by_arrival[:3]
    await service.set_locked([o.id for o in created if o.number in locked], True, actor)
    result = await allocations(client)
    assert [result[n] for n in locked] == ["NOT_ALLOCATED"] * 3
    rest = by_arrival[3:]
    assert [result[n] for n in rest] == ["FULL"] * 20 + ["INSUFFICIENT"] * 7

    # Processing serves the head of the queue: its stock leaves the level and the queue together.
    head = next(o for o in created if o.number == rest[0])
    assert not (await service.process_orders([{"order_id": head.id}], actor)).failures
    result = await allocations(client)
    assert result[head.number] == "NOT_ALLOCATED"
    assert [result[n] for n in rest[1:]] == ["FULL"] * 19 + ["INSUFFICIENT"] * 7


async def test_ties_on_received_time_go_by_number(client, actor, default_location):
    await stock_up(actor, default_location, MUG=2)
    created = await service.create_orders(
        [{"items": [{"sku": "MUG", "quantity": 1}], "received_at": T0} for _ in range(3)], actor
    )
    result = await allocations(client)
    assert [result[o.number] for o in created] == ["FULL", "FULL", "INSUFFICIENT"]


async def test_partial_unlinked_and_closed_orders(client, actor, default_location):
    await stock_up(actor, default_location, MUG=3, TEE=1, CAP=0)
    line = lambda sku, qty: {"sku": sku, "quantity": qty}  # noqa: E731
    a, b, c = await service.create_orders([
        {"items": [line("MUG", 2), line("TEE", 1)], "received_at": T0},
        {"items": [line("MUG", 1), line("TEE", 1), line("CAP", 1)], "received_at": T0 + timedelta(hours=1)},
        {"items": [line("MUG", 1), line("MUG", 1)], "received_at": T0 + timedelta(hours=2)},
    ], actor)  # fmt: skip
    unlinked, cancelled = await service.create_orders(
        [{"items": [line("NOT-IN-STOCK", 1)], "reference": "U"},
         {"items": [line("MUG", 1)], "reference": "C", "received_at": T0 - timedelta(days=1)}],
        actor, source="EBAY", allow_unlinked=True,
    )  # fmt: skip
    await service.cancel_orders([cancelled.id], "gone", actor)
    result = await allocations(client)
    assert result[a.number] == "FULL"  # MUG 2 of 3, TEE 1 of 1
    assert result[b.number] == "PARTIAL"  # MUG 3 of 3 covered; TEE 2 > 1, CAP 1 > 0 not
    assert result[c.number] == "INSUFFICIENT"  # its two MUG lines together make 5 > 3
    assert result[unlinked.number] == "NOT_ALLOCATED"
    assert result[cancelled.number] == "NOT_ALLOCATED"


async def test_each_location_has_its_own_queue(client, actor, default_location):
    away = await second_location(actor)
    await stock_up(actor, default_location, MUG=1)
    await stock_up(actor, away, MUG=1)
    first, second, third = await service.create_orders(
        [{"items": [{"sku": "MUG", "quantity": 1}], "received_at": T0 + timedelta(minutes=n)} for n in range(3)], actor
    )
    assert [(await allocations(client))[o.number] for o in (first, second, third)] == ["FULL", "INSUFFICIENT", "INSUFFICIENT"]
    await service.move_orders([third.id], away.id, actor)
    assert [(await allocations(client))[o.number] for o in (first, second, third)] == ["FULL", "INSUFFICIENT", "FULL"]
    one = await client.gql("query($id: ID!) { order(id: $id) { allocation } }", {"id": gid("Order", second.id)})
    assert one["order"]["allocation"] == "INSUFFICIENT"
    assert await Order.filter(location_id=away.id).count() == 1


async def test_the_api_shows_the_allocation_rule_of_the_services(client, actor, default_location):
    await stock_up(actor, default_location, MUG=1)
    first, second = await service.create_orders(
        [{"items": [{"sku": "MUG", "quantity": 1}], "received_at": T0 + timedelta(minutes=n)} for n in range(2)], actor
    )
    missing = uuid.uuid4()
    assert await allocation_of([second.id, first.id, missing, first.id]) == {
        first.id: AllocationState.FULL, second.id: AllocationState.INSUFFICIENT, missing: AllocationState.NOT_ALLOCATED
    }  # fmt: skip
    assert await allocation_of([]) == {}
    assert await allocations(client) == {first.number: "FULL", second.number: "INSUFFICIENT"}
    values = await client.gql('{ __type(name: "StockAllocation") { enumValues { name } } }')
    assert [v["name"] for v in values["__type"]["enumValues"]] == [state.value for state in AllocationState]

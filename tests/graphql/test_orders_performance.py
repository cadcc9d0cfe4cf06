"""A page of orders costs a fixed number of SQL statements, whatever its size (no N+1)."""

from __future__ import annotations

from typing import Any

from orderdeck.services import orders as service
from tests.graphql.test_orders_support import stock_up

PAGE = """query($first: Int) { orders(first: $first) { nodes {
  number createdAt updatedAt location { name } tags allocation auditTrail { kind subjectNodeId }
  items { sku quantity stockItem { sku title } stockLevel { id level allocated available } }
} } }"""

EXPECTED_STATEMENTS = 9
"""The token lookup, then the page, locations, lines, stock items, stock levels, tags, allocation and
audit trails."""


async def statements_for_page(client: Any, count_queries: Any, size: int) -> int:
    with count_queries() as counter:
        data = await client.gql(PAGE, {"first": size})
    nodes = data["orders"]["nodes"]
    assert len(nodes) == size
    assert all(len(n["items"]) == 3 and n["tags"] == ["bulk"] for n in nodes)
    assert all(i["stockLevel"]["level"] == 1000 and i["stockItem"]["sku"] == i["sku"] for n in nodes for i in n["items"])
    assert {n["allocation"] for n in nodes} == {"FULL"}
    assert all([e["kind"] for e in n["auditTrail"]] == ["ORDER_CREATED"] for n in nodes), nodes[0]
    return counter.count


async def test_query_count_does_not_grow_with_the_page(client, actor, default_location, count_queries):
    skus = [f"SKU-{n}" for n in range(12)]
    await stock_up(actor, default_location, **{sku: 1000 for sku in skus})
    orders = await service.create_orders(
        [{"items": [{"sku": skus[(n + k) % len(skus)], "quantity": 1} for k in range(3)], "tags": ["bulk"]}
         for n in range(60)],
        actor,
    )  # fmt: skip
    assert len(orders) == 60
    small = await statements_for_page(client, count_queries, 5)
    large = await statements_for_page(client, count_queries, 60)
    assert small == large == EXPECTED_STATEMENTS, (small, large)

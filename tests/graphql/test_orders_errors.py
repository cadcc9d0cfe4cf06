"""Bad input through GraphQL: a user error naming the field (or a failure naming the order), and
nothing changed (every table, level, order and the number counter compared before and after)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from orderdeck.models import Role
from orderdeck.services import auth
from orderdeck.services.context import Actor
from tests.graphql.test_orders_support import BATCH_FIELDS, CREATE_ORDER, create_order, fields_of, gid, stock_up
from tests.services.helpers import assert_unchanged_by, db_state

UPDATE_ORDER = """mutation($id: ID!, $input: OrderPatchInput!) {
  updateOrder(id: $id, input: $input) { order { number } errors { field message code } } }"""
CREATE_ORDERS = """mutation($input: [OrderInput!]!) {
  createOrders(input: $input) { orders { number } errors { field message code } } }"""
PARK = f"mutation($ids: [ID!]!) {{ parkOrders(orderIds: $ids) {{ {BATCH_FIELDS} }} }}"
MOVE = f"mutation($ids: [ID!]!, $to: ID!) {{ moveOrders(orderIds: $ids, locationId: $to) {{ {BATCH_FIELDS} }} }}"
PROCESS = f"mutation($input: ProcessOrderInput!) {{ processOrder(input: $input) {{ {BATCH_FIELDS} }} }}"


@pytest.fixture
async def order(client, actor, default_location) -> dict[str, Any]:
    """An open order of 2 MUG (10 in stock)."""
    await stock_up(actor, default_location, MUG=10)
    return await create_order(client, reference="R-1", items=[{"sku": "MUG", "quantity": 2}])


async def refused(client: Any, query: str, variables: dict[str, Any], name: str) -> list[tuple[str | None, str]]:
    """Run a mutation expected to be refused; return the (field, code) of its user errors, after
    checking that it changed nothing."""
    before = await db_state()
    payload = (await client.gql(query, variables))[name]
    assert payload["errors"], payload
    assert all(e["message"] for e in payload["errors"])
    await assert_unchanged_by(before)
    return fields_of(payload["errors"])


def new_order(**fields: Any) -> dict[str, Any]:
    return {"input": {"items": [{"sku": "MUG", "quantity": 1}], **fields}}


async def test_unknown_sku(client, order):
    errors = await refused(client, CREATE_ORDER, {"input": {"items": [{"sku": "NOPE", "quantity": 1}]}}, "createOrder")
    assert errors == [("items.0.sku", "NOT_FOUND")]


async def test_unknown_location(client, order):
    errors = await refused(client, CREATE_ORDER, new_order(locationId=gid("Location", uuid.uuid4())), "createOrder")
    assert errors == [("locationId", "NOT_FOUND")]


async def test_zero_quantity(client, order):
    errors = await refused(client, CREATE_ORDER, {"input": {"items": [{"sku": "MUG", "quantity": 0}]}}, "createOrder")
    assert errors == [("items.0.quantity", "INVALID")]


async def test_reference_of_101_characters(client, order):
    errors = await refused(client, CREATE_ORDER, new_order(reference="R" * 101), "createOrder")
    assert errors == [("reference", "INVALID")]


async def test_duplicate_reference(client, order):
    errors = await refused(client, CREATE_ORDER, new_order(reference="R-1"), "createOrder")
    assert errors == [("reference", "DUPLICATE")]


async def test_date_without_time_zone(client, order):
    errors = await refused(client, CREATE_ORDER, new_order(receivedAt="2026-11-22T10:00:00"), "createOrder")
    assert errors == [("receivedAt", "INVALID")]


async def test_malformed_ids(client, order):
    assert await refused(client, CREATE_ORDER, new_order(locationId="xyz"), "createOrder") == [("locationId", "INVALID")]
    assert await refused(client, UPDATE_ORDER, {"id": "xyz", "input": {"buyerName": "A"}}, "updateOrder") == [
        ("id", "INVALID")]  # fmt: skip
    assert await refused(client, PARK, {"ids": [order["id"], "xyz"]}, "parkOrders") == [("orderIds.1", "INVALID")]
    assert await refused(client, MOVE, {"ids": [order["id"]], "to": "xyz"}, "moveOrders") == [("locationId", "INVALID")]
    patch = {"items": [{"id": "xyz", "sku": "MUG", "quantity": 1}]}
    assert await refused(client, UPDATE_ORDER, {"id": order["id"], "input": patch}, "updateOrder") == [
        ("items.0.id", "INVALID")]  # fmt: skip


async def test_ids_of_the_wrong_type(client, order, default_location):
    location = gid("Location", default_location.id)
    assert await refused(client, UPDATE_ORDER, {"id": location, "input": {"buyerName": "A"}}, "updateOrder") == [
        ("id", "INVALID")]  # fmt: skip
    assert await refused(client, PARK, {"ids": [location]}, "parkOrders") == [("orderIds.0", "INVALID")]
    assert await refused(client, MOVE, {"ids": [order["id"]], "to": order["id"]}, "moveOrders") == [
        ("locationId", "INVALID")]  # fmt: skip
    errors = await refused(client, CREATE_ORDER, new_order(locationId=order["id"]), "createOrder")
    assert errors == [("locationId", "INVALID")]


async def test_unknown_order_is_a_failure_naming_it(client, order):
    missing = gid("Order", uuid.uuid4())
    before = await db_state()
    payload = (await client.gql(PARK, {"ids": [missing]}))["parkOrders"]
    assert payload["orders"] == [] and payload["errors"] == []
    assert [(f["orderId"], f["code"]) for f in payload["failures"]] == [(missing, "NOT_FOUND")]
    await assert_unchanged_by(before)


async def test_too_many_ids_or_orders(client, order):
    ids = [gid("Order", uuid.uuid4()) for _ in range(101)]
    assert await refused(client, PARK, {"ids": ids}, "parkOrders") == [("orderIds", "TOO_MANY")]
    orders = [{"items": [{"sku": "MUG", "quantity": 1}]} for _ in range(101)]
    assert await refused(client, CREATE_ORDERS, {"input": orders}, "createOrders") == [("input", "TOO_MANY")]
    assert await refused(client, PARK, {"ids": []}, "parkOrders") == [("orderIds", "INVALID")]


async def test_a_bad_order_in_a_batch_is_named_by_position(client, order):
    orders = [{"items": [{"sku": "MUG", "quantity": 1}]}, {"items": [{"sku": "NOPE", "quantity": 1}]}]
    errors = await refused(client, CREATE_ORDERS, {"input": orders}, "createOrders")
    assert errors == [("input.1.items.0.sku", "NOT_FOUND")]
    errors = await refused(client, CREATE_ORDERS, {"input": [{"items": [{"sku": "MUG", "quantity": 0}]}]}, "createOrders")
    assert errors == [("input.0.items.0.quantity", "INVALID")]
    errors = await refused(client, CREATE_ORDERS, {"input": [{"locationId": "xyz", "items": []}]}, "createOrders")
    assert errors == [("input.0.locationId", "INVALID")]


async def test_null_cannot_clear_a_required_field(client, order):
    errors = await refused(client, UPDATE_ORDER, {"id": order["id"], "input": {"buyerName": None}}, "updateOrder")
    assert errors == [("buyerName", "INVALID")]


async def test_processing_a_processed_order(client, order):
    data = await client.gql(PROCESS, {"input": {"orderId": order["id"]}})
    assert data["processOrder"]["failures"] == [] and len(data["processOrder"]["orders"]) == 1
    before = await db_state()
    payload = (await client.gql(PROCESS, {"input": {"orderId": order["id"]}}))["processOrder"]
    assert payload["orders"] == [] and payload["errors"] == []
    [failure] = payload["failures"]
    assert (failure["orderId"], failure["number"], failure["code"]) == (order["id"], order["number"], "INVALID_TRANSITION")
    assert "processed" in failure["message"]
    await assert_unchanged_by(before)


async def test_bad_shipment_details(client, order):
    long = {"input": {"orderId": order["id"], "trackingNumber": "T" * 101}}
    assert await refused(client, PROCESS, long, "processOrder") == [("trackingNumber", "INVALID")]
    assert await refused(client, PROCESS, {"input": {"orderId": "xyz"}}, "processOrder") == [("orderId", "INVALID")]
    many = f"mutation($input: [ProcessOrderInput!]!) {{ processOrders(input: $input) {{ {BATCH_FIELDS} }} }}"
    batch = {"input": [{"orderId": order["id"]}, {"orderId": order["id"], "shippingVendor": "V" * 101}]}
    assert await refused(client, many, batch, "processOrders") == [("input.1.shippingVendor", "INVALID")]
    batch = {"input": [{"orderId": order["id"]}, {"orderId": "xyz"}]}
    assert await refused(client, many, batch, "processOrders") == [("input.1.orderId", "INVALID")]


async def test_editing_a_processed_order(client, order):
    await client.gql(PROCESS, {"input": {"orderId": order["id"]}})
    errors = await refused(client, UPDATE_ORDER, {"id": order["id"], "input": {"buyerName": "B"}}, "updateOrder")
    assert errors == [("id", "INVALID_TRANSITION")]


async def test_moving_a_cancelled_order(client, order, actor):
    from tests.graphql.test_orders_support import second_location

    away = await second_location(actor)
    cancel = f'mutation($ids: [ID!]!) {{ cancelOrders(orderIds: $ids, reason: "no") {{ {BATCH_FIELDS} }} }}'
    assert (await client.gql(cancel, {"ids": [order["id"]]}))["cancelOrders"]["failures"] == []
    before = await db_state()
    payload = (await client.gql(MOVE, {"ids": [order["id"]], "to": gid("Location", away.id)}))["moveOrders"]
    assert payload["orders"] == [] and payload["errors"] == []
    failure = payload["failures"][0]
    assert (failure["orderId"], failure["number"], failure["code"]) == (order["id"], order["number"], "INVALID_TRANSITION")
    assert "cancelled" in failure["message"]
    await assert_unchanged_by(before)


async def test_moving_to_an_unknown_location(client, order):
    errors = await refused(client, MOVE, {"ids": [order["id"]], "to": gid("Location", uuid.uuid4())}, "moveOrders")
    assert errors == [("locationId", "NOT_FOUND")]


async def test_a_reader_cannot_change_orders(client, order):
    _, secret = await auth.create_token("reader", Actor.system(), Role.READER)
    before = await db_state()
    body = (await client.post(PARK, {"ids": [order["id"]]}, token=secret)).json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await assert_unchanged_by(before)
    data = await client.gql("query($id: ID!) { order(id: $id) { number } }", {"id": order["id"]}, token=secret)
    assert data["order"]["number"] == order["number"]

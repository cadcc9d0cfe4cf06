"""A mutation whose selection is invalid changes nothing (both backends).

Output arguments (``auditTrail(limit:)``, ``listings(limit:)``, ...) are checked for the whole
operation before any resolver runs. The mutations are enumerated from the schema: each one whose
payload reaches a field with argument rules is sent with a valid input and an invalid argument deep in
its payload, once as a literal and once through a variable inside a fragment; the database must be
as before, row for row. The same mutation with valid arguments must change it (so the first check can
fail). A mutation added to the schema without a valid input here fails the enumeration test.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator
from datetime import datetime, timedelta, timezone
from dataclasses import dataclass
from typing import Any

import pytest
import strawberry
from graphql import (
    GraphQLBoolean,
    GraphQLEnumType,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
)

from orderdeck import db
from orderdeck.graphql.arguments import CheckArguments, IntRange, checked, rules_of
from orderdeck.graphql.common import encode_id
from orderdeck.graphql.schema import schema
from orderdeck.models import Dispatch, DispatchState, Listing, Location, Order, OrderItem, SyncKind
from orderdeck.services import channels, connections, listings, locations, orders
from orderdeck.services.fulfilment.locations import set_location_fulfilment
from orderdeck.services.orders import notes as order_notes
from orderdeck.services.context import Actor
from orderdeck.services.failed_jobs import record_failed_job
from orderdeck.services.work import WORK
from tests.services.helpers import make_item, make_order

GRAPH: GraphQLSchema = schema._schema
SHOP = {"url": "https://shop.example.com/", "consumer_key": "ck_live", "consumer_secret": "cs_top_secret"}


# --- the schema: where each mutation's payload reaches a checked argument --------------------------


@dataclass(frozen=True)
class Reach:
    """A path from a payload to a field with an integer range rule, with the field's parent type."""

    path: tuple[str, ...]
    parent: str
    rule: IntRange


def reaches(kind: Any, path: tuple[str, ...] = (), seen: frozenset[str] = frozenset(), depth: int = 4) -> list[Reach]:
    """Every path (at most ``depth`` fields, no type twice) from ``kind`` to a field with a range rule."""
    if depth == 0 or not isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType)):
        return []
    found = []
    for name, field in kind.fields.items():
        found += [Reach((*path, name), kind.name, rule) for rule in rules_of(field) if isinstance(rule, IntRange)]
        child = get_named_type(field.type)
        if child.name not in seen:
            found += reaches(child, (*path, name), seen | {child.name}, depth - 1)
    return found


def payload_type(mutation: str) -> Any:
    return get_named_type(GRAPH.mutation_type.fields[mutation].type)


CHECKED = sorted(name for name in GRAPH.mutation_type.fields if reaches(payload_type(name)))
"""The mutations whose payload reaches a checked argument."""


def selection(path: tuple[str, ...], argument: str, value: str, alias: str) -> str:
    """``a { b { alias: c(argument: value) { __typename } } }`` for path (a, b, c)."""
    leaf = f"{alias}: {path[-1]}({argument}: {value}) {{ __typename }}"
    for name in reversed(path[:-1]):
        leaf = f"{name} {{ {leaf} }}"
    return leaf


def document(mutation: str, bad: dict[str, int] | None) -> tuple[str, set[str], dict[str, Any]]:
    """The mutation selecting its shortest and its deepest checked path: the first with a literal
    value, the second with a variable inside a fragment on the payload. ``bad`` holds the two values
    (out of range) or None for values in range. Returns (query, paths refused, extra variables)."""
    field: GraphQLField = GRAPH.mutation_type.fields[mutation]
    found = sorted(reaches(payload_type(mutation)), key=lambda r: len(r.path))
    short, deep = found[0], found[-1]
    literal = bad["literal"] if bad else short.rule.low
    variable = bad["variable"] if bad else deep.rule.high
    definitions = ", ".join(f"${name}: {arg.type}" for name, arg in field.args.items())
    passed = ", ".join(f"{name}: ${name}" for name, arg in field.args.items())
    errors = " errors { message }" if "errors" in payload_type(mutation).fields else ""
    query = f"""mutation({definitions}, $deep: Int!) {{
      {mutation}({passed}) {{ {selection(short.path, short.rule.argument, str(literal), "shallow")} ...deep{errors} }}
    }}
    fragment deep on {payload_type(mutation).name} {{ {selection(deep.path, deep.rule.argument, "$deep", "deep")} }}"""
    refused = {".".join((mutation, *short.path[:-1], "shallow")), ".".join((mutation, *deep.path[:-1], "deep"))}
    return query, refused, {"deep": variable}


def test_every_mutation_reaching_a_checked_argument_is_tested_here():
    """A new mutation whose payload reaches a checked argument needs a valid input in ARRANGE."""
    assert CHECKED == sorted(ARRANGE), set(CHECKED) ^ set(ARRANGE)
    assert len(CHECKED) > 35  # orders, stock, locations, channels, listings


def self_checked(kind: Any) -> bool:
    """Whether GraphQL's own type check leaves nothing to check (an enum or a Boolean)."""
    named = get_named_type(kind)
    return isinstance(named, GraphQLEnumType) or named is GraphQLBoolean


def test_every_argument_of_a_nested_field_has_a_rule():
    """Fields below the root (the ones a mutation's payload can reach) take only arguments a rule
    covers, or whose type says all (an enum, a Boolean): resolvers convert or check nothing that was
    not checked before execution."""
    roots = {GRAPH.query_type.name, GRAPH.mutation_type.name, GRAPH.subscription_type.name}
    unruled = []
    for kind in GRAPH.type_map.values():
        if kind.name in roots or kind.name.startswith("__"):
            continue
        if isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType)):
            for name, field in kind.fields.items():
                covered = {argument for rule in rules_of(field) for argument in rule.arguments}
                unruled += [f"{kind.name}.{name}({arg})" for arg, argument in field.args.items()
                            if arg not in covered and not self_checked(argument.type)]  # fmt: skip
    assert unruled == []


# --- the world each mutation acts on ----------------------------------------------------------------


def gid(kind: str, value: uuid.UUID) -> str:
    return encode_id(kind, value)


async def world(actor: Actor, home: Location) -> dict[str, str]:
    """Stock, orders in every state a mutation needs, a channel with a listing and a failed job."""
    away = await locations.create_location("Away", actor)
    mug = await make_item("MUG", actor, 20, home.id)
    await make_item("TEE", actor, 5, home.id)
    order = await make_order(actor, ("MUG", 1))
    await orders.add_tags([order.id], ["gift"], actor)
    note = await order_notes.add_note(order.id, {"text": "Wrap it"}, actor)
    await order_notes.set_property(order.id, {"name": "colour", "value": "blue"}, actor)
    parked, locked, held, processed = [await make_order(actor, ("MUG", 1)) for _ in range(4)]
    await orders.set_parked([parked.id], True, actor)
    await orders.set_locked([locked.id], True, actor)
    await orders.set_on_hold([held.id], True, actor)
    await orders.process_orders([{"order_id": processed.id}], actor)
    await Dispatch.filter(order_id=processed.id).update(state=DispatchState.FAILED)
    line = await OrderItem.get(order_id=processed.id)
    channel = await channels.create_channel(
        {"name": "Shop", "plugin": "woocommerce", "settings": SHOP, "stock_location_ids": [home.id]}, actor
    )
    disabled = await channels.create_channel({"name": "Closed", "plugin": "woocommerce", "settings": SHOP}, actor)
    await channels.set_channel_enabled(disabled.id, False, actor)
    listing = await listings.link_listing({"channel_id": channel.id, "channel_sku": "MUG-1", "sku": "MUG"}, actor)
    await Listing.filter(id=listing.id).update(push_due=False, due_since=None)  # as after a push: syncChannel marks it
    await record_failed_job(actor="download_orders", queue=WORK[SyncKind.DOWNLOAD].queue, message_id="m-1",
                            args=[str(channel.id)], kwargs={}, error="boom")  # fmt: skip
    job = await db.fetch("SELECT id FROM failed_job", [])
    centre = await connections.create_connection({"name": "Centre", "connector": "url_dropship",
                                                  "settings": DROP_SHIPPER}, actor)  # fmt: skip
    served = await locations.create_location("Centre stock", actor)
    await set_location_fulfilment(served.id, {"connection_id": centre.id}, actor)
    waiting = await make_order(actor, ("MUG", 1), location_id=served.id)  # its export failed: it waits
    await Order.filter(id=waiting.id).update(label_error="503", export_attempts=1,
                                             export_next_at=datetime.now(timezone.utc) + timedelta(hours=1))  # fmt: skip
    return {
        "home": gid("Location", home.id), "away": gid("Location", away.id), "mug": gid("StockItem", mug.id),
        "order": gid("Order", order.id), "note": gid("OrderNote", note.id), "parked": gid("Order", parked.id),
        "locked": gid("Order", locked.id), "held": gid("Order", held.id), "processed": gid("Order", processed.id),
        "line": gid("OrderItem", line.id), "channel": gid("Channel", channel.id),
        "disabled": gid("Channel", disabled.id), "listing": gid("Listing", listing.id),
        "job": gid("FailedJob", job[0]["id"]), "centre": gid("FulfilmentConnection", centre.id),
    }  # fmt: skip


DROP_SHIPPER = {"url": "https://dropship.example.com", "api_key": "key"}

ONE_MUG = {"items": [{"sku": "MUG", "quantity": 1}]}

ARRANGE: dict[str, Any] = {
    "createOrder": lambda w: {"input": ONE_MUG},
    "createOrders": lambda w: {"input": [ONE_MUG]},
    "updateOrder": lambda w: {"id": w["order"], "input": {"buyerName": "Grace Hopper"}},
    "setOrderStatus": lambda w: {"orderIds": [w["order"]], "status": "PENDING"},
    "parkOrders": lambda w: {"orderIds": [w["order"]]},
    "unparkOrders": lambda w: {"orderIds": [w["parked"]]},
    "lockOrders": lambda w: {"orderIds": [w["order"]]},
    "unlockOrders": lambda w: {"orderIds": [w["locked"]]},
    "holdOrders": lambda w: {"orderIds": [w["order"]]},
    "releaseOrders": lambda w: {"orderIds": [w["held"]]},
    "addOrderTags": lambda w: {"orderIds": [w["order"]], "tags": ["priority"]},
    "removeOrderTags": lambda w: {"orderIds": [w["order"]], "tags": ["gift"]},
    "moveOrders": lambda w: {"orderIds": [w["order"]], "locationId": w["away"]},
    "processOrder": lambda w: {"input": {"orderId": w["order"]}},
    "processOrders": lambda w: {"input": [{"orderId": w["order"]}]},
    "retryDispatches": lambda w: {"orderIds": [w["processed"]]},
    "cancelOrders": lambda w: {"orderIds": [w["order"]], "reason": "Changed their mind"},
    "deleteOrders": lambda w: {"orderIds": [w["order"]], "reason": "Duplicate"},
    "addOrderNote": lambda w: {"orderId": w["order"], "input": {"text": "Call first"}},
    "deleteOrderNote": lambda w: {"noteId": w["note"]},
    "setOrderProperty": lambda w: {"orderId": w["order"], "input": {"name": "size", "value": "L"}},
    "removeOrderProperty": lambda w: {"orderId": w["order"], "name": "colour"},
    "createReturn": lambda w: {"input": {"orderId": w["processed"], "items": [{"itemId": w["line"], "quantity": 1}],
                                         "reason": "Broken"}},  # fmt: skip
    "createResend": lambda w: {"input": {"orderId": w["processed"], "items": [{"itemId": w["line"], "quantity": 1}],
                                         "reason": "Lost"}},  # fmt: skip
    "createStockItem": lambda w: {"input": {"sku": "CAP", "title": "Cap"}},
    "updateStockItem": lambda w: {"id": w["mug"], "input": {"title": "Big mug"}},
    "setStockLevels": lambda w: {"input": {"levels": [{"sku": "MUG", "locationId": w["home"], "level": 30}]}},
    "adjustStockLevels": lambda w: {"input": {"levels": [{"sku": "MUG", "locationId": w["home"], "change": 2}]}},
    "setMinimumLevel": lambda w: {"sku": "MUG", "locationId": w["home"], "minimumLevel": 3},
    "createLocation": lambda w: {"name": "North"},
    "renameLocation": lambda w: {"id": w["away"], "name": "South"},
    "setDefaultLocation": lambda w: {"id": w["away"]},
    "createChannel": lambda w: {"input": {"name": "Other shop", "plugin": "woocommerce", "settings": SHOP}},
    "updateChannel": lambda w: {"id": w["channel"], "input": {"name": "Renamed shop"}},
    "enableChannel": lambda w: {"id": w["disabled"]},
    "disableChannel": lambda w: {"id": w["channel"]},
    "setChannelFollowUp": lambda w: {"id": w["channel"], "enabled": False, "afterDays": 3},
    "syncChannel": lambda w: {"id": w["channel"], "download": False, "stockPush": True},
    "retryFailedJob": lambda w: {"id": w["job"]},
    "linkListing": lambda w: {"input": {"channelId": w["channel"], "channelSku": "TEE-1", "sku": "TEE"}},
    "updateListing": lambda w: {"id": w["listing"], "input": {"ignoreSync": True}},
    "createFulfilmentConnection": lambda w: {"input": {"name": "Other centre", "connector": "url_dropship",
                                                       "settings": DROP_SHIPPER}},  # fmt: skip
    "updateFulfilmentConnection": lambda w: {"id": w["centre"], "input": {"name": "Renamed centre"}},
    "setFulfilmentConnectionEnabled": lambda w: {"id": w["centre"], "enabled": False},
    "syncFulfilmentConnection": lambda w: {"id": w["centre"], "kinds": ["EXPORT"]},
    "setLocationFulfilment": lambda w: {"locationId": w["away"], "input": {"fulfilmentConnectionId": w["centre"]}},
}
"""A valid call of each mutation in CHECKED, on the world above: it changes the database."""


async def everything() -> dict[str, list[str]]:
    """Every row of every table, as text (the order-number counter and timestamps included)."""
    tables = await db.fetch(
        "SELECT name AS t FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        if db.dialect() == "sqlite" else
        "SELECT tablename AS t FROM pg_tables WHERE schemaname = current_schema()", []
    )  # fmt: skip
    return {
        row["t"]: sorted(repr(sorted(dict(r).items())) for r in await db.fetch(f'SELECT * FROM "{row["t"]}"', []))
        for row in tables
    }


@pytest.mark.parametrize("mutation", CHECKED)
async def test_an_invalid_selection_changes_nothing(client, actor, default_location, mutation):
    variables = ARRANGE[mutation](await world(actor, default_location))
    before = await everything()
    bad = {"literal": 1000, "variable": -1}
    query, refused, extra = document(mutation, bad)
    body = (await client.post(query, {**variables, **extra})).json()
    assert body["data"] is None, body
    assert {e["message"].partition(":")[0] for e in body["errors"]} == refused, body["errors"]
    assert all("must be between" in e["message"] for e in body["errors"]), body["errors"]
    assert await everything() == before

    query, _, extra = document(mutation, None)
    data = await client.gql(query, {**variables, **extra})
    payload = data[mutation]
    assert not payload.get("errors") and not payload.get("failures"), payload
    assert await everything() != before


# --- what the client is told ---------------------------------------------------------------------------


async def test_each_refusal_names_its_field_path_and_place_in_the_query(client, actor, default_location):
    await make_item("MUG", actor, 5, default_location.id)
    query = """mutation($input: OrderInput!, $n: Int!) { createOrder(input: $input) {
      order { number trail: auditTrail(limit: 0) { kind } items { stockItem { auditTrail(limit: $n) { kind } } } }
      errors { message } } }"""
    line = query.splitlines()[1]
    body = (await client.post(query, {"input": ONE_MUG, "n": 201})).json()
    assert body["data"] is None
    assert [(e["message"], e["path"], e["locations"]) for e in body["errors"]] == [
        ("createOrder.order.trail: limit must be between 1 and 200", ["createOrder", "order", "trail"],
         [{"line": 2, "column": line.index("trail:") + 1}]),
        ("createOrder.order.items.stockItem.auditTrail: limit must be between 1 and 200",
         ["createOrder", "order", "items", "stockItem", "auditTrail"],
         [{"line": 2, "column": line.index("auditTrail(limit: $n)") + 1}]),
    ]  # fmt: skip
    assert await db.fetch("SELECT id FROM orders", []) == []
    data = await client.gql(query.replace("limit: 0", "limit: 1"), {"input": ONE_MUG, "n": 200})
    assert [e["kind"] for e in data["createOrder"]["order"]["trail"]] == ["ORDER_CREATED"]


async def test_query_arguments_are_checked_by_the_same_rules(client, default_location):
    for query, message in [
        ("{ order { number } }", "order: Give exactly one of id and number"),
        ('{ stockItem(id: "x", sku: "MUG") { sku } }', "stockItem: Give exactly one of id and sku"),
        ('{ searchOrders(query: " ", limit: 5) { __typename } }', "searchOrders: query: give an order number"),
        ('{ searchOrders(query: "1", limit: 0) { __typename } }', "searchOrders: limit must be between 1 and 100"),
        ("{ orders(first: 1, last: 1) { totalCount } }", "orders: Give either first or last, not both"),
        ("{ syncRuns(first: 101) { totalCount } }", "syncRuns: first must be between 0 and 100"),
        ("{ locations { auditTrail(limit: 201) { kind } } }", "locations.auditTrail: limit must be between 1 and 200"),
    ]:
        body = (await client.post(query)).json()
        assert body["data"] is None and body["errors"][0]["message"].startswith(message), (query, body)


# --- the extension on its own (no database): a subscription is refused before it starts ----------------


STARTED: list[int] = []


@strawberry.type
class TinyQuery:
    ok: bool = True


@strawberry.type
class TinySubscription:
    @strawberry.subscription(metadata=checked(IntRange("every", 1, 10)))
    async def ticks(self, every: int) -> AsyncGenerator[int, None]:
        STARTED.append(every)
        yield every


async def test_a_subscription_breaking_a_rule_never_starts():
    tiny = strawberry.Schema(query=TinyQuery, subscription=TinySubscription, extensions=[CheckArguments])
    query = "subscription($every: Int!) { ticks(every: $every) }"
    refused = await anext(await tiny.subscribe(query, variable_values={"every": 0}))
    assert [e.message for e in refused.errors] == ["ticks: every must be between 1 and 10"] and STARTED == []
    started = await anext(await tiny.subscribe(query, variable_values={"every": 3}))
    assert started.data == {"ticks": 3} and STARTED == [3]

"""Locations over GraphQL: list, look up, create, rename, make default, delete, and the refusals."""

from __future__ import annotations

import uuid

import pytest

from orderdeck.graphql.common import encode_id
from orderdeck.models import AuditEntry, AuditKind, Location, Role, StockLevel
from orderdeck.services import auth, locations, orders, stock
from orderdeck.services.context import Actor
from tests.services.helpers import assert_unchanged_by, db_state

ONE = "query($id: ID!) { location(id: $id) { name } }"
FIELDS = "location { id name isDefault openOrderCount } errors { field code message }"
CREATE = f"mutation($name: String!) {{ createLocation(name: $name) {{ {FIELDS} }} }}"
RENAME = f"mutation($id: ID!, $name: String!) {{ renameLocation(id: $id, name: $name) {{ {FIELDS} }} }}"
DEFAULT = f"mutation($id: ID!) {{ setDefaultLocation(id: $id) {{ {FIELDS} }} }}"
DELETE = "mutation($id: ID!) { deleteLocation(id: $id) { deletedId errors { field code message } } }"


def gid(location: Location) -> str:
    return encode_id("Location", location.id)


async def refused(client, query: str, variables: dict, field: str | None, code: str) -> dict:
    """Run a mutation that must be refused with (field, code) and change nothing; return its payload."""
    before = await db_state()
    data = await client.gql(query, variables)
    (payload,) = data.values()
    assert (field, code) in [(e["field"], e["code"]) for e in payload["errors"]], payload["errors"]
    await assert_unchanged_by(before)
    return payload


async def audit_of(location_id: uuid.UUID) -> list[tuple[AuditKind, str]]:
    return [(e.kind, e.actor) for e in await AuditEntry.filter(subject_id=location_id).order_by("id")]


async def test_locations_are_listed_by_name_and_found_by_id(client, default_location, actor):
    await locations.create_location("Warehouse B", actor)
    await locations.create_location("Annex", actor)
    data = await client.gql("{ locations { name isDefault } }")
    assert data["locations"] == [
        {"name": "Annex", "isDefault": False}, {"name": "Default", "isDefault": True},
        {"name": "Warehouse B", "isDefault": False},
    ]  # fmt: skip
    found = await client.gql("query($id: ID!) { location(id: $id) { id name } }", {"id": gid(default_location)})
    assert found["location"] == {"id": gid(default_location), "name": "Default"}
    missing = await client.gql(ONE, {"id": encode_id("Location", uuid.uuid4())})
    assert missing["location"] is None
    body = (await client.post('{ location(id: "garbage") { name } }')).json()
    assert "not a valid Location id" in body["errors"][0]["message"]
    node = await client.gql("query($id: ID!) { node(id: $id) { ... on Location { name } } }", {"id": gid(default_location)})
    assert node["node"] == {"name": "Default"}


async def test_location_lifecycle(client, default_location):
    created = (await client.gql(CREATE, {"name": "  North  "}))["createLocation"]
    assert created["errors"] == []
    assert created["location"]["name"] == "North" and not created["location"]["isDefault"]
    north = await Location.get(name="North")
    assert created["location"]["id"] == gid(north)

    renamed = (await client.gql(RENAME, {"id": gid(north), "name": "North Hub"}))["renameLocation"]
    assert renamed["errors"] == [] and renamed["location"]["name"] == "North Hub"
    assert (await Location.get(id=north.id)).name == "North Hub"

    made_default = (await client.gql(DEFAULT, {"id": gid(north)}))["setDefaultLocation"]
    assert made_default["errors"] == [] and made_default["location"]["isDefault"]
    assert {loc.name for loc in await Location.filter(is_default=True)} == {"North Hub"}
    data = await client.gql("{ locations { name isDefault } }")
    assert data["locations"] == [{"name": "Default", "isDefault": False}, {"name": "North Hub", "isDefault": True}]

    deleted = (await client.gql(DELETE, {"id": gid(default_location)}))["deleteLocation"]
    assert deleted == {"deletedId": gid(default_location), "errors": []}
    assert not await Location.filter(id=default_location.id).exists()
    assert (await client.gql(ONE, {"id": gid(default_location)}))["location"] is None

    assert await audit_of(north.id) == [
        (AuditKind.LOCATION_CREATED, "test-admin"), (AuditKind.LOCATION_RENAMED, "test-admin"),
        (AuditKind.LOCATION_DEFAULT_SET, "test-admin"),
    ]  # fmt: skip
    renamed_entry = await AuditEntry.get(kind=AuditKind.LOCATION_RENAMED)
    assert (renamed_entry.before, renamed_entry.after) == ({"name": "North"}, {"name": "North Hub"})
    assert (await audit_of(default_location.id))[-1] == (AuditKind.LOCATION_DELETED, "test-admin")

    history = await client.gql("query($id: ID!) { location(id: $id) { auditTrail { kind actor } } }", {"id": gid(north)})
    assert [e["kind"] for e in history["location"]["auditTrail"]] == [
        "LOCATION_DEFAULT_SET", "LOCATION_RENAMED", "LOCATION_CREATED"
    ]  # fmt: skip


async def test_making_the_default_location_default_again_keeps_one_default(client, default_location):
    data = (await client.gql(DEFAULT, {"id": gid(default_location)}))["setDefaultLocation"]
    assert data["errors"] == [] and data["location"]["isDefault"]
    assert await Location.filter(is_default=True).count() == 1


async def test_bad_names_are_refused(client, default_location, actor):
    await locations.create_location("North", actor)
    await refused(client, CREATE, {"name": "North"}, "name", "DUPLICATE")
    await refused(client, CREATE, {"name": "   "}, "name", "INVALID")
    await refused(client, CREATE, {"name": "N" * 101}, "name", "INVALID")
    await refused(client, RENAME, {"id": gid(default_location), "name": "North"}, "name", "DUPLICATE")
    await refused(client, RENAME, {"id": gid(default_location), "name": ""}, "name", "INVALID")


@pytest.mark.parametrize("query", [RENAME, DEFAULT, DELETE])
async def test_malformed_and_unknown_ids_are_refused(client, default_location, query):
    variables = {"name": "Somewhere"} if query is RENAME else {}
    item_id = encode_id("StockItem", uuid.uuid4())
    for bad in ["garbage", item_id, encode_id("Location", "12")]:
        await refused(client, query, {"id": bad, **variables}, "id", "INVALID")
    await refused(client, query, {"id": encode_id("Location", uuid.uuid4()), **variables}, "id", "NOT_FOUND")


async def test_the_default_location_cannot_be_deleted(client, default_location):
    payload = await refused(client, DELETE, {"id": gid(default_location)}, "id", "IN_USE")
    assert payload["deletedId"] is None
    assert "default" in payload["errors"][0]["message"]


async def test_a_location_with_stock_cannot_be_deleted_until_it_is_empty(client, default_location, actor):
    north = await locations.create_location("North", actor)
    await stock.create_stock_item({"sku": "MUG", "title": "Mug"}, actor)
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": north.id, "quantity": 4}]}, actor)
    payload = await refused(client, DELETE, {"id": gid(north)}, "id", "IN_USE")
    assert "stock" in payload["errors"][0]["message"]

    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": north.id, "quantity": 0}]}, actor)
    deleted = (await client.gql(DELETE, {"id": gid(north)}))["deleteLocation"]
    assert deleted == {"deletedId": gid(north), "errors": []}
    assert not await StockLevel.filter(location_id=north.id).exists()


async def test_a_location_with_open_orders_cannot_be_deleted(client, default_location, actor):
    north = await locations.create_location("North", actor)
    await stock.create_stock_item({"sku": "MUG", "title": "Mug"}, actor)
    await orders.create_direct_order({"items": [{"sku": "MUG", "quantity": 1, "unit_price": "1"}],
                                      "location_id": north.id}, actor)  # fmt: skip
    data = await client.gql("query($id: ID!) { location(id: $id) { openOrderCount } }", {"id": gid(north)})
    assert data["location"]["openOrderCount"] == 1
    payload = await refused(client, DELETE, {"id": gid(north)}, "id", "IN_USE")
    assert "open orders" in payload["errors"][0]["message"]


@pytest.mark.parametrize(
    "mutation",
    [
        'createLocation(name: "X") { errors { code } }',
        'renameLocation(id: "x", name: "X") { errors { code } }',
        'setDefaultLocation(id: "x") { errors { code } }',
        'deleteLocation(id: "x") { errors { code } }',
    ],
)
@pytest.mark.parametrize("role", [Role.READER, Role.OPERATOR])
async def test_only_location_managers_change_locations(client, default_location, mutation, role):
    _, secret = await auth.create_token("limited", Actor.system(), role)
    assert (await client.gql("{ locations { name } }", token=secret))["locations"] == [{"name": "Default"}]
    before = await db_state()
    body = (await client.post(f"mutation {{ {mutation} }}", token=secret)).json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    await assert_unchanged_by(before)

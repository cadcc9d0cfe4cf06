"""Authentication and permissions of the GraphQL endpoint."""

import pytest

from orderdeck.graphql.schema import schema
from orderdeck.models import Role
from orderdeck.services import auth
from orderdeck.services import orders as service
from orderdeck.services.auth import Permission
from orderdeck.services.context import Actor
from tests.graphql.test_orders_support import gid, stock_up
from tests.services.helpers import assert_unchanged_by, db_state


async def test_missing_token_is_401_with_a_clear_message(client):
    response = await client.http.post("/graphql", json={"query": "{ me { name } }"})
    assert response.status_code == 401
    assert "Authorization: Bearer" in response.json()["errors"][0]["message"]
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_wrong_token_is_401(client):
    response = await client.post("{ me { name } }", token="od_not-a-real-token")
    assert response.status_code == 401


async def test_revoked_token_is_401(client):
    _, secret = await auth.create_token("temp", Actor.system())
    assert (await client.post("{ me { name } }", token=secret)).status_code == 200
    await auth.revoke_token("temp", Actor.system())
    assert (await client.post("{ me { name } }", token=secret)).status_code == 401


async def test_me_names_the_token_and_its_permissions(client):
    data = await client.gql("{ me { name role permissions } }")
    assert data["me"]["name"] == "test-admin"
    assert data["me"]["role"] == "ADMIN"
    assert "MANAGE_TOKENS" in data["me"]["permissions"]


async def test_reader_cannot_create_tokens(client):
    _, secret = await auth.create_token("reader", Actor.system(), Role.READER)
    response = await client.post('mutation { createToken(name: "x") { secret } }', token=secret)
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_graphiql_page_is_served_without_token(client):
    response = await client.http.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health_endpoints(client):
    assert (await client.http.get("/healthz")).json() == {"status": "ok"}
    ready = (await client.http.get("/readyz")).json()
    assert ready["status"] == "ok"


async def test_cors_preflight_allows_only_configured_origins(client):
    allowed = await client.http.options("/graphql", headers={
        "Origin": "http://spa.example", "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type"})  # fmt: skip
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "http://spa.example"
    refused = await client.http.options("/graphql", headers={
        "Origin": "http://evil.example", "Access-Control-Request-Method": "POST"})  # fmt: skip
    assert "access-control-allow-origin" not in refused.headers


MUTATION_PERMISSIONS = {
    "CREATE_ORDERS": ["createOrder", "createOrders"],
    "EDIT_ORDERS": ["updateOrder", "setOrderStatus", "parkOrders", "unparkOrders", "lockOrders", "unlockOrders",
                    "holdOrders", "releaseOrders", "addOrderTags", "removeOrderTags", "moveOrders", "addOrderNote",
                    "deleteOrderNote", "setOrderProperty", "removeOrderProperty"],
    "PROCESS_ORDERS": ["processOrder", "processOrders", "createReturn", "createResend", "retryDispatches"],
    "CANCEL_ORDERS": ["cancelOrders", "deleteOrders"],
    "MANAGE_STOCK": ["createStockItem", "updateStockItem", "setStockLevels", "adjustStockLevels", "setMinimumLevel",
                     "linkListing", "updateListing", "unlinkListing"],
    "MANAGE_LOCATIONS": ["createLocation", "renameLocation", "setDefaultLocation", "deleteLocation",
                         "setLocationFulfilment"],
    "MANAGE_TOKENS": ["createToken", "revokeToken"],
    "MANAGE_CHANNELS": ["createChannel", "updateChannel", "enableChannel", "disableChannel", "setChannelFollowUp", "deleteChannel",
                        "testChannelConnection", "syncChannel", "retryFailedJob", "createFulfilmentConnection",
                        "updateFulfilmentConnection", "setFulfilmentConnectionEnabled", "deleteFulfilmentConnection",
                        "testFulfilmentConnection", "syncFulfilmentConnection"],
}  # fmt: skip


def test_each_mutation_declares_the_one_permission_it_needs():
    mutation = schema.get_type_by_name("Mutation")
    name = schema.config.name_converter.get_graphql_name
    declared = {name(f): [p.error_extensions["permission"] for p in f.permission_classes] for f in mutation.fields}
    expected = {name: [permission] for permission, names in MUTATION_PERMISSIONS.items() for name in names}
    assert declared == expected


@pytest.mark.parametrize(
    ("role", "permissions"),
    [
        (Role.ADMIN, [p.value for p in Permission]),
        (Role.OPERATOR, ["READ", "CREATE_ORDERS", "EDIT_ORDERS", "PROCESS_ORDERS", "CANCEL_ORDERS", "MANAGE_STOCK"]),
        (Role.READER, ["READ"]),
    ],
)
async def test_roles_grant_their_permissions(client, role, permissions):
    _, secret = await auth.create_token("someone", Actor.system(), role)
    data = await client.gql("{ me { permissions } }", token=secret)
    assert sorted(data["me"]["permissions"]) == sorted(permissions)


async def test_an_operator_processes_orders_but_cannot_manage_locations(client, actor, default_location):
    await stock_up(actor, default_location, MUG=1)
    order = await service.create_direct_order({"items": [{"sku": "MUG", "quantity": 1}]}, actor)
    _, secret = await auth.create_token("operator", Actor.system(), Role.OPERATOR)
    process = "mutation($id: ID!) { processOrders(input: [{orderId: $id}]) { orders { state } failures { message } } }"
    data = await client.gql(process, {"id": gid("Order", order.id)}, token=secret)
    assert data["processOrders"] == {"orders": [{"state": "PROCESSED"}], "failures": []}
    body = (await client.post('mutation { createLocation(name: "North") { errors { code } } }', token=secret)).json()
    assert body["data"] is None and body["errors"][0]["extensions"] == {"code": "FORBIDDEN",
                                                                        "permission": "MANAGE_LOCATIONS"}  # fmt: skip


@pytest.mark.parametrize(
    "mutation",
    [
        'createOrder(input: {items: [{sku: "MUG", quantity: 1}]}) { errors { code } }',
        "processOrders(input: [{orderId: $id}]) { errors { code } }",
        'cancelOrders(orderIds: [$id], reason: "x") { errors { code } }',
        'addOrderNote(orderId: $id, input: {text: "x"}) { errors { code } }',
    ],
)
async def test_a_reader_cannot_mutate(client, actor, default_location, mutation):
    await stock_up(actor, default_location, MUG=1)
    order = await service.create_direct_order({"items": [{"sku": "MUG", "quantity": 1}]}, actor)
    _, secret = await auth.create_token("reader", Actor.system(), Role.READER)
    before = await db_state()
    document = f"mutation{'($id: ID!)' if '$id' in mutation else ''} {{ {mutation} }}"
    variables = {"id": gid("Order", order.id)} if "$id" in mutation else {}
    body = (await client.post(document, variables, token=secret)).json()
    assert body["data"] is None and body["errors"][0]["extensions"]["code"] == "FORBIDDEN", body
    await assert_unchanged_by(before)

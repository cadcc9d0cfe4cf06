"""Authentication and permissions of the GraphQL endpoint."""

from orderdeck.models import Role
from orderdeck.services import auth
from orderdeck.services.context import Actor


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

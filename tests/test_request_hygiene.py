"""Request hygiene: bodies, JSON nesting and list lengths are bounded before anything is parsed,
over HTTP and over the websocket; a refusal is a clear JSON error and changes nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orderdeck.app import create_app
from orderdeck.config import Settings
from orderdeck.http_limits import nested_deeper_than
from tests.live.support import live_server
from tests.services.helpers import assert_unchanged_by, db_state

LIMITS = {"max_body_bytes": 10_000, "max_json_depth": 20, "max_list_items": 100}


def signed_in(token: str, **limits: int) -> httpx.AsyncClient:
    """A client of the app with these limits, over ASGI, signed in with ``token``."""
    app = create_app(Settings(database_url="sqlite://unused", **limits))
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers)


@pytest.fixture
async def http(database: str, admin_token: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with small limits, signed in as an admin."""
    async with signed_in(admin_token, **LIMITS) as client:
        yield client


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    [error] = response.json()["errors"]
    return error


def test_nesting_is_measured_without_counting_brackets_in_strings() -> None:
    assert not nested_deeper_than(b'{"a": [[1]]}', 3)
    assert nested_deeper_than(b'{"a": [[1]]}', 2)
    assert not nested_deeper_than(json.dumps({"q": "[[[[{{{", "e": '\\"[[', "v": [["\\"]]}).encode(), 3)
    assert nested_deeper_than(b"[" * 1000, 20)  # unclosed: refused too, never decoded
    assert not nested_deeper_than(b"[" * 20 + b"]" * 20, 20)
    assert nested_deeper_than(b"[" * 21 + b"]" * 21, 20)


async def test_a_body_over_the_limit_is_refused_from_its_content_length(http) -> None:
    body = json.dumps({"query": "{ me { name } }", "variables": {"pad": "x" * 20_000}})
    error = error_of(await http.post("/graphql", content=body), 413)
    assert error["message"] == f"Request body of {len(body)} bytes exceeds the limit of 10000 bytes (ORDERDECK_MAX_BODY_BYTES)"
    assert error["extensions"]["code"] == "BODY_TOO_LARGE"


async def test_a_chunked_body_is_refused_once_it_passes_the_limit_unread_beyond(http) -> None:
    sent = []

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: Transfer-Encoding chunked
        yield b'{"query": "{ me { name } }", "variables": {"pad": "'
        for n in range(100):
            sent.append(n)
            yield b"x" * 1000
        yield b'"}}'

    error = error_of(await http.post("/graphql", content=chunks()), 413)
    assert error["message"] == "Request body of more than 10000 bytes exceeds the limit of 10000 bytes (ORDERDECK_MAX_BODY_BYTES)"
    assert len(sent) <= 11  # the other 89 KB were never read
    small = b'{"query": "{ me { name } }", "variables": {"pad": "' + b"x" * 5000 + b'"}}'

    async def few() -> AsyncIterator[bytes]:
        for start in range(0, len(small), 1000):
            yield small[start:start + 1000]

    assert (await http.post("/graphql", content=few())).json() == {"data": {"me": {"name": "test-admin"}}}


@pytest.mark.parametrize("where", ["variables", "body"])
async def test_json_nested_deeper_than_the_limit_is_refused_with_400(http, where: str) -> None:
    nested = "[" * 1000 + "]" * 1000
    body = f'{{"query": "{{ me {{ name }} }}", "variables": {{"a": {nested}}}}}' if where == "variables" else nested
    error = error_of(await http.post("/graphql", content=body), 400)
    assert error["message"] == "JSON nested more than 20 levels deep (ORDERDECK_MAX_JSON_DEPTH)"
    assert error["extensions"]["code"] == "JSON_TOO_DEEP"
    ok = '{"query": "{ me { name } }", "variables": {"a": ' + "[" * 18 + "]" * 18 + "}}"
    assert (await http.post("/graphql", content=ok)).json() == {"data": {"me": {"name": "test-admin"}}}


CREATE_ORDERS = """mutation($input: [OrderInput!]!) {
  createOrders(input: $input) { orders { number } errors { field message code } } }"""


async def test_a_long_variables_list_is_refused_before_graphql_sees_it(database, admin_token, count_queries) -> None:
    http = signed_in(admin_token, **(LIMITS | {"max_body_bytes": 2_000_000}))
    before = await db_state()
    with count_queries() as unknown:  # refused by validation: the token lookup only
        assert (await http.post("/graphql", json={"query": "{ noSuchField }"})).json()["errors"]
    inputs = [{"items": [{"sku": "MUG", "quantity": 1}]}] * 20_000
    with count_queries() as refused:
        response = await http.post("/graphql", json={"query": CREATE_ORDERS, "variables": {"input": inputs}})
    error = error_of(response, 400)
    assert error["message"] == "A list of 20000 items exceeds the limit of 100 (ORDERDECK_MAX_LIST_ITEMS)"
    assert error["extensions"]["code"] == "TOO_MANY_ITEMS"
    assert refused.count == unknown.count
    await assert_unchanged_by(before)
    await http.aclose()


async def test_a_long_list_literal_in_the_document_is_refused(http) -> None:
    ids = ", ".join(f'"T3JkZXI6{n}"' for n in range(101))
    body = (await http.post("/graphql", json={"query": f"mutation {{ parkOrders(orderIds: [{ids}]) {{ errors {{ message }} }} }}"})).json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"] == "A list literal has 101 items, more than the limit of 100 (ORDERDECK_MAX_LIST_ITEMS)"
    assert error["extensions"]["code"] == "TOO_MANY_ITEMS"


async def test_the_websocket_closes_on_a_message_too_large_or_too_deep(database, database_url, admin_token) -> None:
    async with live_server(database_url, admin_token, **LIMITS) as live:
        async with live.connect() as client:
            message = json.dumps({"type": "subscribe", "id": "1", "payload": {"query": "x" * 20_000}})
            await client.socket.send(message)
            code, reason = await asyncio.wait_for(client.closed, 10)
        assert (code, reason) == (1009, f"Message of {len(message)} bytes exceeds the limit of 10000 bytes")
        async with live.connect() as client:
            nested = "[" * 1000 + "]" * 1000
            await client.socket.send(f'{{"type": "subscribe", "id": "1", "payload": {{"variables": {nested}}}}}')
            code, reason = await asyncio.wait_for(client.closed, 10)
        assert (code, reason) == (4400, "JSON nested more than 20 levels deep (ORDERDECK_MAX_JSON_DEPTH)")
        async with live.connect() as client:  # connection_init within the limits is acknowledged
            assert not client.closed.done()

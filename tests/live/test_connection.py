"""Websocket security: the token in connection_init, clear close codes, allowed origins."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
import websockets

from tests.live.support import ORDER_EVENTS, Collector, LiveServer, live_server
from orderdeck.wsclient import PROTOCOL


@pytest.fixture
async def live(database: str, database_url: str, admin_token: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, admin_token, cors_origins=["https://shop.example"]) as server:
        yield server


async def refusal(live: LiveServer, payload: dict | None) -> websockets.frames.Close:
    """Send connection_init with ``payload``; the close frame the server answers with."""
    async with websockets.connect(live.ws, subprotocols=[PROTOCOL]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": payload or {}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
    return closed.value.rcvd


@pytest.mark.parametrize("payload", [None, {"token": "od_not-a-real-token-at-all-000000"}, {"Authorization": "Basic abc"}])
async def test_a_socket_without_a_valid_token_is_closed_with_4403(live: LiveServer, payload) -> None:
    close = await refusal(live, payload)
    assert close.code == 4403
    assert "connection_init must carry a valid API token" in close.reason


async def test_a_revoked_token_is_refused(live: LiveServer) -> None:
    created = await live.gql('mutation { createToken(name: "wall", role: READER) { secret } }')
    secret = created["createToken"]["secret"]
    async with live.connect(secret) as client:  # accepted while valid
        assert client is not None
    await live.gql('mutation { revokeToken(name: "wall") { __typename } }')
    assert (await refusal(live, {"token": secret})).code == 4403


async def test_the_token_may_come_as_a_bearer_header_in_the_payload(live: LiveServer) -> None:
    async with websockets.connect(live.ws, subprotocols=[PROTOCOL]) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {live.token}"}}))
        assert json.loads(await asyncio.wait_for(socket.recv(), 5))["type"] == "connection_ack"


async def test_subscribing_before_the_ack_is_refused_with_4401(live: LiveServer) -> None:
    async with websockets.connect(live.ws, subprotocols=[PROTOCOL]) as socket:
        await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": {"query": ORDER_EVENTS}}))
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(socket.recv(), 5)
    assert closed.value.rcvd.code == 4401


async def test_only_allowed_origins_may_open_a_socket(live: LiveServer) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with live.connect(origin="https://evil.example"):
            pass
    assert refused.value.response.status_code == 403
    async with live.connect(origin="https://shop.example"):  # listed in ORDERDECK_CORS_ORIGINS
        pass
    async with live.connect(origin=live.url):  # the dashboard's own origin
        pass


async def test_revoking_a_token_ends_its_subscriptions(live: LiveServer, default_location, monkeypatch) -> None:
    from orderdeck.graphql.live import subscriptions
    from orderdeck.services import orders, stock
    from orderdeck.services.context import Actor

    monkeypatch.setattr(subscriptions, "TOKEN_RECHECK", 0.0)  # check at every event
    await stock.create_stock_item({"sku": "MUG", "title": "Mug"}, Actor("tester"))
    order = {"location_id": default_location.id, "items": [{"sku": "MUG", "quantity": 1}]}
    secret = (await live.gql('mutation { createToken(name: "wall", role: READER) { secret } }'))["createToken"]["secret"]
    async with live.connect(secret) as client:
        feed = Collector(client, ORDER_EVENTS)
        await asyncio.sleep(0.2)
        await orders.create_direct_order(order, Actor("tester"))
        await feed.wait_for(1)
        await live.gql('mutation { revokeToken(name: "wall") { __typename } }')
        await orders.create_direct_order(order, Actor("tester"))
        with pytest.raises(Exception, match="This API token has been revoked"):
            await feed.wait_for(2)
        assert len(feed.items) == 1

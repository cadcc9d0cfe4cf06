"""One event, many subscribers: executed once per distinct (operation, variables) and encoded once,
yet every subscriber gets exactly what its own selection and variables ask for; and one token check
answers for all the sockets of a token (graphql/live/execution.py, app.py)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

import pytest
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from orderdeck.graphql.live.execution import SharedData, encode_message
from orderdeck.graphql.live.types import OrderEvent
from orderdeck.models import Location
from orderdeck.services import auth, orders, stock
from orderdeck.services.context import Actor
from tests.live.support import ORDER_EVENTS, Collector, LiveServer, eventually, live_server

ACTOR = Actor("tester")

BRIEF = "subscription { orderEvents { ... on OrderEvent { eventId number } } }"
OPTIONAL = """subscription($full: Boolean!) {
  orderEvents { ... on OrderEvent { eventId kind number @include(if: $full) state @skip(if: $full) } }
}"""


@pytest.fixture
async def live(database: str, database_url: str, admin_token: str) -> AsyncIterator[LiveServer]:
    async with live_server(database_url, admin_token) as server:
        yield server


@pytest.fixture
def executions(monkeypatch) -> list[object]:
    """The root values graphql-core executes a subscription's selection set on (a spy: the real
    execution runs)."""
    seen: list[object] = []
    execute = StrawberryGraphQLCoreExecutionContext.execute_operation

    def spy(self, *args, **kwargs):
        seen.append(self.root_value)
        return execute(self, *args, **kwargs)

    monkeypatch.setattr(StrawberryGraphQLCoreExecutionContext, "execute_operation", spy)
    return seen


async def test_each_subscription_is_executed_once_per_event_and_each_subscriber_gets_its_selection(
    live: LiveServer, default_location: Location, executions: list[object]
) -> None:
    await stock.create_stock_item({"sku": "MUG", "title": "Mug"}, ACTOR)
    async with contextlib.AsyncExitStack() as stack:
        first, second = [await stack.enter_async_context(live.connect()) for _ in range(2)]
        full = [Collector(first, ORDER_EVENTS), Collector(first, ORDER_EVENTS), Collector(second, ORDER_EVENTS)]
        brief = [Collector(first, BRIEF), Collector(second, BRIEF)]
        shown = Collector(second, OPTIONAL, {"full": True})
        hidden = Collector(first, OPTIONAL, {"full": False})
        everyone = [*full, *brief, shown, hidden]
        await eventually(lambda: live.hub.subscribers == len(everyone))
        executions.clear()
        order = await orders.create_direct_order({"location_id": default_location.id,
                                                  "items": [{"sku": "MUG", "quantity": 1}]}, ACTOR)  # fmt: skip
        got = [(await c.wait_for(1))[0] for c in everyone]
        for collector in everyone:
            await collector.stop()
    # Four distinct (operation, variables) among the seven subscriptions: four executions of the event.
    assert len(executions) == 4 and all(isinstance(root, OrderEvent) for root in executions)
    assert len({id(root) for root in executions}) == 1  # the one payload object of the event
    event_id = got[0]["eventId"]
    assert got[0] == got[1] == got[2] and got[0]["number"] == order.number and got[0]["state"] == "OPEN"
    assert got[0]["orderId"] and got[0]["actor"] == "tester" and got[0]["__typename"] == "OrderEvent"
    assert got[3] == got[4] == {"eventId": event_id, "number": order.number}
    assert got[5] == {"eventId": event_id, "kind": "CREATED", "number": order.number}
    assert got[6] == {"eventId": event_id, "kind": "CREATED", "state": "OPEN"}


def test_a_shared_result_is_spliced_into_the_exact_json_of_its_message() -> None:
    data = SharedData({"orderEvents": {"eventId": 7, "reference": 'Ünïcode "quoted" \n', "tags": [1, None]}})
    for operation_id in ("1", 'odd "id" ✓'):
        message = {"id": operation_id, "type": "next", "payload": {"data": data}}
        assert encode_message(message) == json.dumps(message, separators=(",", ":"))
    assert data.json is data.json  # encoded once
    # Anything else is left to the ordinary encoder.
    plain = {"id": "1", "type": "next", "payload": {"data": dict(data)}}
    with_errors = {"id": "1", "type": "next", "payload": {"data": data, "errors": [{"message": "no"}]}}
    for message in (plain, with_errors, {"type": "connection_ack"}, {"id": "1", "type": "complete"}, ["next"]):
        assert encode_message(message) is None


async def test_one_token_check_answers_for_all_the_sockets_of_a_token(live: LiveServer, monkeypatch) -> None:
    from orderdeck import app

    asked: list[int] = []
    still_active = auth.still_active

    async def spy(token):
        asked.append(token.id)
        return await still_active(token)

    monkeypatch.setattr(auth, "still_active", spy)
    monkeypatch.setattr(app, "TOKEN_RECHECK", 0.2)
    monkeypatch.setattr(app, "TOKEN_CHECK_SHARED", 30.0)
    secret = (await live.gql('mutation { createToken(name: "wall", role: READER) { secret } }'))["createToken"]["secret"]
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(live.connect(secret)) for _ in range(5)]
        await asyncio.sleep(1.0)  # each socket checks its token about 4 times
        assert len(asked) == 1
        # A revocation is still seen by every socket, once the shared answer is older than the window.
        monkeypatch.setattr(app, "TOKEN_CHECK_SHARED", 0.1)
        await live.gql('mutation { revokeToken(name: "wall") { __typename } }')
        closed = await asyncio.wait_for(asyncio.gather(*(socket.closed for socket in sockets)), 10)
    assert closed == [(4403, app.WS_REVOKED)] * 5

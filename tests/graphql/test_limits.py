"""Query cost (computed before execution), answer size, time and rate limits."""

from __future__ import annotations

import asyncio
import os
import re
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import parse

from orderdeck.app import create_app
from orderdeck.config import Settings
from orderdeck.graphql.common import DEFAULT_PAGE
from orderdeck.graphql.cost import operation_cost
from orderdeck.graphql.schema import schema
from orderdeck.models import Order, Role
from orderdeck.ratelimit import rate_limiter
from orderdeck.services import auth
from orderdeck.services import orders as order_service
from orderdeck.services.context import Actor
from tests.graphql.fixtures import GraphQLClient
from orderdeck.wsclient import SubscriptionError
from tests.graphql.test_orders_support import stock_up
from tests.live.support import ORDER_EVENTS, Collector, eventually, live_server

ROOT = Path(__file__).resolve().parents[2]

STALL_FIELD = "orders(first:100){edges{node{items{stockItem{auditTrail(limit:200){note}}}}}}"
STALL = "{" + " ".join(f"a{n}: {STALL_FIELD}" for n in range(30)) + "}"
"""The query that stalled the API (issue 9): 30 aliases, 23 MB of answer."""

LIMITS = Settings().max_query_cost


def cost(query: str, variables: dict[str, Any] | None = None, list_size: int = 10) -> int:
    return operation_cost(schema._schema, parse(query), None, variables, list_size)


def test_costs_follow_page_sizes_and_children() -> None:
    assert cost("{ me { name role } }") == 1
    assert cost("{ lastEventId }") == 0  # scalars are free
    # a connection costs 1, its page of edges and nodes: page x (edge 1 + node 1)
    assert cost("{ orders(first: 7) { edges { node { number } } } }") == 1 + 7 * 2
    assert cost("{ orders { nodes { number } } }") == 1 + DEFAULT_PAGE  # the default page
    assert cost("query($n: Int) { orders(first: $n) { nodes { number } } }", {"n": 3}) == 1 + 3
    assert cost("query($n: Int = 4) { orders(last: $n) { nodes { number } } }") == 1 + 4
    # a list with a size argument: its value or default; one without: the assumed length
    assert cost("{ order(number: 1) { auditTrail(limit: 5) { note } } }") == 1 + 5
    assert cost("{ order(number: 1) { auditTrail { note } } }") == 1 + 50
    assert cost("{ order(number: 1) { items { sku } } }", list_size=7) == 1 + 7
    # nesting multiplies
    assert cost("{ orders(first: 2) { nodes { items { stockItem { sku } } } } }", list_size=3) == 1 + 2 * (1 + 3 * 2)
    # aliases count each; fragments and inline fragments expand where spread
    one = cost("{ orders(first: 5) { nodes { number location { name } } } }")
    assert cost("{ a: orders(first: 5) { nodes { number location { name } } } b: orders(first: 5) { nodes { number location { name } } } }") == 2 * one  # noqa: E501
    assert cost("{ orders(first: 5) { nodes { ...F } } } fragment F on Order { number location { name } }") == one
    assert cost("{ orders(first: 5) { nodes { ... on Order { number location { name } } } } }") == one
    # introspection is bounded by the schema: free
    assert cost("{ __schema { types { name fields { name args { name } } } } }") == 0


def test_the_stalling_query_costs_far_more_than_the_limit() -> None:
    per_alias = 1 + 100 * (1 + 1 + 10 * (1 + 1 + 200))
    assert cost(STALL) == 30 * per_alias == 6_066_030
    assert cost(STALL) > 100 * LIMITS


def _dashboard_queries() -> dict[str, str]:
    """The dashboard's GraphQL documents, with their ${...} parts filled in as app.js does."""
    source = (ROOT / "server/orderdeck/dashboard/app.js").read_text()
    constants = dict(re.findall(r"^const (\w+) = (`[^`]*`|\d+);", source, re.M))

    def expand(name: str) -> str:
        value = constants[name]
        return re.sub(r"\$\{(\w+)\}", lambda m: expand(m.group(1)), value[1:-1]) if value[0] == "`" else value

    return {name: expand(name) for name in constants if name.startswith(("Q_", "M_", "S_"))}


def test_the_dashboard_and_readme_queries_stay_under_the_default_limit() -> None:
    dashboard = _dashboard_queries()
    assert {"Q_DASHBOARD", "Q_ORDERS", "Q_LOW_STOCK", "Q_CHANNELS"} <= dashboard.keys()
    tour = re.findall(r"^gql '(.*)'$", (ROOT / "README.md").read_text(), re.M)
    assert len(tour) >= 10
    costs = {name: cost(query) for name, query in dashboard.items()} | {q[:40]: cost(q) for q in tour}
    assert max(costs.values()) <= LIMITS // 10, costs
    assert cost(dashboard["Q_DASHBOARD"]) > 1000  # the largest: it loads every panel
    # the README's table of typical costs tells the truth
    limits = (ROOT / "README.md").read_text().split("## Limits", 1)[1].split("\n## ", 1)[0]
    open_orders = next(q for q in tour if q.startswith("{ openOrders"))
    for figure in [*(cost(dashboard[n]) for n in ("Q_DASHBOARD", "Q_LOW_STOCK", "Q_CHANNELS", "Q_ORDERS")),
                   cost(open_orders), cost(STALL)]:  # fmt: skip
        assert f"{figure:,}" in limits, figure


@pytest.fixture
async def reader(default_location) -> str:
    _, secret = await auth.create_token("reader", Actor.system(), Role.READER)
    return secret


@pytest.fixture
async def orders_with_lines(actor, default_location) -> None:
    """30 open orders of 3 lines each, so that the stalling query would have much to read."""
    skus = [f"SKU-{n}" for n in range(6)]
    await stock_up(actor, default_location, **{sku: 1000 for sku in skus})
    await order_service.create_orders(
        [{"items": [{"sku": skus[(n + k) % 6], "quantity": 1} for k in range(3)]} for n in range(30)], actor
    )


async def test_the_stalling_query_is_refused_before_execution(client, reader, orders_with_lines, count_queries) -> None:
    with count_queries() as unknown_field:  # refused by validation: only the token is looked up
        response = await client.post("{ noSuchField }", token=reader)
    assert response.json()["errors"]
    with count_queries() as stalled:
        response = await client.post(STALL, token=reader)
    assert response.status_code == 200
    body = response.json()
    assert body["data"] is None
    [error] = body["errors"]
    assert error["message"].startswith(f"Query cost 6066030 exceeds the limit of {LIMITS} (ORDERDECK_MAX_QUERY_COST)")
    assert error["extensions"] == {"code": "QUERY_TOO_COSTLY", "cost": 6066030, "limit": LIMITS}
    assert stalled.count == unknown_field.count  # no order, line or trail was read
    # one alias of it at a smaller page passes, and reads orders
    small = "{ orders(first: 2) { edges { node { items { stockItem { auditTrail(limit: 5) { note } } } } } } }"
    data = await client.gql(small, token=reader)
    assert len(data["orders"]["edges"]) == 2


async def test_the_cost_limit_uses_the_variables_and_is_configurable(database, admin_token) -> None:
    app = create_app(Settings(database_url="sqlite://unused", max_query_cost=200))
    query = "query($n: Int) { orders(first: $n) { nodes { number location { name } } } }"  # 1 + 2n
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        gql = GraphQLClient(http, admin_token)
        assert (await gql.gql(query, {"n": 99}))["orders"]["nodes"] == []
        body = (await gql.post(query, {"n": 100})).json()
    assert body["errors"][0]["message"].startswith("Query cost 201 exceeds the limit of 200")


async def test_an_answer_over_the_size_cap_is_refused(database, admin_token) -> None:
    app = create_app(Settings(database_url="sqlite://unused", max_answer_bytes=2000))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
        gql = GraphQLClient(http, admin_token)
        assert (await gql.gql("{ me { name } }"))["me"]["name"] == "test-admin"
        response = await gql.post("{ __schema { types { name description } } }")
    assert response.status_code == 200
    assert len(response.content) < 2000
    body = response.json()
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith("The answer exceeds the limit of 2000 bytes (ORDERDECK_MAX_ANSWER_BYTES)")
    assert body["errors"][0]["extensions"]["code"] == "ANSWER_TOO_LARGE"


PAGE = """{ orders(first: 30) { nodes { number allocation location { name }
  items { sku stockLevel { available } stockItem { auditTrail(limit: 20) { note } } } auditTrail { kind } } } }"""


async def test_a_query_over_the_time_limit_is_cancelled(database, admin_token, orders_with_lines) -> None:
    slow = create_app(Settings(database_url="sqlite://unused", request_timeout_seconds=0.002))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=slow), base_url="http://testserver") as http:
        gql = GraphQLClient(http, admin_token)
        body = (await gql.post(PAGE)).json()
        assert body["data"] is None
        [error] = body["errors"]
        assert error["message"].startswith("The request was cancelled after the time limit of 0.002 s")
        assert error["extensions"] == {"code": "TIME_LIMIT", "limit": 0.002}
        # mutations are not cut short (they could be cancelled after their commit): this one completes
        created = await gql.gql("mutation { createOrder(input: {items: [{sku: \"SKU-1\", quantity: 1}]}) "
                                "{ order { number items { sku } auditTrail { kind } } errors { message } } }")  # fmt: skip
        assert created["createOrder"]["errors"] == []
        assert await Order.filter(number=created["createOrder"]["order"]["number"]).exists()
    normal = create_app(Settings(database_url="sqlite://unused"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=normal), base_url="http://testserver") as http:
        data = await GraphQLClient(http, admin_token).gql(PAGE)
    assert len(data["orders"]["nodes"]) == 30


async def _status_codes(gql: GraphQLClient, count: int) -> list[int]:
    return [(await gql.post("{ me { name } }")).status_code for _ in range(count)]


@pytest.mark.parametrize("store", ["memory", "redis://127.0.0.1:6379/0"])
async def test_the_rate_limit_refuses_the_request_over_the_burst_and_recovers(database, admin_token, reader, store) -> None:
    settings = Settings(database_url="sqlite://unused", rate_limit_per_minute=20, rate_limit_burst=3,
                        rate_limit_store=store, broker_namespace=f"limits-test-{uuid.uuid4().hex[:8]}")  # fmt: skip
    apps = [create_app(settings), create_app(settings)]  # two API processes, as far as the limit knows
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[0]), base_url="http://testserver") as first,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[1]), base_url="http://testserver") as second,
    ):
        one, other = GraphQLClient(first, admin_token), GraphQLClient(second, admin_token)
        assert await _status_codes(one, 2) == [200, 200]
        if store == "memory":  # each process counts alone
            assert await _status_codes(other, 4) == [200, 200, 200, 429]
            assert await _status_codes(one, 1) == [200]
        else:  # the bucket is shared through Redis
            assert await _status_codes(other, 2) == [200, 429]
        refused = await one.post("{ me { name } }")
        assert refused.status_code == 429
        retry_after = int(refused.headers["Retry-After"])
        assert 1 <= retry_after <= 3
        [error] = refused.json()["errors"]
        assert error["message"].startswith("Rate limit of 20 requests per minute (bursts of 3) exceeded for token 'test-admin'")
        assert error["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
        assert (await one.post("{ me { name } }", token=reader)).status_code == 200  # another token: its own bucket
        await asyncio.sleep(retry_after + 0.1)  # one request every 3 s comes back
        assert await _status_codes(one, 2) == [200, 429]
    for app in apps:  # no lifespan here: close the limiters as it would
        await next(route.endpoint for route in app.routes if route.path == "/graphql").rate.close()


async def test_each_subscribe_on_a_socket_takes_from_the_tokens_rate(database, database_url, admin_token) -> None:
    async with live_server(database_url, admin_token, rate_limit_per_minute=20, rate_limit_burst=3) as live:
        async with live.connect() as client:
            accepted = [Collector(client, ORDER_EVENTS) for _ in range(3)]
            refused = Collector(client, ORDER_EVENTS)
            error = await eventually(lambda: refused.error)
            assert isinstance(error, SubscriptionError), error
            [payload] = error.errors
            assert payload["message"].startswith("Rate limit of 20 requests per minute (bursts of 3) exceeded for "
                                                 "token 'test-admin'")  # fmt: skip
            assert payload["extensions"]["code"] == "RATE_LIMITED" and 1 <= payload["extensions"]["retryAfter"] <= 3
            await asyncio.sleep(0.3)
            assert [c.error for c in accepted] == [None] * 3 and not client.closed.done()  # the socket stays open
            async with httpx.AsyncClient() as http:  # the same bucket as the token's HTTP requests
                answer = await http.post(f"{live.url}/graphql", json={"query": "{ me { name } }"},
                                         headers={"Authorization": f"Bearer {admin_token}"})  # fmt: skip
            assert answer.status_code == 429
            for collector in [*accepted, refused]:
                await collector.stop()


SERVER = """  # the API in a process of its own, on a free loopback port (printed first)
import asyncio, socket, sys
import uvicorn
from orderdeck import db
from orderdeck.app import create_app
from orderdeck.config import Settings

async def main(url):
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    print(sock.getsockname()[1], flush=True)
    await db.init_db(url)
    config = uvicorn.Config(create_app(Settings(database_url=url)), log_level="warning", lifespan="off")
    await uvicorn.Server(config).serve(sockets=[sock])

asyncio.run(main(sys.argv[1]))
"""


async def _median_latency(http: httpx.AsyncClient, token: str, samples: int = 15) -> float:
    loop = asyncio.get_running_loop()
    times = []
    for _ in range(samples):
        started = loop.time()
        response = await http.post("/graphql", json={"query": "{ me { name } }"}, headers={"Authorization": f"Bearer {token}"})
        times.append(loop.time() - started)
        assert response.json() == {"data": {"me": {"name": "test-admin"}}}
    return sorted(times)[samples // 2]


async def test_me_answers_promptly_while_abusive_queries_run(database_url, admin_token, reader, orders_with_lines) -> None:
    env = {**os.environ, "ORDERDECK_RATE_LIMIT_PER_MINUTE": "0"}  # the cost limit alone protects
    server = await asyncio.create_subprocess_exec(
        sys.executable, "-c", SERVER, database_url, env=env, stdout=asyncio.subprocess.PIPE
    )
    try:
        port = int(await asyncio.wait_for(server.stdout.readline(), 30))
        url = f"http://127.0.0.1:{port}"
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for _ in range(300):  # until it serves
                try:
                    await http.get("/healthz")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            idle = await _median_latency(http, admin_token)
            stop = asyncio.Event()
            refusals: list[str] = []

            async def abuse() -> None:
                async with httpx.AsyncClient(base_url=url, timeout=60) as own:
                    while not stop.is_set():
                        response = await own.post("/graphql", json={"query": STALL}, headers={"Authorization": f"Bearer {reader}"})
                        refusals.append(response.json()["errors"][0]["extensions"]["code"])

            abusers = [asyncio.create_task(abuse()) for _ in range(4)]
            while len(refusals) < 8:
                await asyncio.sleep(0.01)
            loaded = await _median_latency(http, admin_token)
            stop.set()
            await asyncio.gather(*abusers)
    finally:
        server.terminate()
        await server.wait()
    assert set(refusals) == {"QUERY_TOO_COSTLY"}
    print(f"me: median {idle * 1000:.1f} ms idle, {loaded * 1000:.1f} ms beside 4 abusive clients "
          f"({loaded / idle:.1f}x; {len(refusals)} abusive queries refused)")  # fmt: skip
    assert loaded < 10 * idle, (idle, loaded)


@pytest.mark.parametrize("store", ["memory", "redis://127.0.0.1:6379/0"])
async def test_concurrent_requests_never_take_more_than_the_burst(store: str) -> None:
    settings = Settings(rate_limit_per_minute=1, rate_limit_burst=5, rate_limit_store=store,
                        broker_namespace=f"limits-test-{uuid.uuid4().hex[:8]}")  # fmt: skip
    limiters = [rate_limiter(settings), rate_limiter(settings)]  # Redis: as two API processes would
    try:
        shared = store != "memory"
        waits = await asyncio.gather(*(limiters[n % 2].take("token") for n in range(60)))
        assert sum(wait == 0 for wait in waits) == (5 if shared else 10)
        # back within a minute at 1 a minute (give or take the milliseconds between a take reading
        # the clock and its turn in Redis: each process stamps its own requests)
        assert all(0 < wait <= 60.5 for wait in waits if wait != 0), sorted(set(waits))
    finally:
        for limiter in limiters:
            await limiter.close()

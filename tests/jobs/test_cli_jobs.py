"""`orderdeck worker` and `orderdeck scheduler` as real processes: refused clearly without a
broker, and the production shape on PostgreSQL and Redis (API, worker and scheduler processes)
taking a shop's orders on schedule."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import threading
import time
import uuid

import httpx
import pytest
import redis

from orderdeck.wsclient import LiveClient
from tests.plugins.support import serve
from tests.support import ORDERDECK, free_port, start_server, stop
from tests.conftest import shop_app
from tests.jobs.test_embedded_flow import place

REDIS_URL = os.environ.get("ORDERDECK_TEST_REDIS", "redis://127.0.0.1:6379/0")
TOKEN = re.compile(r"\bod_[A-Za-z0-9_-]{20,}\b")


@pytest.mark.parametrize("command", ["worker", "scheduler"])
def test_worker_and_scheduler_need_a_broker(command, tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "ORDERDECK_BROKER_URL"}
    done = subprocess.run([*ORDERDECK, command], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "ORDERDECK_BROKER_URL is not set" in done.stderr


def test_a_broker_url_of_another_kind_is_refused(tmp_path):
    env = {**os.environ, "ORDERDECK_BROKER_URL": "http://127.0.0.1:6379"}
    done = subprocess.run([*ORDERDECK, "worker"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "must start with redis://" in done.stderr


def gql(url: str, token: str, query: str, variables: dict | None = None) -> dict:
    response = httpx.post(f"{url}/graphql", json={"query": query, "variables": variables or {}},
                          headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
    body = response.json()
    assert "errors" not in body, body
    return body["data"]


class Follower(threading.Thread):
    """Subscribes over the API's websocket (in a thread of its own) and keeps what arrives."""

    QUERY = """subscription {
        orderEvents { ... on OrderEvent { eventId kind source actor } }
        }"""

    def __init__(self, url: str, token: str, query: str) -> None:
        super().__init__(daemon=True)
        self.ws, self.token, self.query = url.replace("http://", "ws://") + "/graphql", token, query
        self.items: list[dict] = []
        self.ready, self.done = threading.Event(), threading.Event()

    def run(self) -> None:
        async def follow() -> None:
            async with LiveClient.connect(self.ws, self.token) as client:
                async def collect() -> None:
                    async for data in client.subscribe(self.query):
                        self.items.append(next(iter(data.values())))

                task = asyncio.create_task(collect())
                await asyncio.sleep(0.3)
                self.ready.set()
                while not self.done.is_set():
                    await asyncio.sleep(0.05)
                task.cancel()

        asyncio.run(follow())


def test_api_worker_and_scheduler_processes_take_a_shops_orders(database_env, tmp_path):
    if not database_env["ORDERDECK_DATABASE_URL"].startswith("postgres"):
        pytest.skip("separate worker processes are for PostgreSQL (SQLite runs the jobs in-process)")
    namespace = f"orderdeck-test-{uuid.uuid4().hex[:8]}"
    env = {**database_env, "ORDERDECK_BROKER_URL": REDIS_URL, "ORDERDECK_BROKER_NAMESPACE": namespace,
           "ORDERDECK_SCHEDULER_INTERVAL_SECONDS": "0.2"}  # fmt: skip
    processes: list[subprocess.Popen] = []
    server = start_server(env, tmp_path, free_port())
    try:
        [token] = TOKEN.findall(server.log.read_text())
        for command in ("worker", "scheduler"):
            log = (tmp_path / f"{command}.log").open("w")
            processes.append(subprocess.Popen([*ORDERDECK, command], env=env, cwd=tmp_path, stdout=log,
                                              stderr=subprocess.STDOUT, start_new_session=True))  # fmt: skip
        with serve(shop_app(["MUG"], "ck_a", "cs_a", 3)) as shop:
            place(shop, "MUG", 2)
            location = gql(server.url, token, "{ locations { id } }")["locations"][0]["id"]
            gql(server.url, token, """mutation($item: CreateStockItemInput!, $levels: SetStockLevelsInput!) {
                    createStockItem(input: $item) { errors { message } }
                    setStockLevels(input: $levels) { errors { message } } }""",
                {"item": {"sku": "MUG", "title": "Mug"},
                 "levels": {"levels": [{"sku": "MUG", "locationId": location, "level": 9}]}})  # fmt: skip
            orders_feed = Follower(server.url, token, Follower.QUERY)
            runs_feed = Follower(server.url, token, "subscription { syncProgress { ... on SyncProgressEvent { phase kind outcome orders } } }")
            for feed in (orders_feed, runs_feed):
                feed.start()
                assert feed.ready.wait(10)
            gql(server.url, token, """mutation($input: CreateChannelInput!) { createChannel(input: $input) {
                    errors { message } } }""",
                {"input": {"name": "Shop", "plugin": "woocommerce", "stockLocationIds": [location],
                           "settings": {"url": shop.url, "consumer_key": "ck_a", "consumer_secret": "cs_a",
                                        "requests_per_second": 50}}})  # fmt: skip
            deadline, orders = time.monotonic() + 60, []
            while not orders and time.monotonic() < deadline:  # the scheduler's first tick downloads it
                orders = gql(server.url, token, "{ openOrders(first: 5) { nodes { reference source } } }")
                orders = orders["openOrders"]["nodes"]
                time.sleep(0.3)
            assert orders and orders[0]["source"] == "WOOCOMMERCE", (tmp_path / "worker.log").read_text()
            # The worker process's commits reached the API's subscribers (PostgreSQL LISTEN/NOTIFY).
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not any(r["phase"] == "FINISHED" for r in runs_feed.items):
                time.sleep(0.1)
            for feed in (orders_feed, runs_feed):
                feed.done.set()
                feed.join(10)
            assert [(e["kind"], e["source"]) for e in orders_feed.items] == [("CREATED", "WOOCOMMERCE")]
            downloads = [r for r in runs_feed.items if r["kind"] == "DOWNLOAD"]
            assert downloads[0]["phase"] == "STARTED" and downloads[-1]["phase"] == "FINISHED"
            assert downloads[-1]["outcome"] == "SUCCEEDED" and downloads[-1]["orders"] == 1
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
        stop(server)
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(f"{namespace}:*"))
        if keys:
            client.delete(*keys)

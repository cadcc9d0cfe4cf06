"""`orderdeck serve --demo`, end to end, as a user runs it: the real command in an empty folder,
watched over HTTP (the API with the token it prints, and the shops' own state)."""

from __future__ import annotations

import os
import re
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx

from orderdeck.demo import EXAMPLES, PRODUCTS, SHOPS
from tests.support import ORDERDECK, Server, free_port, stop

T = TypeVar("T")
TOKEN = re.compile(r"\bod_[A-Za-z0-9_-]{20,}\b")
WAIT = 60.0
"""Longest wait for anything the demo should show (it places and downloads orders every few seconds)."""
NORTH, SOUTH = (shop.name for shop in SHOPS)


def demo_env() -> dict[str, str]:
    """The environment of a user who has configured nothing."""
    unset = {"ORDERDECK_DATABASE_URL", "ORDERDECK_BROKER_URL", "ORDERDECK_SECRET_KEY"}
    return {name: value for name, value in os.environ.items() if name not in unset}


def start_demo(cwd: Path, port: int) -> Server:
    """Start `orderdeck serve --demo` and wait until it has printed its guide (it is set up)."""
    log = cwd / f"demo-{port}-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([*ORDERDECK, "serve", "--demo", "--port", str(port)], env=demo_env(), cwd=cwd,
                                stdout=out, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    server = Server(proc, log, f"http://127.0.0.1:{port}")

    def guide_printed() -> bool | None:
        assert proc.poll() is None, f"serve --demo exited: {log.read_text()}"
        return "Try (in GraphiQL" in log.read_text() or None

    try:
        eventually(guide_printed, "guide printed by serve --demo")
    except AssertionError:
        proc.kill()
        raise
    return server


def eventually(probe: Callable[[], T | None], what: str, timeout: float = WAIT) -> T:
    """Poll ``probe`` until it returns something other than None (or fail after ``timeout``)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            found = probe()
        except httpx.HTTPError:
            found = None
        if found is not None:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {timeout:g} s")
        time.sleep(0.5)


class Api:
    """GraphQL over HTTP with a token."""

    def __init__(self, server: Server, token: str) -> None:
        self.url = f"{server.url}/graphql"
        self.headers = {"Authorization": f"Bearer {token}"}

    def __call__(self, query: str) -> dict[str, Any]:
        answer = httpx.post(self.url, json={"query": query}, headers=self.headers, timeout=15).json()
        assert not answer.get("errors"), (query, answer)
        return answer["data"]


def shop_state(server: Server, slug: str) -> dict[str, Any]:
    response = httpx.get(f"{server.url}/demo/{slug}/__sandbox/state", timeout=10)
    response.raise_for_status()
    return response.json()


OPEN_ORDERS = "{ openOrders(first: 100) { totalCount nodes { id reference subsource allocation } } }"
ALL_ORDERS = "{ orders(first: 100) { nodes { reference state } } }"  # the test sees fewer than 100


def open_orders_from_both_shops(api: Api) -> list[dict[str, Any]] | None:
    orders = api(OPEN_ORDERS)["openOrders"]["nodes"]
    return orders if {NORTH, SOUTH} <= {order["subsource"] for order in orders} else None


def pushed_levels_match_reservations(api: Api, server: Server) -> str | None:
    """A SKU with stock reserved whose shops and listings all show what is available: level -
    allocated (orders keep coming, so look until one snapshot agrees)."""
    # The shops are offered the default location's stock (the fulfilment centres hold their own).
    items = api("{ stockItems(first: 50) { nodes { sku levels { location { isDefault } level allocated available } } } }")[
        "stockItems"]["nodes"]  # fmt: skip
    listings = api("{ listings(first: 50) { nodes { channelSku lastSubmittedQuantity pushDue channel { name } } } }")
    shops = {spec.name: {p["sku"]: p["stock_quantity"] for p in shop_state(server, spec.slug)["products"]} for spec in SHOPS}
    for item in items:
        [level] = [level for level in item["levels"] if level["location"]["isDefault"]]
        if level["allocated"] == 0 or level["available"] != level["level"] - level["allocated"]:
            continue
        offered = max(0, level["available"])
        on_channels = [n for n in listings["listings"]["nodes"] if n["channelSku"] == item["sku"]]
        if (
            len(on_channels) == 2
            and all(n["lastSubmittedQuantity"] == offered and not n["pushDue"] for n in on_channels)
            and all(shops[name][item["sku"]] == offered for name in shops)
        ):
            return item["sku"]
    return None


def readme_demo_links() -> set[str]:
    """The demo shop paths the README links to (``/demo/...``), as a newcomer would follow them."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    return {match.rstrip(".,)") for match in re.findall(r"(/demo/[A-Za-z0-9_./-]*)", readme)}


def test_the_demo_shows_orders_stock_and_dispatches_and_restarts_without_duplicates(tmp_path: Path) -> None:
    server = start_demo(tmp_path, free_port())
    try:
        links = readme_demo_links()
        assert {"/demo/north/", "/demo/south/", "/demo/warehouse/", "/demo/dropship/"} <= links, links
        printed = set(re.findall(r"http://127\.0\.0\.1:\d+(/demo/\S+)", server.log.read_text()))
        # each shop and each fulfilment centre, in the guide
        assert printed == {"/demo/north/", "/demo/south/", "/demo/warehouse/", "/demo/dropship/"}, printed
        for link in links | printed:  # every link answers: a shop's or centre's front page shows its state
            page = httpx.get(f"{server.url}{link}", follow_redirects=True, timeout=10)
            assert page.status_code == 200, (link, page.status_code)
            assert "orders" in page.json() and ("products" in page.json() or "warehouse" in link or "dropship" in link), link
        [token] = TOKEN.findall(server.log.read_text())
        api = Api(server, token)
        assert (tmp_path / "orderdeck-demo.sqlite3").exists(), "the demo keeps to its own database file"
        for query in EXAMPLES.values():  # the guide's examples run as printed (but for ORDER_ID)
            if "ORDER_ID" not in query:
                api(query)

        orders = eventually(lambda: open_orders_from_both_shops(api), "open orders from both shops")
        eventually(lambda: pushed_levels_match_reservations(api, server), "reserved stock pushed to both shops")

        north = [o for o in orders if o["subsource"] == NORTH and o["allocation"] == "FULL"]
        assert north, orders
        order = north[0]
        processed = api(f'mutation {{ processOrders(input: [{{orderId: "{order["id"]}", trackingNumber: "TRK-DEMO-42", '
                        f'shippingVendor: "Royal Mail"}}]) {{ orders {{ reference state }} failures {{ message }} '
                        f"errors {{ message }} }} }}")["processOrders"]  # fmt: skip
        assert processed["orders"] == [{"reference": order["reference"], "state": "PROCESSED"}], processed

        def completed_in_shop() -> dict[str, Any] | None:
            shop_order = next(o for o in shop_state(server, "north")["orders"] if o["number"] == order["reference"])
            return shop_order if shop_order["status"] == "completed" else None

        shop_order = eventually(completed_in_shop, f"{order['reference']} completed in {NORTH}")
        assert any("TRK-DEMO-42" in note["note"] for note in shop_order["notes"]), shop_order

        # Some orders go to the fulfilment centres, which ship them: they come back processed with
        # the centre's tracking number, and their shop is told.
        def shipped_by_a_centre() -> list[dict[str, Any]] | None:
            found = api("{ orders(first: 50, filter: {fulfilmentState: SHIPPED}) { nodes { reference subsource "
                        "state exportFile location { name } shipping { trackingNumber } } } }")["orders"]["nodes"]  # fmt: skip
            return found or None

        shipped = eventually(shipped_by_a_centre, "an order shipped by a fulfilment centre", timeout=120)[0]
        assert shipped["state"] == "PROCESSED" and shipped["exportFile"] and shipped["shipping"]["trackingNumber"]
        slug = "north" if shipped["subsource"] == NORTH else "south"

        def told_the_shop() -> dict[str, Any] | None:
            shop_order = next(o for o in shop_state(server, slug)["orders"] if o["number"] == shipped["reference"])
            return shop_order if shop_order["status"] == "completed" else None

        told = eventually(told_the_shop, f"{shipped['reference']} completed in its shop with the centre's tracking")
        assert any(shipped["shipping"]["trackingNumber"] in note["note"] for note in told["notes"]), told
        before = api(ALL_ORDERS)["orders"]
    finally:
        first_output = stop(server)
    assert "demo: Demo Shop North: new order" in first_output

    # A restart (on another port: the shops move with the server) makes nothing twice.
    server = start_demo(tmp_path, free_port())
    try:
        assert not TOKEN.findall(server.log.read_text()), "the admin token is printed on the first start only"
        api = Api(server, token)
        known = {o["reference"] for o in before["nodes"]}

        def new_orders() -> list[dict[str, Any]] | None:
            orders = api(ALL_ORDERS)["orders"]
            # The page is not full, so it held every order when it was read (totalCount is counted
            # a moment later, and the demo's shops keep taking orders meanwhile).
            assert len(orders["nodes"]) < 100, "all orders on one page"
            return orders["nodes"] if {o["reference"] for o in orders["nodes"]} - known else None

        orders = eventually(new_orders, "orders downloaded after the restart")
        references = [o["reference"] for o in orders]
        assert len(references) == len(set(references)), "a restarted shop must not reuse order numbers"
        assert {"reference": order["reference"], "state": "PROCESSED"} in orders
        channels = api("{ channels { name settings } }")["channels"]
        assert sorted(c["name"] for c in channels) == [NORTH, SOUTH]
        assert all(c["settings"]["url"].startswith(server.url + "/demo/") for c in channels), channels
        assert api("{ stockItems { totalCount } }")["stockItems"]["totalCount"] == len(PRODUCTS)
        assert api("{ listings { totalCount } }")["listings"]["totalCount"] == 2 * len(PRODUCTS)
        eventually(lambda: pushed_levels_match_reservations(api, server), "levels pushed to the restarted shops")
    finally:
        stop(server)


def test_the_demo_refuses_a_broker(tmp_path: Path) -> None:
    env = {**demo_env(), "ORDERDECK_BROKER_URL": "redis://127.0.0.1:1/0"}
    done = subprocess.run([*ORDERDECK, "serve", "--demo"], env=env, cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)  # fmt: skip
    assert done.returncode != 0
    assert "ORDERDECK_BROKER_URL" in done.stderr, done.stderr
    assert not list(tmp_path.iterdir()), "nothing is created"

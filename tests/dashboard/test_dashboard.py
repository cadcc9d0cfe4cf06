"""The live dashboard in a real browser (Debian's Chromium driven by Playwright) against the real
`orderdeck serve --demo`: a wrong token is refused, the right one signs in, orders the demo shops
take arrive on the page without a reload, and an order processed from the page leaves the counts.
Then, with the page's websocket routed through the test: a missed-events notice reloads the counts,
and a connection the server refuses (4403) is shown as closed and can be reopened. Last, against a
plain `orderdeck serve` whose database the test fills (tests.dashboard.centre_world): the fulfilment
centres with their latest runs, the orders in error at them, and a centre's run that ends while the
page is open, followed without a reload."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from orderdeck.graphql.common import encode_id
from tests.dashboard import centre_world
from tests.support import CHROMIUM, CHROMIUM_ARGS, Server, free_port, require_chromium, start_server, stop
from tests.test_demo import TOKEN, start_demo

WAIT_MS = 45_000
"""Longest wait for the demo to place and download a new order (it does so every few seconds)."""
SOON_MS = 15_000
"""Longest wait for the page to follow something that has happened."""
REFUSED_TOKEN = "Failed to load resource: the server responded with a status of 401"
"""Chromium's console line for the sign-in request with the wrong token (expected, once)."""

NEW_ORDER_SHOWN = """([total, newest]) => {
  const now = Number(document.querySelector('[data-testid=open-orders-total]').dataset.count);
  const numbers = [...document.querySelectorAll('[data-testid=order-row]')].map((r) => Number(r.dataset.number));
  const created = [...document.querySelectorAll('[data-testid=feed-row][data-kind=order][data-event=CREATED]')]
    .map((r) => Number(r.dataset.orderNumber));
  const fresh = created.filter((n) => n > newest && numbers.includes(n));
  return now > total && fresh.length > 0 ? fresh : null;
}"""

SETTLED_COUNTS = """() => {
  const busy = document.getElementById('counts-card').getAttribute('aria-busy') === 'true';
  const total = document.querySelector('[data-testid=open-orders-total]').dataset.count;
  const asOf = document.querySelector('[data-testid=counts-table]').dataset.asOf;
  return busy || total === undefined ? null : {total: Number(total), asOf: Number(asOf)};
}"""

COUNTS_FOLLOW_EVENTS = """([before, after, orderId]) => {
  // The total shown, against the total before plus the order events since (up to the event id the
  // figures reflect): new open orders add one, processed/cancelled/deleted ones take one away.
  const table = document.querySelector('[data-testid=counts-table]');
  const asOf = Number(table.dataset.asOf);
  const rows = [...document.querySelectorAll('[data-testid=feed-row][data-kind=order]')]
    .filter((r) => Number(r.dataset.eventId) > after && Number(r.dataset.eventId) <= asOf);
  const processed = rows.some((r) => r.dataset.event === 'PROCESSED' && r.dataset.orderId === orderId);
  const added = rows.filter((r) => r.dataset.event === 'CREATED' && r.dataset.state === 'OPEN').length;
  const removed = rows.filter((r) => ['PROCESSED', 'CANCELLED', 'DELETED'].includes(r.dataset.event)).length;
  const total = Number(document.querySelector('[data-testid=open-orders-total]').dataset.count);
  const cells = [...document.querySelectorAll('[data-testid=count-cell]')]
    .reduce((sum, cell) => sum + Number(cell.textContent.replace(/\\D/g, '')), 0);
  return processed && total === before + added - removed && cells === total
    ? {total, added, removed} : null;
}"""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    """`orderdeck serve --demo` in an empty folder, and the admin token it printed."""
    require_chromium()  # before starting the demo the browser would watch
    server = start_demo(tmp_path_factory.mktemp("demo"), free_port())
    try:
        [token] = TOKEN.findall(server.log.read_text())
        yield server, token
    finally:
        stop(server)


@pytest.fixture(scope="module")
def centres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str, dict[str, Any], dict[str, str]]]:
    """A plain `orderdeck serve` on a fresh SQLite database, its admin token, the fulfilment centres
    and orders tests.dashboard.centre_world wrote into it, and the environment to write more. The
    scheduler ticks once an hour, so the server runs no centre's work of its own meanwhile."""
    require_chromium()
    folder = tmp_path_factory.mktemp("centres")
    env = {**os.environ, "ORDERDECK_DATABASE_URL": f"sqlite://{folder / 'orderdeck.sqlite3'}",
           "ORDERDECK_SCHEDULER_INTERVAL_SECONDS": "3600"}  # fmt: skip
    server = start_server(env, folder, free_port())
    try:
        [token] = TOKEN.findall(server.log.read_text())
        yield server, token, write_centres(env, "setup"), env
    finally:
        stop(server)


def write_centres(env: dict[str, str], step: str, *args: str) -> dict[str, Any]:
    """Run a step of tests.dashboard.centre_world against the server's database; what it printed."""
    done = subprocess.run([sys.executable, "-m", "tests.dashboard.centre_world", step, *args], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium (never a downloaded one), headless, with a fresh profile."""
    from playwright.sync_api import sync_playwright

    require_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


class Watched:
    """What a page did that it should not: console errors, uncaught exceptions, requests to
    other hosts."""

    def __init__(self, page: Any, origin: str) -> None:
        self.origin = origin
        self.errors: list[str] = []
        self.elsewhere: list[str] = []
        self.sockets: list[str] = []
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(f"uncaught: {e}"))
        page.on("request", self._request)
        page.on("websocket", lambda ws: self.sockets.append(ws.url))

    def _request(self, request: Any) -> None:
        url = urlsplit(request.url)
        if url.scheme not in ("data", "blob") and f"{url.scheme}://{url.netloc}" != self.origin:
            self.elsewhere.append(request.url)

    def assert_clean(self) -> None:
        time.sleep(0.5)  # anything logged late still counts
        assert self.errors == [], self.errors
        assert self.elsewhere == [], f"requests to other hosts: {self.elsewhere}"
        ws_url = self.origin.replace("http://", "ws://", 1) + "/graphql"
        assert self.sockets and set(self.sockets) == {ws_url}, self.sockets


def sign_in(page: Any, origin: str, token: str) -> None:
    from playwright.sync_api import expect

    page.goto(f"{origin}/")
    page.get_by_test_id("token-input").fill(token)
    page.get_by_test_id("signin-button").click()
    expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "live", timeout=SOON_MS)


def test_the_dashboard_signs_in_follows_new_orders_live_and_processes_one(demo: tuple[Server, str],
                                                                         browser: Any) -> None:  # fmt: skip
    from playwright.sync_api import expect

    server, token = demo
    origin = server.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        watched = Watched(page, origin)
        console_errors = watched.errors

        page.goto(f"{origin}/")
        expect(page.get_by_test_id("signin")).to_be_visible()
        expect(page.get_by_test_id("token-input")).to_have_attribute("type", "password")

        # A wrong token: a clear message, no dashboard.
        page.get_by_test_id("token-input").fill("od_" + "x" * 43)
        page.get_by_test_id("signin-button").click()
        expect(page.get_by_test_id("signin-error")).to_contain_text("not accepted", timeout=SOON_MS)
        expect(page.locator("#dashboard")).to_be_hidden()
        assert [e for e in console_errors if not e.startswith(REFUSED_TOKEN)] == [], console_errors
        console_errors.clear()

        # The right token: the dashboard loads and goes live.
        page.get_by_test_id("token-input").fill(token)
        page.get_by_test_id("signin-button").click()
        expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "live", timeout=SOON_MS)
        expect(page.get_by_test_id("connection-state")).to_contain_text("Live")
        expect(page.get_by_test_id("signin-error")).to_be_hidden()
        assert page.evaluate("sessionStorage.getItem('orderdeck.dashboard.token')") == token
        page.wait_for_function(SETTLED_COUNTS, timeout=SOON_MS)
        total = int(page.get_by_test_id("open-orders-total").get_attribute("data-count") or "-1")
        numbers = [int(n) for n in page.locator("[data-testid=order-row]").evaluate_all(
            "rows => rows.map((r) => r.dataset.number)")]  # fmt: skip
        newest = max(numbers, default=0)
        page.evaluate("window.__notReloaded = true")

        # The demo places orders and downloads them: they appear without a reload.
        fresh = page.wait_for_function(NEW_ORDER_SHOWN, arg=[total, newest], timeout=WAIT_MS).json_value()
        assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"
        assert fresh and min(fresh) > newest
        expect(page.locator("[data-testid=feed-row][data-kind=sync]").first).to_be_attached(timeout=SOON_MS)
        expect(page.locator("[data-testid=channel]")).to_have_count(2)
        expect(page.locator("[data-testid=centre]")).to_have_count(2)  # the demo's warehouse and drop shipper

        # Process an order whose stock is all there, from its row.
        row = page.locator("[data-testid=order-row][data-allocation=FULL][data-status=PAID]").first
        expect(row).to_be_visible(timeout=SOON_MS)
        order_id = row.get_attribute("data-order-id")
        number = row.get_attribute("data-number")
        # the counts once they agree with the list (the demo keeps placing orders: read them as they settle)
        settled = page.wait_for_function(SETTLED_COUNTS, timeout=SOON_MS).json_value()
        assert settled is not None
        row.get_by_test_id("process-order").click()

        outcome = page.get_by_test_id("process-outcome")
        expect(outcome).to_have_attribute("data-result", "processed", timeout=SOON_MS)
        expect(outcome).to_contain_text(f"#{number}")
        processed_event = page.locator(
            f'[data-testid=feed-row][data-kind=order][data-event=PROCESSED][data-order-id="{order_id}"]'
        )
        expect(processed_event).to_have_count(1, timeout=SOON_MS)
        expect(page.locator(f'[data-testid=order-row][data-order-id="{order_id}"]')).to_have_count(0, timeout=SOON_MS)
        follows = page.wait_for_function(
            COUNTS_FOLLOW_EVENTS, arg=[settled["total"], settled["asOf"], order_id], timeout=SOON_MS
        ).json_value()
        assert follows["removed"] >= 1, follows

        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, "no sideways scrolling at 1280 px"
        page.screenshot(path="/tmp/dashboard.png", full_page=True, animations="disabled")

        # Signing out forgets the token and closes the live connection.
        page.get_by_test_id("sign-out").click()
        expect(page.get_by_test_id("signin")).to_be_visible()
        expect(page.locator("#dashboard")).to_be_hidden()
        expect(page.get_by_test_id("connection-state")).to_have_attribute("data-state", "closed")
        assert page.evaluate("sessionStorage.getItem('orderdeck.dashboard.token')") is None
        watched.assert_clean()
    finally:
        context.close()


def test_missed_events_reload_the_counts_and_a_refused_connection_is_shown(demo: tuple[Server, str],
                                                                          browser: Any) -> None:  # fmt: skip
    from playwright.sync_api import expect

    server, token = demo
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        watched = Watched(page, server.url)
        routed: list[Any] = []
        subscriptions: dict[str, str] = {}
        relay = {"events": True}

        def route(ws: Any) -> None:
            """Pass the page's websocket through to the server, noting subscription ids; while
            relay["events"] is off, the server's events are held back (the test sends its own)."""
            upstream = ws.connect_to_server()

            def to_server(message: str | bytes) -> None:
                sent = json.loads(message)
                if sent.get("type") == "subscribe":
                    subscriptions[sent["payload"]["query"].split("(")[0].split()[-1]] = sent["id"]
                upstream.send(message)

            def to_page(message: str | bytes) -> None:
                if relay["events"] or json.loads(message).get("type") != "next":
                    ws.send(message)

            ws.on_message(to_server)
            upstream.on_message(to_page)
            routed.append(ws)

        page.route_web_socket("**/graphql", route)
        sign_in(page, server.url, token)
        expect(page.get_by_test_id("open-orders-total")).to_have_attribute("data-count", re.compile(r"^\d+$"))
        assert set(subscriptions) == {"OrderEvents", "StockLevels", "SyncProgress"}, subscriptions
        relay["events"] = False
        page.wait_for_function(SETTLED_COUNTS, timeout=SOON_MS)
        seen = int(page.get_by_test_id("last-event-id").get_attribute("data-event-id") or "0")

        # The server says order events were missed: a notice in the feed, and the counts are re-queried.
        missed = {"__typename": "EventsMissed", "fromId": seen, "toId": seen, "reason": "SLOW_SUBSCRIBER"}
        with page.expect_request(lambda r: r.method == "POST" and "query OpenOrders" in (r.post_data or ""),
                                 timeout=SOON_MS):  # fmt: skip
            routed[-1].send(json.dumps({"id": subscriptions["OrderEvents"], "type": "next",
                                        "payload": {"data": {"orderEvents": missed}}}))  # fmt: skip
        notice = page.locator("[data-testid=feed-row][data-kind=missed]")
        expect(notice).to_have_count(1)
        expect(notice).to_contain_text(f"#{seen}")
        page.wait_for_function(SETTLED_COUNTS, timeout=SOON_MS)

        # The server refuses the connection (as for a revoked token): shown as closed, with the code.
        relay["events"] = True
        routed[-1].close(code=4403, reason="Forbidden: token revoked")
        state = page.get_by_test_id("connection-state")
        expect(state).to_have_attribute("data-state", "closed", timeout=SOON_MS)
        expect(state).to_contain_text("4403")
        expect(page.get_by_test_id("banner")).to_contain_text("refused")
        page.get_by_role("button", name="Reconnect", exact=True).first.click()
        expect(state).to_have_attribute("data-state", "live", timeout=SOON_MS)
        expect(page.get_by_test_id("banner")).to_be_hidden()
        assert len(routed) == 2
        watched.assert_clean()
    finally:
        context.close()


def error_row(page: Any, order_id: str) -> Any:
    """The row of an order in the orders-in-error list (by the order's database id)."""
    return page.locator(f'[data-testid=order-error-row][data-order-id="{encode_id("Order", order_id)}"]')


def test_fulfilment_centres_and_orders_in_error_are_shown_and_followed_live(centres: tuple[Server, str, dict[str, Any], dict[str, str]],
                                                                           browser: Any) -> None:  # fmt: skip
    from playwright.sync_api import expect

    server, token, world, env = centres
    centre_id = encode_id("FulfilmentConnection", world["centre"])
    idle_id = encode_id("FulfilmentConnection", world["idle"])
    in_error, refused, waiting = (world["orders"][name] for name in ("in_error", "refused", "waiting"))
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        watched = Watched(page, server.url)
        sign_in(page, server.url, token)

        # Each centre: its connector, the locations it serves, enabled or not, its latest runs of each kind.
        expect(page.get_by_test_id("centre")).to_have_count(2, timeout=SOON_MS)
        centre = page.locator(f'[data-testid=centre][data-centre-id="{centre_id}"]')
        expect(centre).to_have_attribute("data-enabled", "true")
        expect(centre.locator("h3")).to_have_text("Drop shipper")
        expect(centre.get_by_test_id("centre-connector")).to_have_attribute("title", "url_dropship")
        expect(centre.get_by_test_id("centre-locations")).to_have_text("Serves Drop ship stock")
        export = centre.locator("[data-testid=centre-run][data-kind=EXPORT]")
        expect(export).to_have_attribute("data-outcome", "PARTIAL")
        expect(export.get_by_test_id("run-counts")).to_have_text("2 exported · 1 failed")
        status_import = centre.locator("[data-testid=centre-run][data-kind=STATUS_IMPORT]")
        expect(status_import).to_have_attribute("data-outcome", "SUCCEEDED")
        expect(status_import.get_by_test_id("run-counts")).to_have_text("1 imported")
        expect(centre.locator("[data-testid=centre-run][data-kind=STOCK_IMPORT]")).to_have_attribute("data-outcome", "NONE")
        idle = page.locator(f'[data-testid=centre][data-centre-id="{idle_id}"]')
        expect(idle).to_have_attribute("data-enabled", "false")
        expect(idle).to_contain_text("Disabled")
        expect(idle.get_by_test_id("centre-locations")).to_have_text("Serves no location yet")
        expect(idle.locator("[data-testid=centre-run][data-outcome=NONE]")).to_have_count(3)
        expect(page.get_by_test_id("channel")).to_have_count(0)  # centres are not channels

        # The orders in error: the one the centre reported, the one whose export failed; no others.
        expect(page.get_by_test_id("order-errors-total")).to_have_attribute("data-count", "2")
        rows = page.get_by_test_id("order-error-row")
        expect(rows).to_have_count(2)
        reported = error_row(page, in_error["id"])
        expect(reported).to_have_attribute("data-problem", "FULFILMENT_ERROR")
        expect(reported).to_contain_text(f"#{in_error['number']}")
        expect(reported).to_contain_text("DS-2")
        expect(reported).to_contain_text("Drop ship stock")
        expect(reported).to_contain_text("Drop shipper")
        expect(reported.get_by_test_id("order-error-message")).to_have_text(centre_world.CENTRE_ERROR)
        label = error_row(page, refused["id"])
        expect(label).to_have_attribute("data-problem", "LABEL_ERROR")
        expect(label.get_by_test_id("order-error-message")).to_have_text(centre_world.LABEL_ERROR)
        # In the open orders, an order the centre holds says so instead of offering Process.
        held = page.locator(f'[data-testid=order-row][data-order-id="{encode_id("Order", in_error["id"])}"]')
        expect(held).to_have_attribute("data-fulfilment-state", "ERROR", timeout=SOON_MS)
        expect(held.get_by_test_id("order-held")).to_have_text("Centre reported an error")
        expect(held.get_by_test_id("process-order")).to_have_count(0)
        free = page.locator(f'[data-testid=order-row][data-order-id="{encode_id("Order", refused["id"])}"]')
        expect(free.get_by_test_id("process-order")).to_have_count(1)  # its export failed: it is not held
        page.evaluate("window.__notReloaded = true")

        # An export of the centre fails while the page is open: its sync event updates the panel, and the
        # order it could not hand over joins the orders in error, without a reload.
        run_id = encode_id("SyncRun", write_centres(env, "live", json.dumps(world))["run"])
        event = page.locator(f'[data-testid=feed-row][data-kind=sync][data-run-id="{run_id}"]')
        expect(event).to_have_attribute("data-connection-id", centre_id, timeout=SOON_MS)
        expect(event).to_have_attribute("data-outcome", "FAILED")
        expect(event).to_contain_text("Drop shipper: export failed")
        expect(export).to_have_attribute("data-outcome", "FAILED", timeout=SOON_MS)
        expect(export).to_have_attribute("data-run-id", run_id)
        expect(export.get_by_test_id("run-error")).to_have_text(centre_world.LIVE_RUN_ERROR)
        expect(page.get_by_test_id("order-errors-total")).to_have_attribute("data-count", "3", timeout=SOON_MS)
        joined = error_row(page, waiting["id"])
        expect(joined).to_have_attribute("data-problem", "LABEL_ERROR")
        expect(joined.get_by_test_id("order-error-message")).to_have_text(centre_world.LIVE_LABEL_ERROR)
        expect(rows.first).to_have_attribute("data-number", str(waiting["number"]))  # newest first
        assert page.evaluate("window.__notReloaded === true"), "the page was reloaded"

        assert page.evaluate("document.documentElement.scrollWidth") <= 1280, "no sideways scrolling at 1280 px"
        page.screenshot(path="/tmp/dashboard-centres.png", full_page=True, animations="disabled")
        watched.assert_clean()
    finally:
        context.close()

"""The contracts every channel connector and every fulfilment connector keep, as a pytest suite run against the connector's own
sandbox (found through ``orderdeck_register_sandboxes``, served over real HTTP).

A channel's test module names its connector and writes a small adapter: how to place an order in
the sandbox, list a product, and read back what the sandbox recorded. Everything else (faults,
the request log) goes through the control API every sandbox shares (``orderdeck.plugins.sandbox``)::

    # tests/test_myshop_contract.py
    from orderdeck.plugins.connectors import Connection
    from orderdeck.plugins.testing import ChannelContract, ChannelSandboxAdapter


    class MyShopAdapter(ChannelSandboxAdapter):
        connector = "myshop"
        sandbox_options = {"token": "t0ken"}

        def connection(self, *, valid=True):
            return Connection("c-1", "My Shop", MyShopSettings(url=self.url, api_token="t0ken" if valid else "nope"))

        def place_order(self, reference, lines, state="paid"):
            self.control_call("POST", "/orders", json={"number": reference, "status": STATES[state],
                                                       "lines": [{"sku": s, "qty": q} for s, q in lines]})

        def change_order(self, reference, state):
            self.control_call("PATCH", f"/orders/{reference}", json={"status": STATES[state]})

        def list_product(self, sku, quantity):
            return str(self.control_call("POST", "/products", json={"sku": sku, "stock": quantity})["id"])

        def stock(self, sku):
            return next(p["stock"] for p in self.control_call("GET", "/state")["products"] if p["sku"] == sku)

        def buyer_messages(self, reference):
            order = next(o for o in self.control_call("GET", "/state")["orders"] if o["number"] == reference)
            return order["messages_to_buyer"]


    class TestMyShopContract(ChannelContract):
        adapter = MyShopAdapter

What the suite checks (each a test of the subclass): test_connection succeeds, and fails (without
raising) for wrong credentials, which make every other hook raise PartnerAuthError; downloads
page through every order once, in pages of at most page_size, an order changed in the channel
after its download is handed over again from the stored cursor, and a cursor resumes without loss
or duplicates (asking the same page again is safe); map_status says what each state means;
push_stock returns one result per update, a refused item failing alone, quantities below zero
published as 0; send_dispatches is idempotent (the same note twice tells the buyer once) and a
note for an unknown order fails alone; and under the sandbox's faults every hook raises the typed
error orderdeck retries by (500 and a dropped connection: PartnerUnavailable; a malformed body:
PartnerUnreadable; a long 429: PartnerRateLimited) while a short 429 is waited out, and works
again once the partner is well; whichever of a hook's requests fails, the hook raises (no failure
mid-way is turned into a result), and a dispatch sent again after one still tells the buyer once.

Needs pytest-asyncio. For pytest's detailed assertion messages, call
``pytest.register_assert_rewrite("orderdeck.plugins.testing")`` in a conftest.py before importing it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import httpx
import pytest

from orderdeck.plugins import manager
from orderdeck.plugins.connectors import ChannelConnector, Connection, FulfilmentConnector
from orderdeck.plugins.dto import (
    Address,
    ChannelOrder,
    DispatchLine,
    DispatchNote,
    ExportBatch,
    ExportResult,
    FulfilmentOrder,
    FulfilmentOrderLine,
    FulfilmentStatus,
    ItemResult,
    StatusLine,
    StatusMapping,
    StatusReport,
    StockReport,
    StockUpdate,
)
from orderdeck.plugins.errors import (
    PartnerAuthError,
    PartnerError,
    PartnerRateLimited,
    PartnerUnavailable,
    PartnerUnreadable,
)
from orderdeck.plugins.sandbox import CONTROL
from orderdeck.plugins.sandbox.serving import serve

STATES = ("paid", "unpaid", "shipped", "cancelled")
"""The states of an order the suite places, in orderdeck's words (the adapter says them in the
channel's)."""
SKUS = ("CONTRACT-MUG", "CONTRACT-CUP")
"""The products the suite lists before it places orders of them."""


class SandboxAdapter:
    """What every contract suite's adapter has: the running sandbox's address (``url``) and its
    control API (``control_call``)."""

    connector: ClassVar[str]
    """The connector's name, which is also its sandbox's."""
    sandbox_options: ClassVar[dict[str, Any]] = {}
    """The sandbox's ``create_app(**sandbox_options)`` (credentials the connection uses...)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.control = httpx.Client(base_url=f"{url}{CONTROL}", timeout=10)

    def control_call(self, method: str, path: str, **kwargs: Any) -> Any:
        """A control API call (``path`` under /__sandbox/), its JSON answer; fails the test if refused."""
        response = self.control.request(method, path, **kwargs)
        assert response.status_code < 300, f"{method} {CONTROL}{path}: {response.status_code} {response.text}"
        return response.json()

    def close(self) -> None:
        self.control.close()


A = TypeVar("A", bound=SandboxAdapter)


def served(adapter: type[A]) -> Iterator[A]:
    """The adapter's sandbox, found by its connector's name, fresh and served on loopback, behind
    the adapter (for a contract suite's ``sandbox`` fixture)."""
    offered = manager.sandbox(adapter.connector)
    with serve(offered.create_app(**adapter.sandbox_options)) as running:
        driver = adapter(running.url)
        try:
            yield driver
        finally:
            driver.close()


class ChannelSandboxAdapter(SandboxAdapter):
    """How the contract suite drives one channel connector's sandbox (subclass it; see the module
    docstring)."""

    states: ClassVar[tuple[str, ...]] = STATES
    """The states the channel's orders can be placed in (all of STATES unless it lacks one)."""

    # What the channel's adapter implements

    def connection(self, *, valid: bool = True) -> Connection[Any]:
        """A connection to the sandbox: with the account's credentials, or (``valid`` False) with
        credentials the sandbox refuses."""
        raise NotImplementedError

    def place_order(self, reference: str, lines: list[tuple[str, int]], state: str = "paid") -> None:
        """Place an order numbered ``reference`` with (sku, quantity) lines, in ``state`` (one of
        STATES). A download must take it at once (backdate it if the connector holds back recent
        changes), and after every order placed before it."""
        raise NotImplementedError

    def change_order(self, reference: str, state: str) -> None:
        """Move order ``reference`` to ``state`` in the channel, as the seller or the buyer would
        there (e.g. cancelled, or shipped elsewhere), after every change made before it."""
        raise NotImplementedError

    def list_product(self, sku: str, quantity: int) -> str:
        """List ``sku`` with ``quantity`` in stock; return the channel reference a listing of it
        holds ("" when the connector finds products by SKU)."""
        raise NotImplementedError

    def stock(self, sku: str) -> int | None:
        """The quantity the sandbox holds for ``sku``."""
        raise NotImplementedError

    def buyer_messages(self, reference: str) -> list[str]:
        """What the buyer of order ``reference`` was told (e.g. the notes sent to them), in order."""
        raise NotImplementedError


def _means(state: str, mapping: StatusMapping) -> bool:
    """Whether ``mapping`` says what an order in ``state`` is."""
    if state == "paid":
        return mapping.paid and not mapping.shipped and not mapping.cancelled
    if state == "unpaid":
        return not mapping.paid and not mapping.shipped and not mapping.cancelled
    if state == "shipped":
        return mapping.shipped and not mapping.cancelled
    return mapping.cancelled and not mapping.shipped


FAULTS = [
    pytest.param("server_error", {"status": 503}, PartnerUnavailable, id="500"),
    pytest.param("disconnect", {}, PartnerUnavailable, id="dropped"),
    pytest.param("malformed", {}, PartnerUnreadable, id="malformed"),
    pytest.param("rate_limit", {"retry_after": 3600}, PartnerRateLimited, id="429"),
]
HOOKS = ["download_orders", "push_stock", "send_dispatches"]


@pytest.mark.asyncio
class ChannelContract:
    """The contract suite: subclass it as ``Test<Channel>Contract`` with ``adapter`` set."""

    adapter: ClassVar[type[ChannelSandboxAdapter]]

    @pytest.fixture
    def sandbox(self) -> Iterator[ChannelSandboxAdapter]:
        """The connector's sandbox, fresh and served on loopback, behind the channel's adapter."""
        yield from served(self.adapter)

    @pytest.fixture
    def connector(self) -> ChannelConnector:
        """The connector, as the sync engine finds it."""
        return manager.channel_connector(self.adapter.connector)

    # Helpers

    @staticmethod
    async def download_all(connector: ChannelConnector, connection: Connection[Any], cursor: str | None = None,
                           page_size: int = 100) -> tuple[list[ChannelOrder], str | None, int]:  # fmt: skip
        """Download until has_more is False: the orders, the last cursor and the number of pages."""
        orders: list[ChannelOrder] = []
        for pages in range(1, 51):
            page = await connector.download_orders(connection, cursor, page_size)
            assert len(page.orders) + len(page.rejected) <= page_size, "a page holds at most page_size orders"
            assert not page.rejected, page.rejected
            orders += page.orders
            cursor = page.cursor
            if not page.has_more:
                return orders, cursor, pages
        raise AssertionError("the download never ended (has_more stayed True)")

    async def downloaded(self, connector: ChannelConnector, sandbox: ChannelSandboxAdapter,
                         reference: str) -> ChannelOrder:  # fmt: skip
        """The order ``reference`` as a first download reads it."""
        orders, _, _ = await self.download_all(connector, sandbox.connection())
        return next(order for order in orders if order.reference == reference)

    @staticmethod
    def note(order: ChannelOrder, dispatch_id: str, tracking: str) -> DispatchNote:
        """A dispatch note shipping all of ``order``."""
        return DispatchNote(dispatch_id=dispatch_id, order_reference=order.reference,
                            lines=[DispatchLine(line.line_id, line.quantity) for line in order.lines],
                            shipped_at=datetime.now(UTC), carrier="Royal Mail", service="Tracked 24",
                            tracking_number=tracking, external_reference=order.external_reference)  # fmt: skip

    async def arranged_call(self, hook: str, connector: ChannelConnector,
                            sandbox: ChannelSandboxAdapter) -> Callable[[Connection[Any]], Awaitable[object]]:  # fmt: skip
        """Arrange what ``hook`` works on (an order, a listed product), then return a call of it."""
        reference = sandbox.list_product(SKUS[0], 4)
        sandbox.place_order("CT-2001", [(SKUS[0], 1)])
        if hook == "download_orders":
            return lambda connection: connector.download_orders(connection, None, 10)
        if hook == "push_stock":
            update = StockUpdate("listing-1", SKUS[0], 3, reference)
            return lambda connection: connector.push_stock(connection, [update])
        note = self.note(await self.downloaded(connector, sandbox, "CT-2001"), "dispatch-1", "TRK-CT-2001")
        return lambda connection: connector.send_dispatches(connection, [note])

    # Connection

    async def test_connection_succeeds_with_the_accounts_credentials(self, connector, sandbox):
        result = await connector.test_connection(sandbox.connection())
        assert result.ok, result.message

    async def test_connection_with_wrong_credentials_fails_and_says_so(self, connector, sandbox):
        result = await connector.test_connection(sandbox.connection(valid=False))
        assert not result.ok and result.message

    @pytest.mark.parametrize("hook", HOOKS)
    async def test_refused_credentials_raise_an_auth_error(self, connector, sandbox, hook):
        call = await self.arranged_call(hook, connector, sandbox)
        with pytest.raises(PartnerAuthError):
            await call(sandbox.connection(valid=False))

    # Downloads

    async def test_a_download_pages_through_every_order_once(self, connector, sandbox):
        for sku in SKUS:
            sandbox.list_product(sku, 50)
        placed = {f"CT-{1001 + n}": [(SKUS[n % 2], n % 3 + 1)] for n in range(7)}
        for reference, lines in placed.items():
            sandbox.place_order(reference, lines)
        connection = sandbox.connection()
        orders, _, pages = await self.download_all(connector, connection, page_size=3)
        references = [order.reference for order in orders]
        assert sorted(references) == sorted(placed), "every order, each once"
        assert pages >= 3, "pages of at most page_size orders"
        for order in orders:
            assert [(line.channel_sku, line.quantity) for line in order.lines] == placed[order.reference]
        first = await connector.download_orders(connection, None, 3)
        again = await connector.download_orders(connection, None, 3)
        assert [o.reference for o in again.orders] == [o.reference for o in first.orders], "a page asked again is the same"

    async def test_a_download_resumes_from_its_cursor_without_loss_or_duplicates(self, connector, sandbox):
        sandbox.list_product(SKUS[0], 50)
        for n in range(3):
            sandbox.place_order(f"CT-{1101 + n}", [(SKUS[0], 1)])
        connection = sandbox.connection()
        first, cursor, _ = await self.download_all(connector, connection, page_size=2)
        assert sorted(o.reference for o in first) == ["CT-1101", "CT-1102", "CT-1103"]
        nothing = await connector.download_orders(connection, cursor, 2)
        assert nothing.orders == [] and not nothing.has_more, "nothing new: nothing downloaded"
        for n in range(3):
            sandbox.place_order(f"CT-{1201 + n}", [(SKUS[0], 2)])
        # orderdeck stores every page's cursor, an empty page's too.
        later, _, _ = await self.download_all(connector, connection, cursor=nothing.cursor, page_size=2)
        assert sorted(o.reference for o in later) == ["CT-1201", "CT-1202", "CT-1203"]
        repeated, _, _ = await self.download_all(connector, connection, cursor=nothing.cursor, page_size=2)
        assert [o.reference for o in repeated] == [o.reference for o in later], "a stored cursor may be used again"

    async def test_an_order_changed_after_its_download_is_handed_over_again(self, connector, sandbox):
        """A change made in the channel (here a cancellation) reaches orderdeck: the next download
        from the stored cursor hands the order over again (an update, not a new order), and only it."""
        sandbox.list_product(SKUS[0], 50)
        for n in range(2):
            sandbox.place_order(f"CT-{1151 + n}", [(SKUS[0], 1)])
        connection = sandbox.connection()
        first, cursor, _ = await self.download_all(connector, connection)
        assert sorted(o.reference for o in first) == ["CT-1151", "CT-1152"]
        sandbox.change_order("CT-1151", "cancelled")
        again, _, _ = await self.download_all(connector, connection, cursor=cursor)
        assert [o.reference for o in again] == ["CT-1151"], "the changed order, and only it"
        assert _means("cancelled", connector.map_status(connection, again[0])), again[0].status

    async def test_map_status_says_what_each_state_means(self, connector, sandbox):
        sandbox.list_product(SKUS[0], 50)
        for n, state in enumerate(sandbox.states):
            sandbox.place_order(f"CT-{1301 + n}", [(SKUS[0], 1)], state)
        connection = sandbox.connection()
        orders, _, _ = await self.download_all(connector, connection)
        by_reference = {order.reference: order for order in orders}
        for n, state in enumerate(sandbox.states):
            order = by_reference.get(f"CT-{1301 + n}")
            assert order is not None, f"an order {state} in the channel is downloaded"
            mapping = connector.map_status(connection, order)
            assert isinstance(mapping, StatusMapping) and _means(state, mapping), (state, order.status, mapping)

    # Stock

    async def test_push_stock_answers_each_update_and_a_refused_item_fails_alone(self, connector, sandbox):
        mug, cup = (sandbox.list_product(sku, 5) for sku in SKUS)
        updates = [StockUpdate("listing-mug", SKUS[0], 7, mug), StockUpdate("listing-unknown", "CONTRACT-NOT-LISTED", 3),
                   StockUpdate("listing-cup", SKUS[1], -2, cup)]  # fmt: skip
        results = await connector.push_stock(sandbox.connection(), updates)
        assert all(isinstance(result, ItemResult) for result in results)
        by_id = {result.id: result for result in results}
        assert len(results) == len(by_id) == 3 and set(by_id) == {u.listing_id for u in updates}
        assert by_id["listing-mug"].ok and by_id["listing-cup"].ok, results
        assert not by_id["listing-unknown"].ok and by_id["listing-unknown"].error
        assert (sandbox.stock(SKUS[0]), sandbox.stock(SKUS[1])) == (7, 0), "below zero is published as 0"

    # Dispatch

    async def test_send_dispatches_twice_tells_the_buyer_once(self, connector, sandbox):
        sandbox.list_product(SKUS[0], 50)
        sandbox.place_order("CT-1401", [(SKUS[0], 2)])
        note = self.note(await self.downloaded(connector, sandbox, "CT-1401"), "dispatch-1401", "TRK-CT-1401")
        connection = sandbox.connection()
        assert await connector.send_dispatches(connection, [note]) == [ItemResult("dispatch-1401", True)]
        assert await connector.send_dispatches(connection, [note]) == [ItemResult("dispatch-1401", True)]
        told = [message for message in sandbox.buyer_messages("CT-1401") if "TRK-CT-1401" in message]
        assert len(told) == 1, sandbox.buyer_messages("CT-1401")

    async def test_a_note_for_an_unknown_order_fails_alone(self, connector, sandbox):
        sandbox.list_product(SKUS[0], 50)
        sandbox.place_order("CT-1501", [(SKUS[0], 1)])
        order = await self.downloaded(connector, sandbox, "CT-1501")
        good = self.note(order, "dispatch-good", "TRK-CT-1501")
        unknown = DispatchNote(dispatch_id="dispatch-unknown", order_reference="CT-NO-SUCH-ORDER", lines=[],
                               shipped_at=datetime.now(UTC), tracking_number="TRK-NONE",
                               external_reference="987654")  # fmt: skip
        results = {r.id: r for r in await connector.send_dispatches(sandbox.connection(), [unknown, good])}
        assert set(results) == {"dispatch-good", "dispatch-unknown"}
        assert results["dispatch-good"].ok and not results["dispatch-unknown"].ok and results["dispatch-unknown"].error

    # Faults

    @pytest.mark.parametrize("hook", HOOKS)
    @pytest.mark.parametrize(("kind", "options", "error"), FAULTS)
    async def test_a_failing_partner_raises_the_typed_error_then_works_again(self, connector, sandbox, hook, kind,
                                                                             options, error):  # fmt: skip
        call = await self.arranged_call(hook, connector, sandbox)
        sandbox.control_call("POST", "/faults", json={"kind": kind, "count": 50, **options})
        with pytest.raises(PartnerError) as raised:
            await call(sandbox.connection())
        assert isinstance(raised.value, error), f"{kind}: {type(raised.value).__name__}: {raised.value}"
        if isinstance(raised.value, PartnerRateLimited):
            assert raised.value.retry_after > 0
        sandbox.control_call("DELETE", "/faults")
        await call(sandbox.connection())

    @pytest.mark.parametrize("hook", HOOKS)
    @pytest.mark.parametrize(("kind", "options", "error"), FAULTS[2:])
    async def test_whichever_request_fails_the_call_raises(self, connector, sandbox, hook, kind, options, error):
        """The fault starts at the call's first request, then its second... until the call ends
        before it: a hook must not turn a failure mid-way into a result (only the faults that are
        not retried, to keep the sweep quick)."""
        call = await self.arranged_call(hook, connector, sandbox)
        for after in range(50):
            sandbox.control_call("DELETE", "/requests")
            sandbox.control_call("POST", "/faults", json={"kind": kind, "count": 50, "after": after, **options})
            try:
                await call(sandbox.connection())
            except PartnerError as exc:
                assert isinstance(exc, error), f"{kind} at request {after + 1}: {type(exc).__name__}: {exc}"
            else:
                made = len(sandbox.control_call("GET", "/requests"))
                assert made <= after, f"{hook} answered although its request {after + 1} failed ({kind})"
                break
            finally:
                sandbox.control_call("DELETE", "/faults")
        else:
            raise AssertionError(f"{hook} never ended without the fault")
        if hook == "send_dispatches":
            told = [m for m in sandbox.buyer_messages("CT-2001") if "TRK-CT-2001" in m]
            assert len(told) == 1, "a dispatch sent again after a failure tells the buyer once"

    async def test_a_short_rate_limit_is_waited_out(self, connector, sandbox):
        sandbox.list_product(SKUS[0], 50)
        sandbox.place_order("CT-1601", [(SKUS[0], 1)])
        sandbox.control_call("POST", "/faults", json={"kind": "rate_limit", "count": 1, "retry_after": 0.2})
        orders, _, _ = await self.download_all(connector, sandbox.connection())
        assert [o.reference for o in orders] == ["CT-1601"]
        assert [r["status"] for r in sandbox.control_call("GET", "/requests")][:2] == [429, 200]


# --- fulfilment centres


class FulfilmentSandboxAdapter(SandboxAdapter):
    """How the fulfilment contract suite drives a fulfilment connector's sandbox (subclass it, as
    ChannelSandboxAdapter). The sandbox's control API (``control_call``) takes the shared faults:
    ``server_error`` and ``disconnect`` must make the centre unreachable for that many requests
    (an FTP sandbox answers 421 and drops the connection instead)."""

    # What the centre's adapter implements

    def connection(self, *, valid: bool = True) -> Connection[Any]:
        """A connection to the sandbox, with the account's credentials or (``valid`` False) wrong ones."""
        raise NotImplementedError

    def received(self) -> list[tuple[int, list[tuple[str, int]]]]:
        """The orders the centre has taken, each once however often it was sent, in the order
        taken: (order number, [(the centre's SKU, quantity)...])."""
        raise NotImplementedError

    def report(self, number: int, status: str, *, carrier: str = "", service: str = "", tracking: str = "",
               message: str = "") -> None:  # fmt: skip
        """Make the centre report order ``number`` (received) as ``status`` (SHIPPED, CANCELLED or
        ERROR, with ``message`` its error text) in its next status report."""
        raise NotImplementedError

    def report_unreadable(self) -> None:
        """Make the centre's next status report one that cannot be read at all (a broken file or
        answer), besides the readable ones."""
        raise NotImplementedError

    def set_stock(self, sku: str, quantity: int) -> None:
        """Make the centre report ``quantity`` of its ``sku`` in its next stock report."""
        raise NotImplementedError


def fulfilment_order(number: int, lines: list[tuple[str, int]], fulfilment_skus: dict[str, str] | None = None) -> FulfilmentOrder:
    """An order for the suite to export: numbered ``number``, referenced ``FC-<number>``."""
    fulfilment_skus = fulfilment_skus or {}
    return FulfilmentOrder(
        order_id=f"order-{number}", number=number, reference=f"FC-{number}", received_at=datetime(2026, 1, 5, 9, 30, tzinfo=UTC),
        lines=[FulfilmentOrderLine(f"line-{number}-{n}", sku, quantity, title=f"{sku} title",
                                   fulfilment_sku=fulfilment_skus.get(sku, ""), unit_price=Decimal("4.50"))
               for n, (sku, quantity) in enumerate(lines)],
        buyer_name="Ada Lovelace", email="ada@example.com",
        shipping_address=Address(full_name="Ada Lovelace", address1="1 Analytical Row", town="London",
                                 postcode="N1 1AA", country="GB"),
        shipping_service="Standard", currency="GBP", total=Decimal("9.00"),
    )  # fmt: skip


FULFILMENT_FAULTS = [
    pytest.param("server_error", {"status": 503}, id="server-error"),
    pytest.param("disconnect", {}, id="dropped"),
]
FULFILMENT_HOOKS = ["export_orders", "import_statuses", "import_stock"]


@pytest.mark.asyncio
class FulfilmentContract:
    """The contract every fulfilment connector keeps against its own sandbox: subclass it as
    ``Test<Centre>Contract`` with ``adapter`` set.

    It checks: test_connection (ok; wrong credentials fail without raising, and make every other
    hook raise PartnerAuthError); an export hands over every order and line (the centre's own SKU
    where the item has one); the same batch (same file name) sent twice is taken once; shipped,
    cancelled and errored orders come back in status reports with carrier, tracking and the
    centre's words; a report read again is the same report (same name and content hash) until it
    is consumed, then it is not read again; stock reports; a report that cannot be read is a
    report with a problem, not an exception, and the readable ones still come; faults raise
    PartnerUnavailable and the hook works once the centre is well."""

    adapter: ClassVar[type[FulfilmentSandboxAdapter]]

    @pytest.fixture
    def sandbox(self) -> Iterator[FulfilmentSandboxAdapter]:
        """The connector's sandbox, fresh and served on loopback, behind the centre's adapter."""
        yield from served(self.adapter)

    @pytest.fixture
    def connector(self) -> FulfilmentConnector:
        """The connector, as the fulfilment runs find it."""
        return manager.fulfilment_connector(self.adapter.connector)

    @staticmethod
    async def export(connector: FulfilmentConnector, connection: Connection[Any], file_name: str,
                     *orders: FulfilmentOrder) -> ExportResult:  # fmt: skip
        """Export ``orders`` as one batch."""
        result = await connector.export_orders(connection, ExportBatch(file_name, list(orders)))
        assert isinstance(result, ExportResult) and result.reference, result
        return result

    @staticmethod
    async def consumed_statuses(connector: FulfilmentConnector, connection: Connection[Any]) -> list[StatusLine]:
        """Every status waiting at the centre, each report consumed once read."""
        lines: list[StatusLine] = []
        for report in await connector.import_statuses(connection):
            assert isinstance(report, StatusReport) and report.file.name and len(report.file.content_hash) == 64
            lines += report.statuses
            await connector.consume(connection, report.file)
        return lines

    async def test_connection_succeeds_with_the_accounts_credentials(self, connector, sandbox):
        result = await connector.test_connection(sandbox.connection())
        assert result.ok, result.message

    async def test_connection_with_wrong_credentials_fails_and_says_so(self, connector, sandbox):
        result = await connector.test_connection(sandbox.connection(valid=False))
        assert not result.ok and result.message

    @pytest.mark.parametrize("hook", FULFILMENT_HOOKS)
    async def test_refused_credentials_raise_an_auth_error(self, connector, sandbox, hook):
        connection = sandbox.connection(valid=False)
        with pytest.raises(PartnerAuthError):
            if hook == "export_orders":
                await connector.export_orders(connection, ExportBatch("auth.csv", [fulfilment_order(1, [(SKUS[0], 1)])]))
            else:
                await getattr(connector, hook)(connection)

    async def test_an_export_hands_over_every_order_and_line(self, connector, sandbox):
        orders = [fulfilment_order(101, [(SKUS[0], 2), (SKUS[1], 1)], {SKUS[1]: "WH-CUP"}),
                  fulfilment_order(102, [(SKUS[0], 5)])]  # fmt: skip
        result = await self.export(connector, sandbox.connection(), "orders-101-102.csv", *orders)
        assert result.refused == []
        assert sandbox.received() == [(101, [(SKUS[0], 2), ("WH-CUP", 1)]), (102, [(SKUS[0], 5)])]

    async def test_the_same_batch_sent_twice_is_taken_once(self, connector, sandbox):
        connection = sandbox.connection()
        order = fulfilment_order(201, [(SKUS[0], 1)])
        await self.export(connector, connection, "orders-201.csv", order)
        await self.export(connector, connection, "orders-201.csv", order)
        assert sandbox.received() == [(201, [(SKUS[0], 1)])]

    async def test_shipped_cancelled_and_failed_orders_are_reported(self, connector, sandbox):
        connection = sandbox.connection()
        await self.export(connector, connection, "orders-301.csv",
                          *(fulfilment_order(n, [(SKUS[0], 1)]) for n in (301, 302, 303)))  # fmt: skip
        sandbox.report(301, "SHIPPED", carrier="Royal Mail", service="Tracked 48", tracking="RM301GB")
        sandbox.report(302, "CANCELLED", message="Out of stock at the centre")
        sandbox.report(303, "ERROR", message="Address incomplete: no postcode")
        lines = await self.consumed_statuses(connector, connection)
        by_order = {line.order_number or int(line.reference.removeprefix("FC-")): line for line in lines}
        assert set(by_order) == {301, 302, 303}, lines
        shipped = by_order[301]
        assert shipped.status in (FulfilmentStatus.SHIPPED, FulfilmentStatus.COMPLETE)
        assert (shipped.carrier, shipped.service, shipped.tracking_number) == ("Royal Mail", "Tracked 48", "RM301GB")
        assert by_order[302].status is FulfilmentStatus.CANCELLED
        assert by_order[303].status is FulfilmentStatus.ERROR and by_order[303].message == "Address incomplete: no postcode"
        assert all(line.row >= 1 for line in lines)

    async def test_a_report_is_read_the_same_until_consumed(self, connector, sandbox):
        connection = sandbox.connection()
        await self.export(connector, connection, "orders-401.csv", fulfilment_order(401, [(SKUS[0], 1)]))
        sandbox.report(401, "SHIPPED", carrier="DPD", tracking="DPD401")
        first = await connector.import_statuses(connection)
        again = await connector.import_statuses(connection)
        assert [r.file for r in first] == [r.file for r in again] and len(first) == 1
        assert [r.statuses for r in first] == [r.statuses for r in again]
        await connector.consume(connection, first[0].file)
        assert await connector.import_statuses(connection) == []

    async def test_stock_is_reported_by_the_centres_sku(self, connector, sandbox):
        connection = sandbox.connection()
        sandbox.set_stock(SKUS[0], 12)
        sandbox.set_stock("WH-CUP", 0)
        reports = await connector.import_stock(connection)
        assert reports and all(isinstance(r, StockReport) and len(r.file.content_hash) == 64 for r in reports)
        levels = {line.sku: line.quantity for report in reports for line in report.levels}
        assert levels == {SKUS[0]: 12, "WH-CUP": 0}
        for report in reports:
            await connector.consume(connection, report.file)
        assert await connector.import_stock(connection) == []

    async def test_an_unreadable_report_is_a_problem_not_an_exception(self, connector, sandbox):
        connection = sandbox.connection()
        await self.export(connector, connection, "orders-501.csv", fulfilment_order(501, [(SKUS[0], 1)]))
        sandbox.report_unreadable()
        sandbox.report(501, "SHIPPED", carrier="DPD", tracking="DPD501")
        reports = await connector.import_statuses(connection)
        broken = [r for r in reports if r.problems and not r.statuses]
        assert broken and all(p.reason for r in broken for p in r.problems), reports
        assert [line.tracking_number for r in reports for line in r.statuses] == ["DPD501"]

    @pytest.mark.parametrize("hook", FULFILMENT_HOOKS)
    @pytest.mark.parametrize(("kind", "options"), FULFILMENT_FAULTS)
    async def test_an_unreachable_centre_raises_then_works_again(self, connector, sandbox, hook, kind, options):
        connection = sandbox.connection()

        async def call() -> object:
            if hook == "export_orders":
                return await connector.export_orders(connection, ExportBatch("fault.csv", [fulfilment_order(601, [(SKUS[0], 1)])]))
            return await getattr(connector, hook)(connection)

        sandbox.control_call("POST", "/faults", json={"kind": kind, "count": 50, **options})
        with pytest.raises(PartnerUnavailable):
            await call()
        sandbox.control_call("DELETE", "/faults")
        await call()

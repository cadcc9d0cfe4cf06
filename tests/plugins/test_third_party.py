"""A third-party plugin end to end: the sample channel (tests/sample_plugin, its own distribution,
installed with pip as the README's test command does) is found through its entry point, described
by channelPlugins, configured as a channel over GraphQL without its secret ever coming back, and
downloaded by the sync engine; its hooks behave as the contract says."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from datetime import UTC, datetime
from decimal import Decimal
from importlib.metadata import PackageNotFoundError, distribution, entry_points
from pathlib import Path
from typing import Any

import pytest

from orderdeck.models import Channel, Order, OrderStatus, SyncIssue, SyncOutcome
from orderdeck.models import Connection as Account
from orderdeck.plugins.dto import (
    ConnectionResult,
    DispatchLine,
    DispatchNote,
    ItemResult,
    StatusMapping,
    StockUpdate,
)
from orderdeck.plugins.errors import PartnerDataError
from orderdeck.plugins import manager
from orderdeck.plugins.connectors import ChannelConnector, Connection, ConnectorKind
from orderdeck.plugins.manager import channel_connector
from orderdeck.services import channels, sync
from tests.services.helpers import assert_stock_consistent, assert_unchanged_by, db_state, levels_of, make_item

DISTRIBUTION = "orderdeck-sample-plugin"
API_KEY = "sk_sample_8c1f0e77d2"
ERRORS = "errors { field code message }"
CHANNEL = "id name plugin source settings secretsSet"
CREATE = f"mutation($input: CreateChannelInput!) {{ createChannel(input: $input) {{ channel {{ {CHANNEL} }} {ERRORS} }} }}"
UPDATE = f"""mutation($id: ID!, $input: UpdateChannelInput!) {{
  updateChannel(id: $id, input: $input) {{ channel {{ {CHANNEL} }} {ERRORS} }} }}"""


def entry(number: str, status: str = "paid", *lines: tuple[str, int], **fields: Any) -> dict[str, Any]:
    """An order of the sample channel's file (its own format), with (sku, quantity) lines."""
    return {
        "number": number, "status": status, "placed_at": "2026-03-01T09:30:00Z", "buyer": f"Buyer {number}",
        "email": "buyer@example.com", "address": {"full_name": f"Buyer {number}", "town": "Leeds", "country": "GB"},
        "lines": [{"sku": sku, "quantity": qty, "price": "4.25"} for sku, qty in lines or [("MUG", 1)]], **fields,
    }  # fmt: skip


def write(path: Path, entries: list[Any]) -> None:
    path.write_text(json.dumps(entries))


@pytest.fixture
def orders_file(tmp_path: Path) -> Path:
    """The sample channel's orders file (empty)."""
    path = tmp_path / "orders.json"
    write(path, [])
    return path


def context(orders_file: Path, api_key: str = API_KEY) -> Connection[Any]:
    """A sample channel's connection as orderdeck builds it: the connector's own settings model."""
    settings = channel_connector("sample").settings.model_validate({"orders_file": str(orders_file), "api_key": api_key})
    return Connection(connection_id="ch-sample", name="Sample", settings=settings)


@pytest.fixture
def sample_hooks() -> ChannelConnector:
    """The sample channel's connector, as the sync engine finds and calls it."""
    return channel_connector("sample")


# --- discovery -------------------------------------------------------------------------------


def test_the_installed_distribution_is_found_through_its_entry_point():
    try:
        dist = distribution(DISTRIBUTION)
    except PackageNotFoundError:
        pytest.fail(f"{DISTRIBUTION} is not installed: run the README's test command (it installs tests/sample_plugin)")
    (point,) = [ep for ep in entry_points(group="orderdeck") if ep.name == "sample"]
    assert (point.value, point.dist.name) == ("orderdeck_sample", DISTRIBUTION)
    assert [ep.name for ep in dist.entry_points if ep.group == "orderdeck"] == ["sample"]

    # The plugin manager loaded it from that distribution's entry point (nobody registered it by hand).
    plugins = manager.loaded()
    assert (plugins.distributions["sample"], plugins.origins["sample"]) == (DISTRIBUTION, "sample")
    info = channel_connector("sample")
    assert (info.kind, info.source, info.title) == (ConnectorKind.CHANNEL, "SAMPLE", "Sample (JSON file)")
    assert set(info.settings.model_fields) == {"orders_file", "api_key"}


def test_a_fresh_process_outside_the_source_tree_finds_it(tmp_path):
    """The installation makes it available, not the test run's sys.path."""
    script = "from orderdeck.plugins.manager import connectors; print([c.name for c in connectors()])"
    done = subprocess.run([sys.executable, "-I", "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "'sample'" in done.stdout


def test_the_sample_plugin_imports_only_the_public_plugin_api():
    import orderdeck_sample

    source = Path(orderdeck_sample.__file__)
    assert source.is_relative_to(Path(__file__).parents[1] / "sample_plugin"), source
    imported: set[str] = set()
    for node in ast.walk(ast.parse(source.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
    core = {name for name in imported if name.split(".")[0] == "orderdeck"}
    assert core == {"orderdeck.plugins.hookspecs", "orderdeck.plugins.connectors", "orderdeck.plugins.dto",
                    "orderdeck.plugins.errors"}
    others = {name.split(".")[0] for name in imported - core}
    assert others - set(sys.stdlib_module_names) - {"__future__"} == {"pydantic"}


# --- over GraphQL ----------------------------------------------------------------------------


async def test_channel_plugins_lists_it_with_its_settings_schema_and_marks_the_secret(client):
    data = await client.gql("{ channelPlugins { name title kind version source settingsSchema } }")
    (sample,) = [p for p in data["channelPlugins"] if p["name"] == "sample"]
    assert (sample["kind"], sample["source"], sample["version"]) == ("CHANNEL", "SAMPLE", "0.1.0")
    schema = sample["settingsSchema"]
    assert set(schema["required"]) == {"orders_file", "api_key"}
    assert schema["properties"]["api_key"]["format"] == "password"
    assert schema["properties"]["api_key"]["writeOnly"] is True
    assert "writeOnly" not in schema["properties"]["orders_file"]
    assert schema["properties"]["orders_file"]["description"].startswith("Absolute path")


async def test_a_sample_channel_is_created_and_its_api_key_never_comes_back(client, orders_file, sample_hooks):
    write(orders_file, [entry("S-1")])
    settings = {"orders_file": str(orders_file), "api_key": API_KEY}
    texts = []

    async def post(query: str, variables: dict[str, Any]) -> dict[str, Any]:
        response = await client.post(query, variables)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        texts.append(response.text)
        return response.json()["data"]

    created = (await post(CREATE, {"input": {"name": "Sample shop", "plugin": "sample", "settings": settings}}))
    payload = created["createChannel"]
    assert payload["errors"] == []
    gid = payload["channel"]["id"]
    assert payload["channel"]["settings"] == {"orders_file": str(orders_file)}
    assert (payload["channel"]["plugin"], payload["channel"]["source"]) == ("sample", "SAMPLE")
    assert payload["channel"]["secretsSet"] == ["api_key"]

    renamed = await post(UPDATE, {"id": gid, "input": {"name": "Sample store"}})
    assert renamed["updateChannel"]["errors"] == []
    rekeyed = await post(UPDATE, {"id": gid, "input": {"settings": {"api_key": "sk_sample_rotated"}}})
    assert rekeyed["updateChannel"]["channel"]["secretsSet"] == ["api_key"]
    channel = await Channel.get(connection__name="Sample store")
    for query, variables in [
        (f"query($id: ID!) {{ channel(id: $id) {{ {CHANNEL} }} }}", {"id": gid}),
        (f"{{ channels {{ {CHANNEL} }} }}", {}),
        ("query($id: ID!) { node(id: $id) { ... on Channel { settings secretsSet } } }", {"id": gid}),
        ("query($s: String) { auditTrail(filter: {subjectId: $s}) { edges { node { kind before after } } } }",
         {"s": str(channel.id)}),
    ]:  # fmt: skip
        await post(query, variables)
    assert "CHANNEL_CREATED" in texts[-1] and "CHANNEL_UPDATED" in texts[-1]
    assert not [text for text in texts if API_KEY in text or "sk_sample_rotated" in text]

    # At rest the key is encrypted; the plugin gets it decrypted, as its own settings model.
    account = await Account.get(id=channel.id)
    assert "sk_sample" not in (account.secrets or "") and "sk_sample" not in json.dumps(account.settings)
    _, built = channels.channel_connection(account)
    assert built.settings.api_key.get_secret_value() == "sk_sample_rotated"
    connected = await sample_hooks.test_connection(built)
    assert connected == ConnectionResult(True, "Connected: 1 orders in the file")


async def test_bad_sample_settings_are_refused_per_field_and_write_nothing(client, orders_file):
    cases = [
        ({"orders_file": "orders.json", "api_key": API_KEY}, {"settings.ordersFile"}),
        ({"orders_file": str(orders_file.with_suffix(".txt")), "api_key": API_KEY}, {"settings.ordersFile"}),
        ({"orders_file": str(orders_file)}, {"settings.apiKey"}),
        ({"api_key": ["not", "a", "string"]}, {"settings.ordersFile", "settings.apiKey"}),
    ]
    before = await db_state()
    for settings, fields in cases:
        data = await client.gql(CREATE, {"input": {"name": "Sample shop", "plugin": "sample", "settings": settings}})
        payload = data["createChannel"]
        assert payload["channel"] is None
        assert {(e["field"], e["code"]) for e in payload["errors"]} == {(f, "INVALID") for f in fields}, payload
        if settings.get("api_key") == API_KEY:
            assert payload["errors"][0]["message"].startswith("must be the absolute path of a .json file")
    await assert_unchanged_by(before)


# --- through the sync engine ------------------------------------------------------------------


async def sample_channel(orders_file: Path, actor, api_key: str = API_KEY) -> Channel:
    return await channels.create_channel(
        {"name": "Sample shop", "plugin": "sample", "settings": {"orders_file": str(orders_file), "api_key": api_key}},
        actor,
    )


async def test_the_sync_engine_downloads_a_sample_channel(orders_file, default_location, actor):
    channel = await sample_channel(orders_file, actor)
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    await make_item("CUP", actor, level=5, location_id=default_location.id)
    write(orders_file, [
        entry("S-1", "paid", ("MUG", 2)),
        entry("S-2", "paid", ("MUG", 1), ("CUP", 1)),
        entry("S-3", "paid", ("MUG", 0)),  # unreadable: a line of nothing
        entry("S-4", "unpaid"),
        entry("S-5", "shipped"),
        "not an order",  # unreadable, without even a number
        entry("S-7", "paid", ("MUG", 3), currency="EUR"),
        entry("S-8", "cancelled"),
    ])  # fmt: skip

    run = await sync.download_channel(channel.id, page_size=3)

    assert (run.outcome, run.pages, run.downloaded, run.failed) == (SyncOutcome.PARTIAL, 3, 3, 2)
    assert (run.skipped_unpaid, run.skipped_shipped, run.skipped_cancelled) == (1, 1, 1)
    issues = {(i.reference, i.kind): i.message for i in await SyncIssue.filter(run_id=run.id)}
    assert set(issues) == {("S-3", "REJECTED"), ("", "REJECTED"), ("S-4", "SKIPPED_UNPAID"),
                           ("S-5", "SKIPPED_SHIPPED"), ("S-8", "SKIPPED_CANCELLED")}  # fmt: skip
    assert issues["S-3", "REJECTED"] == "lines.0.quantity: Input should be greater than 0"
    assert issues["", "REJECTED"].startswith("order: Input should be a valid dictionary")

    orders = {o.reference: o for o in await Order.filter(channel_id=channel.id).prefetch_related("items")}
    assert set(orders) == {"S-1", "S-2", "S-7"}
    first = orders["S-1"]
    assert (first.source, first.subsource, first.status, first.buyer_name, first.shipping_town) == (
        "SAMPLE", "Sample shop", OrderStatus.PAID, "Buyer S-1", "Leeds")  # fmt: skip
    assert first.received_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC) and orders["S-7"].currency == "EUR"
    assert [(i.sku, i.item_number, i.quantity, i.unit_price) for i in orders["S-2"].items] == [
        ("MUG", "1", 1, Decimal("4.25")), ("CUP", "2", 1, Decimal("4.25"))]  # fmt: skip
    assert await levels_of("MUG", default_location.id) == (10, 6)
    assert await levels_of("CUP", default_location.id) == (5, 1)
    assert (await Account.get(id=channel.id)).cursor == "8"

    again = await sync.download_channel(channel.id, page_size=3)
    assert (again.outcome, again.pages, again.downloaded, again.failed) == (SyncOutcome.SUCCEEDED, 1, 0, 0)
    assert await Order.filter(channel_id=channel.id).count() == 3

    # What is appended comes next: a new order, and S-1 again, cancelled (an update, not a new order).
    entries = json.loads(orders_file.read_text())
    write(orders_file, [*entries, entry("S-9", "paid", ("MUG", 1)), entry("S-1", "cancelled", ("MUG", 2))])
    later = await sync.download_channel(channel.id, page_size=3)
    assert (later.downloaded, later.updated) == (1, 1)
    assert (await Order.get(channel_id=channel.id, reference="S-1")).channel_cancelled

    # From the very start again: every order is known, none comes twice.
    await Account.filter(id=channel.id).update(cursor=None)
    replay = await sync.download_channel(channel.id, page_size=4)
    assert (replay.downloaded, replay.failed) == (0, 2)
    assert await Order.filter(channel_id=channel.id).count() == 4
    assert await levels_of("MUG", default_location.id) == (10, 7)
    await assert_stock_consistent()


async def test_an_unusable_orders_file_or_key_fails_the_download_run(orders_file, default_location, actor):
    channel = await sample_channel(orders_file, actor)
    orders_file.unlink()
    run = await sync.download_channel(channel.id)
    assert run.outcome == SyncOutcome.FAILED and run.error.startswith("PartnerDataError: the orders file")
    orders_file.write_text('{"orders": []}')
    run = await sync.download_channel(channel.id)
    assert run.outcome == SyncOutcome.FAILED and "must hold a JSON list" in run.error

    keyless = await channels.create_channel({"name": "Keyless", "plugin": "sample", "settings": {
        "orders_file": str(orders_file), "api_key": "  "}}, actor)  # fmt: skip
    run = await sync.download_channel(keyless.id)
    assert run.outcome == SyncOutcome.FAILED and run.error.startswith("PartnerAuthError")
    assert await Order.all().count() == 0


# --- the sample_hooks, as the engine calls them ------------------------------------------------------


async def test_test_connection_checks_the_file_and_the_key(sample_hooks, orders_file, tmp_path):
    write(orders_file, [entry("S-1"), entry("S-2")])
    connected = await sample_hooks.test_connection(context(orders_file))
    assert connected == ConnectionResult(True, "Connected: 2 orders in the file")
    missing = await sample_hooks.test_connection(context(tmp_path / "none.json"))
    assert not missing.ok and "does not exist" in missing.message
    folder = tmp_path / "folder.json"
    folder.mkdir()
    assert not (await sample_hooks.test_connection(context(folder))).ok
    keyless = await sample_hooks.test_connection(context(orders_file, ""))
    assert not keyless.ok and "empty API key" in keyless.message


async def test_downloads_page_by_offset_and_reject_unreadable_entries_alone(sample_hooks, orders_file):
    write(orders_file, [entry("S-1"), {"number": "S-2", "status": "lost"}, entry("S-3"), entry("S-4")])
    channel = context(orders_file)
    first = await sample_hooks.download_orders(channel, cursor=None, page_size=3)
    assert [o.reference for o in first.orders] == ["S-1", "S-3"] and (first.cursor, first.has_more) == ("3", True)
    ((reference, reason),) = first.rejected
    assert reference == "S-2"
    assert reason.startswith("status: Input should be 'paid', 'unpaid', 'shipped' or 'cancelled'")
    assert "placed_at: Field required" in reason and "lines: Field required" in reason
    second = await sample_hooks.download_orders(channel, cursor="3", page_size=3)
    assert [o.reference for o in second.orders] == ["S-4"] and (second.cursor, second.has_more) == ("4", False)
    done = await sample_hooks.download_orders(channel, cursor="4", page_size=3)
    assert (done.orders, done.rejected, done.cursor, done.has_more) == ([], [], "4", False)

    order = first.orders[0]
    assert order.paid_at == order.received_at == datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    assert (order.lines[0].line_id, order.lines[0].channel_sku, order.shipping_address.town) == ("1", "MUG", "Leeds")
    with pytest.raises(PartnerDataError, match="cursor"):
        await sample_hooks.download_orders(channel, cursor="page-2", page_size=3)
    orders_file.write_text("[{")
    with pytest.raises(PartnerDataError, match="is not JSON"):
        await sample_hooks.download_orders(channel, cursor=None, page_size=3)


async def test_statuses_map_to_paid_shipped_and_cancelled(sample_hooks, orders_file):
    write(orders_file, [entry(status, status) for status in ("paid", "unpaid", "shipped", "cancelled")])
    channel = context(orders_file)
    page = await sample_hooks.download_orders(channel, cursor=None, page_size=10)
    mapped = {o.status: sample_hooks.map_status(channel, order=o) for o in page.orders}
    assert mapped == {
        "paid": StatusMapping(paid=True), "unpaid": StatusMapping(paid=False),
        "shipped": StatusMapping(paid=True, shipped=True), "cancelled": StatusMapping(paid=False, cancelled=True),
    }  # fmt: skip
    assert page.orders[1].paid_at is None


async def test_push_stock_writes_quantities_beside_the_orders_file(sample_hooks, orders_file):
    channel = context(orders_file)
    updates = [StockUpdate("l1", "MUG", 7), StockUpdate("l2", "", 3), StockUpdate("l3", "CAP", -2)]
    results = await sample_hooks.push_stock(channel, updates=updates)
    assert results == [ItemResult("l1", True), ItemResult("l2", False, "the listing has no channel SKU"),
                       ItemResult("l3", True)]  # fmt: skip
    stock = orders_file.with_name("orders.stock.json")
    assert json.loads(stock.read_text()) == {"MUG": 7, "CAP": 0}
    assert await sample_hooks.push_stock(channel, updates=[StockUpdate("l1", "MUG", 4)]) == [
        ItemResult("l1", True)]  # fmt: skip
    assert json.loads(stock.read_text()) == {"MUG": 4, "CAP": 0}
    assert sorted(p.name for p in orders_file.parent.iterdir()) == ["orders.json", "orders.stock.json"]


async def test_send_dispatches_records_each_once_and_fails_unknown_or_cancelled_orders_alone(sample_hooks, orders_file):
    write(orders_file, [entry("S-1"), entry("S-2"), entry("S-2", "cancelled")])
    channel = context(orders_file)
    shipped = datetime(2026, 3, 2, 15, 0, tzinfo=UTC)
    notes = [DispatchNote("d1", "S-1", [DispatchLine("1", 1)], shipped, carrier="Royal Mail", tracking_number="RM1"),
             DispatchNote("d2", "S-2", [DispatchLine("1", 1)], shipped),
             DispatchNote("d3", "S-404", [DispatchLine("1", 1)], shipped)]  # fmt: skip
    results = await sample_hooks.send_dispatches(channel, notes=notes)
    assert results == [ItemResult("d1", True), ItemResult("d2", False, "order S-2 is cancelled on the channel"),
                       ItemResult("d3", False, "order S-404 is not on the channel")]  # fmt: skip
    recorded = orders_file.with_name("orders.dispatches.json")
    first = json.loads(recorded.read_text())
    assert list(first) == ["d1"]
    assert first["d1"]["order_reference"] == "S-1" and first["d1"]["tracking_number"] == "RM1"
    assert first["d1"]["lines"] == [{"line_id": "1", "quantity": 1}]
    assert first["d1"]["shipped_at"] == "2026-03-02T15:00:00+00:00"

    # A retried note replaces its own record.
    assert await sample_hooks.send_dispatches(channel, notes=notes[:1]) == [ItemResult("d1", True)]
    assert json.loads(recorded.read_text()) == first

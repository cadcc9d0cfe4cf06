"""The connector contract is checked when plugins load: a plugin that cannot load, or a connector
that breaks its kind's contract, is reported by name (at start-up, by `orderdeck plugins`, over
GraphQL) and left out, while every other connector works.

The plugins here are real distributions: a folder on sys.path holding each package and a
``*.dist-info`` with its entry point, found by importlib.metadata as an installed one would be.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from orderdeck.plugins import manager
from orderdeck.plugins.connectors import ConnectorKind, FulfilmentConnector
from tests.plugins.support import install_plugins

HEADER = """
from pydantic import BaseModel
from orderdeck.plugins.connectors import ChannelConnector, FulfilmentConnector
from orderdeck.plugins.hookspecs import hookimpl

class Settings(BaseModel):
    folder: str = "/srv/out"

class Channel(ChannelConnector):
    title = "A channel"
    settings = Settings
    source = "SHOP"

    async def test_connection(self, connection): ...
    async def download_orders(self, connection, cursor, page_size): ...
    def map_status(self, connection, order): ...
    async def push_stock(self, connection, updates): ...
    async def send_dispatches(self, connection, notes): ...

class Centre(FulfilmentConnector):
    title = "A centre"
    settings = Settings

    async def test_connection(self, connection): ...
    async def export_orders(self, connection, orders, file_name): ...
    async def import_statuses(self, connection): ...
    async def import_stock(self, connection): ...
"""

PLUGINS = {
    # One package, two connectors of two kinds (as Amazon ships a channel and FBA).
    "good_pair": """
class Shop(Channel):
    name = "pair_shop"

class Warehouse(Centre):
    name = "pair_warehouse"

@hookimpl
def orderdeck_register_connectors():
    return [Shop(), Warehouse()]
""",
    "broken_import": "import orderdeck_no_such_module\n",
    "missing_hooks": """
class Half(ChannelConnector):
    name = "half"
    title = "Half a channel"
    settings = Settings
    source = "HALF"

    async def test_connection(self, connection): ...
    async def download_orders(self, connection, cursor, page_size): ...

@hookimpl
def orderdeck_register_connectors():
    return [Half()]
""",
    "wrong_shapes": """
class Blocking(Channel):
    name = "blocking"
    def download_orders(self, connection, cursor, page_size): ...

class Unsettled(Centre):
    name = "unsettled"
    settings = {"folder": str}
    export_batch_size = 0

class Nameless(Channel):
    name = "Has Spaces"

@hookimpl
def orderdeck_register_connectors():
    return [Blocking(), Unsettled(), Nameless(), object()]
""",
    "taken_name": """
class Copy(Channel):
    name = "woocommerce"

@hookimpl
def orderdeck_register_connectors():
    return [Copy()]
""",
    "old_style": """
@hookimpl
def orderdeck_plugin_info():
    return None
""",
    "failing_register": """
@hookimpl
def orderdeck_register_connectors():
    raise RuntimeError("no licence file")
""",
    "nothing": "",
}

PROBLEMS = {
    ("broken_import", ""): "cannot be loaded (orderdeck_test_broken_import): ModuleNotFoundError",
    ("missing_hooks", "half"): "missing hooks: map_status, push_stock, send_dispatches",
    ("wrong_shapes", "blocking"): "hook download_orders must be async",
    ("wrong_shapes", "unsettled"): "settings must be a pydantic model class",
    ("wrong_shapes", "Has Spaces"): "name 'Has Spaces' must be 2-50 lower case letters",
    ("wrong_shapes", "object"): "object is not a connector: subclass one of ChannelConnector, FulfilmentConnector",
    ("taken_name", "woocommerce"): "the name woocommerce is taken by plugin woocommerce's connector",  # a built-in
    ("old_style", ""): "implements orderdeck_plugin_info, which orderdeck does not define",
    ("failing_register", ""): "orderdeck_register_connectors failed: RuntimeError: no licence file",
    ("nothing", ""): "provides no connectors",
}


@pytest.fixture
def plugins_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The test plugins installed on sys.path, loaded afresh; forgotten afterwards."""
    install_plugins(tmp_path, {name: body if name in ("broken_import", "nothing") else HEADER + textwrap.dedent(body)
                               for name, body in PLUGINS.items()})  # fmt: skip
    monkeypatch.syspath_prepend(str(tmp_path))
    manager.reset()
    yield tmp_path
    manager.reset()


def _found() -> dict[tuple[str, str], list[str]]:
    found: dict[tuple[str, str], list[str]] = {}
    for problem in manager.problems():
        found.setdefault((problem.plugin, problem.connector), []).append(problem.message)
    return found


def test_every_problem_is_reported_by_plugin_and_connector(plugins_folder):
    found = _found()
    for key, message in PROBLEMS.items():
        assert any(message in text for text in found.get(key, [])), (key, found.get(key))
    assert set(found) == set(PROBLEMS), set(found) ^ set(PROBLEMS)
    # Unsettled breaks two rules: each is reported.
    assert {p.message for p in manager.problems() if p.connector == "unsettled"} >= {
        "settings must be a pydantic model class, not {'folder': <class 'str'>}",
        "export_batch_size must be a positive int",
    }


def test_the_connectors_that_keep_the_contract_work_beside_the_broken_ones(plugins_folder):
    names = {c.name: c.kind for c in manager.connectors()}
    assert names == {"pair_shop": ConnectorKind.CHANNEL, "pair_warehouse": ConnectorKind.FULFILMENT_CENTRE,
                     "sample": ConnectorKind.CHANNEL, "woocommerce": ConnectorKind.CHANNEL, "amazon": ConnectorKind.CHANNEL, "ebay": ConnectorKind.CHANNEL,
                     "url_dropship": ConnectorKind.FULFILMENT_CENTRE, "amazon_fba": ConnectorKind.FULFILMENT_CENTRE,
                     "ftp_warehouse": ConnectorKind.FULFILMENT_CENTRE, "sample_centre": ConnectorKind.FULFILMENT_CENTRE}  # fmt: skip
    assert manager.loaded().origins["pair_warehouse"] == "good_pair"
    assert isinstance(manager.fulfilment_connector("pair_warehouse"), FulfilmentConnector)
    assert manager.channel_connector("woocommerce").title == "WooCommerce"  # not the copy
    with pytest.raises(manager.UnknownConnector, match="No channel connector named half is installed"):
        manager.channel_connector("half")
    with pytest.raises(manager.UnknownConnector, match=r"installed: amazon_fba, ftp_warehouse, pair_warehouse, sample_centre, url_dropship\)"):
        manager.fulfilment_connector("pair_shop")  # a channel is not a fulfilment connector


def test_start_up_logs_each_problem(plugins_folder, caplog):
    with caplog.at_level(logging.WARNING, logger="orderdeck.plugins.manager"):
        manager.report_problems()
    logged = [record.getMessage() for record in caplog.records]
    assert len(logged) == len(manager.problems()) and "plugin missing_hooks, connector half: missing hooks" in "\n".join(logged)


def test_the_plugins_command_lists_connectors_and_problems(plugins_folder):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins_folder), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "orderdeck.cli", "plugins"], capture_output=True, text=True,
                          env=env, timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "pair_warehouse" in done.stdout and "FULFILMENT_CENTRE" in done.stdout and "plugin good_pair" in done.stdout
    for (plugin, connector), message in PROBLEMS.items():
        assert f"plugin {plugin}" + (f", connector {connector}" if connector else "") in done.stderr
    clean = subprocess.run([sys.executable, "-m", "orderdeck.cli", "plugins"], capture_output=True, text=True, timeout=60)
    assert clean.returncode == 0 and clean.stderr == "" and "woocommerce" in clean.stdout


async def test_graphql_lists_connectors_of_a_kind_and_the_problems(plugins_folder, client):
    data = await client.gql("""{ connectors(kind: FULFILMENT_CENTRE) { name kind title source settingsSchema }
                                 pluginProblems { plugin connector message } }""")  # fmt: skip
    names = [c["name"] for c in data["connectors"]]
    assert names == ["amazon_fba", "ftp_warehouse", "pair_warehouse", "sample_centre", "url_dropship"]
    pair = next(c for c in data["connectors"] if c["name"] == "pair_warehouse")
    assert pair == {"name": "pair_warehouse", "kind": "FULFILMENT_CENTRE", "title": "A centre", "source": None,
                    "settingsSchema": pair["settingsSchema"]}  # fmt: skip
    assert pair["settingsSchema"]["properties"]["folder"]["default"] == "/srv/out"
    assert {(p["plugin"], p["connector"]) for p in data["pluginProblems"]} >= set(PROBLEMS)

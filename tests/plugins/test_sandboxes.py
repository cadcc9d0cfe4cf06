"""The orderdeck_register_sandboxes hook: a plugin offering a sandbox is found by the connector's
name (by the plugin manager, `orderdeck sandbox NAME` and so the demo); a sandbox that breaks the
rules is reported by plugin and name and left out, the plugin's connectors working on; an unknown
name gets an error listing the sandboxes there are.

The plugins are real distributions (a package and a ``*.dist-info`` on sys.path), as in
test_contract.py."""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from orderdeck.cli import main
from orderdeck.plugins import manager
from orderdeck.plugins.sandbox import Sandbox
from tests.plugins.support import install_plugins, sandbox_command, serve
from tests.support import free_port

HEADER = '''
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from orderdeck.plugins.connectors import ChannelConnector
from orderdeck.plugins.hookspecs import hookimpl
from orderdeck.plugins.sandbox import Emulator, Sandbox, sandbox_app

class Settings(BaseModel):
    url: str = "http://127.0.0.1"

class Channel(ChannelConnector):
    title = "A channel"
    settings = Settings
    source = "SHOP"

    async def test_connection(self, connection): ...
    async def download_orders(self, connection, cursor, page_size): ...
    def map_status(self, connection, order): ...
    async def push_stock(self, connection, updates): ...
    async def send_dispatches(self, connection, notes): ...

class Kiosk(Emulator):
    def __init__(self, orders):
        super().__init__()
        self.orders = orders

    def state(self):
        return {"orders": self.orders}

def create_app(seed_orders: int = 0, greeting: str = "hello"):
    kiosk = Kiosk([f"K-{n}" for n in range(seed_orders)])

    async def hello(request: Request):
        return JSONResponse({"greeting": greeting})

    return sandbox_app(kiosk, [Route("/api/hello", kiosk.api(hello))], banner=f"Kiosk sandbox ({greeting})")

@hookimpl
def orderdeck_register_connectors():
    return [type(name, (Channel,), {"name": name})() for name in CONNECTORS]
'''

PLUGINS = {
    "kiosk_shop": """
CONNECTORS = ["kiosk", "kiosk_plain"]

def plain_app():
    return sandbox_app(Kiosk([]), [])

@hookimpl
def orderdeck_register_sandboxes():
    return [Sandbox("kiosk", "Kiosk API", create_app, "A made-up kiosk API"),
            Sandbox("kiosk_plain", "Plain kiosk", plain_app)]
""",
    "sandbox_raises": """
CONNECTORS = ["raising"]

@hookimpl
def orderdeck_register_sandboxes():
    raise RuntimeError("no emulator today")
""",
    "sandbox_not_list": """
CONNECTORS = ["single"]

@hookimpl
def orderdeck_register_sandboxes():
    return Sandbox("single", "Single", create_app)
""",
    "sandbox_wrong": """
CONNECTORS = ["wrong", "twice"]

@hookimpl
def orderdeck_register_sandboxes():
    return [object(), Sandbox("Bad Name", "Bad", create_app), Sandbox("stranger", "Not ours", create_app),
            Sandbox("woocommerce", "Not ours either", create_app), Sandbox("wrong", " ", "create_app"),
            Sandbox("twice", "Once", create_app), Sandbox("twice", "Twice", create_app)]
""",
}

PROBLEMS = {
    "sandbox_raises": ["orderdeck_register_sandboxes failed: RuntimeError: no emulator today"],
    "sandbox_not_list": ["orderdeck_register_sandboxes must return a list of sandboxes"],
    "sandbox_wrong": [
        "sandbox object: object is not a Sandbox",
        "sandbox Bad Name: sandbox name 'Bad Name' must be the name of a connector",
        "sandbox stranger: names no connector of plugin sandbox_wrong",
        "sandbox woocommerce: names no connector of plugin sandbox_wrong",
        "sandbox wrong: sandbox title must be a non-empty string",
        "sandbox wrong: sandbox create_app must be callable, not 'create_app'",
        "sandbox twice: is offered twice",
    ],
}


@pytest.fixture
def plugins_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The test plugins installed on sys.path, loaded afresh; forgotten afterwards."""
    install_plugins(tmp_path, {name: HEADER + textwrap.dedent(body) for name, body in PLUGINS.items()})
    monkeypatch.syspath_prepend(str(tmp_path))
    manager.reset()
    yield tmp_path
    manager.reset()


def test_a_plugin_offering_a_sandbox_is_found_by_its_connectors_name(plugins_folder):
    assert [s.name for s in manager.sandboxes()] == ["amazon", "ebay", "ftp_warehouse", "kiosk", "kiosk_plain", "twice", "url_dropship", "woocommerce"]
    offered = manager.sandbox("kiosk")
    assert isinstance(offered, Sandbox) and (offered.title, offered.description) == ("Kiosk API", "A made-up kiosk API")
    assert manager.loaded().origins["kiosk"] == "kiosk_shop"
    with serve(offered.create_app(seed_orders=2, greeting="hi")) as running:
        assert httpx.get(f"{running.url}/api/hello").json() == {"greeting": "hi"}
        assert httpx.get(f"{running.url}/__sandbox/state").json() == {"orders": ["K-0", "K-1"], "faults": []}


def test_sandboxes_that_break_the_rules_are_reported_by_name_and_left_out(plugins_folder):
    found: dict[str, list[str]] = {}
    for problem in manager.problems():
        found.setdefault(problem.plugin, []).append(problem.message)
    assert set(found) == set(PROBLEMS), found
    for plugin, messages in PROBLEMS.items():
        for message in messages:
            assert any(message in text for text in found[plugin]), (message, found[plugin])
        assert len(found[plugin]) == len(messages), found[plugin]
    assert manager.sandbox("woocommerce").title == "WooCommerce shop", "a built-in sandbox is never shadowed"
    assert manager.sandbox("twice").title == "Once"
    # The plugins' connectors work beside their broken sandboxes.
    assert {"raising", "single", "wrong", "twice"} <= {c.name for c in manager.connectors()}
    for name in ("raising", "single", "wrong", "stranger"):
        with pytest.raises(manager.UnknownSandbox):
            manager.sandbox(name)


def test_an_unknown_sandbox_is_refused_with_the_sandboxes_there_are(plugins_folder):
    runner = CliRunner()
    nosuch = runner.invoke(main, ["sandbox", "nosuch"])
    assert nosuch.exit_code == 1
    assert "No installed connector is called 'nosuch' (sandboxes: amazon, ebay, ftp_warehouse, kiosk, kiosk_plain, twice, url_dropship, woocommerce)" in nosuch.output
    none = runner.invoke(main, ["sandbox", "sample"])
    assert none.exit_code == 1 and "The sample connector offers no sandbox (sandboxes: amazon, ebay, ftp_warehouse, kiosk" in none.output
    seeded = runner.invoke(main, ["sandbox", "kiosk_plain", "--seed-orders", "3"])
    assert seeded.exit_code == 1 and "The kiosk_plain sandbox takes no --seed-orders" in seeded.output
    for given, refusal in [("greeting", "--set 'greeting': give NAME=VALUE"),
                           ("colour=red", "The kiosk sandbox has no option 'colour' (its options: seed_orders, greeting)"),
                           ("seed_orders=[1]", "The kiosk sandbox refused its options")]:  # fmt: skip
        refused = runner.invoke(main, ["sandbox", "kiosk", "--set", given])
        assert refused.exit_code == 1 and refusal in refused.output, refused.output


def test_a_sandbox_takes_its_own_options_from_the_command_line(tmp_path):
    """``--set NAME=VALUE`` reaches the sandbox's create_app: the FTP warehouse on a chosen port, with TLS."""
    ftp_port = free_port()
    with sandbox_command("ftp_warehouse", "--set", f"ftp_port={ftp_port}", "--set", "tls=true",
                         "--set", "username=depot", log=tmp_path / "sandbox.log") as running:  # fmt: skip
        banner = running.log.read_text()
    assert f"FTP on 127.0.0.1:{ftp_port}, user 'depot'" in banner, banner
    assert "explicit TLS" in banner, banner


def test_the_sandbox_command_serves_a_sandbox_found_through_the_hook(plugins_folder, tmp_path):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(plugins_folder), os.environ.get("PYTHONPATH", "")])}
    with sandbox_command("kiosk", "--seed-orders", "2", log=tmp_path / "sandbox.log", env=env) as running:
        assert running.state == {"orders": ["K-0", "K-1"], "faults": []}
    assert f"Kiosk sandbox (hello)\nkiosk sandbox on {running.url}" in running.log.read_text()

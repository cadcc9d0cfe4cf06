"""The plugin reference's examples (docs/plugins.md) work: the channel example is a connector that
keeps its contract, the sandbox example an emulator on the sandbox base; and the reference
documents every plugin hook and every hook of every kind."""

from __future__ import annotations

import re
from pathlib import Path

import httpx

from orderdeck.plugins import hookspecs
from orderdeck.plugins.connectors import KINDS, hooks, problems
from orderdeck.plugins.sandbox import problems as sandbox_problems
from tests.plugins.support import serve

REFERENCE = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"


def test_the_channel_example_is_a_connector_that_keeps_its_contract():
    text = REFERENCE.read_text()
    section = text.split("## Channel connectors", 1)[1].split("## Fulfilment connectors", 1)[0]
    code = "\n".join(re.findall(r"```python\n(.*?)```", section, re.S))
    namespace: dict = {}
    exec(compile(code, str(REFERENCE), "exec"), namespace)  # the blocks, in order, as one module
    assert problems(namespace["MyShop"]()) == []


def test_every_hook_of_every_kind_is_documented():
    text = REFERENCE.read_text()
    for base in KINDS.values():
        for hook in hooks(base).values():
            assert re.search(rf"^### `(async )?{hook.name}\(", text, re.M), (base.__name__, hook.name)


def test_every_plugin_hook_is_documented():
    text = REFERENCE.read_text()
    specs = [name for name in vars(hookspecs) if name.startswith("orderdeck_")]
    assert specs == ["orderdeck_register_connectors", "orderdeck_register_sandboxes"]
    for name in specs:
        assert re.search(rf"^### `{name}\(\)`", text, re.M), name


def test_the_sandbox_example_is_an_emulator_on_the_base():
    section = REFERENCE.read_text().split("### The sandbox base", 1)[1].split("### The channel contract suite", 1)[0]
    namespace: dict = {}
    exec(compile("\n".join(re.findall(r"```python\n(.*?)```", section, re.S)), str(REFERENCE), "exec"), namespace)
    assert sandbox_problems(namespace["SANDBOX"]) == []
    with serve(namespace["SANDBOX"].create_app(seed_orders=2, token="t0ken")) as running:
        api = httpx.Client(base_url=running.url, headers={"Authorization": "Bearer t0ken"}, timeout=10)
        assert [o["number"] for o in api.get("/orders").json()["orders"]] == ["S-1000", "S-1001"]
        refused = httpx.get(f"{running.url}/orders", headers={"Authorization": "Bearer nope"})
        assert refused.json() == {"error": {"code": "invalid_token", "message": "Unknown API token"}}
        assert httpx.post(f"{running.url}/__sandbox/orders", json={"number": "S-2000"}).status_code == 201
        httpx.post(f"{running.url}/__sandbox/faults", json={"kind": "rate_limit", "retry_after": 2})
        limited = api.get("/orders")
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "2"
        assert len(api.get("/orders").json()["orders"]) == 3
        assert [r["status"] for r in httpx.get(f"{running.url}/__sandbox/requests").json()] == [200, 401, 429, 200]
        api.close()

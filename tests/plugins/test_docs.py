"""The plugin reference's channel example (docs/plugins.md) is a connector that keeps its contract,
and the reference documents every hook of every kind."""

from __future__ import annotations

import re
from pathlib import Path

from orderdeck.plugins.connectors import KINDS, hooks, problems

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

"""The README's set-up commands are the ones CI runs."""

import re
import tomllib
from pathlib import Path

from orderdeck.config import Settings
from orderdeck.plugins import manager
from orderdeck.plugins.connectors import ConnectorKind

ROOT = Path(__file__).resolve().parents[1]


def readme_commands() -> list[str]:
    """The commands of the README's "Get started" section, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Get started", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"```(?:sh|bash)\n(.+?)\n```", section, re.S)


def test_ci_runs_exactly_the_readme_test_command():
    commands = readme_commands()
    assert len(commands) == 2, commands
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == commands[1], f"CI runs {ci[-1]!r}, the README says {commands[1]!r}"



def test_the_configuration_table_lists_every_setting_and_only_those():
    text = (ROOT / "README.md").read_text()
    table = text.split("## Configuration", 1)[1].split("\nCommands:", 1)[0]
    documented = set(re.findall(r"`(ORDERDECK_[A-Z_]+)`", table))
    settings = {f"ORDERDECK_{name.upper()}" for name in Settings.model_fields}
    assert documented == settings, {"undocumented": settings - documented, "not settings": documented - settings}


def test_the_connectors_named_as_available_today_are_the_built_in_ones():
    """The README names the built-in channel and fulfilment connectors (those orderdeck's own
    plugins, registered in pyproject.toml, provide)."""
    text = (ROOT / "README.md").read_text()
    built_in = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["orderdeck"])
    loaded = manager.loaded()
    for kind, label in ((ConnectorKind.CHANNEL, "Channels"), (ConnectorKind.FULFILMENT_CENTRE, "Fulfilment connectors")):
        [named] = re.findall(rf"\*\*{label} today:\s+([^*]+)\*\*", text)
        ours = {c.name for c in manager.connectors(kind) if loaded.origins[c.name] in built_in}
        assert set(re.findall(r"`([a-z_]+)`", named)) == ours, (label, named, ours)

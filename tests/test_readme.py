"""The README's set-up commands are the ones CI runs."""

import re
import tomllib
from pathlib import Path

from orderdeck.config import Settings

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


def test_the_channels_named_as_available_today_are_the_installed_plugins():
    text = (ROOT / "README.md").read_text()
    [named] = re.findall(r"\*\*Channels today: ([^*]+)\*\*", text)
    plugins = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["orderdeck"]
    assert {name.strip().lower() for name in named.split(",")} == set(plugins)

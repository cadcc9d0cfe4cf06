"""Loading plugins (built-in and third-party alike, from the entry-point group "orderdeck"), checking
their connectors against their kind's contract and their sandboxes, and finding either by name.

A plugin that cannot be loaded, implements hooks orderdeck does not know, or whose connectors or
sandboxes break their contract is reported by name (``problems()``: logged at start-up, listed by
``orderdeck plugins``), never as a crash later: what is wrong is left out and the rest works.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import EntryPoint, entry_points
from typing import TypeVar

import pluggy

from orderdeck.plugins import hookspecs
from orderdeck.plugins.connectors import (
    ChannelConnector,
    Connector,
    ConnectorKind,
    FulfilmentConnector,
    problems as contract_problems,
)
from orderdeck.plugins.sandbox import Sandbox, problems as sandbox_problems

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT
C = TypeVar("C", bound=Connector)


class UnknownConnector(LookupError):
    """No installed connector of the kind asked for has this name."""

    def __init__(self, name: str, kind: ConnectorKind, installed: list[str]) -> None:
        super().__init__(name)
        self.name, self.kind, self.installed = name, kind, installed

    def __str__(self) -> str:
        kind = self.kind.value.lower().replace("_", " ")
        return f"No {kind} connector named {self.name} is installed (installed: {', '.join(self.installed) or 'none'})"


class UnknownSandbox(LookupError):
    """No installed plugin offers a sandbox of this name."""

    def __init__(self, name: str, connectors: list[str], sandboxes: list[str]) -> None:
        super().__init__(name)
        self.name, self.connectors, self.sandboxes = name, connectors, sandboxes

    def __str__(self) -> str:
        offered = f"sandboxes: {', '.join(self.sandboxes) or 'none'}"
        if self.name in self.connectors:
            return f"The {self.name} connector offers no sandbox ({offered})"
        return f"No installed connector is called {self.name!r} ({offered})"


@dataclass(frozen=True)
class PluginProblem:
    """Something wrong with an installed plugin (or one of its connectors), by name."""

    plugin: str
    message: str
    connector: str = ""

    def __str__(self) -> str:
        where = f"plugin {self.plugin}" + (f", connector {self.connector}" if self.connector else "")
        return f"{where}: {self.message}"


@dataclass
class Plugins:
    """What loading found: the connectors that keep their contract, by name; the plugin each came
    from (its entry-point name); each loaded plugin's distribution; the sandboxes, by the name of
    the connector they emulate; and every problem."""

    connectors: dict[str, Connector] = field(default_factory=dict)
    origins: dict[str, str] = field(default_factory=dict)
    sandboxes: dict[str, Sandbox] = field(default_factory=dict)
    distributions: dict[str, str] = field(default_factory=dict)
    problems: list[PluginProblem] = field(default_factory=list)


@cache
def loaded() -> Plugins:
    """The process's plugins, loaded once (``reset()`` forgets them)."""
    found = Plugins()
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    # orderdeck's own plugins first, then the others by name: a name two connectors claim stays
    # with the one loaded first, so an installed package never shadows a built-in connector.
    points = sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda p: (_distribution(p) != "orderdeck", p.name))
    for point in points:
        if manager.has_plugin(point.name):
            continue  # the same distribution seen twice on sys.path
        try:
            module = point.load()
            manager.register(module, name=point.name)
        except Exception as exc:  # an import error, or hooks pluggy refuses
            found.problems.append(PluginProblem(point.name, f"cannot be loaded ({point.value}): "
                                                            f"{type(exc).__name__}: {exc}"))  # fmt: skip
            continue
        found.distributions[point.name] = _distribution(point)
    _unknown_hooks(manager, found)
    for impl in manager.hook.orderdeck_register_connectors.get_hookimpls():
        _register(impl.plugin_name, impl.function, found)
    for impl in manager.hook.orderdeck_register_sandboxes.get_hookimpls():
        _register_sandboxes(impl.plugin_name, impl.function, found)
    for name in found.distributions.keys() - set(found.origins.values()) - {p.plugin for p in found.problems}:
        found.problems.append(PluginProblem(name, "provides no connectors (implement orderdeck_register_connectors)"))
    return found


def _distribution(point: EntryPoint) -> str:
    """The name of the distribution that installed an entry point ("" if unknown)."""
    return point.dist.name if point.dist else ""


def _unknown_hooks(manager: pluggy.PluginManager, found: Plugins) -> None:
    """Report hooks a plugin implements that orderdeck does not define (a typo, or a hook of an
    older orderdeck)."""
    for name, caller in vars(manager.hook).items():
        if isinstance(caller, pluggy.HookCaller) and not caller.has_spec():
            for impl in caller.get_hookimpls():
                found.problems.append(PluginProblem(impl.plugin_name, f"implements {name}, which orderdeck does not "
                                                                      "define (see the README's plugin reference)"))  # fmt: skip


def _returned(plugin: str, register: object, what: str, found: Plugins) -> list[object]:
    """What ``plugin``'s ``orderdeck_register_<what>`` hook returns, as a list (empty, and the
    problem reported, when it fails or returns something else)."""
    try:
        returned = register()  # type: ignore[operator]
        if isinstance(returned, Iterable) and not isinstance(returned, str):
            return list(returned)
    except Exception as exc:
        found.problems.append(PluginProblem(plugin, f"orderdeck_register_{what} failed: {type(exc).__name__}: {exc}"))
        return []
    found.problems.append(PluginProblem(plugin, f"orderdeck_register_{what} must return a list of {what}"))
    return []


def _register(plugin: str, register: object, found: Plugins) -> None:
    """Add the connectors ``plugin``'s register hook returns, each checked against its contract."""
    for connector in _returned(plugin, register, "connectors", found):
        name = getattr(connector, "name", None)
        label = name if isinstance(name, str) else type(connector).__name__
        wrong = contract_problems(connector)
        if not wrong and name in found.connectors:
            wrong = [f"the name {name} is taken by plugin {found.origins[name]}'s connector"]
        if wrong:
            found.problems.extend(PluginProblem(plugin, message, label) for message in wrong)
            continue
        found.connectors[name] = connector
        found.origins[name] = plugin


def _register_sandboxes(plugin: str, register: object, found: Plugins) -> None:
    """Add the sandboxes ``plugin`` offers, each checked and named after one of its connectors."""
    for sandbox in _returned(plugin, register, "sandboxes", found):
        name = getattr(sandbox, "name", None)
        label = name if isinstance(name, str) else type(sandbox).__name__
        wrong = sandbox_problems(sandbox)
        if not wrong and found.origins.get(name) != plugin:
            wrong = [f"names no connector of plugin {plugin} (a sandbox is named after the connector it emulates)"]
        if not wrong and name in found.sandboxes:
            wrong = ["is offered twice"]
        if wrong:
            found.problems.extend(PluginProblem(plugin, f"sandbox {label}: {message}") for message in wrong)
            continue
        found.sandboxes[name] = sandbox  # type: ignore[index]


def problems() -> list[PluginProblem]:
    """Everything wrong with the installed plugins."""
    return loaded().problems


def report_problems() -> None:
    """Log each plugin problem (at start-up)."""
    for problem in problems():
        log.warning("%s", problem)


def connectors(kind: ConnectorKind | None = None) -> list[Connector]:
    """The installed connectors (of ``kind``), by name."""
    found = loaded().connectors
    return [found[name] for name in sorted(found) if kind is None or found[name].kind == kind]


def connector(name: str, base: type[C]) -> C:
    """The installed connector called ``name``, of the kind whose base class is ``base``
    (UnknownConnector if there is none)."""
    found = loaded().connectors.get(name)
    if not isinstance(found, base):
        raise UnknownConnector(name, base.kind, [c.name for c in connectors(base.kind)])
    return found


def channel_connector(name: str) -> ChannelConnector:
    """The installed channel connector called ``name``."""
    return connector(name, ChannelConnector)


def fulfilment_connector(name: str) -> FulfilmentConnector:
    """The installed fulfilment connector called ``name``."""
    return connector(name, FulfilmentConnector)


def sandboxes() -> list[Sandbox]:
    """The sandboxes installed plugins offer, by name."""
    found = loaded().sandboxes
    return [found[name] for name in sorted(found)]


def sandbox(name: str) -> Sandbox:
    """The sandbox of the connector called ``name`` (UnknownSandbox if no plugin offers one)."""
    found = loaded().sandboxes.get(name)
    if found is None:
        raise UnknownSandbox(name, sorted(loaded().connectors), [s.name for s in sandboxes()])
    return found


def reset() -> None:
    """Forget loaded plugins (tests that install plugins call this)."""
    loaded.cache_clear()

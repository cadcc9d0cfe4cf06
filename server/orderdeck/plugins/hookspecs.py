"""The contract between orderdeck and its plugins (pluggy hook specifications).

A plugin is a Python package registering a module under the entry-point group "orderdeck":

    [project.entry-points.orderdeck]
    my_plugin = "my_package.plugin"

and implementing, in that module, the hooks below with ``@hookimpl``. A plugin provides
connectors (``orderdeck.plugins.connectors``): orderdeck calls a connector's hooks only for the
connections configured with it. It may offer sandboxes (``orderdeck.plugins.sandbox``):
emulators of its partners' APIs, for tests, the demo and ``orderdeck sandbox NAME``. Hooks never
touch orderdeck's database; they raise the errors of ``orderdeck.plugins.errors``.
docs/plugins.md documents each hook with an example.
"""

from __future__ import annotations

import pluggy

from orderdeck.plugins.connectors import Connector
from orderdeck.plugins.sandbox import Sandbox

PROJECT = "orderdeck"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Mark a plugin function as the implementation of the hook of the same name."""


@hookspec
def orderdeck_register_connectors() -> list[Connector]:
    """The connectors this plugin provides (instances of ChannelConnector, FulfilmentConnector...),
    checked against their kind's contract when plugins load."""


@hookspec
def orderdeck_register_sandboxes() -> list[Sandbox]:
    """The sandboxes this plugin offers (``Sandbox(name, title, create_app, description)``), each
    named after one of its connectors, whose partner it emulates; checked when plugins load."""

"""The contract between orderdeck and its plugins (pluggy hook specifications).

A plugin is a Python package registering a module under the entry-point group "orderdeck":

    [project.entry-points.orderdeck]
    my_plugin = "my_package.plugin"

and implementing, in that module, the hooks below with ``@hookimpl``. A plugin provides
connectors (``orderdeck.plugins.connectors``): orderdeck calls a connector's hooks only for the
connections configured with it. Hooks never touch orderdeck's database; they raise the errors of
``orderdeck.plugins.errors``. The README's plugin reference documents each hook with an example.
"""

from __future__ import annotations

import pluggy

from orderdeck.plugins.connectors import Connector

PROJECT = "orderdeck"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Mark a plugin function as the implementation of the hook of the same name."""


@hookspec
def orderdeck_register_connectors() -> list[Connector]:
    """The connectors this plugin provides (instances of ChannelConnector, FulfilmentConnector...),
    checked against their kind's contract when plugins load."""

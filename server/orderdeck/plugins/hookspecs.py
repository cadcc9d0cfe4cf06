"""The contract between orderdeck and its plugins (pluggy hook specifications).

Plugins are Python packages that register a module under the entry-point group "orderdeck":

    [project.entry-points.orderdeck]
    my_channel = "my_package.plugin"

and implement hooks marked with ``orderdeck.plugins.hookspecs.hookimpl``. The channel and
fulfilment-centre hooks are specified here as they are built (issue 3 onwards); a plugin
implementing none is still loaded and listed.
"""

from __future__ import annotations

import pluggy

PROJECT = "orderdeck"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Mark a plugin function as the implementation of the hook of the same name."""

from orderdeck.plugins.dto import PluginInfo  # noqa: E402 - after the markers, which plugins import


@hookspec
def orderdeck_plugin_info() -> PluginInfo:
    """Describe this plugin: its unique name, title, kind and version."""

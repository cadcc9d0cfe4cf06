"""Loading plugins: built-in and third-party ones alike, from the entry-point group "orderdeck"."""

from __future__ import annotations

from functools import cache

import pluggy

from orderdeck.plugins import hookspecs
from orderdeck.plugins.dto import PluginInfo

ENTRY_POINT_GROUP = hookspecs.PROJECT


@cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, with every installed plugin registered."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    manager.check_pending()
    return manager


def installed_plugins() -> list[PluginInfo]:
    """What each registered plugin says of itself, by name."""
    return sorted(get_plugin_manager().hook.orderdeck_plugin_info(), key=lambda info: info.name)

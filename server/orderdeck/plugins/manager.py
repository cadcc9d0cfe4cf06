"""Loading plugins (built-in and third-party alike, from the entry-point group "orderdeck") and
calling a channel plugin's hooks for its own channels only."""

from __future__ import annotations

from functools import cache
from types import SimpleNamespace
from typing import Any

import pluggy

from orderdeck.plugins import hookspecs
from orderdeck.plugins.dto import PluginInfo

ENTRY_POINT_GROUP = hookspecs.PROJECT
CHANNEL_HOOKS = (
    "orderdeck_test_connection",
    "orderdeck_download_orders",
    "orderdeck_map_status",
    "orderdeck_push_stock",
    "orderdeck_send_dispatches",
)


class UnknownPlugin(LookupError):
    """No installed plugin has this name."""


@cache
def get_plugin_manager() -> pluggy.PluginManager:
    """The process's plugin manager, with every installed plugin registered."""
    manager = pluggy.PluginManager(hookspecs.PROJECT)
    manager.add_hookspecs(hookspecs)
    manager.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    manager.check_pending()
    return manager


def _plugins_by_name() -> dict[str, tuple[object, PluginInfo]]:
    manager = get_plugin_manager()
    found = {}
    for plugin in manager.get_plugins():
        impl = getattr(plugin, "orderdeck_plugin_info", None)
        if impl is not None:
            info = impl()
            found[info.name] = (plugin, info)
    return found


def installed_plugins() -> list[PluginInfo]:
    """What each registered plugin says of itself, by name."""
    return [info for _, info in sorted(_plugins_by_name().values(), key=lambda pair: pair[1].name)]


def plugin_info(name: str) -> PluginInfo:
    """The description of the plugin called ``name``."""
    try:
        return _plugins_by_name()[name][1]
    except KeyError:
        raise UnknownPlugin(name) from None


@cache
def channel_hooks(name: str) -> Any:
    """The channel hooks of the plugin called ``name`` (and of no other plugin), as attributes:
    ``channel_hooks("woocommerce").orderdeck_download_orders(channel=..., cursor=..., page_size=...)``.
    """
    plugins = _plugins_by_name()
    if name not in plugins:
        raise UnknownPlugin(name)
    others = [plugin for other, (plugin, _) in plugins.items() if other != name]
    manager = get_plugin_manager()
    return SimpleNamespace(**{hook: manager.subset_hook_caller(hook, remove_plugins=others) for hook in CHANNEL_HOOKS})


def reset() -> None:
    """Forget loaded plugins (tests that install or register plugins call this)."""
    get_plugin_manager.cache_clear()
    channel_hooks.cache_clear()

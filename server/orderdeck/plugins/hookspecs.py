"""The contract between orderdeck and its plugins (pluggy hook specifications).

A plugin is a Python package registering a module under the entry-point group "orderdeck":

    [project.entry-points.orderdeck]
    my_channel = "my_package.plugin"

and implementing, in that module, the hooks below with ``@hookimpl``. Every plugin implements
``orderdeck_plugin_info``. A channel plugin implements the channel hooks: orderdeck calls them only
for channels configured with that plugin (a plugin never sees another plugin's channels), with a
``ChannelContext`` carrying the channel's settings. Hooks are async where they do I/O. They raise
the errors of ``orderdeck.plugins.errors``; they never touch orderdeck's database.
"""

from __future__ import annotations

import pluggy

from orderdeck.plugins.dto import (
    ChannelContext,
    ChannelOrder,
    ConnectionResult,
    DispatchNote,
    ItemResult,
    OrderPage,
    PluginInfo,
    StatusMapping,
    StockUpdate,
)

PROJECT = "orderdeck"

hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)
"""Mark a plugin function as the implementation of the hook of the same name."""


@hookspec
def orderdeck_plugin_info() -> PluginInfo:
    """Describe this plugin: its unique name, title, kind, order source and settings model."""


@hookspec(firstresult=True)
async def orderdeck_test_connection(channel: ChannelContext) -> ConnectionResult:
    """Check the channel's credentials and reachability with one cheap call."""


@hookspec(firstresult=True)
async def orderdeck_download_orders(channel: ChannelContext, cursor: str | None, page_size: int) -> OrderPage:
    """Download one page of orders changed since ``cursor`` (None: the first download).

    Return at most ``page_size`` orders and the cursor to continue from. Ask the channel for the
    statuses orderdeck may download (paid or payment pending, not shipped) and for those that tell
    it of changes to orders it already has (shipped or cancelled elsewhere); never for statuses
    that mean nothing to it. orderdeck maps each status and skips what it must (logging each
    skip). Raise PartnerUnreadable for a page that cannot be read at all (retried: it may be a
    proxy's error page); put single unreadable orders in OrderPage.rejected.
    """


@hookspec(firstresult=True)
def orderdeck_map_status(channel: ChannelContext, order: ChannelOrder) -> StatusMapping:
    """What the channel's status of ``order`` means: paid, already shipped, cancelled.

    A channel's own status overrides (configured in orderdeck) are applied before this is called.
    """


@hookspec(firstresult=True)
async def orderdeck_push_stock(channel: ChannelContext, updates: list[StockUpdate]) -> list[ItemResult]:
    """Publish quantities (at most PluginInfo.stock_batch_size at once); one result per update.

    A failed result is an item the channel refused (it waits for a change). When the call as a
    whole fails, raise: PartnerUnavailable, PartnerUnreadable or PartnerRateLimited and the whole
    batch is sent again with backoff; PartnerAuthError or PartnerDataError and it waits."""


@hookspec(firstresult=True)
async def orderdeck_send_dispatches(channel: ChannelContext, notes: list[DispatchNote]) -> list[ItemResult]:
    """Tell the channel these orders shipped (at most PluginInfo.dispatch_batch_size); one result
    per note (a failed one is tried again up to 5 times, then waits for retryDispatches). Raise as
    for orderdeck_push_stock when the call as a whole fails."""

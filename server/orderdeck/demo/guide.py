"""What the demo tells the person watching it: a line per happening, and the guide printed at start."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import click

from orderdeck.config import get_settings
from orderdeck.demo.shops import Address, DemoShop

if TYPE_CHECKING:
    from orderdeck.demo.centres import DemoCentre
from orderdeck.demo.catalogue import DEMO_DATABASE_URL

def say(message: str) -> None:
    """A line on the console for the person watching the demo."""
    click.echo(f"demo: {message}")


EXAMPLES = {
    "The newest open orders": (
        "{ openOrders(first: 10, sort: NUMBER_DESC) { totalCount nodes { id number reference subsource "
        "allocation items { sku quantity } } } }"
    ),
    "Process one (use an id from above); the shop shows it completed, with the tracking number": (
        'mutation { processOrders(input: [{orderId: "ORDER_ID", trackingNumber: "TRK-1001", '
        'shippingVendor: "Royal Mail"}]) { orders { number state dispatch { state trackingNumber } } '
        "failures { message code } errors { message } } }"
    ),
    "What the syncs did (downloads, stock pushes, dispatches)": (
        "{ syncRuns(first: 10) { nodes { channel { name } kind outcome downloaded pushed dispatched error "
        "startedAt } } }"
    ),
    "Orders at the fulfilment centres (exported, shipped by the centre, or in error)": (
        "{ orders(first: 10, filter: {fulfilmentState: EXPORTED}) { nodes { number reference fulfilmentState "
        "exportedAt exportFile labelError fulfilmentMessage location { name } } } }"
    ),
    "What the centres did (exports, status and stock imports)": (
        "{ fulfilmentConnections { name connector locations { name } runs(limit: 5) { kind outcome exported "
        "imported error } } }"
    ),
    "The levels pushed to each shop": (
        "{ listings(first: 12) { nodes { channel { name } channelSku lastSubmittedQuantity submitStatus "
        "stockItem { levels { level allocated available } } } } }"
    ),
}


def guide(shops: list[DemoShop], address: Address, centres: Sequence[DemoCentre] = ()) -> str:
    """What the user can do now, printed once the demo is set up."""
    database = get_settings().database_url
    lines = [
        "",
        "  orderdeck demo: two WooCommerce sandbox shops take orders every few seconds; orderdeck",
        "  downloads them, reserves the stock, pushes the new levels to both shops and, once you",
        "  process an order, sends the dispatch back to its shop. Some orders go to a fulfilment",
        "  warehouse (over FTP) or a drop shipper (over HTTP), which ship them a few seconds later:",
        "  they come back processed with the centre's tracking number, all the way to the shop.",
        "",
        f"  GraphiQL   {address.base_url}/graphql  (in a browser; in its Headers pane put",
        '             {"Authorization": "Bearer <token>"})',
        "  Token      the admin token printed above on this database's first start (another one:",
        f"             ORDERDECK_DATABASE_URL={database} orderdeck token create --name NAME)",
    ]
    for n, shop in enumerate(shops):
        lines.append(f"  {'Shops' if n == 0 else '':<10} {shop.spec.name}: {shop.url}/  (its state, as JSON)")
    for n, centre in enumerate(centres):
        lines.append(f"  {'Centres' if n == 0 else '':<10} {centre.spec.name}: {centre.url}/  (its state, as JSON)")
    if database == DEMO_DATABASE_URL:
        lines.append(f"  Database   {database.removeprefix('sqlite://')} (delete it and its .key file to start afresh)")
    lines += ["", "  Try (in GraphiQL, or with curl and the token):"]
    for title, query in EXAMPLES.items():
        lines += [f"    {title}:", f"      {query}"]
    return "\n".join([*lines, ""])

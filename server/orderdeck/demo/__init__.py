"""``orderdeck serve --demo``: orderdeck with two WooCommerce sandbox shops taking orders.

Everything runs in the one ``orderdeck serve`` process, on the embedded default's in-process jobs:

- Two emulated WooCommerce shops (the sandbox the plugin offers for the connector DEMO_CONNECTOR,
  found through the plugin manager by name), "Demo Shop North" and "Demo Shop South", mounted into the app under ``/demo/north/`` and
  ``/demo/south/``. Mounted rather than served on ports of their own because that is the simplest
  thing that cannot go wrong: one port to choose (``--port``) and nothing else to bind or find free,
  the shops start and stop with the server, and a restart on another port only moves them along.
  orderdeck still reaches them over loopback HTTP through the WooCommerce plugin, like any shop.
  The cost: on shutdown uvicorn stops listening before the app stops its jobs, so a sync running
  at that instant cannot reach its shop and fails (logged; the next start syncs again).
  A shop keeps its state in memory: it starts empty on every start (orderdeck keeps its orders).
- On start, what is missing is made, so a restart duplicates nothing: the SKUs of PRODUCTS as
  stock items with a level at the default location; a channel per shop (the sandbox's credentials,
  stock offered from the default location); a listing of every SKU on both channels. A channel
  whose shop moved (another --port) is pointed at its new address, and every listing is pushed
  again (the new shop knows no levels yet).
- Then, for as long as the server runs, a few random orders go into a random shop every few
  seconds (through the shop's control API, ``POST /__sandbox/orders``) and both channels are
  asked to download (``services.work.request_sync``) a few seconds later: a channel's own
  schedule is at least 60 seconds apart, too slow to watch. Stock running low gets a delivery.

The demo keeps to its own SQLite file (DEMO_DATABASE_URL) unless ORDERDECK_DATABASE_URL is set,
and refuses a broker (ORDERDECK_BROKER_URL): its jobs must run in this process.
"""

from orderdeck.demo.app import create_app, demo_app
from orderdeck.demo.catalogue import PRODUCTS, SHOPS
from orderdeck.demo.guide import EXAMPLES

__all__ = ["EXAMPLES", "PRODUCTS", "SHOPS", "create_app", "demo_app"]

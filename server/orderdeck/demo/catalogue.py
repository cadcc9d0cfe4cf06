"""What the demo sells and where: its products, its two shops, and its settings."""

from __future__ import annotations

from dataclasses import dataclass

from orderdeck.models import ActorKind
from orderdeck.services.context import Actor

DEMO_DATABASE_URL = "sqlite://orderdeck-demo.sqlite3"
"""The demo's own database (a file in the working folder), unless ORDERDECK_DATABASE_URL is set."""
DEMO_CONNECTOR = "woocommerce"
"""The connector the demo shows: its channels are configured with it, its shops are its sandbox."""
DEMO_ACTOR = Actor("demo", ActorKind.SYSTEM)
"""The actor recorded for what the demo sets up and restocks."""

SETTLE_SECONDS = 3.5
"""Wait between placing orders and downloading them: the WooCommerce plugin leaves orders changed
in the shop's last second (by its Date header, itself up to a second behind) for the next download."""
PAUSE_SECONDS = (3.0, 7.0)
"""Random pause between two rounds of new orders."""
LOW_STOCK = 3
"""A delivery arrives for a demo SKU whose available stock falls below this."""
DELIVERY = 30
"""Units a delivery adds."""


@dataclass(frozen=True)
class Product:
    """A SKU both shops sell, and the level it starts with."""

    sku: str
    title: str
    price: str
    level: int


PRODUCTS = (
    Product("MUG-ENAMEL-BLUE", "Enamel camping mug, blue", "9.50", 40),
    Product("MUG-ENAMEL-WHITE", "Enamel camping mug, white", "9.50", 30),
    Product("TEE-ORGANIC-M", "Organic cotton T-shirt, medium", "18.00", 25),
    Product("TOTE-CANVAS", "Canvas tote bag, natural", "12.00", 35),
    Product("CANDLE-FIG", "Soy wax candle, fig and cassis", "16.50", 20),
    Product("NOTEBOOK-A5", "Dot-grid notebook, A5", "7.95", 60),
)


@dataclass(frozen=True)
class ShopSpec:
    """One demo shop: its channel's name, where it is mounted, its order numbers and API key."""

    name: str
    slug: str
    prefix: str
    consumer_key: str
    consumer_secret: str


SHOPS = (
    ShopSpec("Demo Shop North", "north", "NORTH", "ck_demo_north", "cs_demo_north_secret"),
    ShopSpec("Demo Shop South", "south", "SOUTH", "ck_demo_south", "cs_demo_south_secret"),
)
FIRST_ORDER_NUMBER = 1001

"""Shared arrangements and GraphQL documents of the orders API tests (this module holds no tests).

Stock and locations are arranged through the services; everything under test goes through GraphQL.
"""

from __future__ import annotations

import base64
import uuid
from typing import Any

from orderdeck.graphql.common import encode_id
from orderdeck.models import Location, StockItem
from orderdeck.services import locations, stock
from orderdeck.services.context import Actor
from tests.services.helpers import levels_of

ORDER_FIELDS = """
    id number source subsource reference secondaryReference externalReference status state
    parked locked onHold labelPrinted invoicePrinted receivedAt despatchByAt paidAt processedAt cancelledAt
    buyerName email
    shippingAddress { fullName company address1 address2 address3 town region postcode country phone }
    billingAddress { fullName town postcode country }
    shipping { service vendor trackingNumber totalWeight postage }
    totals { subtotal postage discount tax total currency paymentMethod }
    location { id name }
    items { id sku channelSku itemNumber title quantity unitPrice discount taxRate tax lineTotal linked
            stockItem { sku } stockLevel { level allocated available } }
    tags
    notes { id text internal author }
    extendedProperties { name value type }
    dispatch { state carrier service trackingNumber attempts lastError sentAt }
    returns { id reason restock createdBy location { name } items { quantity orderItem { sku } } }
    originalOrder { number }
    resends { number status }
    allocation
"""

BATCH_FIELDS = f"""
    orders {{ {ORDER_FIELDS} }}
    failures {{ orderId number message code }}
    errors {{ field message code }}
"""

CREATE_ORDER = f"""
mutation($input: OrderInput!) {{
  createOrder(input: $input) {{ order {{ {ORDER_FIELDS} }} errors {{ field message code }} }}
}}"""


def gid(type_name: str, value: uuid.UUID | str) -> str:
    """A global id."""
    return encode_id(type_name, value)


def raw_id(global_id: str) -> uuid.UUID:
    """The UUID inside a global id."""
    return uuid.UUID(base64.b64decode(global_id).decode().partition(":")[2])


async def stock_up(actor: Actor, location: Location, **levels: int) -> None:
    """Stock items named by SKU, each with the given level at ``location`` (created if missing)."""
    for sku, level in levels.items():
        if not await StockItem.filter(sku=sku).exists():
            await stock.create_stock_item({"sku": sku, "title": f"Item {sku}", "weight": "0.5"}, actor)
        if level:
            await stock.set_stock_levels({"levels": [{"sku": sku, "location_id": location.id, "quantity": level}]}, actor)


async def second_location(actor: Actor, name: str = "Warehouse 2") -> Location:
    """A second, non-default location."""
    return await locations.create_location(name, actor)


async def levels(sku: str, location: Location) -> tuple[int, int]:
    """(level, allocated) of an item at a location, read from the table."""
    return await levels_of(sku, location.id)


async def create_order(client: Any, **fields: Any) -> dict[str, Any]:
    """Create an order through GraphQL (lines given as items=[{sku, quantity, ...}]); return it."""
    data = await client.gql(CREATE_ORDER, {"input": fields})
    assert data["createOrder"]["errors"] == [], data["createOrder"]["errors"]
    return data["createOrder"]["order"]


def fields_of(errors: list[dict[str, Any]]) -> list[tuple[str | None, str]]:
    """(field, code) of each user error."""
    return [(e["field"], e["code"]) for e in errors]

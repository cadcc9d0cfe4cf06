"""GraphQL types of stock items and levels."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from orderdeck import models
from orderdeck.graphql.audit.types import ActorKind, audit_trail_field
from orderdeck.graphql.batched import batched_field, by
from orderdeck.graphql.common import Node, encode_id
from orderdeck.graphql.locations.loaders import location_by_id
from orderdeck.graphql.locations.types import Location
from orderdeck.graphql.stock.loaders import levels_by_item, stock_item_by_id

StockChangeReason = strawberry.enum(
    models.StockChangeReason, name="StockChangeReason", description="Why a stock level or allocation changed."
)


@strawberry.type(description="A product kept in stock, identified by its SKU.")
class StockItem(Node):
    sku: str
    title: str
    barcode: str | None
    weight: Decimal
    unit_price: Decimal
    created_at: datetime
    updated_at: datetime

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("StockItem", self.id))  # type: ignore[arg-type]

    levels = batched_field(
        "list[StockLevel]", levels_by_item, key=by("id"),
        description="Stock of this item at each location that has a level for it.",
    )  # fmt: skip

    audit_trail = audit_trail_field("stock item")

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, (models.StockItem, cls))


@strawberry.type(
    description="Stock of one item at one location: level (physical), allocated (held by open, "
    "unlocked orders) and available = level - allocated (negative when orders exceed stock)."
)
class StockLevel:
    level: int
    allocated: int
    minimum_level: int
    updated_at: datetime

    @strawberry.field(description="Identifies this level (for client caches; not refetchable with `node`).")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("StockLevel", self.id))  # type: ignore[arg-type]

    @strawberry.field
    def available(self) -> int:
        return self.level - self.allocated

    @strawberry.field(description="Whether available stock is below the minimum level.")
    def below_minimum(self) -> bool:
        return self.level - self.allocated < self.minimum_level

    location = batched_field(Location, location_by_id, key=by("location_id"))
    item = batched_field(StockItem, stock_item_by_id, key=by("item_id"))


@strawberry.type(
    description="One change to the level and/or allocation of an item at a location, with the values "
    "before and after, why it happened and who made it. Newest first in `stockLedger`."
)
class StockLedgerEntry:
    reason: StockChangeReason
    level_before: int
    level_after: int
    allocated_before: int
    allocated_after: int
    order_number: int | None = strawberry.field(description="The order involved, if any.")
    note: str
    actor: str
    actor_kind: ActorKind
    created_at: datetime

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("StockLedgerEntry", self.id))  # type: ignore[arg-type]

    @strawberry.field(description="levelAfter - levelBefore.")
    def level_change(self) -> int:
        return self.level_after - self.level_before

    @strawberry.field(description="allocatedAfter - allocatedBefore.")
    def allocated_change(self) -> int:
        return self.allocated_after - self.allocated_before

    item = batched_field(StockItem, stock_item_by_id, key=by("item_id"))
    location = batched_field(
        Location | None, location_by_id, key=by("location_id"),
        description="The location; null once the location has been deleted.",
    )  # fmt: skip

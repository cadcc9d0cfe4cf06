"""Stock: items, their levels per location, and the ledger of every change to a level."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from enum import Enum
from functools import reduce
from operator import or_

from tortoise import fields
from tortoise.expressions import Q
from tortoise.models import Model
from tortoise.queryset import QuerySet

from orderdeck.models.base import MONEY, WEIGHT, ActorKind


class StockItem(Model):
    """A product kept in stock, identified by its unique SKU."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    sku = fields.CharField(max_length=100, unique=True)
    title = fields.CharField(max_length=255)
    barcode = fields.CharField(max_length=64, null=True, db_index=True)
    weight = fields.DecimalField(**WEIGHT, default=0, db_default=0)
    unit_price = fields.DecimalField(**MONEY, default=0, db_default=0)
    # The item's SKU at the fulfilment centres, when theirs differs ("": the same SKU).
    fulfilment_sku = fields.CharField(max_length=100, default="", db_default="", db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "stock_item"
        ordering = ["sku"]


class StockLevel(Model):
    """Stock of one item at one location.

    level is what is physically there, allocated is what open, unlocked orders at the
    location hold, and available = level - allocated (it may go negative: orders are accepted
    even when stock is short, and shown as insufficient).
    """

    id = fields.BigIntField(primary_key=True)
    item = fields.ForeignKeyField("models.StockItem", related_name="levels", on_delete=fields.CASCADE)
    location = fields.ForeignKeyField(
        "models.Location", related_name="stock_levels", on_delete=fields.RESTRICT, db_index=True
    )
    level = fields.IntField(default=0, db_default=0)
    allocated = fields.IntField(default=0, db_default=0)
    minimum_level = fields.IntField(default=0, db_default=0)
    # The coverage frontier (see orderdeck.services.allocation): when allocated > level, the last
    # allocation in the (received_at, order_number) queue that the level still covers (None: none),
    # and the quantity of the queue up to it (0 without a frontier).
    covered_through_received_at = fields.DatetimeField(null=True)
    covered_through_number = fields.BigIntField(null=True)
    covered_quantity = fields.IntField(default=0, db_default=0)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "stock_level"
        unique_together = (("item", "location"),)

    @property
    def available(self) -> int:
        """Physical level less what open orders hold."""
        return self.level - self.allocated

    @classmethod
    def for_keys(cls, keys: Iterable[tuple[uuid.UUID, uuid.UUID]]) -> QuerySet[StockLevel]:
        """The levels of exactly these (item id, location id) pairs.

        One condition per location (item IN ...), so the SQL stays flat however many pairs there
        are (a condition per pair nests, and Tortoise compiles it recursively).
        """
        items_at: dict[uuid.UUID, set[uuid.UUID]] = {}
        for item_id, location_id in keys:
            items_at.setdefault(location_id, set()).add(item_id)
        if not items_at:
            return cls.filter(id__in=[])
        return cls.filter(
            reduce(or_, (Q(location_id=loc, item_id__in=list(items)) for loc, items in items_at.items()))
        )


class Allocation(Model):
    """What one open, unlocked order holds of one item at its location: the FIFO queue's entries.

    Kept by orderdeck.services.stock.apply_stock_changes from the allocation deltas it applies, so
    a level's allocated is always the sum of its allocations' quantities. The order's received_at
    and number are copied here (they never change) so the queue of a key is read from one index.
    order_id is a plain value: the row is written before a new order's own row.
    """

    id = fields.BigIntField(primary_key=True)
    order_id = fields.UUIDField()
    item_id = fields.UUIDField()
    location_id = fields.UUIDField()
    received_at = fields.DatetimeField()
    order_number = fields.BigIntField()
    quantity = fields.IntField()

    class Meta:
        table = "allocation"
        unique_together = (("order_id", "item_id", "location_id"),)
        indexes = [("item_id", "location_id", "received_at", "order_number")]  # each key's queue, in order


class StockChangeReason(str, Enum):
    """Why a stock level or allocation changed (one per ledger row)."""

    ORDER_CREATED = "ORDER_CREATED"
    ORDER_EDITED = "ORDER_EDITED"
    ORDER_MOVED = "ORDER_MOVED"
    ORDER_LOCKED = "ORDER_LOCKED"
    ORDER_UNLOCKED = "ORDER_UNLOCKED"
    ORDER_PROCESSED = "ORDER_PROCESSED"
    ORDER_CANCELLED = "ORDER_CANCELLED"
    ORDER_DELETED = "ORDER_DELETED"
    ITEM_LINKED = "ITEM_LINKED"
    RETURN_RESTOCKED = "RETURN_RESTOCKED"
    LEVEL_SET = "LEVEL_SET"
    LEVEL_ADJUSTED = "LEVEL_ADJUSTED"
    FULFILMENT_STOCK = "FULFILMENT_STOCK"


class StockLedgerEntry(Model):
    """One change to a stock level or its allocation, with before/after and who did it."""

    id = fields.BigIntField(primary_key=True)
    item = fields.ForeignKeyField("models.StockItem", related_name="ledger", on_delete=fields.CASCADE, db_index=True)
    # A plain value, so the history outlives a deleted location.
    location_id = fields.UUIDField(db_index=True)
    reason = fields.CharEnumField(StockChangeReason, max_length=32)
    level_before = fields.IntField()
    level_after = fields.IntField()
    allocated_before = fields.IntField()
    allocated_after = fields.IntField()
    # The order involved, kept as a plain value so the ledger outlives deleted orders.
    order_id = fields.UUIDField(null=True, db_index=True)
    order_number = fields.BigIntField(null=True)
    note = fields.CharField(max_length=500, default="", db_default="")
    actor = fields.CharField(max_length=100)
    actor_kind = fields.CharEnumField(ActorKind, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "stock_ledger"
        ordering = ["-id"]

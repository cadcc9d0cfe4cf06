"""Orders: the order, its lines, notes, tags, extended properties, returns and dispatches."""

from __future__ import annotations

import uuid
from enum import Enum

from tortoise import fields
from tortoise.models import Model

from orderdeck.models.base import MONEY, WEIGHT, money


class OrderStatus(str, Enum):
    """Payment/kind status, as in Linnworks (0 UNPAID, 1 PAID, 2 RETURN, 3 PENDING, 4 RESEND)."""

    UNPAID = "UNPAID"
    PAID = "PAID"
    RETURN = "RETURN"
    PENDING = "PENDING"
    RESEND = "RESEND"


class OrderState(str, Enum):
    """Where the order is in its life: open (in Open Orders), processed (shipped) or cancelled."""

    OPEN = "OPEN"
    PROCESSED = "PROCESSED"
    CANCELLED = "CANCELLED"


class FulfilmentState(str, Enum):
    """Where an order allocated to a fulfilment centre is with the centre.

    EXPORTED: handed over (the lock-in: it cannot be moved, edited, cancelled or processed by hand);
    ERROR: the centre reported an error (still locked in; fulfilment_message says what);
    SHIPPED: the centre shipped it (the order is processed); CANCELLED: the centre cancelled it
    (the lock-in ended: the order is open and movable again, and not exported again unless moved).
    BY_CHANNEL: the order's channel fulfils it itself (Amazon FBA): held at the channel's
    fulfilment location (locked and parked, holding no stock: the channel's own inventory counts
    it), never exported, processed when the channel reports it shipped (SHIPPED).
    """

    EXPORTED = "EXPORTED"
    ERROR = "ERROR"
    SHIPPED = "SHIPPED"
    CANCELLED = "CANCELLED"
    BY_CHANNEL = "BY_CHANNEL"


LOCKED_IN = (FulfilmentState.EXPORTED, FulfilmentState.ERROR, FulfilmentState.BY_CHANNEL)
"""The fulfilment states in which the centre holds the order."""


class Source:
    """Well-known order sources (channels add their own, e.g. EBAY, AMAZON)."""

    DIRECT = "DIRECT"
    DATA_IMPORT = "DATAIMPORTEXPORT"


def _address_fields(prefix: str) -> dict[str, fields.Field]:
    names = {
        "full_name": 200, "company": 200, "address1": 255, "address2": 255, "address3": 255,
        "town": 100, "region": 100, "postcode": 32, "country": 64, "phone": 64,
    }  # fmt: skip
    return {
        f"{prefix}_{name}": fields.CharField(max_length=size, default="", db_default="")
        for name, size in names.items()
    }


ADDRESS_FIELDS = (
    "full_name", "company", "address1", "address2", "address3",
    "town", "region", "postcode", "country", "phone",
)  # fmt: skip


class Order(Model):
    """A customer order, open until processed or cancelled.

    Uniqueness of a channel order is (source, subsource, reference). number is the human,
    sequential order number users quote, and id is its stable identifier.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    number = fields.BigIntField(unique=True)
    source = fields.CharField(max_length=50, db_index=True)
    subsource = fields.CharField(max_length=100, default="", db_default="")
    reference = fields.CharField(max_length=100, null=True, db_index=True)
    secondary_reference = fields.CharField(max_length=100, null=True, db_index=True)
    external_reference = fields.CharField(max_length=100, null=True, db_index=True)

    status = fields.CharEnumField(OrderStatus, max_length=16, default=OrderStatus.PAID)
    state = fields.CharEnumField(OrderState, max_length=16, default=OrderState.OPEN, db_index=True)
    parked = fields.BooleanField(default=False, db_default=False)
    locked = fields.BooleanField(default=False, db_default=False)
    on_hold = fields.BooleanField(default=False, db_default=False)
    label_printed = fields.BooleanField(default=False, db_default=False)
    invoice_printed = fields.BooleanField(default=False, db_default=False)

    location = fields.ForeignKeyField(
        "models.Location", related_name="orders", on_delete=fields.RESTRICT, db_index=True
    )
    # At a fulfilment centre's location (see FulfilmentState): the export (when and in which file;
    # a failed export's error is label_error, tried again from export_next_at) and the centre's
    # last words on it. export_claimed_at is set while an export job hands it over.
    fulfilment_state = fields.CharEnumField(FulfilmentState, max_length=16, null=True)
    exported_at = fields.DatetimeField(null=True)
    export_file = fields.CharField(max_length=255, default="", db_default="")
    label_error = fields.CharField(max_length=1000, default="", db_default="")
    export_attempts = fields.IntField(default=0, db_default=0)
    export_next_at = fields.DatetimeField(null=True)
    export_claimed_at = fields.DatetimeField(null=True)
    fulfilment_message = fields.CharField(max_length=1000, default="", db_default="")
    # The channel the order was downloaded from (None: direct, imported or resent).
    channel = fields.ForeignKeyField("models.Channel", related_name="orders", null=True, on_delete=fields.RESTRICT)
    # Cancelled on the channel after it was downloaded: flagged for the seller to act on.
    channel_cancelled = fields.BooleanField(default=False, db_default=False)
    # For resends (status RESEND): the processed order this one re-ships.
    original_order = fields.ForeignKeyField(
        "models.Order", related_name="resends", null=True, on_delete=fields.RESTRICT, db_index=True
    )

    received_at = fields.DatetimeField(db_index=True)
    despatch_by_at = fields.DatetimeField(null=True)
    paid_at = fields.DatetimeField(null=True)
    processed_at = fields.DatetimeField(null=True, db_index=True)
    cancelled_at = fields.DatetimeField(null=True)

    buyer_name = fields.CharField(max_length=200, default="", db_default="")
    email = fields.CharField(max_length=254, default="", db_default="")
    locals().update(_address_fields("shipping"))
    locals().update(_address_fields("billing"))

    shipping_service = fields.CharField(max_length=100, default="", db_default="")
    shipping_vendor = fields.CharField(max_length=100, default="", db_default="")
    tracking_number = fields.CharField(max_length=100, default="", db_default="")
    total_weight = fields.DecimalField(**WEIGHT, default=0, db_default=0)

    subtotal = money()
    postage = money()
    discount = money()
    tax = money()
    total = money()
    currency = fields.CharField(max_length=3, default="GBP", db_default="GBP")
    payment_method = fields.CharField(max_length=50, default="", db_default="")

    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "orders"
        unique_together = (("source", "subsource", "reference"), ("channel", "reference"))
        ordering = ["number"]
        # A page of each list the orders query offers reads about a page: the common filters
        # (state, location, status) lead, the sort key follows (tests/graphql/test_orders_plans.py).
        # Partial indexes for parked, locked and on hold orders are in migration 0006.
        indexes = [
            ("state", "number"), ("state", "location_id", "number"), ("state", "status", "number"),
            ("state", "source", "subsource", "number"), ("state", "received_at", "number"),
            ("state", "despatch_by_at", "number"), ("state", "processed_at", "number"),
        ]  # fmt: skip

    @property
    def holds_stock(self) -> bool:
        """Whether this order's linked lines count towards allocated at its location."""
        return self.state == OrderState.OPEN and not self.locked


class OrderItem(Model):
    """One line of an order. stock_item is null for an unlinked line (no stock effect)."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    order = fields.ForeignKeyField("models.Order", related_name="items", on_delete=fields.CASCADE, db_index=True)
    stock_item = fields.ForeignKeyField(
        "models.StockItem", related_name="order_items", null=True, on_delete=fields.RESTRICT, db_index=True
    )
    position = fields.IntField(default=0)
    sku = fields.CharField(max_length=100)
    channel_sku = fields.CharField(max_length=100, default="", db_default="")
    item_number = fields.CharField(max_length=100, default="", db_default="")
    title = fields.CharField(max_length=255, default="", db_default="")
    quantity = fields.IntField()
    unit_price = fields.DecimalField(**MONEY, default=0, db_default=0)
    discount = money()
    tax_rate = fields.DecimalField(max_digits=6, decimal_places=3, default=0, db_default=0)
    tax = money()
    line_total = money()

    class Meta:
        table = "order_item"
        ordering = ["position"]


class OrderNote(Model):
    """A note on an order. Internal notes are for the seller's staff only."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    order = fields.ForeignKeyField("models.Order", related_name="notes", on_delete=fields.CASCADE, db_index=True)
    text = fields.CharField(max_length=2000)
    internal = fields.BooleanField(default=True, db_default=True)
    author = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "order_note"
        ordering = ["created_at"]


TAGGED_ORDER_KEYS = {
    "number": "order_number", "state": "order_state", "received_at": "order_received_at",
    "despatch_by_at": "order_despatch_by_at", "processed_at": "order_processed_at",
}  # fmt: skip
"""The order's columns a tag carries a copy of (order column: tag column)."""


class OrderTag(Model):
    """A tag on an order (free text, e.g. priority or gift).

    A tag carries a copy of its order's state and sort keys (TAGGED_ORDER_KEYS), so that a page of
    the orders with a tag, in any sort, is read from this table's indexes: about a page, however
    many orders have carried the tag. The writes that change those columns of an order copy them
    (services.orders.common.copy_keys_to_tags); the tests check they agree after racing writes
    (tests/services/test_concurrency.py) and that a tagged list pages as the whole list does.
    """

    id = fields.BigIntField(primary_key=True)
    order = fields.ForeignKeyField("models.Order", related_name="tags", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=50)
    order_number = fields.BigIntField()
    order_state = fields.CharEnumField(OrderState, max_length=16)
    order_received_at = fields.DatetimeField()
    order_despatch_by_at = fields.DatetimeField(null=True)
    order_processed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "order_tag"
        unique_together = (("order", "name"),)
        ordering = ["name"]
        # The tag leads, then (as on orders) the state and the sort key.
        indexes = [
            ("name", "order_number"), ("name", "order_state", "order_number"),
            ("name", "order_state", "order_received_at", "order_number"),
            ("name", "order_state", "order_despatch_by_at", "order_number"),
            ("name", "order_state", "order_processed_at", "order_number"),
        ]  # fmt: skip


class OrderProperty(Model):
    """An extended property: a named, typed value a channel or user attaches to an order."""

    id = fields.BigIntField(primary_key=True)
    order = fields.ForeignKeyField(
        "models.Order", related_name="properties", on_delete=fields.CASCADE
    )
    name = fields.CharField(max_length=100)
    value = fields.CharField(max_length=1000, default="", db_default="")
    type = fields.CharField(max_length=50, default="Info", db_default="Info")

    class Meta:
        table = "order_property"
        unique_together = (("order", "name"),)
        ordering = ["name"]


class OrderReturn(Model):
    """Items returned from a processed order, optionally restocked at a location."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    order = fields.ForeignKeyField("models.Order", related_name="returns", on_delete=fields.RESTRICT, db_index=True)
    reason = fields.CharField(max_length=500)
    restock = fields.BooleanField()
    location = fields.ForeignKeyField(
        "models.Location", related_name="returns", null=True, on_delete=fields.RESTRICT
    )
    created_by = fields.CharField(max_length=100)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "order_return"
        ordering = ["created_at"]


class OrderReturnItem(Model):
    """A quantity of one order line in a return."""

    id = fields.BigIntField(primary_key=True)
    order_return = fields.ForeignKeyField(
        "models.OrderReturn", related_name="items", on_delete=fields.CASCADE, db_index=True
    )
    order_item = fields.ForeignKeyField(
        "models.OrderItem", related_name="returned", on_delete=fields.RESTRICT, db_index=True
    )
    quantity = fields.IntField()

    class Meta:
        table = "order_return_item"


class DispatchState(str, Enum):
    """Whether the channel has been told an order shipped."""

    PENDING = "PENDING"
    SENT = "SENT"
    FAILED = "FAILED"
    NOT_REQUIRED = "NOT_REQUIRED"


class Dispatch(Model):
    """The dispatch note (carrier, tracking) owed to the order's channel once it is processed.

    Recorded in the same transaction as processing (the outbox), and the dispatch job sends it.
    Orders with no channel to tell (direct, imported) are recorded as NOT_REQUIRED. claimed_at is
    set while a dispatch job sends it (a claim older than the job's timeout is taken over); after
    a refused attempt, the next waits until next_attempt_at. Once SENT, the channel's follow-up
    (if on) is made once: followed_up_at says when, follow_up_error why the channel refused it.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    order = fields.OneToOneField("models.Order", related_name="dispatch", on_delete=fields.CASCADE)
    state = fields.CharEnumField(DispatchState, max_length=16, db_index=True)
    carrier = fields.CharField(max_length=100, default="", db_default="")
    service = fields.CharField(max_length=100, default="", db_default="")
    tracking_number = fields.CharField(max_length=100, default="", db_default="")
    attempts = fields.IntField(default=0, db_default=0)
    last_error = fields.TextField(null=True)
    claimed_at = fields.DatetimeField(null=True)
    next_attempt_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    sent_at = fields.DatetimeField(null=True)
    followed_up_at = fields.DatetimeField(null=True)
    follow_up_error = fields.TextField(null=True)

    class Meta:
        table = "dispatch"
        indexes = (("followed_up_at", "sent_at"),)  # the follow-ups due: not yet made, sent long enough ago


class DeletedOrder(Model):
    """What is left of an order a user deleted: its identity, references, who, when, why, and a
    snapshot of the whole order, so "where did my order go" can be answered."""

    id = fields.UUIDField(primary_key=True)
    number = fields.BigIntField(db_index=True)
    source = fields.CharField(max_length=50)
    subsource = fields.CharField(max_length=100, default="")
    reference = fields.CharField(max_length=100, null=True, db_index=True)
    secondary_reference = fields.CharField(max_length=100, null=True, db_index=True)
    external_reference = fields.CharField(max_length=100, null=True, db_index=True)
    reason = fields.CharField(max_length=500)
    deleted_by = fields.CharField(max_length=100)
    deleted_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    snapshot = fields.JSONField()

    class Meta:
        table = "deleted_order"
        ordering = ["-deleted_at"]


class Counter(Model):
    """A named, monotonically increasing counter (e.g. the next human order number)."""

    name = fields.CharField(max_length=50, primary_key=True)
    value = fields.BigIntField(default=0)

    class Meta:
        table = "counter"

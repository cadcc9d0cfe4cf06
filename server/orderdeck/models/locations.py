"""Locations: warehouses and fulfilment centres that hold stock and open orders."""

from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.models import Model

DEFAULT_FILE_PATTERN = "orders-{location}-{first}-{last}-{batch}.csv"
"""An export file's name: {location} (the location's name, made safe for a file name), {first}
and {last} (the batch's lowest and highest order numbers), {count} (its orders) and {batch} (a
digest of its orders' ids). The same orders give the same name."""


class Location(Model):
    """A place stock is kept and orders are shipped from. Exactly one is the default.

    A location served by a fulfilment connection is a fulfilment centre (or drop shipper): its open
    orders are exported to it, under export_columns (each {"source", "name", "default"}; empty: the
    connector's default columns) in files named by export_file_pattern, and the centre reports
    their statuses and the location's stock levels. deduct_stock_when_processed: whether an order
    the centre ships takes its stock off this location's levels (a drop shipper's stock is often
    not counted here).
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    name = fields.CharField(max_length=100, unique=True)
    is_default = fields.BooleanField(default=False, db_default=False)
    fulfilment_connection = fields.ForeignKeyField(
        "models.Connection", related_name="fulfilment_locations", null=True, on_delete=fields.RESTRICT, db_index=True
    )
    deduct_stock_when_processed = fields.BooleanField(default=True, db_default=True)
    export_columns = fields.JSONField(default=list)
    export_file_pattern = fields.CharField(max_length=200, default=DEFAULT_FILE_PATTERN, db_default=DEFAULT_FILE_PATTERN)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "location"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

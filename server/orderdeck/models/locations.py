"""Locations: warehouses (and later fulfilment centres) that hold stock and open orders."""

from __future__ import annotations

import uuid

from tortoise import fields
from tortoise.models import Model


class Location(Model):
    """A place stock is kept and orders are shipped from. Exactly one is the default."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    name = fields.CharField(max_length=100, unique=True)
    is_default = fields.BooleanField(default=False, db_default=False)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "location"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

"""GraphQL types of locations."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry

from orderdeck import models
from orderdeck.graphql.audit.types import audit_trail_field
from orderdeck.graphql.batched import batched_field, by
from orderdeck.graphql.common import Node, encode_id
from orderdeck.graphql.locations.loaders import open_order_count_by_location


@strawberry.type(description="A warehouse or other place that holds stock and ships orders.")
class Location(Node):
    name: str
    is_default: bool
    created_at: datetime

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Location", self.id))  # type: ignore[arg-type]

    open_order_count = batched_field(
        int, open_order_count_by_location, key=by("id"), description="How many open orders are at this location."
    )

    audit_trail = audit_trail_field("location")

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, (models.Location, cls))

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


@strawberry.type(description="An export file's column: the order or line field it takes, its header, its default.")
class ExportColumn:
    source: str = strawberry.field(description="The field: number, reference, address.postcode, sku, fulfilment_sku, quantity...")
    name: str = strawberry.field(description="Its header in the file (empty: the field's name).")
    default: str = strawberry.field(description="What is written when the field is empty.")


@strawberry.type(
    description="A warehouse or other place that holds stock and ships orders. A location served by a fulfilment "
    "connection is a fulfilment centre (or drop shipper): its open orders are exported to it."
)
class Location(Node):
    name: str
    is_default: bool
    created_at: datetime
    deduct_stock_when_processed: bool = strawberry.field(
        description="Fulfilment centres: whether an order the centre ships takes its stock off this location's levels."
    )
    export_file_pattern: str = strawberry.field(
        description="Fulfilment centres: the export file's name; {location}, {first}, {last}, {count}, {batch}."
    )

    @strawberry.field(description="Fulfilment centres: the export file's columns (empty: the connector's default ones).")
    def export_columns(self) -> list[ExportColumn]:
        return [ExportColumn(**column) for column in self.export_columns]  # type: ignore[attr-defined]

    @strawberry.field(description="The global id of the fulfilment connection serving it; null for an ordinary warehouse.")
    def fulfilment_connection_id(self) -> strawberry.ID | None:
        value = self.fulfilment_connection_id  # type: ignore[attr-defined]
        return strawberry.ID(encode_id("FulfilmentConnection", value)) if value else None

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

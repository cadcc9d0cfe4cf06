"""GraphQL input types of the stock area, and their translation into what the stock services take."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import strawberry

from orderdeck.graphql.common import Patch, UserError, decode_id
from orderdeck.graphql.stock.types import StockChangeReason
from orderdeck.services.context import MAX_BATCH
from orderdeck.services.errors import ErrorCode, FieldError, ServiceError

# --- filters -------------------------------------------------------------------------------------


@strawberry.input(description="Which stock items to list. All conditions must hold.")
class StockItemFilter:
    search: str | None = strawberry.field(
        default=None, description="Part of the SKU, title or barcode (case-insensitive)."
    )
    location_id: strawberry.ID | None = strawberry.field(
        default=None,
        description="Only items with a stock level at this location; with belowMinimum, only items below "
        "their minimum level here.",
    )
    below_minimum: bool | None = strawberry.field(
        default=None,
        description="When true, only items whose available stock is below their minimum level at the "
        "location given (at any location when none is given). False or absent: no condition.",
    )


@strawberry.input(description="Which stock ledger entries to list. All conditions must hold.")
class StockLedgerFilter:
    sku: str | None = strawberry.field(default=None, description="The item's SKU (exact).")
    item_id: strawberry.ID | None = None
    location_id: strawberry.ID | None = None
    reason: StockChangeReason | None = None
    order_number: int | None = None
    from_: datetime | None = strawberry.field(default=None, name="from", description="Made at or after this time.")
    to: datetime | None = strawberry.field(default=None, description="Made at or before this time.")


# --- stock items -----------------------------------------------------------------------------------


@strawberry.input(description="A new stock item. Fields left out (or null) take their default.")
class CreateStockItemInput:
    sku: str = strawberry.field(description="Unique, 1 to 100 characters.")
    title: str
    barcode: str | None = strawberry.field(default=strawberry.UNSET, description="Default: none.")
    weight: Decimal | None = strawberry.field(default=strawberry.UNSET, description="Default 0.")
    unit_price: Decimal | None = strawberry.field(default=strawberry.UNSET, description="Default 0.")


@strawberry.input(
    description="Changes to a stock item: fields left out stay as they are; null clears the barcode (the other "
    "fields cannot be null)."
)
class UpdateStockItemInput(Patch):
    sku: str | None = strawberry.UNSET
    title: str | None = strawberry.UNSET
    barcode: str | None = strawberry.UNSET
    weight: Decimal | None = strawberry.UNSET
    unit_price: Decimal | None = strawberry.UNSET


# --- stock levels ----------------------------------------------------------------------------------


@strawberry.input(description="The physical level to record for an item at a location (a stock count).")
class StockLevelSetInput:
    sku: str
    location_id: strawberry.ID
    level: int = strawberry.field(description="The new level; not negative.")


@strawberry.input(description="Stock to add (positive) or remove (negative) for an item at a location.")
class StockLevelChangeInput:
    sku: str
    location_id: strawberry.ID
    change: int = strawberry.field(description="The difference; the resulting level may not be negative.")


@strawberry.input(description=f"Absolute stock levels, at most {MAX_BATCH} rows, each SKU and location once.")
class SetStockLevelsInput:
    levels: list[StockLevelSetInput]
    reason: str = strawberry.field(default="", description="Why (kept in the ledger and audit trail).")


@strawberry.input(description=f"Stock level changes, at most {MAX_BATCH} rows, each SKU and location once.")
class AdjustStockLevelsInput:
    levels: list[StockLevelChangeInput]
    reason: str = strawberry.field(default="", description="Why (kept in the ledger and audit trail).")


def level_rows(rows: list[StockLevelSetInput] | list[StockLevelChangeInput], quantity: str) -> list[dict[str, Any]]:
    """The rows as the stock services take them, with location ids decoded.

    ``quantity`` names the input's number field (``level`` or ``change``). Refuses more than
    MAX_BATCH rows before looking at any of them, and names every malformed location id.
    """
    if len(rows) > MAX_BATCH:
        raise ServiceError.one(f"Give at most {MAX_BATCH} levels", "levels", ErrorCode.TOO_MANY)
    errors: list[FieldError] = []
    decoded = []
    for n, row in enumerate(rows):
        try:
            location_id = decode_id(row.location_id, "Location", f"levels.{n}.locationId")
        except ServiceError as exc:
            errors += exc.errors
            continue
        decoded.append({"sku": row.sku, "location_id": location_id, "quantity": getattr(row, quantity)})
    if errors:
        raise ServiceError(errors)
    return decoded


def renamed(errors: list[UserError], rename: Callable[[str], str]) -> list[UserError]:
    """User errors with their field paths translated from the service's names to the API's."""
    for error in errors:
        if error.field is not None:
            error.field = rename(error.field)
    return errors

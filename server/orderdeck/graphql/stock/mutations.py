"""GraphQL mutations of the stock area: stock items, levels and minimum levels.

Each mutation parses its input, calls one stock service and shapes the result; refusals come back
as user errors naming the input field, and nothing is changed.
"""

from __future__ import annotations

from collections.abc import Callable

import strawberry

from orderdeck import models
from orderdeck.graphql.common import UserError, attempt, decode_id, given
from orderdeck.graphql.context import Info
from orderdeck.graphql.permissions import MANAGE_STOCK
from orderdeck.graphql.stock.inputs import (
    AdjustStockLevelsInput,
    CreateStockItemInput,
    SetStockLevelsInput,
    UpdateStockItemInput,
    level_rows,
    renamed,
)
from orderdeck.graphql.stock.types import StockItem, StockLevel
from orderdeck.services import stock


@strawberry.type
class StockItemPayload:
    stock_item: StockItem | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class StockLevelsPayload:
    levels: list[StockLevel] = strawberry.field(
        default_factory=list, description="The levels written, in input order."
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class MinimumLevelPayload:
    level: StockLevel | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=MANAGE_STOCK, description="Create a stock item with a unique SKU.")
    async def create_stock_item(self, info: Info, input: CreateStockItemInput) -> StockItemPayload:
        item, errors = await attempt(lambda: stock.create_stock_item(given(input), info.context.actor))
        return StockItemPayload(stock_item=item, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=MANAGE_STOCK, description="Change a stock item's fields.")
    async def update_stock_item(self, info: Info, id: strawberry.ID, input: UpdateStockItemInput) -> StockItemPayload:
        async def update() -> models.StockItem:
            item_id = decode_id(id, "StockItem", "id")
            return await stock.update_stock_item(item_id, given(input), info.context.actor)

        item, errors = await attempt(update)
        return StockItemPayload(stock_item=item, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_STOCK,
        description="Set absolute stock levels (a stock count). All rows are written, or none.",
    )
    async def set_stock_levels(self, info: Info, input: SetStockLevelsInput) -> StockLevelsPayload:
        async def write() -> list[models.StockLevel]:
            rows = level_rows(input.levels, "level")
            return await stock.set_stock_levels({"levels": rows, "reason": input.reason}, info.context.actor)

        levels, errors = await attempt(write)
        errors = renamed(errors, _quantity_as("level"))
        return StockLevelsPayload(levels=levels or [], errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_STOCK,
        description="Add or remove stock. No level may end below zero. All rows are written, or none.",
    )
    async def adjust_stock_levels(self, info: Info, input: AdjustStockLevelsInput) -> StockLevelsPayload:
        async def write() -> list[models.StockLevel]:
            rows = level_rows(input.levels, "change")
            return await stock.adjust_stock_levels({"levels": rows, "reason": input.reason}, info.context.actor)

        levels, errors = await attempt(write)
        errors = renamed(errors, _quantity_as("change"))
        return StockLevelsPayload(levels=levels or [], errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_STOCK,
        description="Set the level below which an item counts as low at a location.",
    )
    async def set_minimum_level(
        self, info: Info, sku: str, location_id: strawberry.ID, minimum_level: int
    ) -> MinimumLevelPayload:
        async def write() -> models.StockLevel:
            location = decode_id(location_id, "Location", "locationId")
            return await stock.set_minimum_level(sku, location, minimum_level, info.context.actor)

        level, errors = await attempt(write)
        return MinimumLevelPayload(level=level, errors=errors)  # type: ignore[arg-type]


def _quantity_as(name: str) -> Callable[[str], str]:
    """The services call each row's number ``quantity``; the API calls it ``level`` or ``change``."""

    def rename(field: str) -> str:
        head, dot, last = field.rpartition(".")
        return f"{head}.{name}" if dot and last == "quantity" else field

    return rename

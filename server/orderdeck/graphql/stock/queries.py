"""GraphQL queries of the stock area: items, levels and the stock ledger."""

from __future__ import annotations

import strawberry
from tortoise.expressions import F, Q, Subquery
from tortoise.queryset import QuerySet

from orderdeck import models
from orderdeck.graphql.arguments import ExactlyOne, checked
from orderdeck.graphql.common import date_range, query_id
from orderdeck.graphql.pagination import Connection, paginate
from orderdeck.graphql.permissions import READ
from orderdeck.graphql.stock.inputs import StockItemFilter, StockLedgerFilter
from orderdeck.graphql.stock.types import StockItem, StockLedgerEntry, StockLevel


def _below_minimum(levels: QuerySet[models.StockLevel]) -> QuerySet[models.StockLevel]:
    """Levels whose available stock (level - allocated) is below their minimum level."""
    return levels.filter(level__lt=F("allocated") + F("minimum_level"))


def stock_items(where: StockItemFilter | None) -> QuerySet[models.StockItem]:
    """The stock items matching a filter."""
    items = models.StockItem.all()
    if where is None:
        return items
    if where.search:
        text = where.search.strip()
        items = items.filter(Q(sku__icontains=text) | Q(title__icontains=text) | Q(barcode__icontains=text))
    levels = None
    if where.location_id is not None:
        levels = models.StockLevel.filter(location_id=query_id(where.location_id, "Location", "filter.locationId"))
    if where.below_minimum:
        levels = _below_minimum(levels if levels is not None else models.StockLevel.all())
    if levels is not None:
        items = items.filter(id__in=Subquery(levels.values("item_id")))
    return items


def ledger_entries(where: StockLedgerFilter | None) -> QuerySet[models.StockLedgerEntry]:
    """The stock ledger entries matching a filter."""
    entries = models.StockLedgerEntry.all()
    if where is None:
        return entries
    if where.sku is not None:
        entries = entries.filter(item__sku=where.sku)
    if where.item_id is not None:
        entries = entries.filter(item_id=query_id(where.item_id, "StockItem", "filter.itemId"))
    if where.location_id is not None:
        entries = entries.filter(location_id=query_id(where.location_id, "Location", "filter.locationId"))
    if where.reason is not None:
        entries = entries.filter(reason=where.reason)
    if where.order_number is not None:
        entries = entries.filter(order_number=where.order_number)
    return date_range(entries, "created_at", where.from_, where.to, "filter.from", "filter.to")


@strawberry.type
class Query:
    @strawberry.field(permission_classes=READ, description="Stock items by SKU, with cursors.")
    async def stock_items(
        self,
        filter: StockItemFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[StockItem]:
        return await paginate(stock_items(filter), key="sku", first=first, after=after, last=last, before=before)

    @strawberry.field(
        permission_classes=READ,
        description="One stock item, by id or by SKU (give exactly one).",
        metadata=checked(ExactlyOne("id", "sku")),
    )
    async def stock_item(self, id: strawberry.ID | None = None, sku: str | None = None) -> StockItem | None:
        if id is not None:
            return await models.StockItem.get_or_none(id=query_id(id, "StockItem", "id"))  # type: ignore[return-value]
        return await models.StockItem.get_or_none(sku=sku)  # type: ignore[return-value]

    @strawberry.field(permission_classes=READ, description="The stock levels kept at one location.")
    async def stock_levels(
        self,
        location_id: strawberry.ID,
        below_minimum: bool = False,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[StockLevel]:
        levels = models.StockLevel.filter(location_id=query_id(location_id, "Location", "locationId"))
        if below_minimum:
            levels = _below_minimum(levels)
        return await paginate(levels, key="id", first=first, after=after, last=last, before=before)

    @strawberry.field(
        permission_classes=READ, description="Every change to stock levels and allocations, newest first."
    )
    async def stock_ledger(
        self,
        filter: StockLedgerFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[StockLedgerEntry]:
        return await paginate(
            ledger_entries(filter), key="id", first=first, after=after, last=last, before=before, descending=True
        )

"""GraphQL queries of the orders area: one order, filtered lists, search, deleted orders.

Read-only: these go straight to the models. An invalid argument (a malformed id, a reversed date
range, a naive date) is a GraphQL error with a message saying what is wrong.
"""

from __future__ import annotations


import strawberry
from graphql import GraphQLError
from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from orderdeck import models
from orderdeck.config import get_settings
from orderdeck.graphql.arguments import ExactlyOne, IntRange, NotBlank, checked
from orderdeck.graphql.common import date_range, query_id
from orderdeck.graphql.pagination import Connection, bounded_count, paginate
from orderdeck.graphql.orders.inputs import OrderFilter, OrderSort
from orderdeck.graphql.orders.types import DeletedOrder, OpenOrderCount, Order, OrderSearchResult
from orderdeck.graphql.permissions import READ

MAX_SEARCH = 100


def filtered_orders(where: OrderFilter | None, state: models.OrderState | None = None) -> QuerySet:
    """The orders matching ``where`` (and ``state``, when a query presets it)."""
    where = where or OrderFilter()
    if state is not None and where.state is not None and where.state != state:
        raise GraphQLError(f"filter.state: this query lists {state.value} orders only")
    query = models.Order.all()
    exact = {
        "state": state or where.state, "source": where.source, "subsource": where.subsource, "status": where.status,
        "parked": where.parked, "locked": where.locked, "on_hold": where.on_hold,
    }  # fmt: skip
    query = query.filter(**{k: v for k, v in exact.items() if v is not None})
    if where.location_id is not None:
        query = query.filter(location_id=query_id(where.location_id, "Location", "filter.locationId"))
    if where.tag is not None:
        tagged = models.OrderTag.filter(name=where.tag.strip()).values("order_id")
        query = query.filter(id__in=Subquery(tagged))
    query = date_range(query, "received_at", where.received_from, where.received_to,
                       "filter.receivedFrom", "filter.receivedTo")  # fmt: skip
    return date_range(query, "processed_at", where.processed_from, where.processed_to,
                      "filter.processedFrom", "filter.processedTo")  # fmt: skip


async def _page(
    query: QuerySet, sort: OrderSort, first: int | None, after: str | None, last: int | None, before: str | None
) -> Connection[Order]:
    return await paginate(query, key=sort.key, first=first, after=after, last=last, before=before,
                          descending=sort.descending, nullable_first=sort.nullable_first,
                          count=bounded_count(query, get_settings().exact_count_limit))  # fmt: skip


def _matching(query: str) -> Q:
    """Orders (or deleted orders) whose number is ``query`` or whose reference, secondary or
    external reference equals it, ignoring case."""
    text = query.strip()
    match = Q(reference__iexact=text) | Q(secondary_reference__iexact=text) | Q(external_reference__iexact=text)
    if text.isdigit() and len(text) <= 18:
        match |= Q(number=int(text))
    return match


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=READ,
        description="Open orders counted by location and status (one query; pairs with no orders left out).",
    )
    async def open_order_counts(self) -> list[OpenOrderCount]:
        rows = await (
            models.Order.filter(state=models.OrderState.OPEN)
            .annotate(count=Count("id"))
            .group_by("location_id", "status")
            .order_by("location_id", "status")
            .values("location_id", "status", "count")
        )
        return [OpenOrderCount(location_id=r["location_id"], status=r["status"], count=r["count"]) for r in rows]

    @strawberry.field(
        permission_classes=READ,
        description="One order, by id or by number (give exactly one).",
        metadata=checked(ExactlyOne("id", "number")),
    )
    async def order(self, id: strawberry.ID | None = None, number: int | None = None) -> Order | None:
        if id is not None:
            return await models.Order.get_or_none(id=query_id(id, "Order", "id"))  # type: ignore[return-value]
        return await models.Order.get_or_none(number=number)  # type: ignore[return-value]

    @strawberry.field(permission_classes=READ, description="Orders in any state, filtered, a page at a time.")
    async def orders(
        self,
        filter: OrderFilter | None = None,
        sort: OrderSort = OrderSort.NUMBER_ASC,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Order]:
        return await _page(filtered_orders(filter), sort, first, after, last, before)

    @strawberry.field(permission_classes=READ, description="Open orders (orders with filter.state = OPEN).")
    async def open_orders(
        self,
        filter: OrderFilter | None = None,
        sort: OrderSort = OrderSort.NUMBER_ASC,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Order]:
        return await _page(filtered_orders(filter, models.OrderState.OPEN), sort, first, after, last, before)

    @strawberry.field(permission_classes=READ, description="Processed orders (orders with filter.state = PROCESSED).")
    async def processed_orders(
        self,
        filter: OrderFilter | None = None,
        sort: OrderSort = OrderSort.NUMBER_ASC,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Order]:
        return await _page(filtered_orders(filter, models.OrderState.PROCESSED), sort, first, after, last, before)

    @strawberry.field(
        permission_classes=READ,
        description="Find an order by number, or by reference, secondary or external reference (exact, "
        "ignoring case), whether it is open, processed, cancelled or deleted. Newest (highest number) first.",
        metadata=checked(NotBlank("query", "give an order number or reference"), IntRange("limit", 1, MAX_SEARCH)),
    )
    async def search_orders(self, query: str, limit: int = 20) -> list[OrderSearchResult]:
        match = _matching(query)
        live = await models.Order.filter(match).order_by("-number").limit(limit)
        deleted = await models.DeletedOrder.filter(match).order_by("-number").limit(limit)
        found = sorted([*live, *deleted], key=lambda o: o.number, reverse=True)
        return found[:limit]  # type: ignore[return-value]

    @strawberry.field(
        permission_classes=READ,
        description="Orders users deleted, newest (highest number) first; `search` matches the number or a "
        "reference exactly, ignoring case.",
    )
    async def deleted_orders(
        self, first: int | None = None, after: str | None = None, search: str | None = None
    ) -> Connection[DeletedOrder]:
        query = models.DeletedOrder.all()
        if search is not None and search.strip():
            query = query.filter(_matching(search))
        return await paginate(query, key="number", first=first, after=after, descending=True)

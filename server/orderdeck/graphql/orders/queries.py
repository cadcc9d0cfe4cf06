"""GraphQL queries of the orders area: one order, filtered lists, search, deleted orders.

Read-only: these go straight to the models. An invalid argument (a malformed id, a reversed date
range, a naive date) is a GraphQL error with a message saying what is wrong.
"""

from __future__ import annotations


import strawberry
from graphql import GraphQLError
from tortoise.expressions import Q
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
    state = state or where.state
    exact = {
        "source": where.source, "subsource": where.subsource, "status": where.status,
        "parked": where.parked, "locked": where.locked, "on_hold": where.on_hold,
        "fulfilment_state": where.fulfilment_state,
    }  # fmt: skip
    query = models.Order.filter(**{k: v for k, v in exact.items() if v is not None})
    if where.label_error is not None:
        query = query.exclude(label_error="") if where.label_error else query.filter(label_error="")
    if where.location_id is not None:
        query = query.filter(location_id=query_id(where.location_id, "Location", "filter.locationId"))
    if state is not None:
        query = query.filter(state=state)
    if where.tag is not None:  # and the tag's copy of the state, which its indexes lead with (tag_columns)
        query = query.filter(tags__name=where.tag.strip(), **({"tags__order_state": state} if state else {}))
    query = date_range(query, "received_at", where.received_from, where.received_to,
                       "filter.receivedFrom", "filter.receivedTo")  # fmt: skip
    return date_range(query, "processed_at", where.processed_from, where.processed_to,
                      "filter.processedFrom", "filter.processedTo")  # fmt: skip


def counted_orders(where: OrderFilter | None, state: models.OrderState | None = None) -> QuerySet:
    """What the total of a list counts: the orders matching ``where``, or for a tag with at most a
    state, the tags themselves (from order_tag's index alone, however the orders lie)."""
    given = {name for name, value in vars(where or OrderFilter()).items() if value is not None}
    if where is None or where.tag is None or given - {"tag", "state"}:
        return filtered_orders(where, state)
    tags = models.OrderTag.filter(name=where.tag.strip())
    state = state or where.state
    return tags if state is None else tags.filter(order_state=state)


def tag_columns(where: OrderFilter | None) -> dict[str, str]:
    """What a list filtered by ``where`` is sorted by instead of the orders' own keys: with a tag,
    the tag's copy of them (models.TAGGED_ORDER_KEYS), whose indexes read about a page."""
    if where is None or where.tag is None:
        return {}
    return {key: f"tags__{column}" for key, column in models.TAGGED_ORDER_KEYS.items()}


async def _page(
    where: OrderFilter | None,
    state: models.OrderState | None,
    sort: OrderSort,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection[Order]:
    """A page of the orders matching ``where`` (and ``state``) in the order of ``sort``."""
    query = filtered_orders(where, state)
    return await paginate(query, key=sort.key, first=first, after=after, last=last, before=before,
                          descending=sort.descending, nullable_first=sort.nullable_first,
                          count=bounded_count(counted_orders(where, state), get_settings().exact_count_limit),
                          columns=tag_columns(where))  # fmt: skip


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
        return await _page(filter, None, sort, first, after, last, before)

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
        return await _page(filter, models.OrderState.OPEN, sort, first, after, last, before)

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
        return await _page(filter, models.OrderState.PROCESSED, sort, first, after, last, before)

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

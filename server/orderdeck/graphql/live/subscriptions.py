"""The subscriptions: order events, stock level changes and sync progress, live from the hub."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Annotated, TypeVar

import strawberry
from graphql import GraphQLError

from orderdeck import events
from orderdeck.graphql.common import query_ids
from orderdeck.graphql.context import Info
from orderdeck.graphql.live.types import (
    EventId,
    EventsMissed,
    OrderEvent,
    OrderEventFilter,
    OrderEventMessage,
    StockLevelEvent,
    StockLevelFilter,
    StockLevelMessage,
    SyncProgressEvent,
    SyncProgressFilter,
    SyncProgressMessage,
    missed,
    order_event,
    stock_level_event,
    sync_progress_event,
)
from orderdeck.graphql.permissions import READ
from orderdeck.models import EventTopic
from orderdeck.services import auth

T = TypeVar("T")

MAX_FILTER_IDS = 100

AFTER = "Resume after this event id: kept events after it come first (see EventsMissed), then live ones. Null: from now."


def _ids(values: list[strawberry.ID] | None, type_name: str, argument: str) -> set[str] | None:
    """The raw ids of a filter list (None: no filter); a GraphQL error naming each bad one."""
    if values is None:
        return None
    return {str(value) for value in query_ids(values, type_name, argument, MAX_FILTER_IDS)}


def _within(wanted: set[str] | set | None, *values: object) -> bool:
    return wanted is None or any(value in wanted for value in values)


async def _live(
    info: Info, topic: EventTopic, matches: events.Matcher, after: int | None, convert: Callable[[events.Published], T]
) -> AsyncIterator[T | EventsMissed]:
    """The events of ``topic`` that ``matches`` from this process's hub, as GraphQL payloads.

    The socket's token is checked again as each subscription starts (the socket itself is closed
    once its token is found revoked: ``app.OrderdeckGraphQL``)."""
    hub = events.running_hub()
    if hub is None:
        raise GraphQLError("Live events are not served by this process")
    token = info.context.token
    if token is not None and not await auth.still_active(token):
        raise GraphQLError("This API token has been revoked", extensions={"code": "UNAUTHENTICATED"})
    async with hub.subscribe(topic, matches, after) as subscription:
        try:
            async for item in subscription.stream():
                yield missed(item) if isinstance(item, events.Missed) else item.view(convert)
        except events.ResumeError as exc:
            raise GraphQLError(str(exc)) from None


@strawberry.type
class Subscription:
    @strawberry.subscription(permission_classes=READ, description="Changes to orders: created, updated, moved, processed, dispatched, cancelled, deleted...")
    async def order_events(
        self, info: Info, filter: OrderEventFilter | None = None,
        after: Annotated[EventId | None, strawberry.argument(description=AFTER)] = None,
    ) -> AsyncGenerator[OrderEventMessage, None]:  # fmt: skip
        where = filter or OrderEventFilter()
        locations = _ids(where.location_ids, "Location", "filter.locationIds")
        channels = _ids(where.channel_ids, "Channel", "filter.channelIds")
        kinds = None if where.kinds is None else {kind.value for kind in where.kinds}

        def matches(event: events.Published) -> bool:
            d = event.data
            return (_within(kinds, event.kind) and _within(channels, d["channelId"])
                    and _within(locations, d["locationId"], d["previousLocationId"]))  # fmt: skip

        async for message in _live(info, EventTopic.ORDER, matches, after, order_event):
            yield message

    @strawberry.subscription(permission_classes=READ, description="Stock levels after each change (level, allocated, available).")
    async def stock_levels(
        self, info: Info, filter: StockLevelFilter | None = None,
        after: Annotated[EventId | None, strawberry.argument(description=AFTER)] = None,
    ) -> AsyncGenerator[StockLevelMessage, None]:  # fmt: skip
        where = filter or StockLevelFilter()
        items = _ids(where.item_ids, "StockItem", "filter.itemIds")
        locations = _ids(where.location_ids, "Location", "filter.locationIds")

        def matches(event: events.Published) -> bool:
            return _within(items, event.data["itemId"]) and _within(locations, event.data["locationId"])

        async for message in _live(info, EventTopic.STOCK, matches, after, stock_level_event):
            yield message

    @strawberry.subscription(permission_classes=READ, description="Progress of sync runs: started, each page or batch, finished.")
    async def sync_progress(
        self, info: Info, filter: SyncProgressFilter | None = None,
        after: Annotated[EventId | None, strawberry.argument(description=AFTER)] = None,
    ) -> AsyncGenerator[SyncProgressMessage, None]:  # fmt: skip
        where = filter or SyncProgressFilter()
        channels = _ids(where.channel_ids, "Channel", "filter.channelIds")
        runs = _ids(where.run_ids, "SyncRun", "filter.runIds")
        kinds = None if where.kinds is None else {kind.value for kind in where.kinds}

        def matches(event: events.Published) -> bool:
            d = event.data
            return _within(channels, d["channelId"]) and _within(runs, d["runId"]) and _within(kinds, d["kind"])

        async for message in _live(info, EventTopic.SYNC, matches, after, sync_progress_event):
            yield message


__all__ = ["Subscription", "OrderEvent", "StockLevelEvent", "SyncProgressEvent"]

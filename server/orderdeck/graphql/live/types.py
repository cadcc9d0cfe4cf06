"""The typed payloads of the subscriptions, and their filters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, NewType

import strawberry
from graphql import GraphQLError

from orderdeck import events
from orderdeck.graphql.channels.types import SyncKind, SyncOutcome
from orderdeck.graphql.common import encode_id
from orderdeck.graphql.live.execution import Executions, executions
from orderdeck.graphql.orders.types import OrderState, OrderStatus
from orderdeck.models import OrderState as _OrderState
from orderdeck.models import OrderStatus as _OrderStatus
from orderdeck.models import SyncKind as _SyncKind
from orderdeck.models import SyncOutcome as _SyncOutcome
from orderdeck.services.events import OrderEventKind as _OrderEventKind
from orderdeck.services.events import SyncPhase as _SyncPhase

MAX_EVENT_ID = 2**53 - 1


def _parse_event_id(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= MAX_EVENT_ID:
        raise GraphQLError(f"EventId must be a whole number from 0 to {MAX_EVENT_ID}, not {value!r}")
    return value


EventId = NewType("EventId", int)
"""An event's number (the GraphQL scalar EventId, see SCALARS)."""

SCALARS = {
    EventId: strawberry.scalar(
        name="EventId",
        serialize=int,
        parse_value=_parse_event_id,
        description="An event's number: events of every kind are numbered 1, 2, 3... without gaps in the order "
        "they were committed. A subscription gets those of its topic and filter in increasing order (so its ids "
        "skip the others'); any it should have had and did not get are announced by EventsMissed. Resume after the "
        "last one seen with `after`. A JSON number (up to 2^53 - 1).",
    )
}
"""The schema's custom scalars (StrawberryConfig.scalar_map)."""


OrderEventKind = strawberry.enum(_OrderEventKind, name="OrderEventKind", description="What happened to an order.")
SyncPhase = strawberry.enum(_SyncPhase, name="SyncPhase", description="Where a sync run is.")
MissedReason = strawberry.enum(events.MissedReason, name="MissedReason", description="Why events were missed.")


@strawberry.type(description="A change to an order (all the changes to one order in one transaction, by kind).")
class OrderEvent:
    event_id: EventId = strawberry.field(description="The event's number.")
    at: datetime = strawberry.field(description="When the change was committed.")
    kind: OrderEventKind
    changes: list[str] = strawberry.field(description="The audit kinds behind it, e.g. ORDER_CREATED, TAG_ADDED.")
    order_id: strawberry.ID = strawberry.field(description="The order's global id (refetch it for more).")
    number: int = strawberry.field(description="The order's number.")
    reference: str | None = strawberry.field(description="The channel's order number.")
    source: str = strawberry.field(description="Where the order came from, e.g. DIRECT or WOOCOMMERCE.")
    state: OrderState = strawberry.field(description="The order's state after the change.")
    status: OrderStatus = strawberry.field(description="The order's status after the change.")
    location_id: strawberry.ID = strawberry.field(description="The order's location after the change.")
    previous_location_id: strawberry.ID | None = strawberry.field(description="Where a MOVED order was before.")
    channel_id: strawberry.ID | None = strawberry.field(description="The order's channel, if it has one.")
    actor: str = strawberry.field(description="Who made the change (user, token, sync or plugin).")
    executions: Executions = executions()


@strawberry.type(description="An item's stock at a location after a change to its level, allocation or minimum.")
class StockLevelEvent:
    event_id: EventId = strawberry.field(description="The event's number.")
    at: datetime = strawberry.field(description="When the change was committed.")
    item_id: strawberry.ID = strawberry.field(description="The stock item's global id.")
    sku: str
    location_id: strawberry.ID = strawberry.field(description="The location's global id.")
    level: int = strawberry.field(description="Units on the shelf.")
    allocated: int = strawberry.field(description="Units reserved by open orders.")
    available: int = strawberry.field(description="level - allocated.")
    minimum_level: int = strawberry.field(description="The level below which the item counts as low.")
    below_minimum: bool = strawberry.field(description="Whether available is below the minimum level.")
    executions: Executions = executions()


@strawberry.type(description="A sync run started, finished a page or batch, or ended.")
class SyncProgressEvent:
    event_id: EventId = strawberry.field(description="The event's number.")
    at: datetime = strawberry.field(description="When the progress was committed.")
    phase: SyncPhase
    run_id: strawberry.ID = strawberry.field(description="The SyncRun's global id.")
    connection_id: strawberry.ID = strawberry.field(
        description="The global id of the connection it ran for: a Channel's (DOWNLOAD, STOCK_PUSH, DISPATCH) or a "
        "FulfilmentConnection's (EXPORT, STATUS_IMPORT, STOCK_IMPORT)."
    )
    channel_id: strawberry.ID = strawberry.field(
        description="The connection's id as a Channel id (kept for older clients; for a fulfilment centre's run use "
        "connectionId)."
    )
    kind: SyncKind
    outcome: SyncOutcome = strawberry.field(description="RUNNING until the run ends.")
    pages: int = strawberry.field(description="Pages downloaded, or batches sent, so far.")
    orders: int = strawberry.field(description="Orders downloaded or updated so far.")
    pushed: int = strawberry.field(description="Listing quantities accepted so far.")
    dispatched: int = strawberry.field(description="Dispatch notes accepted so far.")
    exported: int = strawberry.field(description="Orders handed to the fulfilment centre so far (export).")
    imported: int = strawberry.field(description="Order statuses or stock levels applied so far (imports).")
    failed: int = strawberry.field(description="Orders, listings or notes that failed so far (errors).")
    retrying: int = strawberry.field(
        description="Of the failed listings or notes: those sent again later by themselves (a passing failure)."
    )
    waiting: int = strawberry.field(
        description="Of the failed listings or notes: those waiting for a change (refused credentials or data): "
        "they need attention."
    )
    abandoned: bool = strawberry.field(description="True when the run was closed because its worker died.")
    error: str | None = strawberry.field(description="What ended a FAILED run.")
    executions: Executions = executions()


@strawberry.type(
    description="Events `fromId`..`toId` that this subscription wanted were not delivered: the subscriber was too "
    "slow (its buffer overflowed), or they are older than the retention window. Re-query what you show."
)
class EventsMissed:
    from_id: EventId
    to_id: EventId
    reason: MissedReason


OrderEventMessage = Annotated[OrderEvent | EventsMissed, strawberry.union("OrderEventMessage")]
StockLevelMessage = Annotated[StockLevelEvent | EventsMissed, strawberry.union("StockLevelMessage")]
SyncProgressMessage = Annotated[SyncProgressEvent | EventsMissed, strawberry.union("SyncProgressMessage")]


@strawberry.input(description="Which order events to receive (all when left out); lists match any of their values.")
class OrderEventFilter:
    location_ids: list[strawberry.ID] | None = strawberry.field(
        default=None, description="Orders at these locations (a move matches its old and new location)."
    )
    channel_ids: list[strawberry.ID] | None = None
    kinds: list[OrderEventKind] | None = None


@strawberry.input(description="Which stock level changes to receive (all when left out).")
class StockLevelFilter:
    item_ids: list[strawberry.ID] | None = None
    location_ids: list[strawberry.ID] | None = None


@strawberry.input(description="Which sync progress to receive (all when left out).")
class SyncProgressFilter:
    channel_ids: list[strawberry.ID] | None = None
    run_ids: list[strawberry.ID] | None = None
    kinds: list[SyncKind] | None = None


def _gid(type_name: str, value: str | None) -> strawberry.ID | None:
    return None if value is None else strawberry.ID(encode_id(type_name, value))


def missed(item: events.Missed) -> EventsMissed:
    return EventsMissed(from_id=item.from_id, to_id=item.to_id, reason=item.reason)


def order_event(event: events.Published) -> OrderEvent:
    d = event.data
    return OrderEvent(
        event_id=event.id, at=event.at, kind=_OrderEventKind(event.kind), changes=d["changes"],
        order_id=_gid("Order", d["orderId"]), number=d["number"], reference=d["reference"], source=d["source"],
        state=_OrderState(d["state"]), status=_OrderStatus(d["status"]), location_id=_gid("Location", d["locationId"]),
        previous_location_id=_gid("Location", d["previousLocationId"]), channel_id=_gid("Channel", d["channelId"]),
        actor=d["actor"],
    )  # fmt: skip


def stock_level_event(event: events.Published) -> StockLevelEvent:
    d = event.data
    available = d["level"] - d["allocated"]
    return StockLevelEvent(
        event_id=event.id, at=event.at, item_id=_gid("StockItem", d["itemId"]), sku=d["sku"],
        location_id=_gid("Location", d["locationId"]), level=d["level"], allocated=d["allocated"],
        available=available, minimum_level=d["minimumLevel"], below_minimum=available < d["minimumLevel"],
    )  # fmt: skip


FULFILMENT_KINDS = {_SyncKind.EXPORT, _SyncKind.STATUS_IMPORT, _SyncKind.STOCK_IMPORT}
"""The kinds of a fulfilment centre's work (the others are a channel's)."""


def sync_progress_event(event: events.Published) -> SyncProgressEvent:
    d = event.data
    kind = _SyncKind(d["kind"])
    connection = d.get("connectionId", d["channelId"])  # events kept from before connections carry channelId only
    return SyncProgressEvent(
        event_id=event.id, at=event.at, phase=_SyncPhase(event.kind), run_id=_gid("SyncRun", d["runId"]),
        connection_id=_gid("FulfilmentConnection" if kind in FULFILMENT_KINDS else "Channel", connection),
        channel_id=_gid("Channel", d["channelId"]), kind=kind, outcome=_SyncOutcome(d["outcome"]),
        pages=d["pages"], orders=d["downloaded"] + d["updated"], pushed=d["pushed"], dispatched=d["dispatched"],
        exported=d.get("exported", 0), imported=d.get("imported", 0), failed=d["failed"], retrying=d.get("retrying", 0), waiting=d.get("waiting", 0),
        abandoned=d.get("abandoned", False), error=d["error"],
    )  # fmt: skip

"""Live events, recorded in the transaction of the change they announce (invariant 7).

Services say what changed: order changes come from the audit log (every audited change to an order
is an order event), stock levels from ``apply_stock_changes``, sync progress from the run recorder.
Just before the transaction commits, the events of the whole transaction are built from the final
state of the objects, numbered from one counter row (so ids are gapless and in commit order: the row
stays locked until the commit), written to the ``event`` table and announced on the bus; the bus
wakes the API processes' hubs only once the commit is done.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from orderdeck import db
from orderdeck.models import AuditKind, Counter, Event, EventTopic, Order, StockItem, StockLevel, SyncRun
from orderdeck.events.store import COUNTER
from orderdeck.events.transports import current_bus
from orderdeck.services.bulk import insert_rows
from orderdeck.services.context import after_commit, before_commit

class OrderEventKind(str, Enum):
    """What happened to an order, as subscribers see it."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"
    MOVED = "MOVED"
    PROCESSED = "PROCESSED"
    DISPATCHED = "DISPATCHED"
    DISPATCH_FAILED = "DISPATCH_FAILED"
    CANCELLED = "CANCELLED"
    DELETED = "DELETED"
    RETURNED = "RETURNED"
    RESENT = "RESENT"


class SyncPhase(str, Enum):
    """Where a sync run is."""

    STARTED = "STARTED"
    PROGRESS = "PROGRESS"
    FINISHED = "FINISHED"


STOCK_LEVEL = "LEVEL"
"""The one kind of stock event: an item's level, allocation or minimum at a location changed."""

ORDER_EVENT_OF: dict[AuditKind, OrderEventKind] = {
    AuditKind.ORDER_CREATED: OrderEventKind.CREATED,
    AuditKind.MOVED: OrderEventKind.MOVED,
    AuditKind.PROCESSED: OrderEventKind.PROCESSED,
    AuditKind.DESPATCH_NOTE: OrderEventKind.DISPATCHED,
    AuditKind.DESPATCH_NOTE_FAILED: OrderEventKind.DISPATCH_FAILED,
    AuditKind.CANCELLED: OrderEventKind.CANCELLED,
    AuditKind.CANCELLED_ON_CHANNEL: OrderEventKind.CANCELLED,
    AuditKind.DELETED: OrderEventKind.DELETED,
    AuditKind.RETURN_CREATED: OrderEventKind.RETURNED,
    AuditKind.RESEND_CREATED: OrderEventKind.RESENT,
}
"""Audit kinds with an order event of their own; every other order audit kind is UPDATED."""


def order_changed(kind: AuditKind, order: Order, actor: str, before: Any = None) -> None:
    """An audited change to ``order`` (called by the audit log for each order entry)."""
    before_commit(_flush, (EventTopic.ORDER, kind, order, actor, before))


def stock_levels_changed(levels: Iterable[StockLevel], skus: Mapping[uuid.UUID, str] | None = None) -> None:
    """These level rows (holding their new values) changed level, allocation or minimum.
    ``skus`` gives their items' SKUs by item id when the caller has them (the others are read at
    commit)."""
    for level in levels:
        sku = skus.get(level.item_id) if skus else None
        before_commit(_flush, (EventTopic.STOCK, STOCK_LEVEL, level, sku, None))


def sync_progress(run: SyncRun, phase: SyncPhase) -> None:
    """A sync run started, saved its counters, or finished (``run`` holds them)."""
    before_commit(_flush, (EventTopic.SYNC, phase, run, None, None))


# --- building and writing ------------------------------------------------------------------------


def _id(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _value(enum: Any) -> str:
    return enum.value if isinstance(enum, Enum) else str(enum)


def _orders(items: list[tuple]) -> list[tuple[EventTopic, str, dict[str, Any]]]:
    """One event per (order, event kind) of the transaction, listing the audit kinds behind it,
    with the order as it is at commit."""
    grouped: dict[tuple[uuid.UUID, OrderEventKind], dict[str, Any]] = {}
    for _, audit_kind, order, actor, before in items:
        kind = ORDER_EVENT_OF.get(audit_kind, OrderEventKind.UPDATED)
        event = grouped.get((order.id, kind))
        if event is None:
            event = grouped[(order.id, kind)] = {"order": order, "actor": actor, "changes": [], "from": None}
        if audit_kind.value not in event["changes"]:
            event["changes"].append(audit_kind.value)
        if kind is OrderEventKind.MOVED and event["from"] is None and isinstance(before, dict):
            event["from"] = before.get("locationId")
    built = []
    for (_, kind), event in grouped.items():
        order: Order = event["order"]
        built.append((EventTopic.ORDER, kind.value, {
            "orderId": str(order.id), "number": order.number, "reference": order.reference,
            "source": order.source, "state": _value(order.state), "status": _value(order.status),
            "locationId": _id(order.location_id), "previousLocationId": event["from"],
            "channelId": _id(order.channel_id), "actor": event["actor"], "changes": event["changes"],
        }))  # fmt: skip
    return built


async def _stock(items: list[tuple]) -> list[tuple[EventTopic, str, dict[str, Any]]]:
    """One event per changed (item, location), with its values at commit."""
    levels: dict[tuple[uuid.UUID, uuid.UUID], StockLevel] = {}
    skus: dict[uuid.UUID, str] = {}
    for _, _, level, sku, _ in items:
        levels[(level.item_id, level.location_id)] = level
        if sku is not None:
            skus[level.item_id] = sku
    unknown = {item for item, _ in levels} - skus.keys()
    if unknown:
        skus |= dict(await StockItem.filter(id__in=unknown).values_list("id", "sku"))
    return [
        (EventTopic.STOCK, STOCK_LEVEL, {
            "itemId": str(level.item_id), "sku": skus.get(level.item_id, ""), "locationId": str(level.location_id),
            "level": level.level, "allocated": level.allocated, "minimumLevel": level.minimum_level,
        })  # fmt: skip
        for level in levels.values()
    ]


def _sync(items: list[tuple]) -> list[tuple[EventTopic, str, dict[str, Any]]]:
    """One event per (run, phase), with the run's counters at commit."""
    runs: dict[tuple[uuid.UUID, SyncPhase], SyncRun] = {}
    for _, phase, run, _, _ in items:
        runs[(run.id, phase)] = run
    return [
        (EventTopic.SYNC, phase.value, {
            "runId": str(run.id), "connectionId": str(run.connection_id), "channelId": str(run.connection_id),
            "kind": _value(run.kind),
            "outcome": _value(run.outcome), "pages": run.pages, "downloaded": run.downloaded,
            "updated": run.updated, "pushed": run.pushed, "dispatched": run.dispatched,
            "exported": run.exported, "imported": run.imported,
            "failed": run.failed, "retrying": run.retrying, "waiting": run.waiting, "abandoned": run.abandoned,
            "error": run.error,
        })  # fmt: skip
        for (_, phase), run in runs.items()
    ]


async def next_ids(count: int) -> int:
    """Take ``count`` event ids; return the last. The counter row stays locked until the commit,
    so transactions take (and publish) their ids in commit order."""
    sql = f"UPDATE counter SET value = value + {db.placeholders(1)[0]} WHERE name = {db.placeholders(1, 2)[0]} RETURNING value"
    rows = await db.fetch(sql, [count, COUNTER])
    if not rows:
        await Counter.bulk_create([Counter(name=COUNTER, value=0)], ignore_conflicts=True)
        rows = await db.fetch(sql, [count, COUNTER])
    return int(rows[0]["value"])


async def prune(before: datetime) -> int:
    """Delete the events committed before ``before`` (the retention window's start); how many."""
    return await Event.filter(created_at__lt=before).delete()


async def _flush(items: list[tuple]) -> None:
    """Build, number, write and announce the transaction's events (just before it commits)."""
    by_topic: dict[EventTopic, list[tuple]] = {}
    for item in items:
        by_topic.setdefault(item[0], []).append(item)
    records = _orders(by_topic.get(EventTopic.ORDER, []))
    if EventTopic.STOCK in by_topic:
        records += await _stock(by_topic[EventTopic.STOCK])
    records += _sync(by_topic.get(EventTopic.SYNC, []))
    if not records:
        return
    last = await next_ids(len(records))
    now = datetime.now(timezone.utc)
    first = last - len(records) + 1
    await insert_rows(Event, [
        {"id": first + i, "topic": topic, "kind": kind, "data": data, "created_at": now}
        for i, (topic, kind, data) in enumerate(records)
    ])  # fmt: skip
    current = current_bus()
    await current.announce(last)
    after_commit(lambda: current.committed(last))

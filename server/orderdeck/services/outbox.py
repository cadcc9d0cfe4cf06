"""The outbox: work for the channels, recorded in the transaction that causes it.

- Stock: a change to an item's available stock marks due (``Listing.push_due``) the item's
  listings on every channel that offers stock from that location; so do a new or changed listing
  and a change to a channel's stock locations. The stock job publishes due listings.
- Dispatch: processing a channel order records a PENDING ``Dispatch``; the dispatch job sends it.

Once the transaction commits, ``wake`` tells whoever listens (the job layer, which registers with
``listen``) to start on the channel's work now. A wake-up that is lost loses nothing: the
scheduler's sweep finds due rows in the database.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import datetime, timezone

from tortoise.expressions import Case, F, When
from tortoise.queryset import QuerySet

from orderdeck.models import Channel, Listing, SubmitStatus, SyncKind
from orderdeck.services.context import after_commit

Listener = Callable[[SyncKind, uuid.UUID], None]
"""Called after commit with the kind of work and the channel that has some."""

_listeners: list[Listener] = []

StockKey = tuple[int, uuid.UUID]
"""(stock item id, location id)."""


def listen(listener: Listener) -> None:
    """Be told of new work after each commit that records some."""
    if listener not in _listeners:
        _listeners.append(listener)


def unlisten(listener: Listener) -> None:
    """Stop being told (tests, shutdown)."""
    if listener in _listeners:
        _listeners.remove(listener)


def wake(kind: SyncKind, channel_ids: Iterable[uuid.UUID]) -> None:
    """After the current transaction commits, tell the listeners these channels have work."""
    channels = sorted(set(channel_ids), key=str)
    if not channels:
        return

    def call() -> None:
        for listener in list(_listeners):
            for channel_id in channels:
                listener(kind, channel_id)

    after_commit(call)


async def _mark_due(listings: QuerySet[Listing]) -> int:
    """Mark these listings due, in one UPDATE of every one of them: the row locks make a stock job
    claiming one now wait for this transaction (or skip it), so it never publishes a quantity
    read before this change and clears the flag after it. An already due listing keeps its
    due_since."""
    now = datetime.now(timezone.utc)
    return await listings.update(push_due=True, due_since=Case(When(push_due=True, then=F("due_since")), default=now))


async def stock_changed(keys: set[StockKey]) -> None:
    """Mark due the listings of these items on channels offering stock from these locations."""
    if not keys:
        return
    places = {location for _, location in keys}
    channels = set(await Channel.filter(stock_locations__id__in=places).values_list("id", flat=True))
    if not channels:
        return
    if await _mark_due(Listing.filter(stock_item_id__in={item for item, _ in keys}, channel_id__in=channels)):
        wake(SyncKind.STOCK_PUSH, channels)


async def channel_changed(channel_id: uuid.UUID, *, resend: bool = False) -> None:
    """Mark due every listing of a channel whose offer may have changed (stock locations, enabled
    again, new credentials); with ``resend``, their quantities are sent even if unchanged. A
    listing waiting out a backoff is sent at once (the change may be what it waited for)."""
    await _mark_due(Listing.filter(channel_id=channel_id))
    await Listing.filter(channel_id=channel_id, next_push_at__isnull=False).update(next_push_at=None, push_attempts=0)
    if resend:
        await Listing.filter(channel_id=channel_id, submit_status=SubmitStatus.OK).update(
            submit_status=SubmitStatus.RESEND)
    wake(SyncKind.STOCK_PUSH, [channel_id])


def listing_changed(listing: Listing) -> None:
    """Mark a new or changed listing due, at once even if it was waiting out a backoff (the caller
    saves it)."""
    if not listing.push_due:
        listing.push_due, listing.due_since = True, datetime.now(timezone.utc)
    listing.next_push_at, listing.push_attempts = None, 0
    wake(SyncKind.STOCK_PUSH, [listing.channel_id])

"""The registry of background work: each kind of work for a connection, declared once.

A ``Work`` names the service that does the work for one connection (``run``), how the scheduler
finds connections with some due (``due``: the schedule, or the sweep for work a lost job left
behind), its job's name and queue, its time limit and its retry policy, what a user's "sync now"
does (``on_request``; by default it wakes the work), and when a run that left work waiting wants its job again
(``again_at``). The jobs (orderdeck.jobs.actors), the scheduler's tick, failed-job retries and
"sync now" all loop over ``WORK``: a new kind of work is one entry here (and its SyncKind).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from orderdeck.models import Channel, SyncKind, SyncRun
from orderdeck.services import dispatches, outbox, stock_push, sync
from orderdeck.services.channels import require_connector, require_enabled
from orderdeck.services.context import locked, transaction
from orderdeck.services.errors import ServiceError


@dataclass(frozen=True)
class Work:
    """A kind of background work for one connection (see the module docstring).

    retries: how often a job that fails is tried again (with exponential backoff) before it is
        recorded as a failed job; None: ORDERDECK_JOB_MAX_RETRIES. A rate limit is always retried
        after the delay the partner asked for.
    """

    kind: SyncKind
    job: str
    run: Callable[[uuid.UUID], Awaitable[SyncRun | None]]
    due: Callable[[datetime], Awaitable[set[uuid.UUID]]]
    time_limit: timedelta
    retries: int | None = None
    on_request: Callable[[uuid.UUID], Awaitable[None]] | None = None
    again_at: Callable[[uuid.UUID, SyncRun | None], Awaitable[datetime | None]] | None = None

    @property
    def queue(self) -> str:
        """The queue its jobs go to: "download", "stock_push", "dispatch"."""
        return self.kind.value.lower()


async def _resend_stock(channel_id: uuid.UUID) -> None:
    """Sync now of stock: every listing's quantity is sent, changed or not (the channel's own
    figure may have been edited); marking them due wakes the stock push."""
    await outbox.channel_changed(channel_id, resend=True)


async def _next_dispatch_attempt(channel_id: uuid.UUID, run: SyncRun | None) -> datetime | None:
    """When a run left refused dispatch notes, the earliest next attempt among them."""
    return await dispatches.next_attempt(channel_id) if run is not None and run.failed else None


WORK: dict[SyncKind, Work] = {
    work.kind: work
    for work in (
        Work(SyncKind.DOWNLOAD, "download_orders", sync.download_channel, sync.due_downloads, timedelta(minutes=30)),
        Work(SyncKind.STOCK_PUSH, "push_stock", stock_push.push_stock, stock_push.forgotten, timedelta(minutes=4),
             on_request=_resend_stock),
        Work(SyncKind.DISPATCH, "send_dispatches", dispatches.send_dispatches, dispatches.forgotten,
             timedelta(minutes=4), again_at=_next_dispatch_attempt),
    )
}  # fmt: skip
"""Every kind of background work, by kind."""


def by_queue(queue: str) -> Work | None:
    """The work whose jobs go to ``queue`` (None: no orderdeck work does)."""
    return next((work for work in WORK.values() if work.queue == queue), None)


async def request_sync(channel_id: uuid.UUID, kinds: Iterable[SyncKind]) -> Channel:
    """Start these kinds of the channel's work now rather than when next due ("sync now");
    refused for a disabled channel or one whose connector is not installed."""
    wanted = [WORK[kind] for kind in SyncKind if kind in set(kinds)]
    if not wanted:
        raise ServiceError.one("Ask for at least one kind of work", "kinds")
    async with transaction():
        channel = await locked(Channel, channel_id, "Channel")
        require_enabled(channel)
        require_connector(channel)
        for work in wanted:
            if work.on_request is not None:
                await work.on_request(channel.id)
            else:
                outbox.wake(work.kind, [channel.id])
    return channel

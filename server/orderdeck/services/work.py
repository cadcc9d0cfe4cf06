"""The registry of background work: each kind of work for a connection, declared once.

A ``Work`` names the kind of connection it works for, the service that does it for one
connection (``run``), whether it runs on the connection's schedule (``periodic``: every
sync_interval_seconds, claimed by the scheduler on the connection's next_run_at) and how the
scheduler's sweep finds connections with outbound work a lost job left behind (``sweep``), its
job's name and queue, its time limit and its retry policy, what a user's "sync now" does
(``on_request``; by default it wakes the work), and when a run that left work waiting wants its
job again (``again_at``). The jobs (orderdeck.jobs.actors), the scheduler's tick, failed-job
retries and "sync now" all loop over ``WORK``: a new kind of work is one entry here (and its
SyncKind).
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from orderdeck.models import Connection, ConnectionKind, SyncKind, SyncRun
from orderdeck.services import dispatches, follow_ups, outbox, stock_push, sync
from orderdeck.services.connections import WORDS, locked_connection, require_connector, require_enabled
from orderdeck.services.context import transaction
from orderdeck.services.errors import ErrorCode, ServiceError
from orderdeck.services.fulfilment import exports, imports


@dataclass(frozen=True)
class Work:
    """A kind of background work for one connection (see the module docstring).

    retries: how often a job that fails is tried again (with exponential backoff) before it is
        recorded as a failed job; None: ORDERDECK_JOB_MAX_RETRIES. A rate limit is always retried
        after the delay the partner asked for.
    """

    kind: SyncKind
    job: str
    connection_kind: ConnectionKind
    run: Callable[[uuid.UUID], Awaitable[SyncRun | None]]
    time_limit: timedelta
    periodic: bool = False
    sweep: Callable[[datetime], Awaitable[set[uuid.UUID]]] | None = None
    retries: int | None = None
    on_request: Callable[[uuid.UUID], Awaitable[None]] | None = None
    again_at: Callable[[uuid.UUID, SyncRun | None], Awaitable[datetime | None]] | None = None

    @property
    def queue(self) -> str:
        """The queue its jobs go to, named after the kind: "download", "stock_push", "export"..."""
        return self.kind.value.lower()


async def _resend_stock(channel_id: uuid.UUID) -> None:
    """Sync now of stock: every listing's quantity is sent, changed or not (the channel's own
    figure may have been edited); marking them due wakes the stock push."""
    await outbox.channel_changed(channel_id, resend=True)


async def _next_dispatch_attempt(channel_id: uuid.UUID, run: SyncRun | None) -> datetime | None:
    """When a run left refused dispatch notes, the earliest next attempt among them."""
    return await dispatches.next_attempt(channel_id) if run is not None and run.failed else None


async def _next_export_attempt(connection_id: uuid.UUID, run: SyncRun | None) -> datetime | None:
    """When a run left orders whose export failed, the earliest next attempt among them."""
    return await exports.next_attempt(connection_id) if run is not None and run.failed else None


CHANNEL, CENTRE = ConnectionKind.CHANNEL, ConnectionKind.FULFILMENT_CENTRE
WORK: dict[SyncKind, Work] = {
    work.kind: work
    for work in (
        Work(SyncKind.DOWNLOAD, "download_orders", CHANNEL, sync.download_channel, timedelta(minutes=30),
             periodic=True),
        Work(SyncKind.STOCK_PUSH, "push_stock", CHANNEL, stock_push.push_stock, timedelta(minutes=4),
             sweep=stock_push.forgotten, on_request=_resend_stock),
        Work(SyncKind.DISPATCH, "send_dispatches", CHANNEL, dispatches.send_dispatches, timedelta(minutes=4),
             sweep=dispatches.forgotten, again_at=_next_dispatch_attempt),
        Work(SyncKind.FOLLOW_UP, "follow_up", CHANNEL, follow_ups.follow_up, timedelta(minutes=10), periodic=True),
        Work(SyncKind.EXPORT, "export_orders", CENTRE, exports.export_orders, timedelta(minutes=10),
             sweep=exports.forgotten, on_request=exports.retry_now, again_at=_next_export_attempt),
        Work(SyncKind.STATUS_IMPORT, "import_statuses", CENTRE, imports.import_statuses, timedelta(minutes=10),
             periodic=True),
        Work(SyncKind.STOCK_IMPORT, "import_stock", CENTRE, imports.import_stock, timedelta(minutes=10),
             periodic=True),
    )
}  # fmt: skip
"""Every kind of background work, by kind."""


def by_queue(queue: str) -> Work | None:
    """The work whose jobs go to ``queue`` (None: no orderdeck work does)."""
    return next((work for work in WORK.values() if work.queue == queue), None)


def kinds_of(connection_kind: ConnectionKind) -> list[SyncKind]:
    """The kinds of work a connection of ``connection_kind`` does."""
    return [kind for kind, work in WORK.items() if work.connection_kind == connection_kind]


async def request_sync(connection_id: uuid.UUID, kinds: Iterable[SyncKind],
                       connection_kind: ConnectionKind = ConnectionKind.CHANNEL) -> Connection:  # fmt: skip
    """Start these kinds of the connection's work now rather than when next due ("sync now");
    refused for a disabled connection, one whose connector is not installed, or a kind of work
    that is not its kind's."""
    asked = set(kinds)
    wanted = [WORK[kind] for kind in SyncKind if kind in asked]
    if not wanted:
        raise ServiceError.one("Ask for at least one kind of work", "kinds")
    foreign = [w.kind.value for w in wanted if w.connection_kind != connection_kind]
    if foreign:
        raise ServiceError.one(f"{', '.join(foreign)}: not work of a {WORDS[connection_kind].lower()} (its kinds: "
                               f"{', '.join(k.value for k in kinds_of(connection_kind))})", "kinds",
                               ErrorCode.INVALID_TRANSITION)  # fmt: skip
    async with transaction():
        connection = await locked_connection(connection_id, connection_kind)
        require_enabled(connection)
        require_connector(connection)
        for work in wanted:
            if work.on_request is not None:
                await work.on_request(connection.id)
            else:
                outbox.wake(work.kind, [connection.id])
    return connection

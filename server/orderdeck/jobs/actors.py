"""The jobs: thin, idempotent wrappers that run a channel's work through the services.

Each job does one kind of work for one channel and reads what to do from the database (the
channel's cursor, its due listings, its pending dispatches), so a job delivered twice, or lost,
changes nothing: the second finds nothing left, and the scheduler's sweep finds what a lost one
left. Queues are per kind of work, so a slow channel download never holds up stock pushes.

Retries: a download's rate limit (429) retries after the time it asked for, and its passing
failures (timeouts, 5xx) with exponential backoff. Stock pushes and dispatch notes the channel could
not take are not retried by the job: each listing or note keeps its own next attempt (services.runs),
and the scheduler's sweep (or, for notes, a delayed job) sends them again when due. A job whose
retries run out is recorded as a FailedJob.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import TypeVar

import dramatiq
from dramatiq import Message
from dramatiq.brokers.stub import StubBroker

from orderdeck.config import get_settings
from orderdeck.jobs.broker import broker  # noqa: F401 - installs the broker before the actors
from orderdeck.models import SyncKind
from orderdeck.plugins.errors import PartnerRateLimited
from orderdeck.services import dispatches, outbox, stock_push, sync
from orderdeck.services.failed_jobs import queue_of

T = TypeVar("T")
log = logging.getLogger(__name__)

MINUTE_MS = 60_000
PUSH_TIME_LIMIT_MS = 4 * MINUTE_MS
"""How long a stock or dispatch job may run (its claim, renewed by a heartbeat, holds meanwhile)."""


async def _run(work: Awaitable[T]) -> T:
    """Run a service call; a rate limit becomes a retry after the delay the channel asked for."""
    try:
        return await work
    except PartnerRateLimited as exc:
        delay = max(int(exc.retry_after * 1000), get_settings().job_min_backoff_ms)
        raise dramatiq.Retry(f"rate limited by the channel: {exc}", delay=delay) from exc


@dramatiq.actor(queue_name=queue_of(SyncKind.DOWNLOAD), time_limit=30 * MINUTE_MS)
async def download_orders(channel_id: str) -> None:
    """Download the channel's new and changed orders (one download of a channel at a time)."""
    await _run(sync.download_channel(uuid.UUID(channel_id)))


@dramatiq.actor(queue_name=queue_of(SyncKind.STOCK_PUSH), time_limit=PUSH_TIME_LIMIT_MS)
async def push_stock(channel_id: str) -> None:
    """Publish the channel's due listings."""
    await _run(stock_push.push_stock(uuid.UUID(channel_id)))


@dramatiq.actor(queue_name=queue_of(SyncKind.DISPATCH), time_limit=PUSH_TIME_LIMIT_MS)
async def send_dispatches(channel_id: str) -> None:
    """Send the channel's pending dispatch notes; when some were refused, a job is sent, delayed,
    for the earliest next attempt."""
    channel = uuid.UUID(channel_id)
    run = await _run(dispatches.send_dispatches(channel))
    due = await dispatches.next_attempt(channel) if run is not None and run.failed else None
    if due is not None:
        delay = max(0, int((due - datetime.now(timezone.utc)).total_seconds() * 1000))
        send_dispatches.send_with_options(args=(channel_id,), delay=delay)


ACTORS = {SyncKind.DOWNLOAD: download_orders, SyncKind.STOCK_PUSH: push_stock, SyncKind.DISPATCH: send_dispatches}
"""The job doing each kind of channel work."""



_sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orderdeck-job-sender")
"""Sends to a real broker off the event loop (a slow broker must not stall API requests), in order."""


def _send(message: Message) -> None:
    try:
        broker.enqueue(message)
    except Exception:
        log.exception("could not send job %s (the scheduler's sweep will find its work)", message)


def enqueue(kind: SyncKind, channel_id: uuid.UUID) -> None:
    """Send the job doing ``kind`` of work for the channel: at once to the in-memory broker, from
    a sender thread to Redis or RabbitMQ when called on an event loop."""
    message = ACTORS[kind].message(str(channel_id))
    if isinstance(broker, StubBroker) or not _on_event_loop():
        _send(message)
    else:
        _sender.submit(_send, message)


def _on_event_loop() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def start_sending() -> None:
    """Send a job whenever a commit records channel work (the outbox's wake-ups)."""
    outbox.listen(enqueue)


def stop_sending() -> None:
    """Stop sending jobs on wake-ups."""
    outbox.unlisten(enqueue)

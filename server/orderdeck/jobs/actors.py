"""The jobs: thin, idempotent wrappers that run a connection's work through the services, one for
each kind of work the registry declares (services.work.WORK: its service, queue, time limit, retries).

Each job does one kind of work for one connection and reads what to do from the database (a
channel's cursor, its due listings, its pending dispatches; a centre's orders to export), so a job delivered twice, or lost,
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
from orderdeck.services import outbox
from orderdeck.services.work import WORK, Work

T = TypeVar("T")
log = logging.getLogger(__name__)


async def _run(work: Awaitable[T]) -> T:
    """Run a service call; a rate limit becomes a retry after the delay the partner asked for."""
    try:
        return await work
    except PartnerRateLimited as exc:
        delay = max(int(exc.retry_after * 1000), get_settings().job_min_backoff_ms)
        raise dramatiq.Retry(f"rate limited by the partner: {exc}", delay=delay) from exc


def _actor(work: Work) -> dramatiq.Actor:
    """The job doing ``work`` for one connection: its service, then (if the work asks for it)
    the same job again, delayed until the work's next attempt."""

    async def job(connection_id: str) -> None:
        connection = uuid.UUID(connection_id)
        run = await _run(work.run(connection))
        due = await work.again_at(connection, run) if work.again_at is not None else None
        if due is not None:
            delay = max(0, int((due - datetime.now(timezone.utc)).total_seconds() * 1000))
            ACTORS[work.kind].send_with_options(args=(connection_id,), delay=delay)

    job.__name__ = job.__qualname__ = work.job
    job.__doc__ = f"{work.kind.value} for one connection ({work.run.__module__}.{work.run.__name__})."
    options: dict = {"queue_name": work.queue, "time_limit": int(work.time_limit.total_seconds() * 1000)}
    if work.retries is not None:
        options["max_retries"] = work.retries
    return dramatiq.actor(job, actor_name=work.job, **options)


ACTORS: dict[SyncKind, dramatiq.Actor] = {kind: _actor(work) for kind, work in WORK.items()}
"""The job doing each kind of work (services.work.WORK)."""


_sender = ThreadPoolExecutor(max_workers=1, thread_name_prefix="orderdeck-job-sender")
"""Sends to a real broker off the event loop (a slow broker must not stall API requests), in order."""


def _send(message: Message) -> None:
    try:
        broker.enqueue(message)
    except Exception:
        log.exception("could not send job %s (the scheduler's sweep will find its work)", message)


def enqueue(kind: SyncKind, connection_id: uuid.UUID) -> None:
    """Send the job doing ``kind`` of work for the connection: at once to the in-memory broker,
    from a sender thread to Redis or RabbitMQ when called on an event loop."""
    message = ACTORS[kind].message(str(connection_id))
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

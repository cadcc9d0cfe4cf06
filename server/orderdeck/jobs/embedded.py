"""The embedded default's jobs: an in-process Dramatiq worker and the scheduler, inside
``orderdeck serve`` when no broker is configured.

The worker's threads run the async actors on the app's own event loop (SharedLoop), with the
app's database connections, so SQLite sees one process with one writer. Messages live in memory:
what a restart drops is found again by the scheduler's sweep (the work itself is in the
database).
"""

from __future__ import annotations

import asyncio
import contextlib

from dramatiq import Worker
from dramatiq.brokers.stub import StubBroker
from dramatiq.common import dq_name

from orderdeck.jobs.actors import ACTORS, start_sending, stop_sending
from orderdeck.jobs.broker import SharedLoop, broker
from orderdeck.jobs.scheduler import run_scheduler


class InProcessJobs:
    """Start and stop the in-process worker (and, unless told not to, the scheduler)."""

    def __init__(self, worker_threads: int = 4, scheduler_interval: float | None = 5.0) -> None:
        if not isinstance(broker, StubBroker):
            raise RuntimeError("in-process jobs need the in-memory broker (ORDERDECK_BROKER_URL unset)")
        self.worker_threads = worker_threads
        self.scheduler_interval = scheduler_interval
        self.worker: Worker | None = None
        self.scheduler: asyncio.Task[None] | None = None
        self.stopping = asyncio.Event()
        self.shared: SharedLoop | None = None

    async def start(self) -> None:
        """Boot the worker on the running loop, send jobs on wake-ups, start the scheduler."""
        shared = SharedLoop(asyncio.get_running_loop())
        broker.add_middleware(shared)
        self.shared = shared
        self.worker = Worker(broker, worker_threads=self.worker_threads, worker_timeout=100)
        self.worker.start()
        start_sending()
        if self.scheduler_interval is not None:
            self.scheduler = asyncio.create_task(run_scheduler(self.scheduler_interval, self.stopping))

    async def drain(self, timeout: float = 30.0) -> None:
        """Wait until every queue is empty and no job runs, including jobs that jobs sent."""
        assert isinstance(broker, StubBroker)
        names = [actor.queue_name for actor in ACTORS.values()]
        while True:
            for name in names:
                await asyncio.to_thread(broker.join, name, timeout=int(timeout * 1000), fail_fast=False)
            if not any(broker.queues[q].unfinished_tasks for name in names for q in (name, dq_name(name))):
                return

    async def stop(self) -> None:
        """Stop sending, stop the scheduler, let running jobs finish, stop the worker."""
        stop_sending()
        self.stopping.set()
        if self.scheduler is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self.scheduler
        if self.worker is not None:
            # The worker's threads wait on this loop: keep it running while they stop.
            await asyncio.to_thread(self.worker.stop, 30_000)
        if self.shared in broker.middleware:
            broker.middleware.remove(self.shared)

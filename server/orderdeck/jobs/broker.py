"""The Dramatiq broker, built from the settings and installed before any actor is declared.

- ``ORDERDECK_BROKER_URL`` unset: an in-memory broker whose worker runs inside ``orderdeck serve``
  on the app's own event loop and database connections (the embedded default).
- ``redis://...`` or ``amqp://...``: Redis or RabbitMQ, consumed by ``orderdeck worker`` processes.

Every job retries with exponential backoff; one that exhausts its retries is recorded as a
FailedJob (RecordFailures), visible and retryable over the API.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import dramatiq
from dramatiq.asyncio import EventLoopThread, get_event_loop_thread, set_event_loop_thread
from dramatiq.broker import Broker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import (
    AgeLimit,
    Callbacks,
    CurrentMessage,
    Middleware,
    Pipelines,
    Retries,
    ShutdownNotifications,
    TimeLimit,
)

from orderdeck import db
from orderdeck.config import Settings, get_settings

log = logging.getLogger(__name__)


class RecordFailures(Middleware):
    """A message that failed for good (retries exhausted) becomes a FailedJob row."""

    def after_process_message(self, broker: Broker, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:  # fmt: skip
        if exception is None or not message.failed:
            return
        from orderdeck.services.failed_jobs import record_failed_job

        error = f"{type(exception).__name__}: {exception}" if str(exception) else type(exception).__name__
        try:
            get_event_loop_thread().run_coroutine(record_failed_job(
                actor=message.actor_name, queue=message.queue_name, message_id=message.message_id,
                args=list(message.args), kwargs=dict(message.kwargs), error=error,
            ))  # fmt: skip
        except Exception:
            log.exception("could not record failed job %s (%s): %s", message.message_id, message.actor_name, error)


class AppLoop(EventLoopThread):
    """Runs async actors on an event loop that is already running (the app's), instead of a loop
    thread of Dramatiq's own: jobs then share the app's database connections."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:  # noqa: D107 - no thread is started
        self.interrupt_check_ival = 0.1
        self.logger = log
        self.loop = loop


class SharedLoop(Middleware):
    """The embedded worker's async actors run on ``loop`` (see AppLoop)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop

    def before_worker_boot(self, broker: Broker, worker: Any) -> None:
        set_event_loop_thread(AppLoop(self.loop))

    def after_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        set_event_loop_thread(None)


class Database(Middleware):
    """A worker process opens its database connections on its event loop before any job can run
    (after Dramatiq's AsyncIO middleware has started that loop: add it after AsyncIO, as "before"
    hooks run in order) and closes them once its jobs have finished ("after" hooks run in
    reverse order, so AsyncIO stops the loop only then)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def before_worker_boot(self, broker: Broker, worker: Any) -> None:
        get_event_loop_thread().run_coroutine(db.init_db(self.url))

    def after_worker_shutdown(self, broker: Broker, worker: Any) -> None:
        from orderdeck import events

        get_event_loop_thread().run_coroutine(events.current_bus().drain())
        get_event_loop_thread().run_coroutine(db.close_db())


def build_broker(settings: Settings) -> Broker:
    """The broker the settings name, with orderdeck's middleware."""
    # "after" hooks run in reverse order: RecordFailures, before Retries, sees what Retries decided.
    middleware = [
        AgeLimit(), TimeLimit(), ShutdownNotifications(), Callbacks(), Pipelines(), RecordFailures(),
        Retries(max_retries=settings.job_max_retries, min_backoff=settings.job_min_backoff_ms,
                max_backoff=settings.job_max_backoff_ms),
        CurrentMessage(),
    ]  # fmt: skip
    url = settings.broker_url
    if url is None:
        return StubBroker(middleware=middleware)
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url, namespace=settings.broker_namespace, middleware=middleware)
    from dramatiq.brokers.rabbitmq import RabbitmqBroker

    return RabbitmqBroker(url=url, middleware=middleware)


broker: Broker = build_broker(get_settings())
dramatiq.set_broker(broker)

"""The scheduler: each connection's periodic work, and a sweep for work whose wake-up was lost.

Every tick (``ORDERDECK_SCHEDULER_INTERVAL_SECONDS``) it
- closes as FAILED (abandoned) the runs whose worker died (their claim's lease lapsed) and frees
  their claims (services.claims);
- for each enabled connection whose sync interval has passed (claiming its next run time with one
  atomic UPDATE, so several schedulers send one job of each), sends a job for each periodic kind
  of its work in the registry (services.work.WORK): a channel's download, a fulfilment centre's
  status and stock imports;
- for each kind of outbound work, sends a job for each enabled connection its ``sweep`` finds: a
  stock job for each channel with listings whose next attempt has come (a passing failure's
  backoff is over), due for longer than SWEEP_GRACE, or left claimed by a run that died; a
  dispatch job for each channel with dispatch notes overdue by SWEEP_GRACE or left claimed; an
  export job for each fulfilment centre with orders waiting likewise; connections where a live
  run holds the claim are left to it;
- deletes live events older than the retention window (``ORDERDECK_EVENT_RETENTION_HOURS``).
Work announced by a commit normally starts at once (the outbox's wake-ups); the sweep only
catches what a lost message, a crashed worker or a restart left behind. Several schedulers may
run: a job sent twice finds nothing left the second time.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from orderdeck.config import get_settings
from orderdeck.jobs.actors import enqueue
from orderdeck.models import Connection, ConnectionKind, SyncKind
from orderdeck.services import claims, connections, events
from orderdeck.services.work import WORK

log = logging.getLogger(__name__)


@dataclass
class Tick:
    """The jobs one tick sent, by kind, as connection ids."""

    sent: dict[SyncKind, list[uuid.UUID]] = field(default_factory=lambda: {kind: [] for kind in SyncKind})
    events_pruned: int = 0
    runs_abandoned: int = 0


async def tick(now: datetime | None = None) -> Tick:
    """Send the jobs that are due now, for every kind of work (services.work.WORK; see the module
    docstring). A download claimed is sent at once, so a failing sweep cannot lose it."""
    now = now or datetime.now(timezone.utc)
    result = Tick()
    result.runs_abandoned = await claims.close_abandoned()
    for connection_kind in ConnectionKind:
        periodic = [work for work in WORK.values() if work.periodic and work.connection_kind == connection_kind]
        if not periodic:
            continue
        for connection_id in sorted(await connections.due_periodic(connection_kind, now), key=str):
            for work in periodic:
                enqueue(work.kind, connection_id)
                result.sent[work.kind].append(connection_id)
    enabled = set(await Connection.filter(enabled=True).values_list("id", flat=True))
    for kind, work in WORK.items():
        if work.sweep is None:
            continue
        for connection_id in sorted((c for c in await work.sweep(now) if c in enabled), key=str):
            enqueue(kind, connection_id)
            result.sent[kind].append(connection_id)
    result.events_pruned = await events.prune(now - timedelta(hours=get_settings().event_retention_hours))
    return result


async def run_scheduler(interval: float, stop: asyncio.Event | None = None) -> None:
    """Tick every ``interval`` seconds until ``stop`` is set (errors are logged, ticks go on)."""
    stop = stop or asyncio.Event()
    while not stop.is_set():
        try:
            await tick()
        except Exception:
            log.exception("scheduler tick failed")
        try:
            await asyncio.wait_for(stop.wait(), timeout=interval)
        except asyncio.TimeoutError:
            pass

"""The scheduler: periodic downloads per channel, and a sweep for work whose wake-up was lost.

Every tick (``ORDERDECK_SCHEDULER_INTERVAL_SECONDS``) it
- closes as FAILED (abandoned) the runs whose worker died (their claim's lease lapsed) and frees
  their claims (services.claims);
- sends a download job for each enabled channel whose sync interval has passed, claiming the
  channel's next download time with one atomic UPDATE, so several schedulers send one job;
- sends a stock job for each channel with listings whose next attempt has come (a passing
  failure's backoff is over), due for longer than GRACE, or left claimed by a run that died; and
  a dispatch job for each channel with dispatch notes overdue by GRACE or left claimed; channels
  where a live run holds the claim are left to it;
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

from tortoise.expressions import Q

from orderdeck.config import get_settings
from orderdeck.jobs.actors import enqueue
from orderdeck.models import Channel, Dispatch, DispatchState, Listing, SyncKind
from orderdeck.services import claims, events

log = logging.getLogger(__name__)

GRACE = timedelta(seconds=30)
"""How long due work may wait for its own job before the sweep sends another."""


@dataclass
class Tick:
    """The jobs one tick sent, by kind, as channel ids."""

    sent: dict[SyncKind, list[uuid.UUID]] = field(default_factory=lambda: {kind: [] for kind in SyncKind})
    events_pruned: int = 0
    runs_abandoned: int = 0


async def _claim_download(channel: Channel, now: datetime) -> bool:
    """Take the channel's next download time (one scheduler wins)."""
    due = Q(next_download_at__isnull=True) | Q(next_download_at__lte=now)
    taken = await Channel.filter(Q(id=channel.id) & due).update(
        next_download_at=now + timedelta(seconds=channel.sync_interval_seconds)
    )
    return taken == 1


async def _forgotten_stock(now: datetime) -> set[uuid.UUID]:
    """Channels (no live stock run) with listings whose next attempt has come, due for longer than
    GRACE, or left claimed by a run that died (at once: its claim is known dead). The due ones are
    stamped (next attempt now, due since now), so the job takes them and the next sweep waits
    GRACE again."""
    waiting = Q(push_due=True, push_claimed_at__isnull=True) & (
        Q(next_push_at__lte=now) | Q(next_push_at__isnull=True, due_since__lt=now - GRACE))
    overdue = waiting | Q(push_claimed_at__isnull=False)  # no live run holds the channel: left by a dead one
    busy = await claims.live_channels(SyncKind.STOCK_PUSH)
    found = set(await Listing.filter(overdue).exclude(channel_id__in=busy).order_by("channel_id").distinct()
                .values_list("channel_id", flat=True))  # fmt: skip
    if found:
        await Listing.filter(waiting, channel_id__in=found).update(next_push_at=None, due_since=now)
    return found


async def _forgotten_dispatches(now: datetime) -> set[uuid.UUID]:
    """Channels (no live dispatch run) with pending dispatch notes overdue by GRACE, or left
    claimed by a run that died (at once); their next attempt is stamped now, so the next sweep
    waits GRACE again."""
    ready = Q(state=DispatchState.PENDING) & (
        (Q(claimed_at__isnull=True) & Q(created_at__lt=now - GRACE)
         & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now - GRACE)))
        | Q(claimed_at__isnull=False)  # no live run holds the channel (below): left by a dead one
    )  # fmt: skip
    busy = await claims.live_channels(SyncKind.DISPATCH)
    found = [(d, c) for d, c in await Dispatch.filter(ready).values_list("id", "order__channel_id") if c not in busy]
    if found:
        await Dispatch.filter(id__in=[dispatch for dispatch, _ in found], claimed_at__isnull=True).update(
            next_attempt_at=now)  # fmt: skip
    return {channel for _, channel in found}


async def tick(now: datetime | None = None) -> Tick:
    """Send the jobs that are due now (see the module docstring). A download claimed is sent at
    once, so a failing sweep cannot lose it."""
    now = now or datetime.now(timezone.utc)
    result = Tick()
    result.runs_abandoned = await claims.close_abandoned()
    channels = {c.id: c for c in await Channel.filter(enabled=True)}
    for channel in channels.values():
        if (channel.next_download_at is None or channel.next_download_at <= now) and await _claim_download(channel, now):
            enqueue(SyncKind.DOWNLOAD, channel.id)
            result.sent[SyncKind.DOWNLOAD].append(channel.id)
    for kind, found in ((SyncKind.STOCK_PUSH, await _forgotten_stock(now)),
                        (SyncKind.DISPATCH, await _forgotten_dispatches(now))):  # fmt: skip
        for channel_id in sorted((c for c in found if c in channels), key=str):
            enqueue(kind, channel_id)
            result.sent[kind].append(channel_id)
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

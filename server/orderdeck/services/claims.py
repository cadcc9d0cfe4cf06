"""Run claims: one run of a kind of work (download, stock push, dispatch, export...) per
connection at a time, across processes, and a dead worker's claim freed within seconds.

A claim is the connection's RunClaim row for the kind, held under a random token until its lease
ends (``ORDERDECK_RUN_LEASE_SECONDS``). While the run lives, a heartbeat renews the lease every
quarter of it, and every write transaction of the run renews it first (``Claim.renew``), which
fences the run by its token: once another run has taken the claim over, or the scheduler has
closed the run, the old holder's writes fail with ClaimLost and it stops. A lease that lapsed
means its holder died: the next run takes the claim over, and the scheduler (or that run) closes
the dead run as FAILED, abandoned.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from tortoise.expressions import Q

from orderdeck.config import get_settings
from orderdeck.models import RunClaim, SyncKind, SyncOutcome, SyncRun
from orderdeck.services import events
from orderdeck.services.context import transaction
from orderdeck.services.events import SyncPhase

log = logging.getLogger(__name__)


class ClaimLost(RuntimeError):
    """The run's claim was taken over or released (its lease lapsed): the run stops."""


def lease() -> timedelta:
    """How long a claim holds without a renewal."""
    return timedelta(seconds=get_settings().run_lease_seconds)


@dataclass
class Claim:
    """A claim held: renew it in every write transaction of the run."""

    connection_id: uuid.UUID
    kind: SyncKind
    token: str = field(default_factory=lambda: uuid.uuid4().hex)

    async def renew(self) -> None:
        """Extend the lease, or raise ClaimLost when the claim is no longer this run's. Inside a
        transaction it also holds the claim's row lock until the commit, so nobody takes it
        over in between."""
        until = datetime.now(timezone.utc) + lease()
        if not await RunClaim.filter(connection_id=self.connection_id, kind=self.kind, token=self.token).update(lease_until=until):
            raise ClaimLost(f"the {self.kind.value} claim of connection {self.connection_id} is no longer this run's")


def _free(now: datetime) -> Q:
    return Q(token__isnull=True) | Q(lease_until__isnull=True) | Q(lease_until__lt=now)


async def take(connection_id: uuid.UUID, kind: SyncKind) -> Claim | None:
    """Take the connection's claim for ``kind`` unless a live run holds it (one atomic UPDATE); a
    run that held it and died is closed as abandoned."""
    claim, now = Claim(connection_id, kind), datetime.now(timezone.utc)
    rows = RunClaim.filter(connection_id=connection_id, kind=kind)
    taken = await rows.filter(_free(now)).update(token=claim.token, lease_until=now + lease())
    if not taken and not await rows.exists():
        await RunClaim.bulk_create([RunClaim(connection_id=connection_id, kind=kind)], ignore_conflicts=True)
        taken = await rows.filter(_free(now)).update(token=claim.token, lease_until=now + lease())
    if not taken:
        return None
    await close_abandoned(connection_id)
    return claim


async def release(claim: Claim) -> None:
    """Give the claim up (a no-op when it was lost)."""
    await RunClaim.filter(connection_id=claim.connection_id, kind=claim.kind, token=claim.token).update(
        token=None, lease_until=None)  # fmt: skip


async def _heartbeat(claim: Claim) -> None:
    """Renew the claim every quarter of the lease until cancelled or lost."""
    every = lease().total_seconds() / 4
    while True:
        await asyncio.sleep(every)
        try:
            await claim.renew()
        except ClaimLost:
            log.warning("%s: stopping the heartbeat", claim.kind.value)
            return
        except Exception:  # a passing database error: the next beat tries again
            log.exception("could not renew the %s claim of connection %s", claim.kind.value, claim.connection_id)


@contextlib.asynccontextmanager
async def holding(connection_id: uuid.UUID, kind: SyncKind) -> AsyncIterator[Claim | None]:
    """Hold the connection's claim for ``kind`` (heartbeat included) for the block; None when a live
    run holds it."""
    claim = await take(connection_id, kind)
    if claim is None:
        yield None
        return
    beat = asyncio.create_task(_heartbeat(claim))
    try:
        yield claim
    finally:
        beat.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await beat
        await release(claim)


async def close_abandoned(connection_id: uuid.UUID | None = None) -> int:
    """Close as FAILED (abandoned) the RUNNING runs (of one connection, or all) whose claim is no
    longer live, releasing that claim; how many. Each is closed with its claim's row locked, so
    a run renewing its claim at that moment is either seen alive or finds its claim gone."""
    running = SyncRun.filter(outcome=SyncOutcome.RUNNING)
    if connection_id is not None:
        running = running.filter(connection_id=connection_id)
    live = set(await RunClaim.filter(token__isnull=False, lease_until__gte=datetime.now(timezone.utc)).values_list(
        "token", flat=True))  # fmt: skip
    closed = 0
    if live:  # a run under a live claim is alive (checked again below, locked, for the others)
        running = running.filter(Q(claim_token__isnull=True) | ~Q(claim_token__in=live))
    for run in await running:
        now = datetime.now(timezone.utc)
        async with transaction():
            claim = await RunClaim.filter(connection_id=run.connection_id, kind=run.kind).select_for_update().first()
            ours = claim is not None and run.claim_token is not None and claim.token == run.claim_token
            if ours and claim.lease_until is not None and claim.lease_until >= now:
                continue  # alive
            if ours:
                await RunClaim.filter(id=claim.id, token=run.claim_token).update(token=None, lease_until=None)
            if not await SyncRun.filter(id=run.id, outcome=SyncOutcome.RUNNING).update(
                outcome=SyncOutcome.FAILED, abandoned=True, finished_at=now,
                error="ABANDONED: its worker stopped (no heartbeat within the run lease)",
            ):  # fmt: skip
                continue
            await run.refresh_from_db()
            events.sync_progress(run, SyncPhase.FINISHED)
            closed += 1
    return closed


async def live_connections(kind: SyncKind) -> set[uuid.UUID]:
    """Connections where a live run of ``kind`` holds the claim."""
    now = datetime.now(timezone.utc)
    return set(await RunClaim.filter(kind=kind, token__isnull=False, lease_until__gte=now).values_list(
        "connection_id", flat=True))  # fmt: skip

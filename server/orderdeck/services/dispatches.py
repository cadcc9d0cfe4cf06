"""Dispatch notes: telling a channel its orders shipped (the dispatch job's work, from the outbox).

Processing a channel order records a PENDING Dispatch (carrier, service, tracking number) in the
same transaction. A run claims the channel's pending dispatches a batch at a time (claimed_at,
in one transaction), sends them with their lines, and records each result: sent (a DESPATCH_NOTE
audit entry on the order) or failed. Failures follow the retry rule of services.runs: a note the
channel refused stays PENDING for its next attempt (with backoff) until MAX_ATTEMPTS, then is
FAILED with its error (DESPATCH_NOTE_FAILED audit entry) until a user retries it; a batch refused
for credentials is FAILED at once; a batch the channel could not take for a passing reason stays
PENDING, next attempt with backoff, however many attempts it takes. Plugins make sending
idempotent (a note sent twice after a crash is not repeated on the channel). The run holds the
channel's DISPATCH claim (services.claims), so a note left claimed by a run that died is taken
over by the next.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

from tortoise.expressions import Q

from orderdeck.models import AuditKind, Connection, Dispatch, DispatchState, Order, OrderItem, SyncKind, SyncRun
from orderdeck.plugins.dto import DispatchLine, DispatchNote, ItemResult
from orderdeck.plugins.errors import PartnerError
from orderdeck.services import claims, outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.channels import channel_connection
from orderdeck.services.context import Actor, save_fields, transaction
from orderdeck.services.errors import ErrorCode, validated
from orderdeck.services.orders.inputs import OrderIds
from orderdeck.services.claims import Claim
from orderdeck.services.orders.common import BatchResult, OrderFailure, lock_orders
from orderdeck.services.runs import RETRYABLE, SWEEP_GRACE, Issue, RunLog, backoff, outbound_run, retry_after
from orderdeck.services.sync import sync_actor

MAX_ATTEMPTS = 5
"""Attempts at a dispatch note the channel refuses before it is shown as failed (a user can
retry it); passing failures (unreachable, unreadable, rate limited) never make it failed."""

@dataclass
class Claimed:
    """A claimed dispatch with its order and what the channel is told."""

    dispatch: Dispatch
    order: Order
    note: DispatchNote


def claimable(now: datetime) -> Q:
    """Dispatch notes the run holding the channel's claim takes at ``now``: pending and due their
    next attempt, or left claimed by a run that died."""
    ready = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    return Q(state=DispatchState.PENDING) & (Q(claimed_at__isnull=False) | ready)


async def _claim(claim: Claim, size: int) -> list[Claimed]:
    now, channel_id = datetime.now(timezone.utc), claim.connection_id
    async with transaction():
        await claim.renew()
        # Model rows, not values_list(): Tortoise leaves FOR UPDATE out of a values_list() query,
        # and without the row locks two runs would claim (and send) the same notes.
        dispatches = await (
            Dispatch.filter(claimable(now), order__channel_id=channel_id).order_by("created_at", "id").limit(size)
            .select_for_update(skip_locked=True, of=("dispatch",))
        )  # fmt: skip
        if not dispatches:
            return []
        await Dispatch.filter(id__in=[d.id for d in dispatches]).update(claimed_at=now)
    orders = {o.id: o for o in await Order.filter(id__in=[d.order_id for d in dispatches])}
    lines: dict[uuid.UUID, list[DispatchLine]] = defaultdict(list)
    for order_id, line_id, quantity in await OrderItem.filter(order_id__in=list(orders)).order_by(
        "position"
    ).values_list("order_id", "item_number", "quantity"):
        lines[order_id].append(DispatchLine(line_id=line_id, quantity=quantity))
    claimed = []
    for dispatch in dispatches:
        order = orders[dispatch.order_id]
        note = DispatchNote(
            dispatch_id=str(dispatch.id), order_reference=order.reference or "", lines=lines[order.id],
            shipped_at=order.processed_at or now, carrier=dispatch.carrier, service=dispatch.service,
            tracking_number=dispatch.tracking_number, external_reference=order.external_reference or "",
        )  # fmt: skip
        claimed.append(Claimed(dispatch, order, note))
    return claimed


def _describe(dispatch: Dispatch) -> str:
    parts = [p for p in (dispatch.carrier, dispatch.service) if p]
    shipped = f" with {' '.join(parts)}" if parts else ""
    tracking = f", tracking {dispatch.tracking_number}" if dispatch.tracking_number else ""
    return f"shipped{shipped}{tracking}"


async def _record(log: RunLog, channel: Connection, claimed: list[Claimed], results: dict[str, ItemResult],
                  error: PartnerError | None = None) -> list[Issue]:  # fmt: skip
    """Write each dispatch's outcome, release its claim, audit the order, count it in the run. A
    refused one waits its backoff; ``error`` is the channel's error for the whole batch, if any
    (see the module docstring)."""
    run = await log.start()
    now, issues, audit = datetime.now(timezone.utc), [], AuditLog(sync_actor(channel))
    for c in claimed:
        d = c.dispatch
        result = results.get(str(d.id)) or ItemResult(str(d.id), False, "the plugin gave no result")
        d.attempts, d.claimed_at = d.attempts + 1, None
        if result.ok:
            d.state, d.sent_at, d.last_error, d.next_attempt_at = DispatchState.SENT, now, None, None
            run.dispatched += 1
            audit.order(AuditKind.DESPATCH_NOTE, c.order, f"{channel.name} told: {_describe(d)}",
                        after={"carrier": d.carrier, "trackingNumber": d.tracking_number})  # fmt: skip
            continue
        d.last_error = result.error[:2000]
        run.failed += 1
        if isinstance(error, RETRYABLE) or (error is None and d.attempts < MAX_ATTEMPTS):
            d.next_attempt_at = now + backoff(d.attempts, retry_after(error) if error else 0)
            run.retrying += 1
            issues.append((c.note.order_reference, "RETRYING", f"attempt {d.attempts}: {result.error}"))
        else:
            d.state, d.next_attempt_at = DispatchState.FAILED, None
            run.waiting += 1
            issues.append((c.note.order_reference, "FAILED", f"attempt {d.attempts}: {result.error}"))
            audit.order(AuditKind.DESPATCH_NOTE_FAILED, c.order,
                        f"{channel.name} was not told after {d.attempts} attempts: {result.error}"[:2000])  # fmt: skip
    async with transaction():
        await log.claim.renew()
        await save_fields([c.dispatch for c in claimed], ["attempts", "claimed_at", "state", "sent_at",
                                                          "last_error", "next_attempt_at"])  # fmt: skip
        await audit.write()
    return issues


async def send_dispatches(channel_id: uuid.UUID, *, max_batches: int = 100) -> SyncRun | None:
    """Send the channel's pending dispatch notes (see the module docstring) as one run of the log.

    Returns None, logging nothing, when the channel is disabled, another run holds its claim, or
    nothing is pending. A batch the plugin failed as a whole counts as an attempt of each of its
    notes (see the module docstring for what follows) and ends the run FAILED, without raising:
    the notes' own next attempts, not the job's retries, pace them.
    """
    return await outbound_run(
        channel_id, SyncKind.DISPATCH, Dispatching.start,
        lambda: Dispatch.filter(claimable(datetime.now(timezone.utc)), order__channel_id=channel_id).exists(),
        max_batches=max_batches,
    )  # fmt: skip


class Dispatching:
    """A dispatch run's steps (services.runs.Outbound): pending dispatch notes out to the channel."""

    def __init__(self, connection: Connection) -> None:
        self.channel = connection
        self.connector, self.connection = channel_connection(connection)

    @classmethod
    async def start(cls, connection: Connection) -> Dispatching:
        """The steps of a run for the channel of ``connection``."""
        return cls(connection)

    async def claim(self, claim: Claim) -> list[Claimed] | None:
        return await _claim(claim, self.connector.dispatch_batch_size) or None

    async def send(self, batch: list[Claimed]) -> list[ItemResult]:
        return await self.connector.send_dispatches(self.connection, [c.note for c in batch])

    async def record(self, log: RunLog, batch: list[Claimed], results: list[ItemResult] | None,
                     error: PartnerError | None) -> list[Issue]:  # fmt: skip
        if error is not None:  # the batch failed as a whole: an attempt of each note
            reason = f"{type(error).__name__}: {error}"
            results = [ItemResult(str(c.dispatch.id), False, reason) for c in batch]
        return await _record(log, self.channel, batch, {r.id: r for r in results or []}, error)

    async def release(self, claim: Claim, batch: list[Claimed], error: BaseException) -> None:
        await Dispatch.filter(id__in=[c.dispatch.id for c in batch]).update(claimed_at=None)


async def forgotten(now: datetime) -> set[uuid.UUID]:
    """The scheduler's sweep: channels (no live dispatch run) with pending dispatch notes overdue
    by SWEEP_GRACE, or left
    claimed by a run that died (at once); their next attempt is stamped now, so the next sweep
    waits SWEEP_GRACE again."""
    ready = Q(state=DispatchState.PENDING) & (
        (Q(claimed_at__isnull=True) & Q(created_at__lt=now - SWEEP_GRACE)
         & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lt=now - SWEEP_GRACE)))
        | Q(claimed_at__isnull=False)  # no live run holds the channel (below): left by a dead one
    )  # fmt: skip
    busy = await claims.live_connections(SyncKind.DISPATCH)
    found = [(d, c) for d, c in await Dispatch.filter(ready).values_list("id", "order__channel_id") if c not in busy]
    if found:
        await Dispatch.filter(id__in=[dispatch for dispatch, _ in found], claimed_at__isnull=True).update(
            next_attempt_at=now)  # fmt: skip
    return {channel for _, channel in found}


async def next_attempt(channel_id: uuid.UUID) -> datetime | None:
    """When the channel's earliest refused dispatch note is due its next attempt (None: none waits)."""
    waiting = await Dispatch.filter(order__channel_id=channel_id, state=DispatchState.PENDING,
                                    next_attempt_at__isnull=False).order_by("next_attempt_at").first()  # fmt: skip
    return waiting.next_attempt_at if waiting else None


async def retry_dispatches(order_ids: list[uuid.UUID], actor: Actor) -> BatchResult:
    """Send again the failed dispatch notes of these orders (their attempts start over); orders
    without a failed note are reported as failures of the batch."""
    ids = validated(OrderIds, {"order_ids": order_ids}).order_ids
    result = BatchResult()
    async with transaction():
        orders = await lock_orders(ids)
        failed = set(await Dispatch.filter(order_id__in=list(orders), state=DispatchState.FAILED).values_list(
            "order_id", flat=True))  # fmt: skip
        audit = AuditLog(actor)
        for oid in ids:
            order = orders.get(oid)
            if order is None:
                result.failures.append(OrderFailure(oid, f"Order {oid} does not exist", ErrorCode.NOT_FOUND))
            elif oid not in failed:
                result.failures.append(OrderFailure(oid, f"Order {order.number} has no failed dispatch note",
                                                    ErrorCode.INVALID_TRANSITION, order.number))  # fmt: skip
            else:
                result.orders.append(order)
                audit.order(AuditKind.DESPATCH_NOTE_RETRIED, order, "Dispatch note to be sent again")
        if result.orders:
            await Dispatch.filter(order_id__in=[o.id for o in result.orders]).update(
                state=DispatchState.PENDING, attempts=0, claimed_at=None, next_attempt_at=None)  # fmt: skip
            await audit.write()
            outbox.wake(SyncKind.DISPATCH, {o.channel_id for o in result.orders if o.channel_id})
    return result

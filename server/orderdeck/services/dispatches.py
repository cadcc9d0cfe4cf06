"""Dispatch notes: telling a channel its orders shipped (the dispatch job's work, from the outbox).

Processing a channel order records a PENDING Dispatch (carrier, service, tracking number) in the
same transaction. A run claims the channel's pending dispatches a batch at a time (claimed_at,
in one transaction), sends them with their lines, and records each result: sent (a DESPATCH_NOTE
audit entry on the order) or failed. A failed one stays PENDING for the job's next attempt until
MAX_ATTEMPTS, then is FAILED with its error (DESPATCH_NOTE_FAILED audit entry) until a user
retries it. Plugins make sending idempotent (a note sent twice after a crash is not repeated on
the channel); a claim older than CLAIM_TIMEOUT (its job died) is taken over.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tortoise.expressions import Q

from orderdeck.models import AuditKind, Channel, Dispatch, DispatchState, Order, OrderItem, SyncKind, SyncRun
from orderdeck.plugins.dto import DispatchLine, DispatchNote, ItemResult
from orderdeck.plugins.errors import ChannelError, ChannelRateLimited
from orderdeck.plugins.manager import channel_hooks, plugin_info
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.channels import channel_context
from orderdeck.services.context import Actor, save_fields, transaction
from orderdeck.services.errors import ErrorCode, validated
from orderdeck.services.order_inputs import OrderIds
from orderdeck.services.orders import BatchResult, OrderFailure, lock_orders
from orderdeck.services.runs import CLAIM_TIMEOUT, Issue, log_progress, recording
from orderdeck.services.sync import sync_actor

MAX_ATTEMPTS = 5
"""Attempts at a dispatch note before it is shown as failed (a user can retry it)."""

RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=2), timedelta(minutes=10), timedelta(minutes=30))
"""How long a refused note waits before its next attempt (after the 1st, 2nd, ... attempt)."""

@dataclass
class Claimed:
    """A claimed dispatch with its order and what the channel is told."""

    dispatch: Dispatch
    order: Order
    note: DispatchNote


def claimable(now: datetime) -> Q:
    """Dispatch notes a dispatch job may claim at ``now``: pending, unclaimed (or claimed by a
    job that died), due their next attempt (the scheduler's sweep looks for these too)."""
    return (
        Q(state=DispatchState.PENDING)
        & (Q(claimed_at__isnull=True) | Q(claimed_at__lt=now - CLAIM_TIMEOUT))
        & (Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
    )


async def _claim(channel_id: uuid.UUID, size: int) -> list[Claimed]:
    now = datetime.now(timezone.utc)
    async with transaction():
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


async def _record(channel: Channel, claimed: list[Claimed], results: dict[str, ItemResult], run: SyncRun,
                  wait: timedelta = timedelta(0)) -> list[Issue]:  # fmt: skip
    """Write each dispatch's outcome, release its claim, audit the order, count it in the run; a
    refused one waits its retry delay, and at least ``wait``."""
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
        issues.append((c.note.order_reference, "FAILED", f"attempt {d.attempts} of {MAX_ATTEMPTS}: {result.error}"))
        if d.attempts < MAX_ATTEMPTS:
            d.next_attempt_at = now + max(RETRY_DELAYS[min(d.attempts, len(RETRY_DELAYS)) - 1], wait)
        else:
            d.state, d.next_attempt_at = DispatchState.FAILED, None
            audit.order(AuditKind.DESPATCH_NOTE_FAILED, c.order,
                        f"{channel.name} was not told after {d.attempts} attempts: {result.error}"[:2000])  # fmt: skip
    async with transaction():
        await save_fields([c.dispatch for c in claimed], ["attempts", "claimed_at", "state", "sent_at",
                                                          "last_error", "next_attempt_at"])  # fmt: skip
        await audit.write()
    return issues


async def send_dispatches(channel_id: uuid.UUID, *, max_batches: int = 100) -> SyncRun | None:
    """Send the channel's pending dispatch notes (see the module docstring) as one run of the log.

    Returns None, logging nothing, when the channel is disabled or nothing is pending. A batch
    the plugin failed as a whole (unreachable, rate limited, credentials refused) counts as an
    attempt of each of its notes, which wait for their next attempt (at least as long as a rate
    limit asks), and ends the run FAILED: the notes' own attempts, not the job's, pace them.
    """
    channel = await Channel.get_or_none(id=channel_id)
    if channel is None or not channel.enabled:
        return None
    async with recording(channel_id, SyncKind.DISPATCH) as log:
        size = plugin_info(channel.plugin).dispatch_batch_size
        hooks, context = channel_hooks(channel.plugin), channel_context(channel)
        for _ in range(max_batches):
            claimed = await _claim(channel_id, size)
            if not claimed:
                break
            run = await log.start()
            try:
                results = {r.id: r for r in await hooks.orderdeck_send_dispatches(channel=context,
                                                                                  notes=[c.note for c in claimed])}
            except ChannelError as exc:
                log.error, reason = exc, f"{type(exc).__name__}: {exc}"
                results = {str(c.dispatch.id): ItemResult(str(c.dispatch.id), False, reason) for c in claimed}
            except BaseException:
                await Dispatch.filter(id__in=[c.dispatch.id for c in claimed]).update(claimed_at=None)
                raise
            run.pages += 1
            wait = timedelta(seconds=log.error.retry_after) if isinstance(log.error, ChannelRateLimited) else timedelta(0)
            await log_progress(run, await _record(channel, claimed, results, run, wait))
            if log.error is not None:
                break
    return log.run


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

"""Follow-ups on a sale: once an order's dispatch note has reached its channel, and the channel's
follow-up is on, the channel is asked to follow the order up with its buyer (Amazon: a request for
a product review and seller feedback) ``follow_up_after_days`` later, once per order.

Only channels whose connector implements the ``follow_up`` hook offer it; the seller switches it
on per channel (``set_channel_follow_up``), and it applies to dispatches sent from then on, never
to the order history. A run holds the channel's FOLLOW_UP claim (services.claims), so two runs
never ask twice; a follow-up the channel refused is recorded with its reason (FOLLOW_UP_REFUSED on
the order's audit trail) and not tried again; a call that failed as a whole is tried again at the
next run. A worker that dies between the channel's answer and its commit leaves the follow-up to be
asked again: channels refuse a second request for the same order (Amazon answers that the action
is no longer available), which is then recorded as refused.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from tortoise.expressions import Q

from orderdeck.models import AuditKind, AuditSubject, Channel, Connection, Dispatch, DispatchState, Order, SyncKind, SyncRun
from orderdeck.plugins.connectors import ChannelConnector, implements
from orderdeck.plugins.dto import FollowUp, ItemResult
from orderdeck.plugins.errors import PartnerError
from orderdeck.plugins.manager import UnknownConnector, channel_connector
from orderdeck.services.audit import AuditLog
from orderdeck.services.channels import channel_connection, channel_of
from orderdeck.services.claims import Claim
from orderdeck.services.context import Actor, save_fields, transaction
from orderdeck.services.errors import ErrorCode, FieldError, ServiceError
from orderdeck.services.runs import Issue, RunLog, outbound_run
from orderdeck.services.sync import sync_actor

MAX_AFTER_DAYS = 60
"""The longest wait after dispatch a seller can set (Amazon accepts requests 5 to 30 days after
delivery)."""


def offers_follow_up(connector_name: str) -> bool:
    """Whether the channel connector ``connector_name`` is installed and can follow a sale up."""
    try:
        connector: ChannelConnector = channel_connector(connector_name)
    except UnknownConnector:
        return False
    return implements(connector, "follow_up")


def due(channel: Channel, now: datetime) -> Q:
    """The channel's dispatches due their follow-up at ``now``: sent since the follow-up was
    switched on and at least ``follow_up_after_days`` ago, not yet followed up."""
    return Q(order__channel_id=channel.id, state=DispatchState.SENT, followed_up_at__isnull=True,
             sent_at__gte=channel.follow_up_since,
             sent_at__lte=now - timedelta(days=channel.follow_up_after_days))  # fmt: skip


@dataclass
class Claimed:
    """A dispatch due its follow-up, with its order and what the channel is asked."""

    dispatch: Dispatch
    order: Order
    request: FollowUp


async def follow_up(channel_id: uuid.UUID, *, max_batches: int = 100) -> SyncRun | None:
    """Ask the channel to follow up the orders due (see the module docstring), as one run of the
    log. None, logging nothing, when the follow-up is off or not offered, the channel is disabled,
    another run holds its claim, or nothing is due."""
    channel = await Channel.get_or_none(id=channel_id).select_related("connection")
    if channel is None or channel.follow_up_since is None:
        return None
    if not offers_follow_up(channel.connection.connector):
        return None
    return await outbound_run(
        channel_id, SyncKind.FOLLOW_UP, FollowingUp.start,
        lambda: Dispatch.filter(due(channel, datetime.now(timezone.utc))).exists(), max_batches=max_batches,
    )  # fmt: skip


class FollowingUp:
    """A follow-up run's steps (services.runs.Outbound): due follow-ups out to the channel."""

    def __init__(self, connection: Connection, channel: Channel) -> None:
        self.connection_row, self.channel = connection, channel
        self.connector, self.connection = channel_connection(connection)

    @classmethod
    async def start(cls, connection: Connection) -> FollowingUp:
        """The steps of a run for the channel of ``connection``."""
        return cls(connection, await Channel.get(id=connection.id))

    async def claim(self, claim: Claim) -> list[Claimed] | None:
        now = datetime.now(timezone.utc)
        # Each answered batch is recorded (no longer due); one failed as a whole ends the run.
        dispatches = await (Dispatch.filter(due(self.channel, now)).order_by("sent_at", "id")
                            .limit(self.connector.follow_up_batch_size))  # fmt: skip
        if not dispatches:
            return None
        orders = {o.id: o for o in await Order.filter(id__in=[d.order_id for d in dispatches])}
        return [
            Claimed(d, orders[d.order_id], FollowUp(
                dispatch_id=str(d.id), order_reference=orders[d.order_id].reference or "",
                shipped_at=d.sent_at or now, external_reference=orders[d.order_id].external_reference or ""))
            for d in dispatches
        ]  # fmt: skip

    async def send(self, batch: list[Claimed]) -> list[ItemResult]:
        return await self.connector.follow_up(self.connection, [c.request for c in batch])

    async def record(self, log: RunLog, batch: list[Claimed], results: list[ItemResult] | None,
                     error: PartnerError | None) -> list[Issue]:  # fmt: skip
        """Each order's follow-up made or refused (final); a batch failed as a whole records nothing,
        and its orders are asked again at the next run."""
        run = await log.start()
        if error is not None:
            run.failed += len(batch)
            run.retrying += len(batch)
            return [(c.request.order_reference, "RETRYING", f"{type(error).__name__}: {error}") for c in batch]
        by_id = {r.id: r for r in results or []}
        now, issues, audit = datetime.now(timezone.utc), [], AuditLog(sync_actor(self.connection_row))
        name = self.connection_row.name
        for c in batch:
            result = by_id.get(c.request.dispatch_id) or ItemResult(c.request.dispatch_id, False, "the plugin gave no result")
            c.dispatch.followed_up_at = now
            if result.ok:
                c.dispatch.follow_up_error = None
                run.followed_up += 1
                audit.order(AuditKind.FOLLOWED_UP, c.order, f"{name} followed the sale up with the buyer")
            else:
                c.dispatch.follow_up_error = result.error[:2000]
                run.failed += 1
                run.waiting += 1
                issues.append((c.request.order_reference, "REFUSED", result.error))
                audit.order(AuditKind.FOLLOW_UP_REFUSED, c.order, f"{name} refused the follow-up: {result.error}"[:1000])
        async with transaction():
            await log.claim.renew()
            await save_fields([c.dispatch for c in batch], ["followed_up_at", "follow_up_error"])
            await audit.write()
        return issues

    async def release(self, claim: Claim, batch: list[Claimed], error: BaseException) -> None:
        """Nothing was written: the batch is due again at the next run."""


async def set_channel_follow_up(channel_id: uuid.UUID, enabled: bool, after_days: int | None, actor: Actor) -> Channel:
    """Switch the channel's follow-up on (for dispatches sent from now) or off, and set how many
    days after dispatch it is made; refused for a channel whose connector offers none."""
    if after_days is not None and not 0 <= after_days <= MAX_AFTER_DAYS:
        raise ServiceError.one(f"Must be between 0 and {MAX_AFTER_DAYS} days", "afterDays", ErrorCode.INVALID)
    async with transaction():
        connection, channel = await channel_of(channel_id)
        if enabled and not offers_follow_up(connection.connector):
            raise ServiceError([FieldError(f"{connection.connector} offers no follow-up on a sale", "enabled",
                                           ErrorCode.INVALID_TRANSITION)])  # fmt: skip
        before = _follow_up_state(channel)
        if enabled and channel.follow_up_since is None:
            channel.follow_up_since = datetime.now(timezone.utc)
        elif not enabled:
            channel.follow_up_since = None
        if after_days is not None:
            channel.follow_up_after_days = after_days
        after = _follow_up_state(channel)
        if after != before:
            await channel.save(update_fields=["follow_up_since", "follow_up_after_days"])
            audit = AuditLog(actor)
            audit.add(AuditKind.CHANNEL_FOLLOW_UP_SET, AuditSubject.CHANNEL, channel.id, connection.name,
                      before=before, after=after)  # fmt: skip
            await audit.write()
    return channel


def _follow_up_state(channel: Channel) -> dict[str, object]:
    return {"enabled": channel.follow_up_since is not None, "afterDays": channel.follow_up_after_days}

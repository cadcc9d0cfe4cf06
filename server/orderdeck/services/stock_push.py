"""Publishing stock levels to a channel: the stock job's work, read from the outbox.

A listing's quantity is the sum of what is available of its item at the channel's stock locations,
floored at 0, capped at its maximum listed quantity, and 0 at or below its end-when level; a
channel with no stock locations is offered nothing, so nothing is published to it (its due listings
are settled unsent until a location is mapped, which marks them due again). A run claims the
channel's due listings a batch at a time (clearing push_due and setting push_claimed_at in one
transaction, with the quantities read in it), sends only quantities that differ from the last one
the channel accepted, records each result, releases the claims, and goes on while listings are due,
so a burst of changes goes out in few calls. A change made while a listing is claimed marks it due
again, for the next batch. The run holds the channel's STOCK_PUSH claim (services.claims), so a
listing left claimed by a run that died is taken over by the next.
Failures (the retry rule in services.runs): a listing the channel refused is FAILED until its
stock, the listing or the channel changes; a whole batch refused for credentials or data too; a
batch the channel could not take for a passing reason is RETRYING: due again at next_push_at,
with backoff, sent by the scheduler's sweep until it succeeds.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tortoise.expressions import Q

from orderdeck.models import Channel, Connection, Listing, StockLevel, SubmitStatus, SyncKind, SyncRun
from orderdeck.plugins.dto import ItemResult, StockUpdate
from orderdeck.plugins.errors import PartnerError
from orderdeck.services.channels import channel_connection
from orderdeck.services.claims import Claim
from orderdeck.services.context import save_fields, transaction
from orderdeck.services import claims
from orderdeck.services.runs import RETRYABLE, SWEEP_GRACE, Issue, RunLog, backoff, outbound_run, retry_after

def listed_quantity(listing: Listing, available: int) -> int:
    """What the channel is told of a listing when ``available`` units are available to it."""
    if listing.end_when_stock_at is not None and available <= listing.end_when_stock_at:
        return 0
    quantity = max(available, 0)
    if listing.max_listed_quantity is not None:
        quantity = min(quantity, listing.max_listed_quantity)
    return quantity


@dataclass
class Batch:
    """The listings one claim took: those to send with their quantities, and how many needed
    nothing (unchanged since the last accepted push, not synced, or no stock locations)."""

    to_send: dict[uuid.UUID, tuple[Listing, int]] = field(default_factory=dict)
    unchanged: int = 0

    def __len__(self) -> int:
        return len(self.to_send)


def claimable(now: datetime) -> Q:
    """Listings the run holding the channel's claim takes at ``now``: due and past their next
    attempt, or left claimed by a run that died."""
    ready = Q(next_push_at__isnull=True) | Q(next_push_at__lte=now)
    return (Q(push_due=True, push_claimed_at__isnull=True) & ready) | Q(push_claimed_at__isnull=False)


async def _available(channel: Channel, item_ids: set[int]) -> dict[int, int] | None:
    """Per item: the sum of what is available at the channel's stock locations; None when the
    channel has no stock locations (nothing is published to it)."""
    locations = await channel.stock_locations.all().values_list("id", flat=True)
    if not locations:
        return None
    totals: dict[int, int] = dict.fromkeys(item_ids, 0)
    if item_ids:
        rows = await StockLevel.filter(item_id__in=item_ids, location_id__in=locations).values_list(
            "item_id", "level", "allocated"
        )
        for item_id, level, allocated in rows:
            totals[item_id] += level - allocated
    return totals


async def _claim(claim: Claim, channel: Channel, size: int) -> Batch:
    """Claim up to ``size`` due listings; those needing no push are settled at once."""
    now = datetime.now(timezone.utc)
    batch = Batch()
    async with transaction():
        await claim.renew()
        listings = await (
            Listing.filter(claimable(now), channel_id=channel.id).order_by("due_since", "id").limit(size)
            .select_for_update(skip_locked=True)
        )  # fmt: skip
        if not listings:
            return batch
        available = await _available(channel, {listing.stock_item_id for listing in listings})
        settled = []
        for listing in listings:
            if available is None or listing.ignore_sync:
                settled.append(listing.id)
                continue
            quantity = listed_quantity(listing, available[listing.stock_item_id])
            if listing.submit_status == SubmitStatus.OK and listing.submitted_quantity == quantity:
                settled.append(listing.id)
            else:
                batch.to_send[listing.id] = (listing, quantity)
        batch.unchanged = len(settled)
        if settled:
            await Listing.filter(id__in=settled).update(push_due=False, push_claimed_at=None, next_push_at=None,
                                                        push_attempts=0)  # fmt: skip
        if batch.to_send:
            await Listing.filter(id__in=list(batch.to_send)).update(push_due=False, push_claimed_at=now)
    return batch


async def _record(claim: Claim, batch: Batch, results: list[ItemResult], run: SyncRun) -> list[Issue]:
    """Write each listing's outcome and release its claim; count it in the run."""
    by_id = {result.id: result for result in results}
    now, issues, listings = datetime.now(timezone.utc), [], []
    for listing_id, (listing, quantity) in batch.to_send.items():
        result = by_id.get(str(listing_id)) or ItemResult(str(listing_id), False, "the plugin gave no result")
        listing.push_claimed_at, listing.submitted_at = None, now
        listing.push_attempts, listing.next_push_at = 0, None
        if result.ok:  # an accepted update's text is the channel's warnings, kept with the listing
            listing.submitted_quantity, listing.submit_status, listing.submit_error = quantity, SubmitStatus.OK, result.error[:500]
            run.pushed += 1
            if result.error:
                issues.append((listing.channel_sku, "WARNING", f"quantity {quantity} taken with warnings: {result.error}"))
        else:
            listing.submit_status, listing.submit_error = SubmitStatus.FAILED, result.error[:500]
            run.failed += 1
            run.waiting += 1
            issues.append((listing.channel_sku, "FAILED", f"quantity {quantity} refused: {result.error}"))
        listings.append(listing)
    async with transaction():
        await claim.renew()
        await save_fields(listings, _OUTCOME_FIELDS)
    return issues


_OUTCOME_FIELDS = ["push_claimed_at", "submitted_at", "submitted_quantity", "submit_status", "submit_error",
                   "push_attempts", "next_push_at"]  # fmt: skip


async def _release(claim: Claim, batch: Batch, error: BaseException, run: SyncRun | None) -> list[Issue]:
    """A batch the channel did not take, as a whole. A passing failure (RETRYABLE) leaves each
    listing due, RETRYING at its next attempt (backoff by its failures in a row); refused
    credentials or data leave them FAILED until a change; anything else (a bug, a cancelled job)
    leaves them due as they were."""
    now, reason = datetime.now(timezone.utc), f"{type(error).__name__}: {error}"[:500]
    listings = [listing for listing, _ in batch.to_send.values()]
    for listing in listings:
        listing.push_claimed_at = None
        if isinstance(error, RETRYABLE):
            listing.push_attempts += 1
            listing.next_push_at = now + backoff(listing.push_attempts, retry_after(error))
            listing.submit_status, listing.submit_error = SubmitStatus.RETRYING, reason
        elif isinstance(error, PartnerError):
            listing.submit_status, listing.submit_error, listing.submitted_at = SubmitStatus.FAILED, reason, now
            listing.push_attempts, listing.next_push_at = 0, None
    if isinstance(error, PartnerError) and run is not None:
        run.failed += len(listings)
        if isinstance(error, RETRYABLE):
            run.retrying += len(listings)
        else:
            run.waiting += len(listings)
    async with transaction():
        await claim.renew()
        # push_due is only ever set here: a listing marked due meanwhile stays due.
        await save_fields(listings, ["push_claimed_at", "push_attempts", "next_push_at",
                                     "submit_status", "submit_error", "submitted_at"])  # fmt: skip
        if not isinstance(error, PartnerError) or isinstance(error, RETRYABLE):
            await Listing.filter(id__in=[listing.id for listing in listings]).update(push_due=True)
    if not isinstance(error, PartnerError):
        return []
    kind = "RETRYING" if isinstance(error, RETRYABLE) else "FAILED"
    return [(listing.channel_sku, kind, reason) for listing in listings]


async def push_stock(channel_id: uuid.UUID, *, max_batches: int = 100) -> SyncRun | None:
    """Publish the channel's due listings (see the module docstring) as one run of the log.

    Returns None, logging nothing, when the channel is disabled, another run holds its claim, or
    nothing needed sending. A plugin error ends the run FAILED after its batch is released (see
    the module docstring); it is not raised: the listings' next attempts pace the retries.
    """
    return await outbound_run(
        channel_id, SyncKind.STOCK_PUSH, StockPush.start,
        lambda: Listing.filter(claimable(datetime.now(timezone.utc)), channel_id=channel_id).exists(),
        max_batches=max_batches,
    )  # fmt: skip


class StockPush:
    """A stock push's steps (services.runs.Outbound): due listings out to the channel."""

    def __init__(self, connection: Connection, channel: Channel) -> None:
        self.channel = channel
        self.connector, self.connection = channel_connection(connection)

    @classmethod
    async def start(cls, connection: Connection) -> StockPush:
        """The steps of a run for the channel of ``connection``."""
        return cls(connection, await Channel.get(id=connection.id))

    async def claim(self, claim: Claim) -> Batch | None:
        batch = await _claim(claim, self.channel, self.connector.stock_batch_size)
        return batch if batch.to_send or batch.unchanged else None

    async def send(self, batch: Batch) -> list[ItemResult]:
        updates = [StockUpdate(listing_id=str(listing.id), channel_sku=listing.channel_sku, quantity=quantity,
                               channel_reference=listing.channel_reference)
                   for listing, quantity in batch.to_send.values()]  # fmt: skip
        return await self.connector.push_stock(self.connection, updates)

    async def record(self, log: RunLog, batch: Batch, results: list[ItemResult] | None,
                     error: PartnerError | None) -> list[Issue]:  # fmt: skip
        run = await log.start()
        if error is not None:
            return await _release(log.claim, batch, error, run)
        return await _record(log.claim, batch, results or [], run)

    async def release(self, claim: Claim, batch: Batch, error: BaseException) -> None:
        await _release(claim, batch, error, None)


async def forgotten(now: datetime) -> set[uuid.UUID]:
    """The scheduler's sweep: channels (no live stock run) with listings whose next attempt has
    come, due for longer than SWEEP_GRACE, or left claimed by a run that died (at once: its claim is known dead). The due ones are
    stamped (next attempt now, due since now), so the job takes them and the next sweep waits
    SWEEP_GRACE again."""
    waiting = Q(push_due=True, push_claimed_at__isnull=True) & (
        Q(next_push_at__lte=now) | Q(next_push_at__isnull=True, due_since__lt=now - SWEEP_GRACE))
    overdue = waiting | Q(push_claimed_at__isnull=False)  # no live run holds the channel: left by a dead one
    busy = await claims.live_connections(SyncKind.STOCK_PUSH)
    found = set(await Listing.filter(overdue).exclude(channel_id__in=busy).order_by("channel_id").distinct()
                .values_list("channel_id", flat=True))  # fmt: skip
    if found:
        await Listing.filter(waiting, channel_id__in=found).update(next_push_at=None, due_since=now)
    return found

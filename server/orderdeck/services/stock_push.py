"""Publishing stock levels to a channel: the stock job's work, read from the outbox.

A listing's quantity is the sum of what is available of its item at the channel's stock locations,
floored at 0, capped at its maximum listed quantity, and 0 at or below its end-when level; a
channel with no stock locations is offered nothing, so nothing is published to it (its due listings
are settled unsent until a location is mapped, which marks them due again). A run claims the
channel's due listings a batch at a time (clearing push_due and setting push_claimed_at in one
transaction, with the quantities read in it), sends only quantities that differ from the last one
the channel accepted, records each result, releases the claims, and goes on while listings are due,
so a burst of changes goes out in few calls. A change made while a listing is claimed marks it due
again, for the next batch. A claim older than CLAIM_TIMEOUT (its job died) is taken over.
Whole-batch plugin errors release the batch: due again when retryable (the job retries), else
failed with the error until the channel or the stock changes.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from tortoise.expressions import Q

from orderdeck.models import Channel, Listing, StockLevel, SubmitStatus, SyncKind, SyncRun
from orderdeck.plugins.dto import ItemResult, StockUpdate
from orderdeck.plugins.errors import ChannelError
from orderdeck.plugins.manager import channel_hooks, plugin_info
from orderdeck.services.channels import channel_context
from orderdeck.services.context import save_fields, transaction
from orderdeck.services.runs import CLAIM_TIMEOUT, RETRYABLE, Issue, log_progress, recording

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


def claimable(now: datetime) -> Q:
    """Listings a stock job may claim at ``now``: due and unclaimed, or claimed by a job that
    died (the scheduler's sweep looks for these too)."""
    return Q(push_due=True, push_claimed_at__isnull=True) | Q(push_claimed_at__lt=now - CLAIM_TIMEOUT)


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


async def _claim(channel: Channel, size: int) -> Batch:
    """Claim up to ``size`` due listings; those needing no push are settled at once."""
    now = datetime.now(timezone.utc)
    batch = Batch()
    async with transaction():
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
            await Listing.filter(id__in=settled).update(push_due=False, push_claimed_at=None)
        if batch.to_send:
            await Listing.filter(id__in=list(batch.to_send)).update(push_due=False, push_claimed_at=now)
    return batch


async def _record(batch: Batch, results: list[ItemResult], run: SyncRun) -> list[Issue]:
    """Write each listing's outcome and release its claim; count it in the run."""
    by_id = {result.id: result for result in results}
    now, issues, listings = datetime.now(timezone.utc), [], []
    for listing_id, (listing, quantity) in batch.to_send.items():
        result = by_id.get(str(listing_id)) or ItemResult(str(listing_id), False, "the plugin gave no result")
        listing.push_claimed_at, listing.submitted_at = None, now
        if result.ok:
            listing.submitted_quantity, listing.submit_status, listing.submit_error = quantity, SubmitStatus.OK, ""
            run.pushed += 1
        else:
            listing.submit_status, listing.submit_error = SubmitStatus.FAILED, result.error[:500]
            run.failed += 1
            issues.append((listing.channel_sku, "FAILED", f"quantity {quantity} refused: {result.error}"))
        listings.append(listing)
    async with transaction():
        await save_fields(listings, ["push_claimed_at", "submitted_at", "submitted_quantity",
                                     "submit_status", "submit_error"])  # fmt: skip
    return issues


RETRY_DELAY = timedelta(seconds=30)
"""How long a batch the channel could not take waits before the scheduler's sweep sends it again
(the job's own retries may come sooner); a rate limit's Retry-After, when longer, wins."""


async def _release(batch: Batch, error: BaseException) -> None:
    """A batch the channel did not take: failed with the channel's error when retrying cannot
    help (refused credentials, an unreadable answer), else due again (from a little later, so
    the sweep does not hammer a channel that is down)."""
    ids = list(batch.to_send)
    if not isinstance(error, ChannelError) or isinstance(error, RETRYABLE):
        wait = max(RETRY_DELAY, timedelta(seconds=getattr(error, "retry_after", 0)))
        await Listing.filter(id__in=ids).update(push_claimed_at=None, push_due=True,
                                                due_since=datetime.now(timezone.utc) + wait)  # fmt: skip
    else:
        await Listing.filter(id__in=ids).update(push_claimed_at=None, submit_status=SubmitStatus.FAILED,
                                                submit_error=f"{type(error).__name__}: {error}"[:500])  # fmt: skip


async def push_stock(channel_id: uuid.UUID, *, max_batches: int = 100) -> SyncRun | None:
    """Publish the channel's due listings (see the module docstring) as one run of the log.

    Returns None, logging nothing, when the channel is disabled or nothing needed sending. A
    retryable plugin error is raised again after the run is logged, for the job to retry.
    """
    channel = await Channel.get_or_none(id=channel_id)
    if channel is None or not channel.enabled:
        return None
    async with recording(channel_id, SyncKind.STOCK_PUSH) as log:
        size = plugin_info(channel.plugin).stock_batch_size
        hooks, context = channel_hooks(channel.plugin), channel_context(channel)
        for _ in range(max_batches):
            batch = await _claim(channel, size)
            if not batch.to_send:
                if batch.unchanged:
                    continue
                break
            run = await log.start()
            updates = [StockUpdate(listing_id=str(listing.id), channel_sku=listing.channel_sku, quantity=quantity,
                                   channel_reference=listing.channel_reference)
                       for listing, quantity in batch.to_send.values()]  # fmt: skip
            try:
                results = await hooks.orderdeck_push_stock(channel=context, updates=updates)
            except BaseException as exc:
                await _release(batch, exc)
                run.failed += len(updates)
                raise
            run.pages += 1
            await log_progress(run, await _record(batch, results, run))
    return log.run

"""The automation log: one SyncRun per run of a connection's work (download, stock push,
dispatch, export, imports), with its counters, and each order, listing or row it skipped or
failed as a SyncIssue; and the rule for outbound work the partner could not take.

Retry rule (invariant 9): a push or dispatch that failed for a passing reason (RETRYABLE: a
timeout, a 5xx, a dropped connection, an unreadable answer, a rate limit) stays due and is sent
again after ``backoff``, until it succeeds; only refused credentials (PartnerAuthError) and data
the channel refused (PartnerDataError, or an item's own refusal) wait for a change.

A run works under its connection's claim (services.claims): every write of the log renews it, so a
run whose claim was taken over writes nothing more.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from typing import Any, Protocol, TypeVar

from orderdeck.config import get_settings
from orderdeck.models import Connection, SyncIssue, SyncKind, SyncOutcome, SyncRun
from orderdeck.plugins.dto import ItemResult
from orderdeck.plugins.errors import PartnerError, PartnerRateLimited, PartnerUnavailable
from orderdeck.services import claims, events, outbox
from orderdeck.services.claims import Claim, ClaimLost
from orderdeck.services.context import transaction
from orderdeck.services.events import SyncPhase

B = TypeVar("B")

Issue = tuple[str, str, str]
"""(reference, kind, message): an order (or listing) a run skipped or failed, and why."""

SWEEP_GRACE = timedelta(seconds=30)
"""How long due outbound work may wait for its own job before the scheduler's sweep sends another."""

RETRYABLE = (PartnerRateLimited, PartnerUnavailable)
"""Plugin errors a later attempt may overcome (PartnerUnreadable is a PartnerUnavailable)."""


def backoff(failures: int, retry_after: float = 0) -> timedelta:
    """The wait before the next attempt after ``failures`` failed attempts in a row: the minimum
    backoff doubled each time, capped, and at least what a rate limit asked for."""
    settings = get_settings()
    wait = min(settings.retry_min_backoff_seconds * 2 ** max(failures - 1, 0), settings.retry_max_backoff_seconds)
    return timedelta(seconds=max(wait, retry_after))


def retry_after(error: BaseException) -> float:
    """How long the channel asked to wait (a rate limit's Retry-After), else 0."""
    return error.retry_after if isinstance(error, PartnerRateLimited) else 0.0


class RunLog:
    """The run being recorded by ``recording`` under ``claim``: started on first need
    (``start``); ``error`` is what ended it, if it ended without raising."""

    def __init__(self, claim: Claim) -> None:
        self.claim = claim
        self.run: SyncRun | None = None
        self.error: BaseException | None = None

    async def start(self) -> SyncRun:
        """The run, created RUNNING the first time."""
        if self.run is None:
            async with transaction():
                await self.claim.renew()
                self.run = await SyncRun.create(connection_id=self.claim.connection_id, kind=self.claim.kind,
                                                claim_token=self.claim.token)  # fmt: skip
                events.sync_progress(self.run, SyncPhase.STARTED)
        return self.run

    async def progress(self, issues: list[Issue]) -> None:
        """Save the run's counters so far and the issues of its last step."""
        run = await self.start()
        async with transaction():
            await self.claim.renew()
            await run.save()
            events.sync_progress(run, SyncPhase.PROGRESS)
            if issues:
                await SyncIssue.bulk_create([
                    SyncIssue(run_id=run.id, reference=ref[:100], kind=kind, message=message[:1000])
                    for ref, kind, message in issues
                ])  # fmt: skip

    async def finish(self) -> None:
        """End the run: FAILED with the error that stopped it (a plugin's, or an unexpected
        one), else PARTIAL when some items failed, else SUCCEEDED."""
        run = self.run
        assert run is not None
        if self.error is not None:
            run.outcome, run.error = SyncOutcome.FAILED, f"{type(self.error).__name__}: {self.error}"
        else:
            run.outcome = SyncOutcome.PARTIAL if run.failed else SyncOutcome.SUCCEEDED
        run.finished_at = datetime.now(timezone.utc)
        async with transaction():
            await self.claim.renew()
            await run.save()
            events.sync_progress(run, SyncPhase.FINISHED)


@asynccontextmanager
async def recording(claim: Claim) -> AsyncIterator[RunLog]:
    """Record a run of the block under ``claim`` (if it starts one) and end it however the block
    ends: a plugin error fails the run and is raised again only when a retry may overcome it
    (RETRYABLE); a lost claim ends the block quietly (whoever closed the run recorded why); any
    other error (a bug, a channel whose plugin is gone, a cancelled job) fails the run (started
    for it if need be) and is raised."""
    log = RunLog(claim)
    lost = False
    try:
        yield log
    except ClaimLost:
        lost = True
    except PartnerError as exc:
        log.error = exc
        if isinstance(exc, RETRYABLE):
            raise
    except Exception as exc:  # e.g. the channel's plugin is gone: a FAILED run says so
        log.error = exc
        await log.start()
        raise
    except BaseException as exc:  # the job was cancelled
        log.error = exc
        raise
    finally:
        if log.run is not None and not lost:
            try:
                await log.finish()
            except ClaimLost:
                pass


class Outbound(Protocol[B]):
    """The steps of one kind of outbound work (stock push, dispatch), which ``outbound_run``
    repeats: claim a batch of due items under the run's claim, hand it to the connector, record
    each item's result. Every write renews the run's claim in its transaction, so a run that
    outlived its claim records nothing over the run that took it over."""

    async def claim(self, claim: Claim) -> B | None:
        """Claim the next batch (None: nothing is left; an empty batch: nothing to send in this
        one, claim again)."""
        ...

    async def send(self, batch: B) -> list[ItemResult]:
        """Hand the batch to the connector: one result per item."""
        ...

    async def record(self, log: RunLog, batch: B, results: list[ItemResult] | None,
                     error: PartnerError | None) -> list[Issue]:  # fmt: skip
        """Record each item's result (``results``), or the connector's error for the whole batch
        (``error``, see the retry rule), and release the claimed items; the run's issues."""
        ...

    async def release(self, claim: Claim, batch: B, error: BaseException) -> None:
        """Leave the batch's items as they were (a bug or a cancelled job stopped the send)."""
        ...


async def outbound_run(
    connection_id: uuid.UUID,
    kind: SyncKind,
    steps: Callable[[Connection], Awaitable[Outbound[Any]]],
    still_due: Callable[[], Awaitable[bool]],
    *,
    max_batches: int = 100,
) -> SyncRun | None:
    """One run of a connection's outbound work (stock push, dispatch, export): batch after batch
    of ``await steps(connection)`` under the connection's claim of ``kind``, recorded in the run log, until nothing is due, ``max_batches``
    were sent, or the connector failed a whole batch (that error ends the run FAILED; the items'
    own next attempts pace the retries). Then, if ``still_due`` finds work that became due while
    the claim was held, another run is woken. None, logging nothing, when the connection is disabled,
    another run holds the claim, or nothing needed sending."""
    connection = await Connection.get_or_none(id=connection_id)
    if connection is None or not connection.enabled:
        return None
    async with claims.holding(connection_id, kind) as claim:
        if claim is None:
            return None
        async with recording(claim) as log:
            outbound = await steps(connection)
            for _ in range(max_batches):
                batch = await outbound.claim(claim)
                if batch is None:
                    break
                if not batch:
                    continue
                run = await log.start()
                results, error = None, None
                try:
                    results = await outbound.send(batch)
                except PartnerError as exc:
                    error = log.error = exc
                except BaseException as exc:
                    await outbound.release(claim, batch, exc)
                    raise
                run.pages += 1
                await log.progress(await outbound.record(log, batch, results, error))
                if error is not None:
                    break
    if await still_due():
        outbox.wake(kind, [connection_id])
    return log.run

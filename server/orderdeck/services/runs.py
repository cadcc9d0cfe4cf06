"""The automation log: one SyncRun per download, stock push or dispatch run of a channel, with
its counters, and each order or listing it skipped or failed as a SyncIssue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone

from orderdeck.models import SyncIssue, SyncKind, SyncOutcome, SyncRun
from orderdeck.plugins.errors import ChannelError, ChannelRateLimited, ChannelUnavailable
from orderdeck.services import events
from orderdeck.services.context import transaction
from orderdeck.services.events import SyncPhase

Issue = tuple[str, str, str]
"""(reference, kind, message): an order (or listing) a run skipped or failed, and why."""

CLAIM_TIMEOUT = timedelta(minutes=5)
"""How long a listing or dispatch note claimed by a stock or dispatch job waits for it before
another job takes it over (its job died); the jobs' time limit is shorter."""

RETRYABLE = (ChannelRateLimited, ChannelUnavailable)
"""Plugin errors a later attempt may overcome (the job retries); others fail the run for good."""


async def log_progress(run: SyncRun, issues: list[Issue]) -> None:
    """Save the run's counters so far and the issues of its last step."""
    async with transaction():
        await run.save()
        events.sync_progress(run, SyncPhase.PROGRESS)
        if issues:
            await SyncIssue.bulk_create([
                SyncIssue(run_id=run.id, reference=ref[:100], kind=kind, message=message[:1000])
                for ref, kind, message in issues
            ])  # fmt: skip


async def _finish(run: SyncRun, error: BaseException | None = None) -> None:
    """End the run: FAILED with the error that stopped it (a plugin's, or an unexpected one),
    else PARTIAL when some items failed, else SUCCEEDED."""
    if error is not None:
        run.outcome, run.error = SyncOutcome.FAILED, f"{type(error).__name__}: {error}"
    else:
        run.outcome = SyncOutcome.PARTIAL if run.failed else SyncOutcome.SUCCEEDED
    run.finished_at = datetime.now(timezone.utc)
    async with transaction():
        await run.save()
        events.sync_progress(run, SyncPhase.FINISHED)


class RunLog:
    """The run being recorded by ``recording``: started on first need (``start``); ``error`` is
    what ended it, if it ended without raising."""

    def __init__(self, channel_id: uuid.UUID, kind: SyncKind) -> None:
        self.channel_id, self.kind = channel_id, kind
        self.run: SyncRun | None = None
        self.error: BaseException | None = None

    async def start(self) -> SyncRun:
        """The run, created RUNNING the first time."""
        if self.run is None:
            async with transaction():
                self.run = await SyncRun.create(channel_id=self.channel_id, kind=self.kind)
                events.sync_progress(self.run, SyncPhase.STARTED)
        return self.run


@asynccontextmanager
async def recording(channel_id: uuid.UUID, kind: SyncKind) -> AsyncIterator[RunLog]:
    """Record a run of the block (if it starts one) and end it however the block ends: a plugin
    error fails the run and is raised again only when a retry may overcome it (RETRYABLE); any
    other error (a bug, a channel whose plugin is gone, a cancelled job) fails the run (started
    for it if need be) and is raised."""
    log = RunLog(channel_id, kind)
    try:
        yield log
    except ChannelError as exc:
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
        if log.run is not None:
            await _finish(log.run, log.error)

"""The automation log: one SyncRun per download, stock push or dispatch run of a channel, with
its counters, and each order or listing it skipped or failed as a SyncIssue."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from orderdeck.models import SyncIssue, SyncKind, SyncOutcome, SyncRun
from orderdeck.plugins.errors import ChannelRateLimited, ChannelUnavailable
from orderdeck.services.context import transaction

Issue = tuple[str, str, str]
"""(reference, kind, message): an order (or listing) a run skipped or failed, and why."""

RETRYABLE = (ChannelRateLimited, ChannelUnavailable)
"""Plugin errors a later attempt may overcome (the job retries); others fail the run for good."""


async def start_run(channel_id: uuid.UUID, kind: SyncKind) -> SyncRun:
    """A new RUNNING run of the channel's ``kind`` of sync."""
    return await SyncRun.create(channel_id=channel_id, kind=kind)


async def log_progress(run: SyncRun, issues: list[Issue]) -> None:
    """Save the run's counters so far and the issues of its last step."""
    async with transaction():
        await run.save()
        if issues:
            await SyncIssue.bulk_create([
                SyncIssue(run_id=run.id, reference=ref[:100], kind=kind, message=message[:1000])
                for ref, kind, message in issues
            ])  # fmt: skip


async def finish_run(run: SyncRun, error: BaseException | None = None) -> None:
    """End the run: FAILED with the error that stopped it (a plugin's, or an unexpected one),
    else PARTIAL when some items failed, else SUCCEEDED."""
    if error is not None:
        run.outcome, run.error = SyncOutcome.FAILED, f"{type(error).__name__}: {error}"
    else:
        run.outcome = SyncOutcome.PARTIAL if run.failed else SyncOutcome.SUCCEEDED
    run.finished_at = datetime.now(timezone.utc)
    await run.save()

"""Jobs that failed for good: recorded with their error, retried on a user's request.

Every orderdeck job does one kind of a connection's work (services.work: download, stock push,
dispatch, export, imports; its queue is named after the kind) and takes the connection's id, so
retrying a failed job asks for that work again. Nothing is lost meanwhile: the work itself waits
in the database (cursor, due listings, pending dispatches, orders to export).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone
from typing import Any

from orderdeck.models import AuditKind, AuditSubject, Connection, ConnectionKind, FailedJob
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.connections import require_enabled
from orderdeck.services.context import Actor, locked, transaction
from orderdeck.services.errors import ErrorCode, ServiceError
from orderdeck.services.work import by_queue


def _connection_of(args: list[Any]) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(args[0])) if args else None
    except ValueError:
        return None


async def record_failed_job(*, actor: str, queue: str, message_id: str, args: list[Any], kwargs: dict[str, Any],
                            error: str) -> None:  # fmt: skip
    """Keep a job that exhausted its retries (once per message, if delivered again)."""
    connection_id = _connection_of(args)
    if connection_id is not None and not await Connection.filter(id=connection_id).exists():
        connection_id = None
    await FailedJob.bulk_create([FailedJob(actor=actor[:100], queue=queue[:50], message_id=message_id[:64], args=args,
                                           kwargs=kwargs, error=error, connection_id=connection_id)],
                                ignore_conflicts=True)  # fmt: skip


async def retry_failed_job(job_id: uuid.UUID, actor: Actor) -> FailedJob:
    """Ask again for the work of a failed job (once; a new failure is recorded anew)."""
    async with transaction():
        job = await locked(FailedJob, job_id, "Failed job")
        if job.retried_at is not None:
            raise ServiceError.one(f"This job was already retried at {job.retried_at.isoformat()}", "id",
                                   ErrorCode.INVALID_TRANSITION)  # fmt: skip
        work = by_queue(job.queue)
        if work is None or job.connection_id is None:
            raise ServiceError.one(f"A {job.actor} job cannot be retried from here", "id", ErrorCode.INVALID_TRANSITION)
        connection = await Connection.get(id=job.connection_id)
        require_enabled(connection)
        job.retried_at = datetime.now(timezone.utc)
        await job.save(update_fields=["retried_at"])
        audit = AuditLog(actor)
        subject = AuditSubject.CHANNEL if connection.kind == ConnectionKind.CHANNEL else AuditSubject.CONNECTION
        audit.add(AuditKind.JOB_RETRIED, subject, connection.id, connection.name,
                  before={"actor": job.actor, "error": job.error[:500]})  # fmt: skip
        await audit.write()
        outbox.wake(work.kind, [connection.id])
    return job

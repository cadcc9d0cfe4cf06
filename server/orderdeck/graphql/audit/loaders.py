"""DataLoaders for the audit trail (one query per request, whatever the number of keys)."""

from __future__ import annotations

import uuid

from strawberry.dataloader import DataLoader

from orderdeck.models import AuditEntry


def audit_entries_by_subject() -> DataLoader[uuid.UUID, list[AuditEntry]]:
    """Every audit entry about each subject (an order, stock item, location or token), newest first.

    For subjects with a short history (an order, a location); page through ``auditTrail`` otherwise.
    """

    async def load(ids: list[uuid.UUID]) -> list[list[AuditEntry]]:
        found: dict[uuid.UUID, list[AuditEntry]] = {i: [] for i in ids}
        for entry in await AuditEntry.filter(subject_id__in=set(ids)).order_by("-id"):
            found[entry.subject_id].append(entry)
        return [found[i] for i in ids]

    return DataLoader(load_fn=load)

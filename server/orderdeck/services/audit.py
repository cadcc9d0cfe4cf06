"""Writing the audit trail: collected during an operation, written in one bulk insert."""

from __future__ import annotations

import uuid
from typing import Any

from orderdeck.models import AuditEntry, AuditKind, AuditSubject, Order
from orderdeck.services import events
from orderdeck.services.bulk import insert_rows
from orderdeck.services.context import Actor


class AuditLog:
    """Collects the audit entries of one operation, then writes them together."""

    def __init__(self, actor: Actor) -> None:
        self.actor = actor
        self.entries: list[dict[str, Any]] = []
        """AuditEntry rows, by field name."""
        self.order_changes: list[tuple[AuditKind, Order, Any]] = []

    def order(
        self,
        kind: AuditKind,
        order: Order,
        note: str = "",
        *,
        before: Any = None,
        after: Any = None,
        tag: str = "",
    ) -> None:
        """Record a change to an order (also an order event, with the order as it is at commit)."""
        self.order_changes.append((kind, order, before))
        self.add(kind, AuditSubject.ORDER, order.id, note, before=before, after=after, tag=tag,
                 order_number=order.number)  # fmt: skip

    def add(
        self,
        kind: AuditKind,
        subject: AuditSubject,
        subject_id: uuid.UUID,
        note: str = "",
        *,
        before: Any = None,
        after: Any = None,
        tag: str = "",
        order_number: int | None = None,
    ) -> None:
        """Record a change to any subject."""
        self.entries.append({
            "kind": kind, "subject": subject, "subject_id": subject_id, "order_number": order_number,
            "note": note[:1000], "tag": tag, "before": before, "after": after,
            "actor": self.actor.name, "actor_kind": self.actor.kind,
        })  # fmt: skip

    async def write(self) -> None:
        """Insert the collected entries and record the order events (inside the operation's
        transaction)."""
        if self.entries:
            await insert_rows(AuditEntry, self.entries)
            self.entries = []
        for kind, order, before in self.order_changes:
            events.order_changed(kind, order, self.actor.name, before)
        self.order_changes = []

"""GraphQL types of the audit trail, and the `auditTrail` field of the objects it is about."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from strawberry.scalars import JSON

from orderdeck.graphql.arguments import IntRange, checked
from orderdeck.graphql.audit.loaders import newest_audit_entries
from orderdeck.graphql.common import encode_id
from orderdeck.graphql.context import Info
from orderdeck.models import ActorKind as _ActorKind
from orderdeck.models import AuditKind as _AuditKind
from orderdeck.models import AuditSubject as _AuditSubject

AuditKind = strawberry.enum(_AuditKind, name="AuditKind", description="What kind of change an audit entry records.")
AuditSubject = strawberry.enum(_AuditSubject, name="AuditSubject", description="What an audit entry is about.")
ActorKind = strawberry.enum(_ActorKind, name="ActorKind", description="Who made a change.")

SUBJECT_NODE_TYPES: dict[_AuditSubject, str] = {
    _AuditSubject.ORDER: "Order",
    _AuditSubject.STOCK_ITEM: "StockItem",
    _AuditSubject.LOCATION: "Location",
}
"""The node type of each audit subject that has one (tokens have none)."""

MAX_TRAIL = 200


@strawberry.type(description="One audited change: what, to what, who, when, and before/after.")
class AuditEntry:
    kind: AuditKind
    subject: AuditSubject
    note: str
    tag: str
    before: JSON | None
    after: JSON | None
    actor: str
    actor_kind: ActorKind
    created_at: datetime
    order_number: int | None

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("AuditEntry", self.id))  # type: ignore[arg-type]

    @strawberry.field(description="The raw id of the subject (an order, stock item, location or token).")
    def subject_id(self) -> str:
        return str(self.subject_id)  # type: ignore[attr-defined]

    @strawberry.field(
        description="The global id of the subject when it is an order, stock item or location; null for a token."
    )
    def subject_node_id(self) -> strawberry.ID | None:
        kind = SUBJECT_NODE_TYPES.get(self.subject)
        return None if kind is None else strawberry.ID(encode_id(kind, self.subject_id))  # type: ignore[attr-defined]


async def _audit_trail(root: Any, info: Info, limit: int = 50) -> list[AuditEntry]:
    return await info.context.loaders.get(newest_audit_entries).load((root.id, limit))  # type: ignore[return-value]


def audit_trail_field(subject: str) -> Any:
    """The ``auditTrail`` field of an order, stock item or location (``subject`` says which)."""
    return strawberry.field(
        resolver=_audit_trail,
        metadata=checked(IntRange("limit", 1, MAX_TRAIL)),
        description=f"The newest changes to this {subject}, newest first (`limit`: 1 to {MAX_TRAIL}). The whole "
        "history is in `auditTrail(filter: {subjectId})`, a page at a time.",
    )

"""GraphQL types of the audit trail."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.scalars import JSON

from orderdeck.graphql.common import encode_id
from orderdeck.models import ActorKind as _ActorKind
from orderdeck.models import AuditKind as _AuditKind
from orderdeck.models import AuditSubject as _AuditSubject

AuditKind = strawberry.enum(_AuditKind, name="AuditKind", description="What kind of change an audit entry records.")
AuditSubject = strawberry.enum(_AuditSubject, name="AuditSubject", description="What an audit entry is about.")
ActorKind = strawberry.enum(_ActorKind, name="ActorKind", description="Who made a change.")


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

"""GraphQL queries of the audit area: the audit trail, filtered and paged."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from graphql import GraphQLError
from tortoise.queryset import QuerySet

from orderdeck import models
from orderdeck.graphql.audit.types import SUBJECT_NODE_TYPES, AuditEntry, AuditKind, AuditSubject
from orderdeck.graphql.common import date_range, query_id, node_type_of
from orderdeck.graphql.pagination import Connection, paginate
from orderdeck.graphql.permissions import READ

@strawberry.input(description="Which audit entries to list. All conditions must hold.")
class AuditFilter:
    kinds: list[AuditKind] | None = strawberry.field(default=None, description="Any of these kinds.")
    subject: AuditSubject | None = None
    subject_id: str | None = strawberry.field(
        default=None, description="A raw subject id (uuid), or the global id of an order, stock item or location."
    )
    order_number: int | None = None
    actor: str | None = strawberry.field(default=None, description="Who made the change (exact name).")
    from_: datetime | None = strawberry.field(default=None, name="from", description="Made at or after this time.")
    to: datetime | None = strawberry.field(default=None, description="Made at or before this time.")


def subject_uuid(value: str) -> uuid.UUID:
    """The raw subject id in ``value``: a uuid, or a global id of a subject type."""
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    kind, _ = node_type_of(value)
    if kind not in SUBJECT_NODE_TYPES.values():
        raise GraphQLError(f"filter.subjectId: a {kind} id is not an audit subject")
    return query_id(value, kind, "filter.subjectId")


def audit_entries(where: AuditFilter | None) -> QuerySet[models.AuditEntry]:
    """The audit entries matching a filter."""
    entries = models.AuditEntry.all()
    if where is None:
        return entries
    if where.kinds is not None:
        entries = entries.filter(kind__in=set(where.kinds))
    if where.subject is not None:
        entries = entries.filter(subject=where.subject)
    if where.subject_id is not None:
        entries = entries.filter(subject_id=subject_uuid(where.subject_id))
    if where.order_number is not None:
        entries = entries.filter(order_number=where.order_number)
    if where.actor is not None:
        entries = entries.filter(actor=where.actor)
    return date_range(entries, "created_at", where.from_, where.to, "filter.from", "filter.to")


@strawberry.type
class Query:
    @strawberry.field(permission_classes=READ, description="Every user-visible change, newest first.")
    async def audit_trail(
        self,
        filter: AuditFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[AuditEntry]:
        return await paginate(
            audit_entries(filter), key="id", first=first, after=after, last=last, before=before, descending=True
        )

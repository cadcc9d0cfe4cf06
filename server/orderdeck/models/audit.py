"""The audit trail: every user-visible change, who made it, when, and before/after."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model

from orderdeck.models.base import ActorKind


class AuditKind(str, Enum):
    """Every kind of audit entry orderdeck writes.

    Order entries carry the order's id and number, stock and location entries carry the subject's
    id. Channel kinds (DESPATCH_NOTE, FULFIL_STATUS, ...) are written by the sync engine.
    """

    ORDER_CREATED = "ORDER_CREATED"
    ORDER_UPDATED = "ORDER_UPDATED"
    ITEMS_CHANGED = "ITEMS_CHANGED"
    STATUS_CHANGED = "STATUS_CHANGED"
    PARKED = "PARKED"
    UNPARKED = "UNPARKED"
    LOCKED = "LOCKED"
    UNLOCKED = "UNLOCKED"
    HELD = "HELD"
    UNHELD = "UNHELD"
    TAG_ADDED = "TAG_ADDED"
    TAG_REMOVED = "TAG_REMOVED"
    NOTE_ADDED = "NOTE_ADDED"
    NOTE_DELETED = "NOTE_DELETED"
    PROPERTY_SET = "PROPERTY_SET"
    PROPERTY_REMOVED = "PROPERTY_REMOVED"
    MOVED = "MOVED"
    PROCESSED = "PROCESSED"
    CANCELLED = "CANCELLED"
    CANCELLED_ON_CHANNEL = "CANCELLED_ON_CHANNEL"
    DELETED = "DELETED"
    RETURN_CREATED = "RETURN_CREATED"
    RESEND_CREATED = "RESEND_CREATED"
    DESPATCH_NOTE = "DESPATCH_NOTE"
    DESPATCH_NOTE_FAILED = "DESPATCH_NOTE_FAILED"
    DESPATCH_NOTE_RETRIED = "DESPATCH_NOTE_RETRIED"
    FOLLOWED_UP = "FOLLOWED_UP"
    FOLLOW_UP_REFUSED = "FOLLOW_UP_REFUSED"
    CHANNEL_FOLLOW_UP_SET = "CHANNEL_FOLLOW_UP_SET"
    FULFIL_STATUS = "FULFIL_STATUS"
    EXPORTED = "EXPORTED"
    EXPORT_FAILED = "EXPORT_FAILED"
    STOCK_ITEM_CREATED = "STOCK_ITEM_CREATED"
    STOCK_ITEM_UPDATED = "STOCK_ITEM_UPDATED"
    STOCK_LEVEL_SET = "STOCK_LEVEL_SET"
    STOCK_LEVEL_ADJUSTED = "STOCK_LEVEL_ADJUSTED"
    MINIMUM_LEVEL_SET = "MINIMUM_LEVEL_SET"
    LOCATION_CREATED = "LOCATION_CREATED"
    LOCATION_RENAMED = "LOCATION_RENAMED"
    LOCATION_DEFAULT_SET = "LOCATION_DEFAULT_SET"
    LOCATION_DELETED = "LOCATION_DELETED"
    CHANNEL_CREATED = "CHANNEL_CREATED"
    CHANNEL_UPDATED = "CHANNEL_UPDATED"
    CHANNEL_ENABLED = "CHANNEL_ENABLED"
    CHANNEL_DISABLED = "CHANNEL_DISABLED"
    CHANNEL_DELETED = "CHANNEL_DELETED"
    CONNECTION_CREATED = "CONNECTION_CREATED"
    CONNECTION_UPDATED = "CONNECTION_UPDATED"
    CONNECTION_ENABLED = "CONNECTION_ENABLED"
    CONNECTION_DISABLED = "CONNECTION_DISABLED"
    CONNECTION_DELETED = "CONNECTION_DELETED"
    LOCATION_FULFILMENT_SET = "LOCATION_FULFILMENT_SET"
    JOB_RETRIED = "JOB_RETRIED"
    LISTING_LINKED = "LISTING_LINKED"
    LISTING_UPDATED = "LISTING_UPDATED"
    LISTING_UNLINKED = "LISTING_UNLINKED"
    TOKEN_CREATED = "TOKEN_CREATED"
    TOKEN_REVOKED = "TOKEN_REVOKED"


class AuditSubject(str, Enum):
    """What an audit entry is about."""

    ORDER = "ORDER"
    STOCK_ITEM = "STOCK_ITEM"
    LOCATION = "LOCATION"
    TOKEN = "TOKEN"
    CHANNEL = "CHANNEL"
    CONNECTION = "CONNECTION"


class AuditEntry(Model):
    """One audited change. Subjects are plain values so entries outlive deleted orders."""

    id = fields.BigIntField(primary_key=True)
    kind = fields.CharEnumField(AuditKind, max_length=40, db_index=True)
    subject = fields.CharEnumField(AuditSubject, max_length=16)
    subject_id = fields.UUIDField(db_index=True)
    order_number = fields.BigIntField(null=True, db_index=True)
    note = fields.CharField(max_length=1000, default="", db_default="")
    tag = fields.CharField(max_length=50, default="", db_default="")
    before = fields.JSONField(null=True)
    after = fields.JSONField(null=True)
    actor = fields.CharField(max_length=100, db_index=True)
    actor_kind = fields.CharEnumField(ActorKind, max_length=16)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_entry"
        ordering = ["-id"]

"""Live events: what subscribers are told, kept for a retention window so they can resume."""

from __future__ import annotations

from enum import Enum

from tortoise import fields
from tortoise.models import Model


class EventTopic(str, Enum):
    """What an event is about: one subscription per topic."""

    ORDER = "ORDER"
    STOCK = "STOCK"
    SYNC = "SYNC"


class Event(Model):
    """One committed change, numbered without gaps in commit order (the 'event' counter row).

    Written in the transaction of the change it announces, read by every API process's hub, and
    deleted once older than the retention window.
    """

    id = fields.BigIntField(primary_key=True, generated=False)
    topic = fields.CharEnumField(EventTopic, max_length=8)
    kind = fields.CharField(max_length=32)
    data = fields.JSONField()
    created_at = fields.DatetimeField(db_index=True)

    class Meta:
        table = "event"
        ordering = ["id"]
        indexes = [("topic", "id")]  # a resuming subscriber reads one topic's events after an id

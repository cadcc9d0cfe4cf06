"""The event table, as the hubs read it: the newest committed event's id and each event as
subscribers get it. (services.events writes the table, numbering events with the ``COUNTER`` row.)"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from orderdeck.models import Counter, Event, EventTopic

T = TypeVar("T")

COUNTER = "event"
"""The counter row numbering events."""


@dataclass(frozen=True, slots=True)
class Published:
    """A committed event as the hub read it; one object shared by every subscription."""

    id: int
    topic: EventTopic
    kind: str
    data: dict[str, Any]
    at: datetime
    views: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)
    """The event as each subscriber's payload type, made once for all of them (see ``view``)."""

    def view(self, make: Callable[[Published], T]) -> T:
        """``make(self)``, made once per event however many subscribers ask."""
        try:
            return self.views[make]
        except KeyError:
            made = self.views[make] = make(self)
            return made


def published(row: Event) -> Published:
    """The event row as the hub offers it."""
    return Published(row.id, EventTopic(row.topic), row.kind, row.data, row.created_at)


async def last_id() -> int:
    """The id of the newest committed event (0 before the first)."""
    value = await Counter.filter(name=COUNTER).values_list("value", flat=True)
    return int(value[0]) if value else 0

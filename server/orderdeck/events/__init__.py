"""The event bus behind subscriptions: how committed events reach every API process's subscribers.

Events live in the ``event`` table: ``services.events`` writes them in the transaction of the change,
numbered without gaps in commit order. The bus only carries the news "events up to id N are
committed", from whichever process committed them (API or worker):

- ``memory``: within one process (the embedded default: the API and its in-process worker);
- ``postgres``: ``NOTIFY`` in the writing transaction (PostgreSQL delivers it only if the transaction
  commits) to a ``LISTEN`` connection of each API process;
- ``redis``: ``PUBLISH`` once the transaction has committed, to each API process's subscription.

Each API process runs one :class:`Hub`. Woken by the bus (and every ``event_poll_seconds`` in case a
wake-up was lost), it reads the new events from the table once and offers them to its
subscriptions. A subscription buffers at most ``subscriber_buffer`` events: when a slow subscriber
falls that far behind, its buffer is dropped and replaced by one :class:`Missed` notice with the ids
it lost, so it never delays the others nor grows without bound.
"""

from orderdeck.events.hub import Hub, Matcher, Missed, MissedReason, ResumeError, Subscription, running_hub, serving
from orderdeck.events.store import Published, last_id
from orderdeck.events.transports import Bus, PostgresBus, RedisBus, bus_from_settings, current_bus, use_bus

__all__ = [
    "Bus", "Hub", "Matcher", "Missed", "MissedReason", "PostgresBus", "Published", "RedisBus", "ResumeError",
    "Subscription", "bus_from_settings", "current_bus", "last_id", "running_hub", "serving", "use_bus",
]  # fmt: skip

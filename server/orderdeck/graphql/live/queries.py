"""Where live clients start: the newest event id, to subscribe from with nothing lost in between."""

from __future__ import annotations

import strawberry

from orderdeck.graphql.live.types import EventId
from orderdeck.graphql.permissions import READ
from orderdeck.events.store import last_id


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=READ,
        description="The newest committed event's id (0 before the first). Query it with the data a screen shows, "
        "then subscribe with `after: lastEventId`: no change in between is lost.",
    )
    async def last_event_id(self) -> EventId:
        return await last_id()

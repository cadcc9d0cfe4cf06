"""GraphQL queries of the locations area."""

from __future__ import annotations

import strawberry

from orderdeck import models
from orderdeck.graphql.common import query_id
from orderdeck.graphql.locations.types import Location
from orderdeck.graphql.permissions import READ


@strawberry.type
class Query:
    @strawberry.field(permission_classes=READ, description="Every location, by name.")
    async def locations(self) -> list[Location]:
        return await models.Location.all().order_by("name")  # type: ignore[return-value]

    @strawberry.field(permission_classes=READ, description="One location by id; null if there is none.")
    async def location(self, id: strawberry.ID) -> Location | None:
        return await models.Location.get_or_none(id=query_id(id, "Location", "id"))  # type: ignore[return-value]

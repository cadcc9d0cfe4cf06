"""GraphQL mutations of the locations area: create, rename, make default, delete.

Refusals (a duplicate name, deleting the default location or one still in use) come back as user
errors naming the field, and nothing is changed.
"""

from __future__ import annotations

import strawberry

from orderdeck import models
from orderdeck.graphql.common import UserError, attempt, decode_id, encode_id
from orderdeck.graphql.context import Info
from orderdeck.graphql.locations.types import Location
from orderdeck.graphql.permissions import MANAGE_LOCATIONS
from orderdeck.services import locations


@strawberry.type
class LocationPayload:
    location: Location | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteLocationPayload:
    deleted_id: strawberry.ID | None = strawberry.field(default=None, description="The id of the deleted location.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=MANAGE_LOCATIONS, description="Create a location with a unique name.")
    async def create_location(self, info: Info, name: str) -> LocationPayload:
        location, errors = await attempt(lambda: locations.create_location(name, info.context.actor))
        return LocationPayload(location=location, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=MANAGE_LOCATIONS, description="Give a location a new, unique name.")
    async def rename_location(self, info: Info, id: strawberry.ID, name: str) -> LocationPayload:
        async def rename() -> models.Location:
            return await locations.rename_location(decode_id(id, "Location", "id"), name, info.context.actor)

        location, errors = await attempt(rename)
        return LocationPayload(location=location, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_LOCATIONS,
        description="Make a location the default (where new orders go when none is named).",
    )
    async def set_default_location(self, info: Info, id: strawberry.ID) -> LocationPayload:
        async def make_default() -> models.Location:
            return await locations.set_default_location(decode_id(id, "Location", "id"), info.context.actor)

        location, errors = await attempt(make_default)
        return LocationPayload(location=location, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_LOCATIONS,
        description="Delete a location that is not the default and holds no stock and no orders.",
    )
    async def delete_location(self, info: Info, id: strawberry.ID) -> DeleteLocationPayload:
        async def delete() -> strawberry.ID:
            location_id = decode_id(id, "Location", "id")
            await locations.delete_location(location_id, info.context.actor)
            return strawberry.ID(encode_id("Location", location_id))

        deleted_id, errors = await attempt(delete)
        return DeleteLocationPayload(deleted_id=deleted_id, errors=errors)

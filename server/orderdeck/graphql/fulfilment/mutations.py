"""GraphQL mutations of fulfilment centres and drop shippers: their connections (MANAGE_CHANNELS) and a
location's fulfilment settings (MANAGE_LOCATIONS).

Each mutation parses its input, calls one service and shapes the result; refusals come back as user
errors naming the input field (settings errors as settings.<name>), and nothing is changed.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from orderdeck import models
from orderdeck.graphql.channels.types import FulfilmentConnection, SyncKind
from orderdeck.graphql.common import Patch, UserError, attempt, decode_id, encode_id, given
from orderdeck.graphql.context import Info
from orderdeck.graphql.locations.mutations import LocationPayload
from orderdeck.graphql.permissions import MANAGE_CHANNELS, MANAGE_LOCATIONS
from orderdeck.models.locations import DEFAULT_FILE_PATTERN
from orderdeck.plugins.dto import ConnectionResult
from orderdeck.services import connections, work
from orderdeck.services.fulfilment import locations

KIND = "FulfilmentConnection"


@strawberry.input(description="A new fulfilment connection. Fields left out take their default.")
class CreateFulfilmentConnectionInput:
    name: str = strawberry.field(description="Unique among all connections.")
    connector: str = strawberry.field(description="An installed fulfilment connector, e.g. ftp_warehouse.")
    settings: JSON | None = strawberry.field(
        default=None, description="The connector's settings (see connectors.settingsSchema), checked by it."
    )
    sync_interval_seconds: int = strawberry.field(default=300, description="Seconds between imports (60 to 86400).")
    enabled: bool = True


@strawberry.input(description="Changes to a fulfilment connection: fields left out stay; settings are merged.")
class UpdateFulfilmentConnectionInput(Patch):
    name: str | None = strawberry.UNSET
    settings: JSON | None = strawberry.UNSET
    sync_interval_seconds: int | None = strawberry.UNSET


@strawberry.input(description="An export file's column.")
class ExportColumnInput:
    source: str = strawberry.field(description="The order or line field: number, reference, address.postcode, sku...")
    name: str = strawberry.field(default="", description="Its header (empty: the field's name).")
    default: str = strawberry.field(default="", description="What is written when the field is empty.")


@strawberry.input(description="A location's fulfilment settings; a null fulfilmentConnectionId makes it an ordinary warehouse.")
class LocationFulfilmentInput:
    fulfilment_connection_id: strawberry.ID | None = None
    deduct_stock_when_processed: bool = True
    export_columns: list[ExportColumnInput] = strawberry.field(default_factory=list)
    export_file_pattern: str = DEFAULT_FILE_PATTERN


@strawberry.type
class FulfilmentConnectionPayload:
    fulfilment_connection: FulfilmentConnection | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteFulfilmentConnectionPayload:
    deleted_id: strawberry.ID | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class TestConnectionPayload:
    ok: bool | None = strawberry.field(default=None, description="Whether the partner answered and took the credentials.")
    message: str | None = strawberry.field(default=None, description="What the connector found, for people to read.")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Why no test was made.")


def _connection_fields(input: CreateFulfilmentConnectionInput | UpdateFulfilmentConnectionInput) -> dict[str, Any]:
    return given(input)


@strawberry.type
class Mutation:
    @strawberry.mutation(permission_classes=MANAGE_CHANNELS,
                         description="Create a connection to a fulfilment centre or drop shipper.")  # fmt: skip
    async def create_fulfilment_connection(self, info: Info, input: CreateFulfilmentConnectionInput) -> FulfilmentConnectionPayload:
        found, errors = await attempt(lambda: connections.create_connection(_connection_fields(input), info.context.actor))
        return FulfilmentConnectionPayload(fulfilment_connection=found, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=MANAGE_CHANNELS,
                         description="Change a fulfilment connection (settings merged: secrets left out are kept).")  # fmt: skip
    async def update_fulfilment_connection(self, info: Info, id: strawberry.ID,
                                           input: UpdateFulfilmentConnectionInput) -> FulfilmentConnectionPayload:  # fmt: skip
        async def update() -> models.Connection:
            return await connections.update_connection(decode_id(id, KIND, "id"), _connection_fields(input), info.context.actor)

        found, errors = await attempt(update)
        return FulfilmentConnectionPayload(fulfilment_connection=found, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=MANAGE_CHANNELS, description="Enable or disable a fulfilment connection.")
    async def set_fulfilment_connection_enabled(self, info: Info, id: strawberry.ID, enabled: bool) -> FulfilmentConnectionPayload:
        async def toggle() -> models.Connection:
            return await connections.set_connection_enabled(decode_id(id, KIND, "id"), enabled, info.context.actor)

        found, errors = await attempt(toggle)
        return FulfilmentConnectionPayload(fulfilment_connection=found, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=MANAGE_CHANNELS,
                         description="Delete a fulfilment connection no location is served by (IN_USE otherwise).")  # fmt: skip
    async def delete_fulfilment_connection(self, info: Info, id: strawberry.ID) -> DeleteFulfilmentConnectionPayload:
        async def delete() -> strawberry.ID:
            connection_id = decode_id(id, KIND, "id")
            await connections.delete_connection(connection_id, info.context.actor)
            return strawberry.ID(encode_id(KIND, connection_id))

        deleted_id, errors = await attempt(delete)
        return DeleteFulfilmentConnectionPayload(deleted_id=deleted_id, errors=errors)

    @strawberry.mutation(permission_classes=MANAGE_CHANNELS,
                         description="Check now that the centre answers and takes its credentials (nothing changes).")  # fmt: skip
    async def test_fulfilment_connection(self, info: Info, id: strawberry.ID) -> TestConnectionPayload:
        async def test() -> ConnectionResult:
            return await connections.test_connection(decode_id(id, KIND, "id"))

        result, errors = await attempt(test)
        return TestConnectionPayload(errors=errors) if result is None else TestConnectionPayload(ok=result.ok, message=result.message)

    @strawberry.mutation(
        permission_classes=MANAGE_CHANNELS,
        description="Start a fulfilment connection's work now: `kinds` lists which (EXPORT: orders waiting; "
        "STATUS_IMPORT and STOCK_IMPORT: the centre's reports). Follow it in `syncRuns`.",
    )
    async def sync_fulfilment_connection(self, info: Info, id: strawberry.ID, kinds: list[SyncKind]) -> FulfilmentConnectionPayload:
        async def sync() -> models.Connection:
            return await work.request_sync(decode_id(id, KIND, "id"), kinds, models.ConnectionKind.FULFILMENT_CENTRE)

        found, errors = await attempt(sync)
        return FulfilmentConnectionPayload(fulfilment_connection=found, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_LOCATIONS,
        description="Make a location a fulfilment centre served by a fulfilment connection (its open orders are "
        "exported to it), change its options, or make it an ordinary warehouse again.",
    )
    async def set_location_fulfilment(self, info: Info, location_id: strawberry.ID,
                                      input: LocationFulfilmentInput) -> LocationPayload:  # fmt: skip
        async def set_() -> models.Location:
            data = {
                "connection_id": decode_id(input.fulfilment_connection_id, KIND, "fulfilmentConnectionId")
                if input.fulfilment_connection_id else None,
                "deduct_stock_when_processed": input.deduct_stock_when_processed,
                "export_columns": [vars(c) for c in input.export_columns],
                "export_file_pattern": input.export_file_pattern,
            }  # fmt: skip
            return await locations.set_location_fulfilment(decode_id(location_id, "Location", "locationId"), data,
                                                           info.context.actor)  # fmt: skip

        found, errors = await attempt(set_)
        return LocationPayload(location=found, errors=errors)  # type: ignore[arg-type]

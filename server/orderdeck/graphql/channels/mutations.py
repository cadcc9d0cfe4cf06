"""GraphQL mutations of the channels area: channels (MANAGE_CHANNELS) and listings (MANAGE_STOCK).

Each mutation parses its input, calls one service and shapes the result; refusals come back as user
errors naming the input field (settings errors as settings.<name>), and nothing is changed.
"""

from __future__ import annotations

import strawberry

from orderdeck import models
from orderdeck.graphql.channels.inputs import (
    CreateChannelInput,
    LinkListingInput,
    UpdateChannelInput,
    UpdateListingInput,
    channel_fields,
    listing_fields,
)
from orderdeck.graphql.channels.types import Channel, Listing
from orderdeck.graphql.common import UserError, attempt, decode_id, encode_id, given
from orderdeck.graphql.context import Info
from orderdeck.graphql.permissions import MANAGE_CHANNELS, MANAGE_STOCK
from orderdeck.services import channels, listings


@strawberry.type
class ChannelPayload:
    channel: Channel | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class ListingPayload:
    listing: Listing | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class DeleteChannelPayload:
    deleted_id: strawberry.ID | None = strawberry.field(default=None, description="The id of the deleted channel.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class UnlinkListingPayload:
    deleted_id: strawberry.ID | None = strawberry.field(default=None, description="The id of the removed listing.")
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class Mutation:
    @strawberry.mutation(
        permission_classes=MANAGE_CHANNELS,
        description="Create a channel served by an installed channel plugin; its settings are checked by the "
        "plugin and its secrets stored encrypted.",
    )
    async def create_channel(self, info: Info, input: CreateChannelInput) -> ChannelPayload:
        async def create() -> models.Channel:
            return await channels.create_channel(channel_fields(input), info.context.actor)

        channel, errors = await attempt(create)
        return ChannelPayload(channel=channel, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_CHANNELS,
        description="Change a channel. Settings are merged into the current ones: settings and secrets left "
        "out are kept.",
    )
    async def update_channel(self, info: Info, id: strawberry.ID, input: UpdateChannelInput) -> ChannelPayload:
        async def update() -> models.Channel:
            channel_id = decode_id(id, "Channel", "id")
            return await channels.update_channel(channel_id, channel_fields(input), info.context.actor)

        channel, errors = await attempt(update)
        return ChannelPayload(channel=channel, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=MANAGE_CHANNELS, description="Enable a channel: its syncs run.")
    async def enable_channel(self, info: Info, id: strawberry.ID) -> ChannelPayload:
        async def enable() -> models.Channel:
            return await channels.set_channel_enabled(decode_id(id, "Channel", "id"), True, info.context.actor)

        channel, errors = await attempt(enable)
        return ChannelPayload(channel=channel, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_CHANNELS, description="Disable a channel: no download, stock push or dispatch."
    )
    async def disable_channel(self, info: Info, id: strawberry.ID) -> ChannelPayload:
        async def disable() -> models.Channel:
            return await channels.set_channel_enabled(decode_id(id, "Channel", "id"), False, info.context.actor)

        channel, errors = await attempt(disable)
        return ChannelPayload(channel=channel, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_CHANNELS,
        description="Delete a channel no order references, with its listings and sync history (IN_USE "
        "otherwise: disable it instead).",
    )
    async def delete_channel(self, info: Info, id: strawberry.ID) -> DeleteChannelPayload:
        async def delete() -> strawberry.ID:
            channel_id = decode_id(id, "Channel", "id")
            await channels.delete_channel(channel_id, info.context.actor)
            return strawberry.ID(encode_id("Channel", channel_id))

        deleted_id, errors = await attempt(delete)
        return DeleteChannelPayload(deleted_id=deleted_id, errors=errors)

    @strawberry.mutation(
        permission_classes=MANAGE_STOCK,
        description="List a stock item on a channel under the channel's SKU; the channel's open order lines "
        "waiting with that SKU are linked and reserve their stock.",
    )
    async def link_listing(self, info: Info, input: LinkListingInput) -> ListingPayload:
        async def link() -> models.Listing:
            return await listings.link_listing(listing_fields(input), info.context.actor)

        listing, errors = await attempt(link)
        return ListingPayload(listing=listing, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(permission_classes=MANAGE_STOCK, description="Change how a listing is published.")
    async def update_listing(self, info: Info, id: strawberry.ID, input: UpdateListingInput) -> ListingPayload:
        async def update() -> models.Listing:
            listing_id = decode_id(id, "Listing", "id")
            return await listings.update_listing(listing_id, given(input), info.context.actor)

        listing, errors = await attempt(update)
        return ListingPayload(listing=listing, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_STOCK,
        description="Stop listing a stock item under this channel SKU (order lines already linked stay linked).",
    )
    async def unlink_listing(self, info: Info, id: strawberry.ID) -> UnlinkListingPayload:
        async def unlink() -> strawberry.ID:
            listing_id = decode_id(id, "Listing", "id")
            await listings.unlink_listing(listing_id, info.context.actor)
            return strawberry.ID(encode_id("Listing", listing_id))

        deleted_id, errors = await attempt(unlink)
        return UnlinkListingPayload(deleted_id=deleted_id, errors=errors)

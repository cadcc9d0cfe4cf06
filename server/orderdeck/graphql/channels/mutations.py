"""GraphQL mutations of the channels area: channels, their syncs and failed jobs (MANAGE_CHANNELS), and
listings (MANAGE_STOCK).

Each mutation parses its input, calls one service and shapes the result; refusals come back as user
errors naming the input field (settings errors as settings.<name>), and nothing is changed.
"""

from __future__ import annotations

from typing import Annotated

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
from orderdeck.graphql.channels.types import Channel, FailedJob, Listing, SyncKind
from orderdeck.graphql.common import UserError, attempt, decode_id, encode_id, given
from orderdeck.graphql.context import Info
from orderdeck.graphql.permissions import MANAGE_CHANNELS, MANAGE_STOCK
from orderdeck.plugins.dto import ConnectionResult
from orderdeck.services import channels, connections, failed_jobs, follow_ups, listings, work
from orderdeck.services.errors import ServiceError


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
class TestChannelConnectionPayload:
    ok: bool | None = strawberry.field(
        default=None, description="Whether the channel answered and took the credentials; null with errors."
    )
    message: str | None = strawberry.field(default=None, description="What the plugin found, for people to read.")
    errors: list[UserError] = strawberry.field(default_factory=list, description="Why no test was made.")


@strawberry.type
class RetryFailedJobPayload:
    failed_job: FailedJob | None = strawberry.field(default=None, description="The job, now marked retried.")
    errors: list[UserError] = strawberry.field(
        default_factory=list, description="Why the job was not retried (nothing was changed)."
    )


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
        description="Switch a channel's follow-up on a sale on (for orders dispatched from now) or off, and set how "
        f"many days after dispatch it is made (0-{follow_ups.MAX_AFTER_DAYS}; unchanged when left out). "
        "INVALID_TRANSITION when the channel's connector offers none.",
    )  # fmt: skip
    async def set_channel_follow_up(self, info: Info, id: strawberry.ID, enabled: bool,
                                    after_days: int | None = None) -> ChannelPayload:  # fmt: skip
        async def switch() -> models.Channel:
            return await follow_ups.set_channel_follow_up(decode_id(id, "Channel", "id"), enabled, after_days,
                                                          info.context.actor)  # fmt: skip

        channel, errors = await attempt(switch)
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
        permission_classes=MANAGE_CHANNELS,
        description="Check now that the channel answers and takes its credentials (the plugin calls the "
        "channel; nothing changes). A disabled channel can be tested.",
    )
    async def test_channel_connection(self, info: Info, id: strawberry.ID) -> TestChannelConnectionPayload:
        async def test() -> ConnectionResult:
            return await connections.test_connection(decode_id(id, "Channel", "id"))

        result, errors = await attempt(test)
        if result is None:
            return TestChannelConnectionPayload(errors=errors)
        return TestChannelConnectionPayload(ok=result.ok, message=result.message)

    @strawberry.mutation(
        permission_classes=MANAGE_CHANNELS,
        description="Start an enabled channel's work now rather than when next due: `kinds` lists which "
        "(DOWNLOAD: new orders; STOCK_PUSH: every listing's quantity again, changed or not; DISPATCH: pending "
        "dispatch notes; FOLLOW_UP: the follow-ups due). The work runs in the background: follow it in `syncRuns`.",
    )
    async def sync_channel(
        self,
        info: Info,
        id: strawberry.ID,
        kinds: list[SyncKind] | None = None,
        download: Annotated[bool | None, strawberry.argument(deprecation_reason="Use kinds: [DOWNLOAD].")] = True,
        stock_push: Annotated[bool | None, strawberry.argument(deprecation_reason="Use kinds: [STOCK_PUSH].")] = False,
        dispatch: Annotated[bool | None, strawberry.argument(deprecation_reason="Use kinds: [DISPATCH].")] = False,
    ) -> ChannelPayload:
        async def sync() -> models.Channel:
            asked = kinds
            if asked is None:  # the older booleans; null means the default: download yes, the others no
                wanted = {models.SyncKind.DOWNLOAD: download is not False, models.SyncKind.STOCK_PUSH: bool(stock_push),
                          models.SyncKind.DISPATCH: bool(dispatch)}  # fmt: skip
                asked = [kind for kind, yes in wanted.items() if yes]
            if not asked:
                raise ServiceError.one("Ask for at least one kind of work", "kinds" if kinds is not None else "download")
            connection = await work.request_sync(decode_id(id, "Channel", "id"), asked)
            return await models.Channel.get(id=connection.id)

        channel, errors = await attempt(sync)
        return ChannelPayload(channel=channel, errors=errors)  # type: ignore[arg-type]

    @strawberry.mutation(
        permission_classes=MANAGE_CHANNELS,
        description="Ask again for the work of a job that failed for good (once: a new failure is listed anew).",
    )
    async def retry_failed_job(self, info: Info, id: strawberry.ID) -> RetryFailedJobPayload:
        async def retry() -> models.FailedJob:
            return await failed_jobs.retry_failed_job(decode_id(id, "FailedJob", "id"), info.context.actor)

        job, errors = await attempt(retry)
        return RetryFailedJobPayload(failed_job=job, errors=errors)  # type: ignore[arg-type]

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

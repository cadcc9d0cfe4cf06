"""GraphQL input types of the channels area, and their translation into what the services take."""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

from orderdeck.graphql.channels.types import SubmitStatus, SyncKind, SyncOutcome
from orderdeck.graphql.common import Patch, decode_id, decode_ids, given

# --- filters -------------------------------------------------------------------------------------


@strawberry.input(description="Which listings to list. All conditions must hold.")
class ListingFilter:
    channel_id: strawberry.ID | None = strawberry.field(default=None, description="Only this channel's listings.")
    sku: str | None = strawberry.field(default=None, description="The stock item's SKU (exact).")
    channel_sku: str | None = strawberry.field(default=None, description="The channel's SKU (exact).")
    push_due: bool | None = strawberry.field(default=None, description="Only listings waiting (true) or not (false).")
    submit_status: SubmitStatus | None = strawberry.field(
        default=None, description="Only listings whose last quantity sent ended so (e.g. FAILED: they need attention)."
    )


@strawberry.input(description="Which sync runs to list. All conditions must hold.")
class SyncRunFilter:
    channel_id: strawberry.ID | None = strawberry.field(default=None, description="Only this channel's runs.")
    fulfilment_connection_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only this fulfilment centre's runs."
    )
    kind: SyncKind | None = strawberry.field(default=None, description="Only runs of this kind.")
    outcome: SyncOutcome | None = strawberry.field(default=None, description="Only runs that ended so.")


@strawberry.input(description="Which failed jobs to list. All conditions must hold.")
class FailedJobFilter:
    channel_id: strawberry.ID | None = strawberry.field(default=None, description="Only jobs of this channel.")
    fulfilment_connection_id: strawberry.ID | None = strawberry.field(
        default=None, description="Only jobs of this fulfilment centre."
    )
    retried: bool | None = strawberry.field(default=None, description="Only jobs retried (true) or not yet (false).")


# --- channels ------------------------------------------------------------------------------------

SETTINGS = (
    "The plugin's settings as a JSON object (see channelPlugins.settingsSchema), checked by the plugin; "
    "errors name the field as settings.<name>."
)


FULFILMENT_LOCATION = ("Where the orders the channel fulfils itself (e.g. Amazon FBA) go, held there (fulfilmentState "
                       "BY_CHANNEL) until the channel ships or cancels them.")


@strawberry.input(description="A new channel. Fields left out (or null) take their default.")
class CreateChannelInput:
    name: str = strawberry.field(description="Unique, 1 to 100 characters.")
    plugin: str = strawberry.field(description="The name of an installed channel plugin, e.g. woocommerce.")
    settings: JSON = strawberry.field(description=SETTINGS)
    download_location_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Where downloaded orders go. Default: the default location."
    )
    stock_location_ids: list[strawberry.ID] | None = strawberry.field(
        default=strawberry.UNSET, description="Whose stock is offered on the channel (at most 50). Default: none."
    )
    fulfilment_location_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description=FULFILMENT_LOCATION + " Default: none (such orders are refused, logged).")
    download_unpaid: bool | None = strawberry.field(default=strawberry.UNSET, description="Default false.")
    status_overrides: JSON | None = strawberry.field(
        default=strawberry.UNSET,
        description='Channel status -> {"paid": bool, "shipped": bool, "cancelled": bool}. Default: none.',
    )
    sync_interval_seconds: int | None = strawberry.field(default=strawberry.UNSET, description="60 to 86400; default 300.")
    enabled: bool | None = strawberry.field(default=strawberry.UNSET, description="Default true.")


@strawberry.input(
    description="Changes to a channel: fields left out stay as they are. `settings` is merged into the current "
    "settings: settings left out are kept, and so are secrets (clients never see them to send back); give a "
    "secret to replace it. Null downloadLocationId means the default location, null fulfilmentLocationId none; other "
    "fields cannot be null."
)
class UpdateChannelInput(Patch):
    name: str | None = strawberry.UNSET
    settings: JSON | None = strawberry.field(default=strawberry.UNSET, description=SETTINGS)
    download_location_id: strawberry.ID | None = strawberry.UNSET
    stock_location_ids: list[strawberry.ID] | None = strawberry.UNSET
    fulfilment_location_id: strawberry.ID | None = strawberry.field(default=strawberry.UNSET, description=FULFILMENT_LOCATION)
    download_unpaid: bool | None = strawberry.UNSET
    status_overrides: JSON | None = strawberry.UNSET
    sync_interval_seconds: int | None = strawberry.UNSET


def channel_fields(input: CreateChannelInput | UpdateChannelInput) -> dict[str, Any]:
    """The input as the channel services take it, with location ids decoded."""
    data = given(input)
    if data.get("download_location_id") is not None:
        data["download_location_id"] = decode_id(data["download_location_id"], "Location", "downloadLocationId")
    if data.get("fulfilment_location_id") is not None:
        data["fulfilment_location_id"] = decode_id(data["fulfilment_location_id"], "Location", "fulfilmentLocationId")
    if data.get("stock_location_ids"):
        data["stock_location_ids"] = decode_ids(data["stock_location_ids"], "Location", "stockLocationIds", limit=50)
    return data


# --- listings ------------------------------------------------------------------------------------


@strawberry.input(description="A channel SKU linked to the stock item with SKU `sku`.")
class LinkListingInput:
    channel_id: strawberry.ID
    channel_sku: str = strawberry.field(description="The channel's SKU, unique on the channel.")
    sku: str = strawberry.field(description="The SKU of the stock item it is.")
    channel_reference: str | None = strawberry.field(default=strawberry.UNSET, description="Default: empty.")
    max_listed_quantity: int | None = strawberry.field(default=strawberry.UNSET, description="Default: no cap.")
    end_when_stock_at: int | None = strawberry.field(default=strawberry.UNSET, description="Default: none.")
    ignore_sync: bool | None = strawberry.field(default=strawberry.UNSET, description="Default false.")


@strawberry.input(
    description="Changes to a listing: fields left out stay; null clears maxListedQuantity and endWhenStockAt "
    "(the other fields cannot be null)."
)
class UpdateListingInput(Patch):
    channel_reference: str | None = strawberry.UNSET
    max_listed_quantity: int | None = strawberry.UNSET
    end_when_stock_at: int | None = strawberry.UNSET
    ignore_sync: bool | None = strawberry.UNSET


def listing_fields(input: LinkListingInput) -> dict[str, Any]:
    """The input as link_listing takes it, with the channel id decoded."""
    data = given(input)
    data["channel_id"] = decode_id(input.channel_id, "Channel", "channelId")
    return data

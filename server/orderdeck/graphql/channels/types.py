"""GraphQL types of channels, listings, sync runs and channel plugins."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.scalars import JSON

from orderdeck import crypto, models
from orderdeck.graphql.channels.loaders import (
    channel_by_id,
    issues_by_run,
    listings_by_channel,
    runs_by_channel,
    stock_location_ids_by_channel,
)
from orderdeck.graphql.common import MAX_PAGE, Node, encode_id
from orderdeck.graphql.context import Info
from orderdeck.graphql.locations.loaders import location_by_id
from orderdeck.graphql.locations.types import Location
from orderdeck.graphql.stock.loaders import stock_item_by_id
from orderdeck.graphql.stock.types import StockItem
from orderdeck.plugins.dto import PluginKind as _PluginKind
from orderdeck.services.channels import secret_fields

SubmitStatus = strawberry.enum(
    models.SubmitStatus, name="SubmitStatus", description="What became of the last quantity sent for a listing."
)
SyncKind = strawberry.enum(models.SyncKind, name="SyncKind", description="What a sync run does.")
SyncOutcome = strawberry.enum(models.SyncOutcome, name="SyncOutcome", description="How a sync run ended.")
PluginKind = strawberry.enum(_PluginKind, name="PluginKind", description="What a plugin connects to.")

NESTED_DEFAULT = 20


def _limit(value: int, argument: str) -> int:
    if not 0 <= value <= MAX_PAGE:
        raise GraphQLError(f"{argument} must be between 0 and {MAX_PAGE}")
    return value


@strawberry.type(
    description="A seller's account on a sales channel (e.g. a WooCommerce shop), served by a plugin. "
    "Secret settings are stored encrypted and never returned: `secretsSet` names the ones stored."
)
class Channel(Node):
    name: str
    plugin: str = strawberry.field(description="The name of the plugin serving this channel.")
    source: str = strawberry.field(description="The order source its orders get, e.g. WOOCOMMERCE.")
    enabled: bool
    settings: JSON = strawberry.field(description="The public settings (secrets left out).")
    download_unpaid: bool
    status_overrides: JSON = strawberry.field(
        description="Channel status -> {paid, shipped, cancelled}, overriding the plugin's mapping."
    )
    sync_interval_seconds: int
    last_download_at: datetime | None
    created_at: datetime

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Channel", self.id))  # type: ignore[arg-type]

    @strawberry.field(description="The names of the secret settings stored (never their values).")
    def secrets_set(self) -> list[str]:
        if not self.secrets:  # type: ignore[attr-defined]
            return []
        try:
            return sorted(crypto.decrypt(self.secrets))  # type: ignore[attr-defined]
        except (crypto.SecretUnreadable, crypto.SecretKeyMissing) as exc:
            raise GraphQLError(str(exc)) from None

    @strawberry.field(description="Where downloaded orders go.")
    async def download_location(self, info: Info) -> Location:
        return await info.context.loaders.get(location_by_id).load(self.download_location_id)  # type: ignore[attr-defined]

    @strawberry.field(description="Whose available stock is offered on the channel (none: nothing is pushed).")
    async def stock_locations(self, info: Info) -> list[Location]:
        ids = await info.context.loaders.get(stock_location_ids_by_channel).load(self.id)  # type: ignore[arg-type]
        found = await info.context.loaders.get(location_by_id).load_many(ids)
        return sorted((loc for loc in found if loc is not None), key=lambda loc: loc.name)  # type: ignore[return-value]

    @strawberry.field(description=f"The first listings by channel SKU (at most {MAX_PAGE}; all: `listings`).")
    async def listings(self, info: Info, limit: int = NESTED_DEFAULT) -> list[Listing]:
        key = (self.id, _limit(limit, "limit"))
        return await info.context.loaders.get(listings_by_channel).load(key)  # type: ignore[arg-type,return-value]

    @strawberry.field(description=f"The newest sync runs (at most {MAX_PAGE}; all: `syncRuns`).")
    async def runs(self, info: Info, limit: int = NESTED_DEFAULT) -> list[SyncRun]:
        key = (self.id, _limit(limit, "limit"))
        return await info.context.loaders.get(runs_by_channel).load(key)  # type: ignore[arg-type,return-value]

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, (models.Channel, cls))


@strawberry.type(
    description="A stock item as listed on a channel under the channel's SKU, and what was last pushed for it."
)
class Listing(Node):
    channel_sku: str
    channel_reference: str
    max_listed_quantity: int | None = strawberry.field(description="The most ever published; null: no cap.")
    end_when_stock_at: int | None = strawberry.field(description="Publish 0 at or below this available level.")
    ignore_sync: bool = strawberry.field(description="When true, no quantity is pushed for this listing.")
    push_due: bool = strawberry.field(description="Whether a new quantity waits to be pushed.")
    submitted_quantity: int | None
    submitted_at: datetime | None
    submit_status: SubmitStatus
    submit_error: str

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Listing", self.id))  # type: ignore[arg-type]

    @strawberry.field
    async def channel(self, info: Info) -> Channel:
        return await info.context.loaders.get(channel_by_id).load(self.channel_id)  # type: ignore[attr-defined]

    @strawberry.field
    async def stock_item(self, info: Info) -> StockItem:
        return await info.context.loaders.get(stock_item_by_id).load(self.stock_item_id)  # type: ignore[attr-defined]

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, (models.Listing, cls))


@strawberry.type(description="An order a sync run skipped or failed, by its channel reference, and why.")
class SyncIssue:
    reference: str
    kind: str
    message: str


@strawberry.type(description="One run of a channel's download, stock push or dispatch: the automation log.")
class SyncRun:
    kind: SyncKind
    outcome: SyncOutcome
    started_at: datetime
    finished_at: datetime | None
    pages: int
    downloaded: int
    updated: int
    skipped_shipped: int
    skipped_unpaid: int
    skipped_cancelled: int
    duplicates: int
    pushed: int
    dispatched: int
    failed: int
    error: str | None

    @strawberry.field
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("SyncRun", self.id))  # type: ignore[arg-type]

    @strawberry.field
    async def channel(self, info: Info) -> Channel:
        return await info.context.loaders.get(channel_by_id).load(self.channel_id)  # type: ignore[attr-defined]

    @strawberry.field(description="The orders skipped or failed, in the order they were met.")
    async def issues(self, info: Info) -> list[SyncIssue]:
        return await info.context.loaders.get(issues_by_run).load(self.id)  # type: ignore[arg-type,return-value]


@strawberry.type(description="An installed channel plugin and the settings a channel of it takes.")
class ChannelPlugin:
    name: str
    title: str
    kind: PluginKind
    version: str
    description: str
    source: str

    @strawberry.field(
        description="The JSON schema of a channel's settings; secret fields have format \"password\" and "
        "writeOnly true (they are never returned)."
    )
    def settings_schema(self) -> JSON:
        model = self.settings  # type: ignore[attr-defined]
        schema = model.model_json_schema()
        for name in secret_fields(model):
            schema["properties"][name]["writeOnly"] = True
        return schema

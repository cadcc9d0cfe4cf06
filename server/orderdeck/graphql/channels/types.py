"""GraphQL types of channels, listings, sync runs and channel plugins."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import strawberry
from pydantic import BaseModel
from graphql import GraphQLError
from strawberry.scalars import JSON

from orderdeck import crypto, models
from orderdeck.graphql.arguments import IntRange, checked
from orderdeck.graphql.channels.loaders import (
    attention_by_channel,
    channel_by_id,
    issues_by_run,
    connection_by_id,
    fulfilment_locations_by_connection,
    listings_by_channel,
    runs_by_connection,
    stock_location_ids_by_channel,
)
from orderdeck.graphql.batched import batched_field, by
from orderdeck.graphql.common import MAX_PAGE, Node, encode_id
from orderdeck.graphql.context import Info
from orderdeck.graphql.locations.loaders import location_by_id
from orderdeck.graphql.locations.types import Location
from orderdeck.graphql.stock.loaders import stock_item_by_id
from orderdeck.graphql.stock.types import StockItem
from orderdeck.plugins.connectors import ConnectorKind as _ConnectorKind
from orderdeck.services.connections import secret_fields
from orderdeck.services.follow_ups import offers_follow_up

SubmitStatus = strawberry.enum(
    models.SubmitStatus, name="SubmitStatus", description="What became of the last quantity sent for a listing."
)
SyncKind = strawberry.enum(
    models.SyncKind, name="SyncKind",
    description="A kind of a connection's work: a channel's DOWNLOAD, STOCK_PUSH, DISPATCH, FOLLOW_UP; a fulfilment "
    "centre's EXPORT, STATUS_IMPORT, STOCK_IMPORT.",
)  # fmt: skip
SyncOutcome = strawberry.enum(models.SyncOutcome, name="SyncOutcome", description="How a sync run ended.")
ConnectorKind = strawberry.enum(_ConnectorKind, name="ConnectorKind", description="What a connector connects to.")

NESTED_DEFAULT = 20


NESTED_LIMIT = checked(IntRange("limit", 0, MAX_PAGE))


def _secrets_set(connection: models.Connection) -> list[str]:
    if not connection.secrets:
        return []
    try:
        return sorted(crypto.decrypt(connection.secrets))
    except (crypto.SecretUnreadable, crypto.SecretKeyMissing) as exc:
        raise GraphQLError(str(exc)) from None


def _of_connection(graphql_type: Any, part: Callable[[models.Connection], Any], description: str) -> Any:
    """A field read from the object's connection (the channel's, under the same id)."""
    return batched_field(graphql_type, connection_by_id, key=by("id"), shape=part, description=description)


@strawberry.type(
    description="A channel's follow-up on a sale: once an order's dispatch note has reached the channel, the channel "
    "follows the order up with its buyer (Amazon: asks for a product review and seller feedback) afterDays later, "
    "once per order (switch it with setChannelFollowUp)."
)
class ChannelFollowUp:
    offered: bool = strawberry.field(description="Whether the channel's connector offers a follow-up at all.")
    enabled: bool = strawberry.field(description="Whether it is on.")
    since: datetime | None = strawberry.field(
        description="When it was switched on: orders dispatched from then on are followed up; null when off.")
    after_days: int = strawberry.field(description="Days after the dispatch note reached the channel.")


@strawberry.type(
    description="A seller's account on a sales channel (e.g. a WooCommerce shop): a connection served by a channel "
    "connector, with its channel parts. Secret settings are stored encrypted and never returned: `secretsSet` names "
    "the ones stored."
)
class Channel(Node):
    source: str = strawberry.field(description="The order source its orders get, e.g. WOOCOMMERCE.")
    download_unpaid: bool = strawberry.field(description="Whether unpaid orders are downloaded too (else skipped).")
    status_overrides: JSON = strawberry.field(
        description="Channel status -> {paid, shipped, cancelled}, overriding the plugin's mapping."
    )
    name = _of_connection(str, lambda c: c.name, "Unique name of the channel (among all connections).")
    connector = _of_connection(str, lambda c: c.connector, "The name of the connector serving this channel.")

    @strawberry.field(description="The name of the connector serving this channel.",
                      deprecation_reason="Use connector: a channel is a connection served by a channel connector.")  # fmt: skip
    async def plugin(self, info: Info) -> str:
        found = await info.context.loaders.get(connection_by_id).load(self.id)  # type: ignore[attr-defined]
        return found.connector
    enabled = _of_connection(bool, lambda c: c.enabled, "Whether its syncs run (disabled: nothing is downloaded or sent).")
    settings = _of_connection(JSON, lambda c: c.settings, "The public settings (secrets left out).")
    sync_interval_seconds = _of_connection(int, lambda c: c.sync_interval_seconds, "Seconds between scheduled downloads.")
    last_download_at = _of_connection(datetime | None, lambda c: c.last_run_at,
                                      "When a downloaded page was last written; null if never.")  # fmt: skip
    created_at = _of_connection(datetime, lambda c: c.created_at, "When the channel was created.")
    secrets_set = _of_connection(list[str], _secrets_set, "The names of the secret settings stored (never their values).")

    @strawberry.field(description="The channel's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Channel", self.id))  # type: ignore[arg-type]

    download_location = batched_field(
        Location, location_by_id, key=by("download_location_id"), description="Where downloaded orders go."
    )
    fulfilment_location = batched_field(
        Location | None, location_by_id, key=by("fulfilment_location_id"),
        description="Where the orders the channel fulfils itself (e.g. Amazon FBA) go, held there (fulfilmentState "
        "BY_CHANNEL) until the channel ships or cancels them; null: such orders are refused (logged).",
    )  # fmt: skip

    @strawberry.field(description="Whose available stock is offered on the channel (none: nothing is pushed).")
    async def stock_locations(self, info: Info) -> list[Location]:
        ids = await info.context.loaders.get(stock_location_ids_by_channel).load(self.id)  # type: ignore[arg-type]
        found = await info.context.loaders.get(location_by_id).load_many(ids)
        return sorted((loc for loc in found if loc is not None), key=lambda loc: loc.name)  # type: ignore[return-value]

    @strawberry.field(
        description=f"The first listings by channel SKU (at most {MAX_PAGE}; all: `listings`).",
        metadata=NESTED_LIMIT,
    )
    async def listings(self, info: Info, limit: int = NESTED_DEFAULT) -> list[Listing]:
        key = (self.id, limit)
        return await info.context.loaders.get(listings_by_channel).load(key)  # type: ignore[arg-type,return-value]

    @strawberry.field(description="The follow-up on a sale (e.g. Amazon's review request), where the channel offers one.")
    async def follow_up(self, info: Info) -> ChannelFollowUp:
        found = await info.context.loaders.get(connection_by_id).load(self.id)  # type: ignore[attr-defined]
        channel: Any = self
        return ChannelFollowUp(offered=offers_follow_up(found.connector), enabled=channel.follow_up_since is not None,
                               since=channel.follow_up_since, after_days=channel.follow_up_after_days)  # fmt: skip

    attention = batched_field(
        "ChannelAttention", attention_by_channel, key=by("id"),
        description="What of the channel's outbound work failed: what waits for a change (needs attention) and what "
        "goes again by itself.",
    )  # fmt: skip

    @strawberry.field(
        description=f"The newest sync runs (at most {MAX_PAGE}; all: `syncRuns`).",
        metadata=NESTED_LIMIT,
    )
    async def runs(self, info: Info, limit: int = NESTED_DEFAULT) -> list[SyncRun]:
        key = (self.id, limit)
        return await info.context.loaders.get(runs_by_connection).load(key)  # type: ignore[arg-type,return-value]

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, (models.Channel, cls))


@strawberry.type(
    description="A seller's account with a fulfilment centre or drop shipper, served by a fulfilment connector: the "
    "locations it serves export their orders to it and take its statuses and stock. Secret settings are stored "
    "encrypted and never returned."
)
class FulfilmentConnection(Node):
    name: str = strawberry.field(description="Unique name (among all connections).")
    connector: str = strawberry.field(description="The fulfilment connector serving it, e.g. ftp_warehouse.")
    enabled: bool = strawberry.field(description="Whether its exports and imports run.")
    settings: JSON = strawberry.field(description="The public settings (secrets left out).")
    sync_interval_seconds: int = strawberry.field(description="Seconds between status and stock imports.")
    created_at: datetime = strawberry.field(description="When it was created.")

    @strawberry.field(description="The connection's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("FulfilmentConnection", self.id))  # type: ignore[arg-type]

    @strawberry.field(description="The names of the secret settings stored (never their values).")
    def secrets_set(self) -> list[str]:
        return _secrets_set(self)  # type: ignore[arg-type]

    locations = batched_field(list[Location], fulfilment_locations_by_connection, key=by("id"),
                              description="The locations it serves (fulfilment centres), by name.")  # fmt: skip

    @strawberry.field(description=f"The newest runs (at most {MAX_PAGE}; all: `syncRuns`).", metadata=NESTED_LIMIT)
    async def runs(self, info: Info, limit: int = NESTED_DEFAULT) -> list[SyncRun]:
        key = (self.id, limit)
        return await info.context.loaders.get(runs_by_connection).load(key)  # type: ignore[arg-type,return-value]

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, cls) or (isinstance(obj, models.Connection)
                                        and obj.kind == models.ConnectionKind.FULFILMENT_CENTRE)  # fmt: skip


@strawberry.type(
    description="A channel's outbound work that failed. Waiting: refused credentials or data, sent again only after "
    "a change (new credentials, a changed listing or level, `retryDispatches`). Retrying: a passing failure (timeout, "
    "5xx, unreadable answer, rate limit), sent again by itself with backoff."
)
class ChannelAttention:
    listings_waiting: int = strawberry.field(description="Listings FAILED (filter listings by submitStatus FAILED).")
    listings_retrying: int = strawberry.field(description="Listings RETRYING.")
    dispatches_waiting: int = strawberry.field(description="Dispatch notes FAILED (retry them with retryDispatches).")
    dispatches_retrying: int = strawberry.field(description="Dispatch notes PENDING after a failed attempt.")

    @strawberry.field(description="True when something waits for a change (a user must act).")
    def needs_attention(self) -> bool:
        return bool(self.listings_waiting or self.dispatches_waiting)


@strawberry.type(
    description="A stock item as listed on a channel under the channel's SKU, and what was last pushed for it."
)
class Listing(Node):
    channel_sku: str = strawberry.field(description="The channel's SKU, unique on the channel.")
    channel_reference: str = strawberry.field(description="The channel's own id of the listing (may be empty).")
    max_listed_quantity: int | None = strawberry.field(description="The most ever published; null: no cap.")
    end_when_stock_at: int | None = strawberry.field(description="Publish 0 at or below this available level.")
    ignore_sync: bool = strawberry.field(description="When true, no quantity is pushed for this listing.")
    push_due: bool = strawberry.field(description="Whether a new quantity waits to be pushed.")
    submit_status: SubmitStatus = strawberry.field(description="What became of the last quantity sent.")
    submit_error: str = strawberry.field(
        description="Why the last quantity was not taken (empty unless FAILED or RETRYING): FAILED waits for a "
        "change (stock, the listing, the channel's credentials); RETRYING goes again at `nextPushAt`."
    )
    push_attempts: int = strawberry.field(description="Passing failures in a row (the backoff grows with them).")

    @strawberry.field(description="When a RETRYING listing is sent again (at the latest by the scheduler's sweep); "
                      "null otherwise.")  # fmt: skip
    def next_push_at(self) -> datetime | None:
        listing: Any = self
        return listing.next_push_at if listing.submit_status == models.SubmitStatus.RETRYING else None

    @strawberry.field(description="The last quantity the channel accepted; null if it never accepted one.")
    def last_submitted_quantity(self) -> int | None:
        return self.submitted_quantity  # type: ignore[attr-defined]

    @strawberry.field(description="When a quantity was last sent (accepted or refused); null if never.")
    def last_submitted_at(self) -> datetime | None:
        return self.submitted_at  # type: ignore[attr-defined]

    @strawberry.field(description="The listing's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("Listing", self.id))  # type: ignore[arg-type]

    channel = batched_field(Channel, channel_by_id, key=by("channel_id"), description="The channel it is listed on.")
    stock_item = batched_field(
        StockItem, stock_item_by_id, key=by("stock_item_id"), description="The stock item it is."
    )

    @classmethod
    def is_type_of(cls, obj: Any, info: Any) -> bool:
        return isinstance(obj, (models.Listing, cls))


@strawberry.type(description="An order or listing a sync run skipped or failed, by its reference, and why.")
class SyncIssue:
    reference: str = strawberry.field(description="The channel's order reference, or the listing's channel SKU.")
    kind: str = strawberry.field(description="What happened, e.g. SKIPPED_UNPAID, UNLINKED, REJECTED or FAILED.")
    message: str = strawberry.field(description="Why.")


@strawberry.type(description="One run of a connection's work (a channel's download, stock push or dispatch; a "
                  "fulfilment centre's export, status import or stock import): the automation log.")
class SyncRun:
    kind: SyncKind = strawberry.field(description="What the run did.")
    outcome: SyncOutcome = strawberry.field(description="How it ended (RUNNING while it runs).")
    started_at: datetime = strawberry.field(description="When it started.")
    finished_at: datetime | None = strawberry.field(description="When it ended; null while it runs.")
    pages: int = strawberry.field(description="Pages of orders downloaded, or batches of listings or notes sent.")
    downloaded: int = strawberry.field(description="New orders downloaded.")
    updated: int = strawberry.field(description="Known orders updated from the channel.")
    skipped_shipped: int = strawberry.field(description="Orders skipped as already shipped on the channel.")
    skipped_unpaid: int = strawberry.field(description="Orders skipped as unpaid (the channel does not take them).")
    skipped_cancelled: int = strawberry.field(description="Orders skipped as cancelled on the channel.")
    duplicates: int = strawberry.field(
        description="Orders met again with nothing new (known already, or twice in a page)."
    )
    pushed: int = strawberry.field(description="Listing quantities the channel accepted (stock push).")
    dispatched: int = strawberry.field(description="Dispatch notes the channel accepted (dispatch).")
    followed_up: int = strawberry.field(description="Orders the channel followed up with their buyers (follow-up).")
    exported: int = strawberry.field(description="Orders handed to the fulfilment centre (export).")
    imported: int = strawberry.field(description="Order statuses or stock levels applied (imports).")
    failed: int = strawberry.field(description="Orders, listings or notes that failed (see issues).")
    retrying: int = strawberry.field(
        description="Of the failed listings or notes: those sent again later by themselves (a passing failure)."
    )
    waiting: int = strawberry.field(
        description="Of the failed listings or notes: those waiting for a change (refused credentials or data)."
    )
    abandoned: bool = strawberry.field(
        description="True when the run was closed (FAILED) because its worker died: no heartbeat within the lease."
    )
    error: str | None = strawberry.field(description="Why the run failed as a whole; null unless FAILED.")

    @strawberry.field(description="The run's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("SyncRun", self.id))  # type: ignore[arg-type]

    channel = batched_field(Channel | None, channel_by_id, key=by("connection_id"),
                            description="The channel it ran for; null for a fulfilment centre's run.")  # fmt: skip
    fulfilment_connection = batched_field(
        FulfilmentConnection | None, connection_by_id, key=by("connection_id"),
        shape=lambda c: c if c is not None and c.kind == models.ConnectionKind.FULFILMENT_CENTRE else None,
        description="The fulfilment centre it ran for; null for a channel's run.",
    )  # fmt: skip

    @strawberry.field(
        description=f"The first orders or listings skipped or failed, in the order they were met (at most {MAX_PAGE}).",
        metadata=NESTED_LIMIT,
    )
    async def issues(self, info: Info, limit: int = NESTED_DEFAULT) -> list[SyncIssue]:
        key = (self.id, limit)
        return await info.context.loaders.get(issues_by_run).load(key)  # type: ignore[arg-type,return-value]


@strawberry.type(
    description="A background job that failed for good (its retries ran out), kept with its error until retried. "
    "The work itself waits in the database (cursor, due listings, pending dispatch notes): retrying asks for it again."
)
class FailedJob:
    actor: str = strawberry.field(description="The job's name, e.g. download_orders.")
    queue: str = strawberry.field(description="The queue of its kind of work: download, stock_push or dispatch.")
    error: str = strawberry.field(description="The error of its last attempt.")
    failed_at: datetime = strawberry.field(description="When it failed for good.")
    retried_at: datetime | None = strawberry.field(description="When a user retried it; null if not yet.")

    @strawberry.field(description="The failed job's global id.")
    def id(self) -> strawberry.ID:
        return strawberry.ID(encode_id("FailedJob", self.id))  # type: ignore[arg-type]

    channel = batched_field(
        Channel | None, channel_by_id, key=by("connection_id"),
        description="The channel whose work it did; null for a job not about one channel.",
    )  # fmt: skip
    fulfilment_connection = batched_field(
        FulfilmentConnection | None, connection_by_id, key=by("connection_id"),
        shape=lambda c: c if c is not None and c.kind == models.ConnectionKind.FULFILMENT_CENTRE else None,
        description="The fulfilment centre whose work it did; null otherwise.",
    )  # fmt: skip


def settings_schema(model: type[BaseModel]) -> JSON:
    """The JSON schema of a connector's settings model, its secrets marked writeOnly."""
    schema = model.model_json_schema()
    for name in secret_fields(model):
        schema["properties"][name]["writeOnly"] = True
    return schema


@strawberry.type(description="An installed connector: what it connects to and the settings a connection of it takes.")
class Connector:
    name: str = strawberry.field(description="What connections name as their connector, e.g. woocommerce.")
    title: str = strawberry.field(description="A human name, e.g. WooCommerce.")
    kind: ConnectorKind = strawberry.field(description="What it connects to.")
    version: str = strawberry.field(description="The installed version.")
    description: str = strawberry.field(description="What it does.")

    @strawberry.field(description="The order source a channel connector's orders get; null for other kinds.")
    def source(self) -> str | None:
        return getattr(self, "source", None)

    @strawberry.field(
        description="The JSON schema of a connection's settings; secret fields have format \"password\" and "
        "writeOnly true (they are never returned)."
    )
    def settings_schema(self) -> JSON:
        return settings_schema(self.settings)  # type: ignore[attr-defined]


@strawberry.type(description="An installed channel plugin and the settings a channel of it takes.")
class ChannelPlugin(Connector):
    source: str = strawberry.field(description="The order source its channels' orders get.")  # type: ignore[assignment]


@strawberry.type(description="Something wrong with an installed plugin: the plugin is left out, or the connector named.")
class PluginProblem:
    plugin: str = strawberry.field(description="The plugin's entry-point name.")
    connector: str = strawberry.field(description="The connector concerned; empty when the whole plugin is.")
    message: str = strawberry.field(description="What is wrong.")

"""GraphQL queries of the channels area: channel plugins, channels, listings and sync runs."""

from __future__ import annotations

import strawberry
from graphql import GraphQLError
from tortoise.queryset import QuerySet

from orderdeck import models
from orderdeck.graphql.channels.inputs import ListingFilter, SyncRunFilter
from orderdeck.graphql.channels.types import Channel, ChannelPlugin, Listing, SyncRun
from orderdeck.graphql.common import DEFAULT_PAGE, MAX_PAGE, Connection, paginate, query_id
from orderdeck.graphql.permissions import READ
from orderdeck.plugins.dto import PluginKind
from orderdeck.plugins.manager import installed_plugins


def listings(where: ListingFilter | None) -> QuerySet[models.Listing]:
    """The listings matching a filter."""
    found = models.Listing.all()
    if where is None:
        return found
    if where.channel_id is not None:
        found = found.filter(channel_id=query_id(where.channel_id, "Channel", "filter.channelId"))
    if where.sku is not None:
        found = found.filter(stock_item__sku=where.sku)
    if where.channel_sku is not None:
        found = found.filter(channel_sku=where.channel_sku)
    if where.push_due is not None:
        found = found.filter(push_due=where.push_due)
    return found


def sync_runs(where: SyncRunFilter | None) -> QuerySet[models.SyncRun]:
    """The sync runs matching a filter."""
    found = models.SyncRun.all()
    if where is None:
        return found
    if where.channel_id is not None:
        found = found.filter(channel_id=query_id(where.channel_id, "Channel", "filter.channelId"))
    if where.kind is not None:
        found = found.filter(kind=where.kind)
    if where.outcome is not None:
        found = found.filter(outcome=where.outcome)
    return found


@strawberry.type
class Query:
    @strawberry.field(permission_classes=READ, description="The installed channel plugins, by name.")
    def channel_plugins(self) -> list[ChannelPlugin]:
        return [info for info in installed_plugins() if info.kind == PluginKind.CHANNEL and info.settings]  # type: ignore[misc]

    @strawberry.field(permission_classes=READ, description="Every channel, by name.")
    async def channels(self) -> list[Channel]:
        return await models.Channel.all().order_by("name")  # type: ignore[return-value]

    @strawberry.field(permission_classes=READ, description="One channel by id; null if there is none.")
    async def channel(self, id: strawberry.ID) -> Channel | None:
        return await models.Channel.get_or_none(id=query_id(id, "Channel", "id"))  # type: ignore[return-value]

    @strawberry.field(
        permission_classes=READ,
        description="Listings on every channel, with cursors (in id order: stable across pages, not by SKU).",
    )
    async def listings(
        self,
        filter: ListingFilter | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[Listing]:
        return await paginate(listings(filter), key="id", first=first, after=after, last=last, before=before)

    @strawberry.field(
        permission_classes=READ,
        description=f"The newest sync runs, newest first (first: default {DEFAULT_PAGE}, at most {MAX_PAGE}).",
    )
    async def sync_runs(self, filter: SyncRunFilter | None = None, first: int = DEFAULT_PAGE) -> list[SyncRun]:
        if not 0 <= first <= MAX_PAGE:
            raise GraphQLError(f"first must be between 0 and {MAX_PAGE}")
        return await sync_runs(filter).order_by("-started_at", "-id").limit(first)  # type: ignore[return-value]

"""GraphQL queries of the channels area: channel plugins, channels, listings, sync runs and failed jobs."""

from __future__ import annotations

import strawberry
from typing import TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from orderdeck import models
from orderdeck.graphql.channels.inputs import FailedJobFilter, ListingFilter, SyncRunFilter
from orderdeck.graphql.channels.types import (
    Channel,
    ChannelPlugin,
    Connector,
    ConnectorKind,
    FailedJob,
    FulfilmentConnection,
    Listing,
    PluginProblem,
    SyncRun,
)
from orderdeck.graphql.common import query_id
from orderdeck.graphql.pagination import Connection, paginate
from orderdeck.graphql.permissions import READ
from orderdeck.plugins import manager

M = TypeVar("M", bound=Model)


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
    if where.submit_status is not None:
        found = found.filter(submit_status=where.submit_status)
    return found


def _of_connection(found: QuerySet[M], where: SyncRunFilter | FailedJobFilter) -> QuerySet[M]:
    """Rows of the filter's channel and fulfilment connection."""
    if where.channel_id is not None:
        found = found.filter(connection_id=query_id(where.channel_id, "Channel", "filter.channelId"))
    if where.fulfilment_connection_id is not None:
        found = found.filter(connection_id=query_id(where.fulfilment_connection_id, "FulfilmentConnection",
                                                    "filter.fulfilmentConnectionId"))  # fmt: skip
    return found


def sync_runs(where: SyncRunFilter | None) -> QuerySet[models.SyncRun]:
    """The sync runs matching a filter."""
    found = models.SyncRun.all()
    if where is None:
        return found
    found = _of_connection(found, where)
    if where.kind is not None:
        found = found.filter(kind=where.kind)
    if where.outcome is not None:
        found = found.filter(outcome=where.outcome)
    return found


def failed_jobs(where: FailedJobFilter | None) -> QuerySet[models.FailedJob]:
    """The failed jobs matching a filter."""
    found = models.FailedJob.all()
    if where is None:
        return found
    found = _of_connection(found, where)
    if where.retried is not None:
        found = found.filter(retried_at__isnull=not where.retried)
    return found


@strawberry.type
class Query:
    @strawberry.field(
        permission_classes=READ, description="The installed channel plugins, by name.",
        deprecation_reason="Use connectors(kind: CHANNEL): every kind of connector, as one type.",
    )  # fmt: skip
    def channel_plugins(self) -> list[ChannelPlugin]:
        return manager.connectors(ConnectorKind.CHANNEL)  # type: ignore[return-value]

    @strawberry.field(permission_classes=READ, description="The installed connectors (of one kind), by name.")
    def connectors(self, kind: ConnectorKind | None = None) -> list[Connector]:
        return manager.connectors(kind)  # type: ignore[return-value]

    @strawberry.field(
        permission_classes=READ,
        description="What is wrong with installed plugins (a plugin that cannot load, a connector that breaks "
        "its kind's contract): those are left out. Empty when all is well.",
    )
    def plugin_problems(self) -> list[PluginProblem]:
        return manager.problems()  # type: ignore[return-value]

    @strawberry.field(permission_classes=READ, description="Every channel, by name.")
    async def channels(self) -> list[Channel]:
        return await models.Channel.all().order_by("connection__name")  # type: ignore[return-value]

    @strawberry.field(permission_classes=READ, description="One channel by id; null if there is none.")
    async def channel(self, id: strawberry.ID) -> Channel | None:
        return await models.Channel.get_or_none(id=query_id(id, "Channel", "id"))  # type: ignore[return-value]

    @strawberry.field(permission_classes=READ, description="Every fulfilment centre and drop shipper connection, by name.")
    async def fulfilment_connections(self) -> list[FulfilmentConnection]:
        return await models.Connection.filter(kind=models.ConnectionKind.FULFILMENT_CENTRE).order_by("name")  # type: ignore[return-value]

    @strawberry.field(permission_classes=READ, description="One fulfilment connection by id; null if there is none.")
    async def fulfilment_connection(self, id: strawberry.ID) -> FulfilmentConnection | None:
        return await models.Connection.get_or_none(  # type: ignore[return-value]
            id=query_id(id, "FulfilmentConnection", "id"), kind=models.ConnectionKind.FULFILMENT_CENTRE)

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
        description="Runs of every connection's work (channel downloads, stock pushes and dispatches; fulfilment "
        "exports and imports): the automation log, newest first, "
        "with cursors (runs started at the same moment are ordered by id: pages never skip or repeat one).",
    )
    async def sync_runs(
        self, filter: SyncRunFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[SyncRun]:
        return await paginate(sync_runs(filter), key=("started_at", "id"), first=first, after=after, descending=True)

    @strawberry.field(
        permission_classes=READ,
        description="Background jobs that failed for good (retries exhausted), newest first, with cursors; "
        "`retryFailedJob` asks for their work again.",
    )
    async def failed_jobs(
        self, filter: FailedJobFilter | None = None, first: int | None = None, after: str | None = None
    ) -> Connection[FailedJob]:
        return await paginate(failed_jobs(filter), key=("failed_at", "id"), first=first, after=after, descending=True)

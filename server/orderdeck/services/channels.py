"""Channels: create, update, enable, disable, delete a connection to a sales channel with its
channel parts (download location, stock locations, unpaid orders, status overrides).

A channel is a connection (services.connections: settings checked by the connector's model,
secrets encrypted and never returned) and a Channel row under the same id.
"""

from __future__ import annotations

import uuid
from typing import Any

from pydantic import Field

from orderdeck.models import AuditKind, AuditSubject, Channel, Connection, ConnectionKind, Location, Order
from orderdeck.plugins import connectors
from orderdeck.plugins.connectors import ChannelConnector
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.connections import (
    connector_of,
    snapshot,
    hook_connection,
    locked_connection,
    require_unique_name,
    reseal,
    seal,
    stored_secrets,
)
from orderdeck.services.context import Actor, transaction
from orderdeck.services.errors import ErrorCode, FieldError, ServiceError, validated
from orderdeck.services.fields import Strict, text
from orderdeck.services.locations import create_location, hold_locations


class StatusOverride(Strict):
    """What a channel status means, overriding the plugin's default mapping."""

    paid: bool
    shipped: bool = False
    cancelled: bool = False


class ChannelInput(Strict):
    """A new channel."""

    name: text(100, 1)
    plugin: text(50, 1)
    settings: dict[str, Any] = Field(default_factory=dict)
    download_location_id: uuid.UUID | None = None
    stock_location_ids: list[uuid.UUID] = Field(default_factory=list, max_length=50)
    fulfilment_location_id: uuid.UUID | None = None
    download_unpaid: bool = False
    status_overrides: dict[text(100, 1), StatusOverride] = Field(default_factory=dict, max_length=100)
    sync_interval_seconds: int = Field(300, ge=60, le=86_400)
    enabled: bool = True


class ChannelPatch(Strict):
    """Changes to a channel; fields left out stay. ``settings`` is merged into the current ones."""

    name: text(100, 1) | None = None
    settings: dict[str, Any] | None = None
    download_location_id: uuid.UUID | None = None
    stock_location_ids: list[uuid.UUID] | None = Field(None, max_length=50)
    fulfilment_location_id: uuid.UUID | None = None
    download_unpaid: bool | None = None
    status_overrides: dict[text(100, 1), StatusOverride] | None = Field(None, max_length=100)
    sync_interval_seconds: int | None = Field(None, ge=60, le=86_400)


def _connector(name: str) -> ChannelConnector:
    """The installed channel connector ``name``; NOT_FOUND naming the field "plugin"."""
    return connector_of(ConnectionKind.CHANNEL, name, "plugin")  # type: ignore[return-value]


def channel_connection(connection: Connection) -> tuple[ChannelConnector, connectors.Connection[Any]]:
    """The channel's connector and the Connection its hooks are called with."""
    return hook_connection(connection)


async def channel_of(channel_id: uuid.UUID) -> tuple[Connection, Channel]:
    """A channel's connection locked for the transaction, and its channel row; NOT_FOUND naming "id"."""
    connection = await locked_connection(channel_id, ConnectionKind.CHANNEL)
    return connection, await Channel.get(id=channel_id)


async def _locations(download_id: uuid.UUID | None, stock_ids: list[uuid.UUID],
                     fulfilment_id: uuid.UUID | None = None) -> tuple[Location, list[Location]]:  # fmt: skip
    """The download location (the default one when None) and the stock locations, held for the
    transaction with the fulfilment location (if any); unknown ids are errors naming the field."""
    wanted = {*stock_ids, *([download_id] if download_id else []), *([fulfilment_id] if fulfilment_id else [])}
    found = await hold_locations(wanted)
    errors = [FieldError(f"Location {i} does not exist", field, ErrorCode.NOT_FOUND)
              for i, field in ((download_id, "downloadLocationId"), (fulfilment_id, "fulfilmentLocationId"))
              if i and i not in found]  # fmt: skip
    errors += [FieldError(f"Location {i} does not exist", f"stockLocationIds.{n}", ErrorCode.NOT_FOUND)
               for n, i in enumerate(stock_ids) if i not in found]  # fmt: skip
    if errors:
        raise ServiceError(errors)
    download = found[download_id] if download_id else await Location.get(is_default=True)
    return download, [found[i] for i in dict.fromkeys(stock_ids)]


async def _companion_centre(channel: Connection, connector: ChannelConnector, settings: dict[str, Any],
                            actor: Actor) -> Location | None:  # fmt: skip
    """The centre a new channel runs itself (``connector.fulfilment_connector``, e.g. Amazon FBA),
    set up with it: a fulfilment connection with the channel's settings its connector takes, and
    the location it serves (stock not deducted when processed: the centre reports its levels).
    None when the connector names none, or that connector is not installed."""
    if not connector.fulfilment_connector:
        return None
    try:
        centre = connector_of(ConnectionKind.FULFILMENT_CENTRE, connector.fulfilment_connector)
    except ServiceError:
        return None
    name = await _free_name(f"{channel.name} ({centre.title})"[:100])
    connection = Connection(name=name, kind=ConnectionKind.FULFILMENT_CENTRE, connector=centre.name,
                            enabled=channel.enabled, sync_interval_seconds=channel.sync_interval_seconds)  # fmt: skip
    secrets = seal(connection, centre, _settings_of(centre, settings))
    await connection.save()
    location = await create_location(name, actor)
    location.fulfilment_connection_id, location.deduct_stock_when_processed = connection.id, False
    await location.save(update_fields=["fulfilment_connection_id", "deduct_stock_when_processed", "updated_at"])
    audit = AuditLog(actor)
    audit.add(AuditKind.CONNECTION_CREATED, AuditSubject.CONNECTION, connection.id, name, after=snapshot(connection, secrets))
    audit.add(AuditKind.LOCATION_FULFILMENT_SET, AuditSubject.LOCATION, location.id, name,
              after={"connectionId": str(connection.id), "deductStockWhenProcessed": False})  # fmt: skip
    await audit.write()
    return location


async def _reseal_companion(channel: Channel, connector: ChannelConnector, changes: dict[str, Any]) -> None:
    """Give the centre the channel runs itself the channel's changed settings (its credentials)."""
    if not connector.fulfilment_connector or channel.fulfilment_location_id is None:
        return
    location = await Location.get(id=channel.fulfilment_location_id)
    centre = await Connection.get_or_none(id=location.fulfilment_connection_id, connector=connector.fulfilment_connector)
    if centre is not None:
        found = connector_of(ConnectionKind.FULFILMENT_CENTRE, centre.connector)
        reseal(centre, found, _settings_of(found, changes))
        await centre.save(update_fields=["settings", "secrets", "updated_at"])


def _settings_of(centre: connectors.Connector, settings: dict[str, Any]) -> dict[str, Any]:
    """The channel's settings the centre's connector takes."""
    return {name: value for name, value in settings.items() if name in centre.settings.model_fields}


async def _free_name(name: str) -> str:
    """``name``, or with a number after it, free among connections and locations."""
    candidate, n = name, 1
    while await Connection.filter(name=candidate).exists() or await Location.filter(name=candidate).exists():
        n += 1
        candidate = f"{name[:95]} {n}"
    return candidate


def _snapshot(connection: Connection, channel: Channel, stock: list[Location], secrets: list[str]) -> dict[str, Any]:
    return {
        "name": connection.name, "plugin": connection.connector, "enabled": connection.enabled,
        "settings": connection.settings, "secretsSet": secrets,
        "downloadLocationId": str(channel.download_location_id),
        "stockLocationIds": [str(loc.id) for loc in stock], "downloadUnpaid": channel.download_unpaid,
        "fulfilmentLocationId": str(channel.fulfilment_location_id) if channel.fulfilment_location_id else None,
        "statusOverrides": channel.status_overrides, "syncIntervalSeconds": connection.sync_interval_seconds,
    }  # fmt: skip


async def create_channel(data: ChannelInput | dict, actor: Actor) -> Channel:
    """Create a channel served by an installed channel connector."""
    given = validated(ChannelInput, data)
    connector = _connector(given.plugin)
    async with transaction():
        await require_unique_name(given.name)
        download, stock = await _locations(given.download_location_id, given.stock_location_ids,
                                           given.fulfilment_location_id)  # fmt: skip
        connection = Connection(name=given.name, kind=ConnectionKind.CHANNEL, connector=connector.name,
                                enabled=given.enabled, sync_interval_seconds=given.sync_interval_seconds)  # fmt: skip
        secrets = seal(connection, connector, given.settings)
        await connection.save()
        channel = Channel(
            id=connection.id, connection=connection, source=connector.source, download_location_id=download.id,
            fulfilment_location_id=given.fulfilment_location_id, download_unpaid=given.download_unpaid,
            status_overrides={k: v.model_dump() for k, v in given.status_overrides.items()},
        )  # fmt: skip
        if channel.fulfilment_location_id is None:
            centre = await _companion_centre(connection, connector, given.settings, actor)
            channel.fulfilment_location_id = centre.id if centre else None
        await channel.save()
        if stock:
            await channel.stock_locations.add(*stock)
        audit = AuditLog(actor)
        audit.add(AuditKind.CHANNEL_CREATED, AuditSubject.CHANNEL, channel.id, connection.name,
                  after=_snapshot(connection, channel, stock, secrets))  # fmt: skip
        await audit.write()
    return channel


async def update_channel(channel_id: uuid.UUID, data: ChannelPatch | dict, actor: Actor) -> Channel:
    """Change a channel's name, settings (merged: secrets left out are kept), locations, options."""
    patch = validated(ChannelPatch, data)
    changes = patch.model_dump(exclude_unset=True)
    nulls = [name for name in changes if changes[name] is None and name not in ("download_location_id",
                                                                                "fulfilment_location_id")]  # fmt: skip
    if nulls:
        raise ServiceError([FieldError("cannot be null", name) for name in nulls])
    async with transaction():
        connection, channel = await channel_of(channel_id)
        connector = _connector(connection.connector)
        old_stock = list(await channel.stock_locations.all())
        before = _snapshot(connection, channel, old_stock, sorted(stored_secrets(connection)))
        if "name" in changes and changes["name"] != connection.name:
            await require_unique_name(changes["name"])
            connection.name = changes["name"]
        secrets = before["secretsSet"]
        if "settings" in changes:
            secrets = reseal(connection, connector, changes["settings"])
            await _reseal_companion(channel, connector, changes["settings"])
        stock_ids = changes.get("stock_location_ids", [loc.id for loc in old_stock])
        fulfilment_id = changes.get("fulfilment_location_id", channel.fulfilment_location_id)
        download, stock = await _locations(changes.get("download_location_id", channel.download_location_id), stock_ids,
                                           fulfilment_id)  # fmt: skip
        channel.download_location_id, channel.fulfilment_location_id = download.id, fulfilment_id
        channel.download_unpaid = changes.get("download_unpaid", channel.download_unpaid)
        connection.sync_interval_seconds = changes.get("sync_interval_seconds", connection.sync_interval_seconds)
        if "status_overrides" in changes:
            channel.status_overrides = {k: v.model_dump() for k, v in (patch.status_overrides or {}).items()}
        await connection.save()
        await channel.save()
        if "stock_location_ids" in changes:
            await channel.stock_locations.clear()
            if stock:
                await channel.stock_locations.add(*stock)
        after = _snapshot(connection, channel, stock, secrets)
        changed = {k: v for k, v in before.items() if after[k] != v}
        if {"stockLocationIds", "settings", "secretsSet"} & changed.keys() or "settings" in changes:
            await outbox.channel_changed(channel.id)
        audit = AuditLog(actor)
        audit.add(AuditKind.CHANNEL_UPDATED, AuditSubject.CHANNEL, channel.id, connection.name,
                  before=changed, after={k: after[k] for k in changed})  # fmt: skip
        await audit.write()
    return channel


async def set_channel_enabled(channel_id: uuid.UUID, enabled: bool, actor: Actor) -> Channel:
    """Enable a channel (its syncs run) or disable it (no download, push or dispatch)."""
    async with transaction():
        connection, channel = await channel_of(channel_id)
        if connection.enabled != enabled:
            connection.enabled = enabled
            await connection.save(update_fields=["enabled", "updated_at"])
            if enabled:
                await outbox.channel_changed(channel.id)
            audit = AuditLog(actor)
            audit.add(AuditKind.CHANNEL_ENABLED if enabled else AuditKind.CHANNEL_DISABLED, AuditSubject.CHANNEL,
                      channel.id, connection.name)  # fmt: skip
            await audit.write()
    return channel


async def delete_channel(channel_id: uuid.UUID, actor: Actor) -> None:
    """Delete a channel no order references (with its listings and sync history); a channel with
    orders is kept for their history: disable it instead."""
    async with transaction():
        connection, channel = await channel_of(channel_id)
        count = await Order.filter(channel_id=channel.id).count()
        if count:
            raise ServiceError.one(f"Channel {connection.name} has {count} orders: disable it instead", "id",
                                   ErrorCode.IN_USE)  # fmt: skip
        await channel.delete()
        await connection.delete()
        audit = AuditLog(actor)
        audit.add(AuditKind.CHANNEL_DELETED, AuditSubject.CHANNEL, channel.id, connection.name)
        await audit.write()

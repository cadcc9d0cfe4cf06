"""Channels: create, update, enable, disable, delete; settings validated by the channel's plugin.

A channel's settings are checked against its plugin's settings model (errors name the field as
settings.<name>). Fields the model types as SecretStr are secrets: stored encrypted, never
returned, and kept as they are when an update leaves them out (clients never see them to send
back).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError

from orderdeck import crypto
from orderdeck.models import AuditKind, AuditSubject, Channel, Location, Order
from orderdeck.plugins.connectors import ChannelConnector, Connection
from orderdeck.plugins.dto import ConnectionResult
from orderdeck.plugins.errors import PartnerError
from orderdeck.plugins.manager import UnknownConnector, channel_connector
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.context import Actor, locked, transaction
from orderdeck.services.errors import ErrorCode, FieldError, ServiceError, not_found, validated
from orderdeck.services.fields import Strict, text
from orderdeck.services.locations import hold_locations


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
    download_unpaid: bool | None = None
    status_overrides: dict[text(100, 1), StatusOverride] | None = Field(None, max_length=100)
    sync_interval_seconds: int | None = Field(None, ge=60, le=86_400)


def _connector(name: str) -> ChannelConnector:
    """The installed channel connector ``name``; a NOT_FOUND error naming the field "plugin"."""
    try:
        return channel_connector(name)
    except UnknownConnector as exc:
        raise ServiceError.one(str(exc), "plugin", ErrorCode.NOT_FOUND) from None


def secret_fields(model: type[BaseModel]) -> set[str]:
    """The settings a plugin's model types as SecretStr (or SecretStr | None)."""
    return {
        name for name, field in model.model_fields.items()
        if field.annotation is SecretStr or SecretStr in getattr(field.annotation, "__args__", ())
    }  # fmt: skip


def _validated_settings(connector: ChannelConnector, raw: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(public settings, secret settings) of ``raw``, checked by the connector's settings model."""
    try:
        model = connector.settings.model_validate(raw)
    except ValidationError as exc:
        raise ServiceError.from_validation(exc, "settings") from None
    secrets = secret_fields(connector.settings)
    public = model.model_dump(mode="json", exclude=secrets)
    hidden = {name: getattr(model, name).get_secret_value() for name in secrets if getattr(model, name) is not None}
    return public, hidden


def _stored_secrets(channel: Channel) -> dict[str, Any]:
    return crypto.decrypt(channel.secrets) if channel.secrets else {}


def channel_connection(channel: Channel) -> tuple[ChannelConnector, Connection[Any]]:
    """The channel's connector, and the Connection its hooks are called with: the channel's
    settings validated by the connector's model, secrets decrypted."""
    connector = _connector(channel.plugin)
    settings = connector.settings.model_validate({**channel.settings, **_stored_secrets(channel)})
    return connector, Connection(connection_id=str(channel.id), name=channel.name, settings=settings)


def _seal(channel: Channel, connector: ChannelConnector, raw: dict[str, Any]) -> list[str]:
    """Validate and store settings on ``channel``; return the names of the secrets set."""
    public, hidden = _validated_settings(connector, raw)
    try:
        sealed = crypto.encrypt(hidden) if hidden else None
    except crypto.SecretKeyMissing as exc:
        raise ServiceError.one(str(exc), "settings") from None
    channel.settings, channel.secrets = public, sealed
    return sorted(hidden)


async def _locations(download_id: uuid.UUID | None, stock_ids: list[uuid.UUID]) -> tuple[Location, list[Location]]:
    """The download location (the default one when None) and the stock locations, held for the
    transaction; unknown ids are errors naming the field."""
    wanted = {*stock_ids, *([download_id] if download_id else [])}
    found = await hold_locations(wanted)
    errors = [FieldError(f"Location {i} does not exist", "downloadLocationId", ErrorCode.NOT_FOUND)
              for i in [download_id] if i and i not in found]  # fmt: skip
    errors += [FieldError(f"Location {i} does not exist", f"stockLocationIds.{n}", ErrorCode.NOT_FOUND)
               for n, i in enumerate(stock_ids) if i not in found]  # fmt: skip
    if errors:
        raise ServiceError(errors)
    download = found[download_id] if download_id else await Location.get(is_default=True)
    return download, [found[i] for i in dict.fromkeys(stock_ids)]


def _snapshot(channel: Channel, stock: list[Location], secrets: list[str]) -> dict[str, Any]:
    return {
        "name": channel.name, "plugin": channel.plugin, "enabled": channel.enabled,
        "settings": channel.settings, "secretsSet": secrets,
        "downloadLocationId": str(channel.download_location_id),
        "stockLocationIds": [str(loc.id) for loc in stock], "downloadUnpaid": channel.download_unpaid,
        "statusOverrides": channel.status_overrides, "syncIntervalSeconds": channel.sync_interval_seconds,
    }  # fmt: skip


def _duplicate(name: str) -> ServiceError:
    return ServiceError.one(f"A channel named {name} already exists", "name", ErrorCode.DUPLICATE)


async def create_channel(data: ChannelInput | dict, actor: Actor) -> Channel:
    """Create a channel served by an installed channel plugin."""
    given = validated(ChannelInput, data)
    connector = _connector(given.plugin)
    async with transaction():
        if await Channel.filter(name=given.name).exists():
            raise _duplicate(given.name)
        download, stock = await _locations(given.download_location_id, given.stock_location_ids)
        channel = Channel(
            name=given.name, plugin=connector.name, source=connector.source, enabled=given.enabled,
            download_location_id=download.id, download_unpaid=given.download_unpaid,
            status_overrides={k: v.model_dump() for k, v in given.status_overrides.items()},
            sync_interval_seconds=given.sync_interval_seconds,
        )  # fmt: skip
        secrets = _seal(channel, connector, given.settings)
        await channel.save()
        if stock:
            await channel.stock_locations.add(*stock)
        audit = AuditLog(actor)
        audit.add(AuditKind.CHANNEL_CREATED, AuditSubject.CHANNEL, channel.id, channel.name,
                  after=_snapshot(channel, stock, secrets))  # fmt: skip
        await audit.write()
    return channel


async def update_channel(channel_id: uuid.UUID, data: ChannelPatch | dict, actor: Actor) -> Channel:
    """Change a channel's name, settings (merged: secrets left out are kept), locations, options."""
    patch = validated(ChannelPatch, data)
    changes = patch.model_dump(exclude_unset=True)
    nulls = [name for name in changes if changes[name] is None and name != "download_location_id"]
    if nulls:
        raise ServiceError([FieldError("cannot be null", name) for name in nulls])
    async with transaction():
        channel = await locked(Channel, channel_id, "Channel")
        connector = _connector(channel.plugin)
        old_stock = list(await channel.stock_locations.all())
        before = _snapshot(channel, old_stock, sorted(_stored_secrets(channel)))
        if "name" in changes and changes["name"] != channel.name:
            if await Channel.filter(name=changes["name"]).exists():
                raise _duplicate(changes["name"])
            channel.name = changes["name"]
        secrets = before["secretsSet"]
        if "settings" in changes:
            secrets = _seal(channel, connector, {**channel.settings, **_stored_secrets(channel), **changes["settings"]})
        stock_ids = changes.get("stock_location_ids", [loc.id for loc in old_stock])
        download, stock = await _locations(changes.get("download_location_id", channel.download_location_id), stock_ids)
        channel.download_location_id = download.id
        for name in ("download_unpaid", "sync_interval_seconds"):
            if name in changes:
                setattr(channel, name, changes[name])
        if "status_overrides" in changes:
            channel.status_overrides = {k: v.model_dump() for k, v in (patch.status_overrides or {}).items()}
        await channel.save()
        if "stock_location_ids" in changes:
            await channel.stock_locations.clear()
            if stock:
                await channel.stock_locations.add(*stock)
        after = _snapshot(channel, stock, secrets)
        changed = {k: v for k, v in before.items() if after[k] != v}
        if {"stockLocationIds", "settings", "secretsSet"} & changed.keys() or "settings" in changes:
            await outbox.channel_changed(channel.id)
        audit = AuditLog(actor)
        audit.add(AuditKind.CHANNEL_UPDATED, AuditSubject.CHANNEL, channel.id, channel.name,
                  before=changed, after={k: after[k] for k in changed})  # fmt: skip
        await audit.write()
    return channel


async def set_channel_enabled(channel_id: uuid.UUID, enabled: bool, actor: Actor) -> Channel:
    """Enable a channel (its syncs run) or disable it (no download, push or dispatch)."""
    async with transaction():
        channel = await locked(Channel, channel_id, "Channel")
        if channel.enabled != enabled:
            channel.enabled = enabled
            await channel.save(update_fields=["enabled", "updated_at"])
            if enabled:
                await outbox.channel_changed(channel.id)
            audit = AuditLog(actor)
            audit.add(AuditKind.CHANNEL_ENABLED if enabled else AuditKind.CHANNEL_DISABLED, AuditSubject.CHANNEL,
                      channel.id, channel.name)  # fmt: skip
            await audit.write()
    return channel


async def delete_channel(channel_id: uuid.UUID, actor: Actor) -> None:
    """Delete a channel no order references (with its listings and sync history); a channel with
    orders is kept for their history: disable it instead."""
    async with transaction():
        channel = await locked(Channel, channel_id, "Channel")
        count = await Order.filter(channel_id=channel.id).count()
        if count:
            raise ServiceError.one(f"Channel {channel.name} has {count} orders: disable it instead", "id",
                                   ErrorCode.IN_USE)  # fmt: skip
        await channel.delete()
        audit = AuditLog(actor)
        audit.add(AuditKind.CHANNEL_DELETED, AuditSubject.CHANNEL, channel.id, channel.name)
        await audit.write()


CONNECTION_TEST_TIMEOUT = 30.0
"""Seconds a connection test may take before it is reported as failed."""


async def test_connection(channel_id: uuid.UUID) -> ConnectionResult:
    """Ask the channel's plugin to check its credentials and reachability (nothing changes)."""
    channel = await Channel.get_or_none(id=channel_id)
    if channel is None:
        raise not_found("Channel", channel_id, "id")
    try:
        connector, connection = channel_connection(channel)
    except (ServiceError, ValueError, crypto.SecretKeyMissing, crypto.SecretUnreadable) as exc:
        return ConnectionResult(False, f"The channel cannot be used as configured: {exc}")
    try:
        async with asyncio.timeout(CONNECTION_TEST_TIMEOUT):
            result = await connector.test_connection(connection)
    except TimeoutError:
        return ConnectionResult(False, f"No answer within {CONNECTION_TEST_TIMEOUT:g} seconds")
    except PartnerError as exc:
        return ConnectionResult(False, f"{type(exc).__name__}: {exc}")
    return result or ConnectionResult(False, f"Plugin {channel.plugin} cannot test connections")


def require_connector(channel: Channel) -> ChannelConnector:
    """The channel's connector; refused (naming the field "id") when it is not installed."""
    try:
        return channel_connector(channel.plugin)
    except UnknownConnector as exc:
        raise ServiceError.one(f"Channel {channel.name} cannot work: {exc}", "id", ErrorCode.NOT_FOUND) from None


def require_enabled(channel: Channel) -> None:
    """Refuse work asked of a disabled channel (naming the field "id")."""
    if not channel.enabled:
        raise ServiceError.one(f"Channel {channel.name} is disabled: enable it first", "id",
                               ErrorCode.INVALID_TRANSITION)  # fmt: skip


test_connection.__test__ = False  # a service, not a pytest test

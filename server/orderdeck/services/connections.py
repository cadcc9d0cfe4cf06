"""Connections: the seller's configured accounts with partners, of every kind.

What every connection has is managed here, once for all kinds: its connector (installed, of the
connection's kind), its settings checked against the connector's settings model (errors name the
field as settings.<name>), its secrets (the fields the model types as SecretStr: stored
encrypted, never returned, kept as they are when an update leaves them out), enabling and
disabling, and the connection test. Channels add their own parts (services.channels); a
fulfilment centre's parts are on the locations it serves (services.fulfilment.locations).
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field, SecretStr, ValidationError
from tortoise.expressions import Q

from orderdeck import crypto
from orderdeck.models import AuditKind, AuditSubject, Connection, ConnectionKind, Location, SyncKind
from orderdeck.plugins import connectors
from orderdeck.plugins.connectors import KINDS, ConnectorKind
from orderdeck.plugins.dto import ConnectionResult
from orderdeck.plugins.errors import PartnerError
from orderdeck.plugins.manager import UnknownConnector, connector
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.context import Actor, locked, transaction
from orderdeck.services.errors import ErrorCode, FieldError, ServiceError, not_found, validated
from orderdeck.services.fields import Strict, text

WORDS = {ConnectionKind.CHANNEL: "Channel", ConnectionKind.FULFILMENT_CENTRE: "Fulfilment centre"}
"""How messages name a connection of each kind."""

INTERVAL = Field(300, ge=60, le=86_400)


class ConnectionInput(Strict):
    """A new connection to a fulfilment centre (channels: services.channels.ChannelInput)."""

    name: text(100, 1)
    connector: text(50, 1)
    settings: dict[str, Any] = Field(default_factory=dict)
    sync_interval_seconds: int = INTERVAL
    enabled: bool = True


class ConnectionPatch(Strict):
    """Changes to a connection; fields left out stay. ``settings`` is merged into the current ones."""

    name: text(100, 1) | None = None
    settings: dict[str, Any] | None = None
    sync_interval_seconds: int | None = Field(None, ge=60, le=86_400)


def connector_of(kind: ConnectionKind, name: str, field: str = "connector") -> connectors.Connector:
    """The installed connector ``name`` of ``kind``; a NOT_FOUND error naming ``field``."""
    try:
        return connector(name, KINDS[ConnectorKind(kind.value)])
    except UnknownConnector as exc:
        raise ServiceError.one(str(exc), field, ErrorCode.NOT_FOUND) from None


def secret_fields(model: type[BaseModel]) -> set[str]:
    """The settings a connector's model types as SecretStr (or SecretStr | None)."""
    return {
        name for name, field in model.model_fields.items()
        if field.annotation is SecretStr or SecretStr in getattr(field.annotation, "__args__", ())
    }  # fmt: skip


def stored_secrets(connection: Connection) -> dict[str, Any]:
    """The connection's secrets, decrypted."""
    return crypto.decrypt(connection.secrets) if connection.secrets else {}


def hook_connection(connection: Connection) -> tuple[Any, connectors.Connection[Any]]:
    """The connection's connector, and the Connection its hooks are called with: the settings
    validated by the connector's model, secrets decrypted."""
    found = connector_of(connection.kind, connection.connector)
    settings = found.settings.model_validate({**connection.settings, **stored_secrets(connection)})
    return found, connectors.Connection(connection_id=str(connection.id), name=connection.name, settings=settings)


def seal(connection: Connection, found: connectors.Connector, raw: dict[str, Any]) -> list[str]:
    """Validate ``raw`` settings by the connector's model and store them on ``connection``
    (secrets encrypted); the names of the secrets set."""
    try:
        model = found.settings.model_validate(raw)
    except ValidationError as exc:
        raise ServiceError.from_validation(exc, "settings") from None
    secrets = secret_fields(found.settings)
    hidden = {name: getattr(model, name).get_secret_value() for name in secrets if getattr(model, name) is not None}
    try:
        sealed = crypto.encrypt(hidden) if hidden else None
    except crypto.SecretKeyMissing as exc:
        raise ServiceError.one(str(exc), "settings") from None
    connection.settings, connection.secrets = model.model_dump(mode="json", exclude=secrets), sealed
    return sorted(hidden)


def reseal(connection: Connection, found: connectors.Connector, changes: dict[str, Any]) -> list[str]:
    """Merge changed settings into the stored ones (secrets left out are kept) and seal them."""
    return seal(connection, found, {**connection.settings, **stored_secrets(connection), **changes})


def snapshot(connection: Connection, secrets: list[str]) -> dict[str, Any]:
    """What the audit trail records of a connection."""
    return {
        "name": connection.name, "connector": connection.connector, "enabled": connection.enabled,
        "settings": connection.settings, "secretsSet": secrets,
        "syncIntervalSeconds": connection.sync_interval_seconds,
    }  # fmt: skip


async def require_unique_name(name: str) -> None:
    """Refuse a name another connection (of any kind) has."""
    if await Connection.filter(name=name).exists():
        raise ServiceError.one(f"A connection named {name} already exists", "name", ErrorCode.DUPLICATE)


def require_connector(connection: Connection) -> connectors.Connector:
    """The connection's connector; refused (naming the field "id") when it is not installed."""
    try:
        return connector(connection.connector, KINDS[ConnectorKind(connection.kind.value)])
    except UnknownConnector as exc:
        raise ServiceError.one(f"{WORDS[connection.kind]} {connection.name} cannot work: {exc}", "id",
                               ErrorCode.NOT_FOUND) from None  # fmt: skip


def require_enabled(connection: Connection) -> None:
    """Refuse work asked of a disabled connection (naming the field "id")."""
    if not connection.enabled:
        raise ServiceError.one(f"{WORDS[connection.kind]} {connection.name} is disabled: enable it first", "id",
                               ErrorCode.INVALID_TRANSITION)  # fmt: skip


async def locked_connection(connection_id: uuid.UUID, kind: ConnectionKind) -> Connection:
    """The connection of ``kind``, locked for the transaction; NOT_FOUND naming "id" otherwise."""
    connection = await locked(Connection, connection_id, WORDS[kind])
    if connection.kind != kind:
        raise not_found(WORDS[kind], connection_id, "id")
    return connection


# --- fulfilment connections (a channel is created with its channel parts: services.channels)

FULFILMENT_WORK = (SyncKind.EXPORT, SyncKind.STATUS_IMPORT, SyncKind.STOCK_IMPORT)
"""The kinds of a fulfilment connection's work."""
_AUDIT = {True: AuditKind.CONNECTION_ENABLED, False: AuditKind.CONNECTION_DISABLED}


async def create_connection(data: ConnectionInput | dict, actor: Actor) -> Connection:
    """Create a connection to a fulfilment centre served by an installed fulfilment connector."""
    given = validated(ConnectionInput, data)
    kind = ConnectionKind.FULFILMENT_CENTRE
    found = connector_of(kind, given.connector)
    async with transaction():
        await require_unique_name(given.name)
        connection = Connection(name=given.name, kind=kind, connector=found.name, enabled=given.enabled,
                                sync_interval_seconds=given.sync_interval_seconds)  # fmt: skip
        secrets = seal(connection, found, given.settings)
        await connection.save()
        audit = AuditLog(actor)
        audit.add(AuditKind.CONNECTION_CREATED, AuditSubject.CONNECTION, connection.id, connection.name,
                  after=snapshot(connection, secrets))  # fmt: skip
        await audit.write()
    return connection


async def update_connection(connection_id: uuid.UUID, data: ConnectionPatch | dict, actor: Actor) -> Connection:
    """Change a fulfilment connection's name, settings (merged: secrets left out are kept) or schedule."""
    changes = validated(ConnectionPatch, data).model_dump(exclude_unset=True)
    nulls = [name for name, value in changes.items() if value is None]
    if nulls:
        raise ServiceError([FieldError("cannot be null", name) for name in nulls])
    async with transaction():
        connection = await locked_connection(connection_id, ConnectionKind.FULFILMENT_CENTRE)
        found = connector_of(connection.kind, connection.connector, "id")
        before = snapshot(connection, sorted(stored_secrets(connection)))
        if changes.get("name", connection.name) != connection.name:
            await require_unique_name(changes["name"])
            connection.name = changes["name"]
        secrets = reseal(connection, found, changes["settings"]) if "settings" in changes else before["secretsSet"]
        connection.sync_interval_seconds = changes.get("sync_interval_seconds", connection.sync_interval_seconds)
        await connection.save()
        after = snapshot(connection, secrets)
        changed = {k: v for k, v in before.items() if after[k] != v}
        audit = AuditLog(actor)
        audit.add(AuditKind.CONNECTION_UPDATED, AuditSubject.CONNECTION, connection.id, connection.name,
                  before=changed, after={k: after[k] for k in changed})  # fmt: skip
        await audit.write()
    return connection


async def set_connection_enabled(connection_id: uuid.UUID, enabled: bool, actor: Actor) -> Connection:
    """Enable a fulfilment connection (its exports and imports run) or disable it (nothing runs)."""
    async with transaction():
        connection = await locked_connection(connection_id, ConnectionKind.FULFILMENT_CENTRE)
        if connection.enabled != enabled:
            connection.enabled = enabled
            await connection.save(update_fields=["enabled", "updated_at"])
            if enabled:
                for kind in FULFILMENT_WORK:
                    outbox.wake(kind, [connection.id])
            audit = AuditLog(actor)
            audit.add(_AUDIT[enabled], AuditSubject.CONNECTION, connection.id, connection.name)
            await audit.write()
    return connection


async def delete_connection(connection_id: uuid.UUID, actor: Actor) -> None:
    """Delete a fulfilment connection no location is served by (with its run history)."""
    async with transaction():
        connection = await locked_connection(connection_id, ConnectionKind.FULFILMENT_CENTRE)
        serving = await Location.filter(fulfilment_connection_id=connection.id).values_list("name", flat=True)
        if serving:
            raise ServiceError.one(f"{connection.name} serves {', '.join(sorted(serving))}: take it off first", "id",
                                   ErrorCode.IN_USE)  # fmt: skip
        await connection.delete()
        audit = AuditLog(actor)
        audit.add(AuditKind.CONNECTION_DELETED, AuditSubject.CONNECTION, connection.id, connection.name)
        await audit.write()


CONNECTION_TEST_TIMEOUT = 30.0
"""Seconds a connection test may take before it is reported as failed."""


async def test_connection(connection_id: uuid.UUID) -> ConnectionResult:
    """Ask the connection's connector to check its credentials and reachability (nothing changes)."""
    connection = await Connection.get_or_none(id=connection_id)
    if connection is None:
        raise not_found("Connection", connection_id, "id")
    try:
        found, hooked = hook_connection(connection)
    except (ServiceError, ValueError, crypto.SecretKeyMissing, crypto.SecretUnreadable) as exc:
        return ConnectionResult(False, f"The connection cannot be used as configured: {exc}")
    try:
        async with asyncio.timeout(CONNECTION_TEST_TIMEOUT):
            result = await found.test_connection(hooked)
    except TimeoutError:
        return ConnectionResult(False, f"No answer within {CONNECTION_TEST_TIMEOUT:g} seconds")
    except PartnerError as exc:
        return ConnectionResult(False, f"{type(exc).__name__}: {exc}")
    return result or ConnectionResult(False, f"Connector {connection.connector} cannot test connections")


test_connection.__test__ = False  # a service, not a pytest test


async def due_periodic(kind: ConnectionKind, now: datetime) -> set[uuid.UUID]:
    """The scheduler's schedule: enabled connections of ``kind`` whose sync interval has passed,
    each taken by moving its next_run_at on in one atomic UPDATE, so several schedulers send its
    periodic work once."""
    due = Q(next_run_at__isnull=True) | Q(next_run_at__lte=now)
    taken = set()
    for connection in await Connection.filter(due, kind=kind, enabled=True):
        moved = await Connection.filter(due, id=connection.id).update(
            next_run_at=now + timedelta(seconds=connection.sync_interval_seconds))  # fmt: skip
        if moved:
            taken.add(connection.id)
    return taken

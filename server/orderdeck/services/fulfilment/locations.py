"""A location's fulfilment settings: the fulfilment connection serving it (making it a fulfilment
centre or drop shipper) and its options."""

from __future__ import annotations

import string
import uuid

from pydantic import Field, field_validator

from orderdeck.models import LOCKED_IN, AuditKind, AuditSubject, ConnectionKind, Location, Order, SyncKind
from orderdeck.models.locations import DEFAULT_FILE_PATTERN
from orderdeck.plugins.dto import EXPORT_FIELDS
from orderdeck.services import outbox
from orderdeck.services.audit import AuditLog
from orderdeck.services.connections import locked_connection
from orderdeck.services.context import Actor, locked, transaction
from orderdeck.services.errors import ErrorCode, ServiceError, validated
from orderdeck.services.fields import Strict, text

PLACEHOLDERS = {"location", "first", "last", "count", "batch"}


class ExportColumnInput(Strict):
    """A column of the export file: the order or line field it takes, its header, its default."""

    source: text(50, 1)
    name: text(100) = ""
    default: text(200) = ""

    @field_validator("source")
    @classmethod
    def _known(cls, value: str) -> str:
        if value not in EXPORT_FIELDS:
            raise ValueError(f"unknown field {value!r}: one of {', '.join(EXPORT_FIELDS)}")
        return value


class FulfilmentSettingsInput(Strict):
    """A location's fulfilment settings (connection_id None: an ordinary warehouse again)."""

    connection_id: uuid.UUID | None = None
    deduct_stock_when_processed: bool = True
    export_columns: list[ExportColumnInput] = Field(default_factory=list, max_length=100)
    export_file_pattern: text(200, 1) = DEFAULT_FILE_PATTERN

    @field_validator("export_file_pattern")
    @classmethod
    def _pattern(cls, value: str) -> str:
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(value) if name is not None}
        except ValueError as exc:
            raise ValueError(f"not a pattern: {exc}") from None
        unknown = names - PLACEHOLDERS
        if unknown or "" in names:
            raise ValueError(f"unknown placeholder(s) {', '.join(sorted(unknown or {''}))}: use "
                             f"{', '.join('{' + p + '}' for p in sorted(PLACEHOLDERS))}")  # fmt: skip
        if "batch" not in names and not {"first", "last"} <= names:
            raise ValueError("must name its batch: {batch}, or {first} and {last}, so each file has its own name")
        if "/" in value or "\\" in value:
            raise ValueError("a file name, without folders")
        return value


async def set_location_fulfilment(location_id: uuid.UUID, data: FulfilmentSettingsInput | dict, actor: Actor) -> Location:
    """Make a location a fulfilment centre served by a fulfilment connection, change its options,
    or (connection_id None) make it an ordinary warehouse. The connection cannot change while
    the centre holds orders of the location (they are locked in with it)."""
    given = validated(FulfilmentSettingsInput, data)
    async with transaction():
        location = await locked(Location, location_id, "Location")
        if given.connection_id is not None:
            await locked_connection(given.connection_id, ConnectionKind.FULFILMENT_CENTRE)
        if location.fulfilment_connection_id != given.connection_id:
            held = await Order.filter(location_id=location.id, fulfilment_state__in=list(LOCKED_IN)).count()
            if held:
                raise ServiceError.one(f"{location.name}'s fulfilment centre holds {held} of its orders: they must come "
                                       "back (cancelled by the centre) first", "connectionId", ErrorCode.IN_USE)  # fmt: skip
        before = _snapshot(location)
        location.fulfilment_connection_id = given.connection_id
        location.deduct_stock_when_processed = given.deduct_stock_when_processed
        location.export_columns = [c.model_dump() for c in given.export_columns]
        location.export_file_pattern = given.export_file_pattern
        await location.save()
        after = _snapshot(location)
        audit = AuditLog(actor)
        audit.add(AuditKind.LOCATION_FULFILMENT_SET, AuditSubject.LOCATION, location.id, location.name,
                  before=before, after=after)  # fmt: skip
        await audit.write()
        if location.fulfilment_connection_id:
            outbox.wake(SyncKind.EXPORT, [location.fulfilment_connection_id])
    return location


def _snapshot(location: Location) -> dict:
    return {
        "connectionId": str(location.fulfilment_connection_id) if location.fulfilment_connection_id else None,
        "deductStockWhenProcessed": location.deduct_stock_when_processed,
        "exportColumns": location.export_columns, "exportFilePattern": location.export_file_pattern,
    }  # fmt: skip

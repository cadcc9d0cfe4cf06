"""Locations: create, rename, make default, delete. Exactly one location is the default."""

from __future__ import annotations

import uuid

from tortoise.exceptions import IntegrityError

from orderdeck import db
from orderdeck.models import AuditKind, AuditSubject, Location, Order, OrderReturn, OrderState, StockLevel
from orderdeck.services.audit import AuditLog
from orderdeck.services.context import Actor, locked, transaction
from orderdeck.services.errors import ErrorCode, ServiceError, not_found, validated
from orderdeck.services.fields import Strict, text

DEFAULT_LOCATION_NAME = "Default"


class LocationName(Strict):
    """A location's name: 1 to 100 characters, unique."""

    name: text(100, 1)


def _duplicate(name: str) -> ServiceError:
    return ServiceError.one(f"A location named {name} already exists", "name", ErrorCode.DUPLICATE)


async def ensure_default_location(actor: Actor | None = None) -> Location:
    """Return the default location, creating one named "Default" on first start."""
    try:
        return await _ensure_default(actor)
    except IntegrityError:  # another process created it at the same moment: use theirs
        return await _ensure_default(actor)


async def _ensure_default(actor: Actor | None) -> Location:
    async with transaction():
        location = await Location.filter(is_default=True).first()
        if location is not None:
            return location
        location = await Location.filter(name=DEFAULT_LOCATION_NAME).select_for_update().first()
        if location is None:
            location = await Location.create(name=DEFAULT_LOCATION_NAME, is_default=True)
            audit = AuditLog(actor or Actor.system())
            audit.add(AuditKind.LOCATION_CREATED, AuditSubject.LOCATION, location.id, location.name)
            await audit.write()
        else:
            location.is_default = True
            await location.save(update_fields=["is_default", "updated_at"])
        return location


async def hold_locations(location_ids: set[uuid.UUID]) -> dict[uuid.UUID, Location]:
    """The locations with these ids, kept from being deleted until the transaction ends.

    On PostgreSQL the rows are locked FOR KEY SHARE: operations placing orders or stock at a
    location do not wait for each other, only delete_location (FOR UPDATE) waits for them, then
    sees what they placed. SQLite runs one write transaction at a time, which holds them anyway.
    """
    if not location_ids:
        return {}
    columns = ", ".join(Location._meta.fields_db_projection.values())
    where, params = db.one_of("id", db.sql_ids(location_ids))
    lock = " FOR KEY SHARE" if db.dialect() == "postgres" else ""
    rows = await db.fetch(f"SELECT {columns} FROM location WHERE {where}{lock}", params)
    locations = [Location._init_from_db(**row) for row in rows]
    return {loc.id: loc for loc in locations}


async def create_location(name: str, actor: Actor) -> Location:
    """Create a location with a unique name."""
    name = validated(LocationName, {"name": name}).name
    async with transaction():
        if await Location.filter(name=name).exists():
            raise _duplicate(name)
        try:
            location = await Location.create(name=name)
        except IntegrityError:
            raise _duplicate(name) from None
        audit = AuditLog(actor)
        audit.add(AuditKind.LOCATION_CREATED, AuditSubject.LOCATION, location.id, name)
        await audit.write()
    return location


async def rename_location(location_id: uuid.UUID, name: str, actor: Actor) -> Location:
    """Give a location a new, unique name."""
    name = validated(LocationName, {"name": name}).name
    async with transaction():
        location = await locked(Location, location_id, "Location")
        if name != location.name and await Location.filter(name=name).exists():
            raise _duplicate(name)
        before = location.name
        location.name = name
        try:
            await location.save(update_fields=["name", "updated_at"])
        except IntegrityError:
            raise _duplicate(name) from None
        audit = AuditLog(actor)
        audit.add(AuditKind.LOCATION_RENAMED, AuditSubject.LOCATION, location.id, name,
                  before={"name": before}, after={"name": name})  # fmt: skip
        await audit.write()
    return location


async def set_default_location(location_id: uuid.UUID, actor: Actor) -> Location:
    """Make a location the default (where new orders go when none is named)."""
    async with transaction():
        # Lock every location (a short list) in id order: concurrent calls then run one after the
        # other, each seeing the default the previous one set.
        locked = {loc.id: loc for loc in await Location.all().order_by("id").select_for_update()}
        location = locked.get(location_id)
        if location is None:
            raise not_found("Location", location_id, "id")
        previous = next((loc for loc in locked.values() if loc.is_default), None)
        if previous is not None and previous.id != location.id:
            previous.is_default = False
            await previous.save(update_fields=["is_default", "updated_at"])
        location.is_default = True
        await location.save(update_fields=["is_default", "updated_at"])
        audit = AuditLog(actor)
        audit.add(AuditKind.LOCATION_DEFAULT_SET, AuditSubject.LOCATION, location.id, location.name,
                  before={"default": previous.name if previous else None}, after={"default": location.name})  # fmt: skip
        await audit.write()
    return location


async def delete_location(location_id: uuid.UUID, actor: Actor) -> None:
    """Delete a location that holds no open orders and no stock, is not the default, and is not in
    the history of any order or return."""
    async with transaction():
        location = await locked(Location, location_id, "Location")
        if location.is_default:
            raise ServiceError.one(
                "The default location cannot be deleted: make another location the default first",
                "id", ErrorCode.IN_USE,
            )  # fmt: skip
        open_orders = await Order.filter(location_id=location.id, state=OrderState.OPEN).count()
        if open_orders:
            raise ServiceError.one(
                f"Location {location.name} holds {open_orders} open orders: move them first",
                "id", ErrorCode.IN_USE,
            )  # fmt: skip
        if await StockLevel.filter(location_id=location.id, level__gt=0).exists():
            raise ServiceError.one(
                f"Location {location.name} holds stock: set its levels to zero first", "id", ErrorCode.IN_USE
            )
        in_history = await Order.filter(location_id=location.id).exists()
        in_history = in_history or await OrderReturn.filter(location_id=location.id).exists()
        if in_history:
            raise ServiceError.one(
                f"Location {location.name} is referenced by processed or cancelled orders or returns and is "
                "kept for their history", "id", ErrorCode.IN_USE,
            )  # fmt: skip
        await StockLevel.filter(location_id=location.id).delete()
        await location.delete()
        audit = AuditLog(actor)
        audit.add(AuditKind.LOCATION_DELETED, AuditSubject.LOCATION, location.id, location.name)
        await audit.write()

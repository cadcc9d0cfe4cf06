"""An order's notes and extended properties: each change one transaction, with its audit entry."""

from __future__ import annotations

import uuid

from orderdeck.models import AuditKind, Order, OrderNote, OrderProperty
from orderdeck.services.audit import AuditLog
from orderdeck.services.context import Actor, transaction
from orderdeck.services.errors import not_found, validated
from orderdeck.services.fields import clean_text
from orderdeck.services.orders.inputs import NoteInput, PropertyInput
from orderdeck.services.orders.common import lock_order


async def add_note(order_id: uuid.UUID, data: NoteInput | dict, actor: Actor) -> OrderNote:
    """Add a note to an order (open or not)."""
    note = validated(NoteInput, data)
    async with transaction():
        order = await lock_order(order_id)
        row = await OrderNote.create(order_id=order.id, author=actor.name, **note.model_dump())
        audit = AuditLog(actor)
        audit.order(AuditKind.NOTE_ADDED, order, note.text[:200])
        await audit.write()
    return row


async def delete_note(note_id: uuid.UUID, actor: Actor) -> Order:
    """Delete a note; returns its order."""
    async with transaction():
        note = await OrderNote.get_or_none(id=note_id)
        if note is None:
            raise not_found("Note", note_id, "noteId")
        order = await lock_order(note.order_id)
        await note.delete()
        audit = AuditLog(actor)
        audit.order(AuditKind.NOTE_DELETED, order, note.text[:200])
        await audit.write()
    return order


async def set_property(order_id: uuid.UUID, data: PropertyInput | dict, actor: Actor) -> OrderProperty:
    """Set an extended property (replacing one of the same name)."""
    prop = validated(PropertyInput, data)
    async with transaction():
        order = await lock_order(order_id)
        row = await OrderProperty.get_or_none(order_id=order.id, name=prop.name)
        before = {"value": row.value, "type": row.type} if row else None
        if row is None:
            row = await OrderProperty.create(order_id=order.id, **prop.model_dump())
        else:
            row.value, row.type = prop.value, prop.type
            await row.save(update_fields=["value", "type"])
        audit = AuditLog(actor)
        audit.order(AuditKind.PROPERTY_SET, order, prop.name, before=before, after={"value": prop.value, "type": prop.type})
        await audit.write()
    return row


async def remove_property(order_id: uuid.UUID, name: str, actor: Actor) -> Order:
    """Remove an extended property by name."""
    name = clean_text(name, "name", 100)
    async with transaction():
        order = await lock_order(order_id)
        row = await OrderProperty.get_or_none(order_id=order.id, name=name)
        if row is None:
            raise not_found("Property", name, "name")
        await row.delete()
        audit = AuditLog(actor)
        audit.order(AuditKind.PROPERTY_REMOVED, order, name, before={"value": row.value, "type": row.type})
        await audit.write()
    return order

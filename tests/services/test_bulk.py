"""The bulk-insert helper (services/bulk.py), on SQLite and PostgreSQL: values of every kind the
models use come back as written, defaults fill what is left out, and a failure writes nothing."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from tortoise.exceptions import IntegrityError

from tests.services.helpers import make_item
from orderdeck.models import (
    ActorKind,
    AuditEntry,
    AuditKind,
    AuditSubject,
    Order,
    OrderItem,
    OrderState,
    OrderStatus,
    OrderTag,
)
from orderdeck.services import orders
from orderdeck.services.bulk import insert_rows
from orderdeck.services.orders.intake import tag_row
from orderdeck.services.context import transaction


def order_row(location_id: uuid.UUID, number: int, **extra) -> dict:
    return {"id": uuid.uuid4(), "number": number, "source": "DIRECT", "location_id": location_id,
            "received_at": datetime(2026, 12, 1, 9, 30, 15, 123456, tzinfo=timezone.utc)} | extra  # fmt: skip


async def test_values_round_trip(database, default_location, actor):
    """UUIDs, decimals, datetimes (aware, in another zone), NULLs, enums and defaults."""
    item = await make_item("MUG", actor)
    paid = datetime(2026, 12, 1, 10, 0, tzinfo=timezone(timedelta(hours=2)))
    order = order_row(default_location.id, 7, reference=None, paid_at=paid, status=OrderStatus.UNPAID,
                      postage=Decimal("4.95"), total=Decimal("123456789012.34"), email="a@b.example")  # fmt: skip
    line = {"order_id": order["id"], "stock_item_id": item.id, "sku": "MUG", "quantity": 3,
            "unit_price": Decimal("0.01"), "tax_rate": Decimal("20.125")}  # fmt: skip
    unlinked = {"order_id": order["id"], "stock_item_id": None, "sku": "NONE", "quantity": 1, "position": 1}

    async with transaction():
        assert await insert_rows(Order, [order]) == 1
        assert await insert_rows(OrderItem, [line, unlinked]) == 2

    stored = await Order.get(id=order["id"])
    assert stored.number == 7 and stored.reference is None and stored.email == "a@b.example"
    assert stored.received_at == order["received_at"]
    assert stored.paid_at == paid  # the same instant, whatever the zone it was given in
    assert (stored.status, stored.state, stored.parked) == (OrderStatus.UNPAID, OrderState.OPEN, False)
    assert (stored.postage, stored.total, stored.tax) == (Decimal("4.95"), Decimal("123456789012.34"), Decimal("0"))
    assert stored.currency == "GBP" and stored.despatch_by_at is None and stored.channel_id is None
    assert abs(stored.created_at - datetime.now(timezone.utc)) < timedelta(minutes=1)
    lines = await OrderItem.filter(order_id=order["id"]).order_by("position")
    assert [(l.sku, l.stock_item_id, l.quantity) for l in lines] == [("MUG", item.id, 3), ("NONE", None, 1)]
    assert (lines[0].unit_price, lines[0].tax_rate) == (Decimal("0.01"), Decimal("20.125"))
    assert isinstance(lines[0].id, uuid.UUID) and lines[0].id != lines[1].id  # the model's default, per row


async def test_json_and_generated_keys(database, default_location):
    """JSON (nested, unicode, null) round-trips; a generated primary key is numbered by the database."""
    subject = uuid.uuid4()
    before = {"items": [{"sku": "MÜG", "quantity": 2}], "note": None, "ok": True}
    rows = [{"kind": AuditKind.ORDER_UPDATED, "subject": AuditSubject.ORDER, "subject_id": subject,
             "before": before, "after": None, "actor": "ann", "actor_kind": ActorKind.USER, "note": f"n{i}"}
            for i in range(3)]  # fmt: skip
    async with transaction():
        await insert_rows(AuditEntry, rows)
    stored = await AuditEntry.filter(subject_id=subject).order_by("id")
    assert [e.note for e in stored] == ["n0", "n1", "n2"]
    assert len({e.id for e in stored}) == 3 and all(isinstance(e.id, int) for e in stored)
    assert stored[0].before == before and stored[0].after is None
    assert (stored[0].kind, stored[0].actor_kind) == (AuditKind.ORDER_UPDATED, ActorKind.USER)


async def test_error_rolls_back_everything(database, default_location):
    """A unique violation in the second table undoes the first table's rows too."""
    first, second = order_row(default_location.id, 1), order_row(default_location.id, 2)
    with pytest.raises(IntegrityError):
        async with transaction():
            await insert_rows(Order, [first, second])
            await insert_rows(OrderTag, [tag_row(first, "gift")])
            await insert_rows(Order, [order_row(default_location.id, 2)])  # number 2 again
    assert await Order.all().count() == 0
    assert await OrderTag.all().count() == 0


async def test_bad_rows_write_nothing(database, default_location):
    """A row naming an unknown field, or missing a required one, is refused before any write."""
    good = order_row(default_location.id, 1)
    with pytest.raises(ValueError, match="Order has no field colour"):
        await insert_rows(Order, [good, order_row(default_location.id, 2, colour="red")])
    with pytest.raises(ValueError, match="Order.number has no default"):
        await insert_rows(Order, [good, {k: v for k, v in order_row(default_location.id, 2).items() if k != "number"}])
    assert await Order.all().count() == 0
    assert await insert_rows(Order, []) == 0


async def test_created_orders_are_returned_as_stored(database, default_location, actor):
    """create_orders returns its orders without reading them back: each field equals a read's."""
    await make_item("MUG", actor, weight="0.350")
    batch = [{"reference": f"R{n}", "status": "UNPAID" if n else "PAID", "postage": "4.5", "email": "a@b.example",
              "received_at": datetime(2026, 12, 1, 9, n, tzinfo=timezone(timedelta(hours=1))),
              "shipping_address": {"full_name": "Ann", "town": "Leeds"}, "tags": ["gift"],
              "items": [{"sku": "MUG", "quantity": 2, "unit_price": "3.1", "tax_rate": "20"}]}
             for n in range(3)]  # fmt: skip
    created = await orders.create_orders(batch, actor)
    fields = Order._meta.fields_db_projection
    for order in created:
        stored = await Order.get(id=order.id)
        assert {f: getattr(order, f) for f in fields} == {f: getattr(stored, f) for f in fields}
        assert (str(order.postage), str(order.total)) == (str(stored.postage), str(stored.total)) == ("4.50", "11.94")
    assert [o.reference for o in created] == ["R0", "R1", "R2"]
    assert created[0].billing_town == "Leeds" and created[1].parked

"""Bad input: refused with a ServiceError naming the field and the reason, and nothing changes."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Callable
from datetime import datetime

import pytest

from tests.services.helpers import assert_unchanged_by, db_state, make_item, make_order, refused
from orderdeck.models import Order, OrderState, OrderStatus
from orderdeck.services import locations, orders, stock
from orderdeck.services.orders import notes as order_notes
from orderdeck.services.errors import ErrorCode

VALID = {"items": [{"sku": "A", "quantity": 1, "unit_price": "2.00"}]}
NAIVE = datetime(2026, 11, 22, 10, 0)


def changed(**top: object) -> Callable[[dict], None]:
    return lambda order: order.update(top)


def line(**fields: object) -> Callable[[dict], None]:
    return lambda order: order["items"][0].update(fields)


BAD_ORDERS = [
    ("unknown sku", line(sku="NOPE"), "items.0.sku", ErrorCode.NOT_FOUND),
    ("unknown location", changed(location_id=uuid.uuid4()), "locationId", ErrorCode.NOT_FOUND),
    ("zero quantity", line(quantity=0), "items.0.quantity", ErrorCode.INVALID),
    ("negative quantity", line(quantity=-2), "items.0.quantity", ErrorCode.INVALID),
    ("quantity not a number", line(quantity="two"), "items.0.quantity", ErrorCode.INVALID),
    ("discount above price", line(discount="2.01"), "items.0", ErrorCode.INVALID),
    ("negative price", line(unit_price="-1"), "items.0.unitPrice", ErrorCode.INVALID),
    ("fractions of a penny", line(unit_price="1.001"), "items.0.unitPrice", ErrorCode.INVALID),
    ("tax rate above 100", line(tax_rate="100.5"), "items.0.taxRate", ErrorCode.INVALID),
    ("lower-case currency", changed(currency="gbp"), "currency", ErrorCode.INVALID),
    ("four-letter currency", changed(currency="EURO"), "currency", ErrorCode.INVALID),
    ("numeric currency", changed(currency="826"), "currency", ErrorCode.INVALID),
    ("naive received date", changed(received_at=NAIVE), "receivedAt", ErrorCode.INVALID),
    ("naive despatch-by date", changed(despatch_by_at=NAIVE.isoformat()), "despatchByAt", ErrorCode.INVALID),
    ("naive paid date", changed(paid_at=NAIVE), "paidAt", ErrorCode.INVALID),
    ("unknown field", changed(colour="red"), "colour", ErrorCode.INVALID),
    ("unknown line field", line(colour="red"), "items.0.colour", ErrorCode.INVALID),
    ("unknown address field", changed(shipping_address={"planet": "Mars"}), "shippingAddress.planet", ErrorCode.INVALID),
    ("reference of 101 characters", changed(reference="R" * 101), "reference", ErrorCode.INVALID),
    ("blank reference", changed(reference="   "), "reference", ErrorCode.INVALID),
    ("email of 255 characters", changed(email="a" * 245 + "@example.com"), "email", ErrorCode.INVALID),
    ("note of 2001 characters", changed(notes=[{"text": "n" * 2001}]), "notes.0.text", ErrorCode.INVALID),
    ("21 tags", changed(tags=[f"t{n}" for n in range(21)]), "tags", ErrorCode.TOO_MANY),
    ("no lines", changed(items=[]), "items", ErrorCode.INVALID),
    ("status resend", changed(status="RESEND"), "status", ErrorCode.INVALID),
    ("negative postage", changed(postage="-0.01"), "postage", ErrorCode.INVALID),
    ("NUL in buyer name", changed(buyer_name="Ann\x00"), "buyerName", ErrorCode.INVALID),
    ("NUL in a line title", line(title="Mug\x00"), "items.0.title", ErrorCode.INVALID),
    ("NUL in a tag", changed(tags=["gift\x00"]), "tags.0", ErrorCode.INVALID),
    ("line total beyond NUMERIC(14,2)", line(quantity=100_000, unit_price="999999999999"), "items.0", ErrorCode.INVALID),
    ("order total beyond NUMERIC(14,2)", lambda o: o.update(items=[{"sku": "A", "quantity": 1, "unit_price": "999999999999"}] * 2),
     None, ErrorCode.INVALID),
    ("received date out of range", changed(received_at="9999-12-31T23:00:00-05:00"), "receivedAt", ErrorCode.INVALID),
    ("paid date out of range", changed(paid_at="0001-01-01T00:00:00+01:00"), "paidAt", ErrorCode.INVALID),
]


@pytest.mark.parametrize(("change", "field", "code"), [case[1:] for case in BAD_ORDERS],
                         ids=[case[0] for case in BAD_ORDERS])  # fmt: skip
async def test_a_bad_order_is_refused_and_writes_nothing(default_location, actor, change, field, code):
    await make_item("A", actor, level=5, location_id=default_location.id)
    await make_order(actor, ("A", 1), reference="EXISTING")
    data = copy.deepcopy(VALID)
    change(data)

    async with refused(field, code):
        await orders.create_direct_order(data, actor)


async def test_a_duplicate_reference_is_refused(default_location, actor):
    await make_item("A", actor, level=5, location_id=default_location.id)
    await make_order(actor, ("A", 1), reference="WEB-1")

    async with refused("reference", ErrorCode.DUPLICATE):
        await orders.create_direct_order({**VALID, "reference": "WEB-1"}, actor)
    async with refused("reference", ErrorCode.DUPLICATE):
        await orders.create_direct_order({**VALID, "reference": "  WEB-1 "}, actor)


# --- batches ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("bad", "field", "code"), [
    ({"items": [{"sku": "A", "quantity": 0}]}, "orders.1.items.0.quantity", ErrorCode.INVALID),
    ({"items": [{"sku": "NOPE", "quantity": 1}]}, "orders.1.items.0.sku", ErrorCode.NOT_FOUND),
    ({"items": [{"sku": "A", "quantity": 1}], "reference": "EXISTING"}, "orders.1.reference", ErrorCode.DUPLICATE),
    ({"items": [{"sku": "A", "quantity": 1}], "reference": "NEW-0"}, "orders.1.reference", ErrorCode.DUPLICATE),
    ({"items": [{"sku": "A", "quantity": 1}], "location_id": uuid.uuid4()}, "orders.1.locationId", ErrorCode.NOT_FOUND),
], ids=["invalid line", "unknown sku", "reference exists", "reference twice in the batch", "unknown location"])  # fmt: skip
async def test_one_bad_order_in_a_batch_writes_nothing_at_all(default_location, actor, bad, field, code):
    await make_item("A", actor, level=5, location_id=default_location.id)
    await make_order(actor, ("A", 1), reference="EXISTING")
    batch = [{"reference": "NEW-0", "items": [{"sku": "A", "quantity": 2}]}, bad,
             {"reference": "NEW-2", "items": [{"sku": "A", "quantity": 1}]}]  # fmt: skip

    async with refused(field, code):
        await orders.create_orders(batch, actor)


async def test_more_than_a_thousand_orders_in_one_create_are_refused(default_location, actor):
    await make_item("A", actor)

    async with refused("orders", ErrorCode.TOO_MANY):
        await orders.create_orders([copy.deepcopy(VALID) for _ in range(1001)], actor)


BATCH_OPERATIONS = {
    "lock": lambda ids, actor: orders.set_locked(ids, True, actor),
    "park": lambda ids, actor: orders.set_parked(ids, True, actor),
    "hold": lambda ids, actor: orders.set_on_hold(ids, True, actor),
    "status": lambda ids, actor: orders.set_status(ids, OrderStatus.PENDING, actor),
    "tag": lambda ids, actor: orders.add_tags(ids, ["x"], actor),
    "untag": lambda ids, actor: orders.remove_tags(ids, ["x"], actor),
    "cancel": lambda ids, actor: orders.cancel_orders(ids, "Reason", actor),
    "delete": lambda ids, actor: orders.delete_orders(ids, "Reason", actor),
}


@pytest.mark.parametrize("operation", list(BATCH_OPERATIONS))
async def test_more_than_100_orders_in_a_batch_are_too_many(default_location, actor, operation):
    await make_item("A", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("A", 1))
    ids = [order.id] + [uuid.uuid4() for _ in range(100)]

    async with refused("orderIds", ErrorCode.TOO_MANY):
        await BATCH_OPERATIONS[operation](ids, actor)
    async with refused("orderIds", ErrorCode.INVALID):
        await BATCH_OPERATIONS[operation]([], actor)
    async with refused("orderIds.0", ErrorCode.INVALID):
        await BATCH_OPERATIONS[operation](["not-an-id"], actor)


async def test_more_than_100_orders_to_move_or_process_are_too_many(default_location, actor):
    await make_item("A", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("A", 1))
    ids = [order.id] + [uuid.uuid4() for _ in range(100)]

    async with refused("orderIds", ErrorCode.TOO_MANY):
        await orders.move_orders(ids, default_location.id, actor)
    async with refused("orders", ErrorCode.TOO_MANY):
        await orders.process_orders([{"order_id": i} for i in ids], actor)
    async with refused("orders.0.orderId", ErrorCode.INVALID):
        await orders.process_orders([{"order_id": "nope"}], actor)
    async with refused("orders.0.carrier", ErrorCode.INVALID):
        await orders.process_orders([{"order_id": order.id, "carrier": "DHL"}], actor)


async def test_more_than_100_level_rows_are_too_many(default_location, actor):
    await make_item("A", actor)

    async with refused("levels", ErrorCode.TOO_MANY):
        await stock.set_stock_levels({"levels": [{"sku": "A", "location_id": default_location.id, "quantity": 1}] * 101},
                                     actor)  # fmt: skip


# --- other operations ------------------------------------------------------------------------


async def test_cancel_and_delete_need_a_reason(default_location, actor):
    await make_item("A", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("A", 1))

    for reason in ("", "   ", "r" * 501):
        async with refused("reason", ErrorCode.INVALID):
            await orders.cancel_orders([order.id], reason, actor)
        async with refused("reason", ErrorCode.INVALID):
            await orders.delete_orders([order.id], reason, actor)
    assert (await Order.get(id=order.id)).state == OrderState.OPEN


async def test_notes_tags_and_properties_are_bounded(default_location, actor):
    await make_item("A", actor)
    order = await make_order(actor, ("A", 1))

    async with refused("text", ErrorCode.INVALID):
        await order_notes.add_note(order.id, {"text": "n" * 2001}, actor)
    async with refused("text", ErrorCode.INVALID):
        await order_notes.add_note(order.id, {"text": "  "}, actor)
    async with refused("orderId", ErrorCode.NOT_FOUND):
        await order_notes.add_note(uuid.uuid4(), {"text": "Hello"}, actor)
    async with refused("tags.0", ErrorCode.INVALID):
        await orders.add_tags([order.id], ["t" * 51], actor)
    async with refused("tags", ErrorCode.TOO_MANY):
        await orders.add_tags([order.id], [f"t{n}" for n in range(21)], actor)
    async with refused("name", ErrorCode.INVALID):
        await order_notes.set_property(order.id, {"name": "p" * 101, "value": "v"}, actor)
    async with refused("value", ErrorCode.INVALID):
        await order_notes.set_property(order.id, {"name": "p", "value": "v" * 1001}, actor)


EDITS = [
    ("unknown field", {"colour": "red"}, "colour", ErrorCode.INVALID),
    ("unknown line id", {"items": [{"id": uuid.uuid4(), "sku": "A", "quantity": 1}]}, "items.0.id", ErrorCode.NOT_FOUND),
    ("unknown sku", {"items": [{"sku": "NOPE", "quantity": 1}]}, "items.0.sku", ErrorCode.NOT_FOUND),
    ("zero quantity", {"items": [{"sku": "A", "quantity": 0}]}, "items.0.quantity", ErrorCode.INVALID),
    ("no lines", {"items": []}, "items", ErrorCode.INVALID),
    ("naive date", {"despatch_by_at": NAIVE}, "despatchByAt", ErrorCode.INVALID),
    ("bad currency", {"currency": "usd"}, "currency", ErrorCode.INVALID),
    ("buyer of 201 characters", {"buyer_name": "b" * 201}, "buyerName", ErrorCode.INVALID),
]


@pytest.mark.parametrize(("patch", "field", "code"), [e[1:] for e in EDITS], ids=[e[0] for e in EDITS])
async def test_a_bad_edit_is_refused_and_changes_nothing(default_location, actor, patch, field, code):
    await make_item("A", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("A", 2))

    async with refused(field, code):
        await orders.update_order(order.id, patch, actor)


async def test_editing_a_missing_or_processed_order_is_refused(default_location, actor):
    await make_item("A", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("A", 2))
    await orders.process_orders([{"order_id": order.id}], actor)

    async with refused("id", ErrorCode.INVALID_TRANSITION):
        await orders.update_order(order.id, {"items": [{"sku": "A", "quantity": 1}]}, actor)
    async with refused("id", ErrorCode.NOT_FOUND):
        await orders.update_order(uuid.uuid4(), {"buyer_name": "Ann"}, actor)


async def test_invalid_transitions_in_batches_are_reported_and_change_nothing(default_location, actor):
    await make_item("A", actor, level=5, location_id=default_location.id)
    processed = await make_order(actor, ("A", 1))
    cancelled = await make_order(actor, ("A", 1))
    await orders.process_orders([{"order_id": processed.id}], actor)
    await orders.cancel_orders([cancelled.id], "Duplicate", actor)
    north = await locations.create_location("North", actor)
    before = await db_state()

    again = await orders.process_orders([{"order_id": processed.id}], actor)
    moved = await orders.move_orders([cancelled.id], north.id, actor)

    assert [(f.order_id, f.code) for f in again.failures] == [(processed.id, ErrorCode.INVALID_TRANSITION)]
    assert [(f.order_id, f.code) for f in moved.failures] == [(cancelled.id, ErrorCode.INVALID_TRANSITION)]
    await assert_unchanged_by(before)


BAD_ITEMS = [
    ("blank sku", {"sku": " ", "title": "T"}, "sku"),
    ("missing title", {"sku": "X"}, "title"),
    ("negative weight", {"sku": "X", "title": "T", "weight": "-1"}, "weight"),
    ("sku of 101 characters", {"sku": "s" * 101, "title": "T"}, "sku"),
    ("unknown field", {"sku": "X", "title": "T", "colour": "red"}, "colour"),
    ("negative price", {"sku": "X", "title": "T", "unit_price": "-0.01"}, "unitPrice"),
]


@pytest.mark.parametrize(("data", "field"), [b[1:] for b in BAD_ITEMS], ids=[b[0] for b in BAD_ITEMS])
async def test_a_bad_stock_item_is_refused(database, actor, data, field):
    async with refused(field, ErrorCode.INVALID):
        await stock.create_stock_item(data, actor)



async def test_an_order_heavier_than_the_weight_column_holds_is_refused(default_location, actor):
    await make_item("ANVIL", actor, level=5, location_id=default_location.id, weight="999999999.999")
    async with refused("items", ErrorCode.INVALID):
        await orders.create_direct_order({"items": [{"sku": "ANVIL", "quantity": 2}]}, actor)


async def test_a_level_beyond_the_column_is_refused(default_location, actor):
    await make_item("A", actor)
    step = {"levels": [{"sku": "A", "location_id": default_location.id, "quantity": 1_000_000_000}]}
    await stock.adjust_stock_levels(step, actor)
    await stock.adjust_stock_levels(step, actor)
    async with refused("levels.0.quantity", ErrorCode.INVALID):
        await stock.adjust_stock_levels(step, actor)


async def test_nul_characters_are_refused_everywhere_text_is_stored(default_location, actor):
    await make_item("A", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("A", 1))
    async with refused("sku", ErrorCode.INVALID):
        await stock.create_stock_item({"sku": "B\x00", "title": "B"}, actor)
    async with refused("name", ErrorCode.INVALID):
        await locations.create_location("North\x00", actor)
    async with refused("reason", ErrorCode.INVALID):
        await orders.cancel_orders([order.id], "oops\x00", actor)
    async with refused("name", ErrorCode.INVALID):
        await order_notes.remove_property(order.id, "x\x00", actor)
    async with refused("levels.0.sku", ErrorCode.INVALID):
        await stock.set_stock_levels({"levels": [{"sku": "A\x00", "location_id": default_location.id, "quantity": 1}]}, actor)


async def test_a_line_given_twice_in_an_edit_is_refused(default_location, actor):
    await make_item("A", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("A", 1))
    line_id = (await order.items.all())[0].id
    twice = [{"id": line_id, "sku": "A", "quantity": 1}, {"id": line_id, "sku": "A", "quantity": 2}]
    async with refused("items", ErrorCode.DUPLICATE):
        await orders.update_order(order.id, {"items": twice}, actor)


async def test_an_order_given_twice_to_process_is_refused(default_location, actor):
    await make_item("A", actor, level=5, location_id=default_location.id)
    order = await make_order(actor, ("A", 1))
    async with refused("orders", ErrorCode.DUPLICATE):
        await orders.process_orders([{"order_id": order.id}, {"order_id": order.id, "tracking_number": "T"}], actor)

from decimal import Decimal

from orderdeck.models import Order, StockLevel
from orderdeck.services import orders, stock


async def test_order_reserves_and_processing_deducts(default_location, actor):
    item = await stock.create_stock_item({"sku": "MUG", "title": "Mug", "unit_price": "5"}, actor)
    await stock.set_stock_levels({"levels": [{"sku": "MUG", "location_id": default_location.id, "quantity": 10}]}, actor)
    order = await orders.create_direct_order({"items": [{"sku": "MUG", "quantity": 3, "unit_price": "5", "tax_rate": 20}]}, actor)
    level = await StockLevel.get(item_id=item.id, location_id=default_location.id)
    assert (level.level, level.allocated) == (10, 3)
    assert order.total == Decimal("18.00")
    result = await orders.process_orders([{"order_id": order.id}], actor)
    assert not result.failures
    level = await StockLevel.get(item_id=item.id, location_id=default_location.id)
    assert (level.level, level.allocated) == (7, 0)
    assert (await Order.get(id=order.id)).state.value == "PROCESSED"

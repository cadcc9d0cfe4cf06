from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields

# Each short level's frontier with the quantity of its queue up to the frontier, so that a write
# moves the frontier from where it is (orderdeck.services.allocation).
FILL_COVERED_QUANTITY = """
UPDATE stock_level SET covered_quantity = COALESCE((
    SELECT SUM(a.quantity) FROM allocation a
    WHERE a.item_id = stock_level.item_id AND a.location_id = stock_level.location_id
      AND (a.received_at, a.order_number)
          <= (stock_level.covered_through_received_at, stock_level.covered_through_number)
), 0)
WHERE covered_through_number IS NOT NULL
"""


class Migration(migrations.Migration):
    dependencies = [('models', '0007_run_claims')]

    initial = False

    operations = [
        ops.AddField(
            model_name='StockLevel',
            name='covered_quantity',
            field=fields.IntField(default=0, db_default=0),
        ),
        ops.RunSQL(FILL_COVERED_QUANTITY),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops
from orderdeck.models.orders import OrderState
from tortoise import fields
from tortoise.indexes import Index

# Each tag takes its order's state and sort keys (orderdeck.models.orders.TAGGED_ORDER_KEYS).
COPY_ORDER_KEYS = """
UPDATE order_tag SET
    order_number = (SELECT o.number FROM orders o WHERE o.id = order_tag.order_id),
    order_state = (SELECT o.state FROM orders o WHERE o.id = order_tag.order_id),
    order_received_at = (SELECT o.received_at FROM orders o WHERE o.id = order_tag.order_id),
    order_despatch_by_at = (SELECT o.despatch_by_at FROM orders o WHERE o.id = order_tag.order_id),
    order_processed_at = (SELECT o.processed_at FROM orders o WHERE o.id = order_tag.order_id)
"""

# SQLite alters a column by rebuilding the table, and Tortoise's rebuild leaves out the table's
# unique (order_id, name): put it back (on PostgreSQL the constraint's index has this name already).
ONE_TAG_OF_A_NAME = 'CREATE UNIQUE INDEX IF NOT EXISTS "uid_order_tag_order_i_8ed892" ON "order_tag" ("order_id", "name")'

class Migration(migrations.Migration):
    dependencies = [('models', '0008_level_coverage')]

    initial = False

    operations = [
        ops.AlterField(
            model_name='OrderTag',
            name='name',
            field=fields.CharField(max_length=50),
        ),
        ops.AddField(
            model_name='OrderTag',
            name='order_despatch_by_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='OrderTag',
            name='order_number',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='OrderTag',
            name='order_processed_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddField(
            model_name='OrderTag',
            name='order_received_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False, null=True),
        ),
        ops.AddField(
            model_name='OrderTag',
            name='order_state',
            field=fields.CharEnumField(description='OPEN: OPEN\nPROCESSED: PROCESSED\nCANCELLED: CANCELLED', enum_type=OrderState, max_length=16, null=True),
        ),
        ops.RunSQL(COPY_ORDER_KEYS),
        ops.AlterField(model_name='OrderTag', name='order_number', field=fields.BigIntField()),
        ops.AlterField(
            model_name='OrderTag',
            name='order_received_at',
            field=fields.DatetimeField(auto_now=False, auto_now_add=False),
        ),
        ops.AlterField(
            model_name='OrderTag',
            name='order_state',
            field=fields.CharEnumField(description='OPEN: OPEN\nPROCESSED: PROCESSED\nCANCELLED: CANCELLED', enum_type=OrderState, max_length=16),
        ),
        ops.RunSQL(ONE_TAG_OF_A_NAME),
        ops.AddIndex(
            model_name='OrderTag',
            index=Index(fields=['name', 'order_number']),
        ),
        ops.AddIndex(
            model_name='OrderTag',
            index=Index(fields=['name', 'order_state', 'order_number']),
        ),
        ops.AddIndex(
            model_name='OrderTag',
            index=Index(fields=['name', 'order_state', 'order_received_at', 'order_number']),
        ),
        ops.AddIndex(
            model_name='OrderTag',
            index=Index(fields=['name', 'order_state', 'order_despatch_by_at', 'order_number']),
        ),
        ops.AddIndex(
            model_name='OrderTag',
            index=Index(fields=['name', 'order_state', 'order_processed_at', 'order_number']),
        ),
    ]

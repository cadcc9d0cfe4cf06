from tortoise import migrations
from tortoise.migrations import operations as ops
from tortoise import fields
from tortoise.indexes import Index

# Parked, locked and on-hold orders are few: a partial index each, by number, serves their filter.
FLAG_INDEXES = [
    "CREATE INDEX IF NOT EXISTS idx_orders_parked_number ON orders (number) WHERE parked",
    "CREATE INDEX IF NOT EXISTS idx_orders_locked_number ON orders (number) WHERE locked",
    "CREATE INDEX IF NOT EXISTS idx_orders_on_hold_number ON orders (number) WHERE on_hold",
]

# Every open, unlocked order's linked quantity of each item, at its location: the allocation queue.
FILL_ALLOCATIONS = """
INSERT INTO allocation (order_id, item_id, location_id, received_at, order_number, quantity)
SELECT oi.order_id, oi.stock_item_id, o.location_id, o.received_at, o.number, SUM(oi.quantity)
FROM order_item oi JOIN orders o ON o.id = oi.order_id
WHERE o.state = 'OPEN' AND NOT o.locked AND oi.stock_item_id IS NOT NULL
GROUP BY oi.order_id, oi.stock_item_id, o.location_id, o.received_at, o.number
"""

# The covered entries of every level that cannot cover all it has allocated, in queue order.
COVERED_ENTRIES = """
WITH queue AS (
    SELECT sl.id AS level_id, sl.level, a.received_at, a.order_number,
           SUM(a.quantity) OVER (PARTITION BY a.item_id, a.location_id
                                 ORDER BY a.received_at, a.order_number ROWS UNBOUNDED PRECEDING) AS running
    FROM allocation a JOIN stock_level sl ON sl.item_id = a.item_id AND sl.location_id = a.location_id
    WHERE sl.allocated > sl.level
)
SELECT level_id, received_at, order_number FROM queue WHERE running <= level
ORDER BY level_id, received_at, order_number
"""


async def number_orders_from_a_sequence(apps, schema_editor) -> None:
    """PostgreSQL: order numbers from a sequence (owned by orders.number), starting past every
    number given so far. SQLite keeps the counter row (it writes one transaction at a time)."""
    client = schema_editor.client
    if client.capabilities.dialect != "postgres":
        return
    await client.execute_script(
        "CREATE SEQUENCE IF NOT EXISTS order_number_seq OWNED BY orders.number;"
        "SELECT setval('order_number_seq', GREATEST((SELECT MAX(number) FROM orders), "
        "(SELECT value FROM counter WHERE name = 'order_number'), 0) + 1, false);"
    )


async def fill_frontiers(apps, schema_editor) -> None:
    """Store each short level's coverage frontier: the last queue entry its level covers."""
    client = schema_editor.client
    frontiers = {row["level_id"]: (row["received_at"], row["order_number"])
                 for row in await client.execute_query_dict(COVERED_ENTRIES)}
    marks = ("$1", "$2", "$3") if client.capabilities.dialect == "postgres" else ("?", "?", "?")
    for level_id, (received_at, number) in frontiers.items():
        await client.execute_query(
            f"UPDATE stock_level SET covered_through_received_at = {marks[0]}, covered_through_number = {marks[1]} "
            f"WHERE id = {marks[2]}",
            [received_at, number, level_id],
        )

class Migration(migrations.Migration):
    dependencies = [('models', '0005_live_events')]

    initial = False

    operations = [
        ops.CreateModel(
            name='Allocation',
            fields=[
                ('id', fields.BigIntField(generated=True, primary_key=True, unique=True, db_index=True)),
                ('order_id', fields.UUIDField()),
                ('item_id', fields.UUIDField()),
                ('location_id', fields.UUIDField()),
                ('received_at', fields.DatetimeField(auto_now=False, auto_now_add=False)),
                ('order_number', fields.BigIntField()),
                ('quantity', fields.IntField()),
            ],
            options={'table': 'allocation', 'app': 'models', 'unique_together': (('order_id', 'item_id', 'location_id'),), 'indexes': [Index(fields=['item_id', 'location_id', 'received_at', 'order_number'])], 'pk_attr': 'id', 'table_description': "What one open, unlocked order holds of one item at its location: the FIFO queue's entries."},
            bases=['Model'],
        ),
        ops.AddField(
            model_name='StockLevel',
            name='covered_through_number',
            field=fields.BigIntField(null=True),
        ),
        ops.AddField(
            model_name='StockLevel',
            name='covered_through_received_at',
            field=fields.DatetimeField(null=True, auto_now=False, auto_now_add=False),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['state', 'number']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['state', 'location_id', 'number']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['state', 'status', 'number']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['state', 'source', 'subsource', 'number']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['state', 'received_at', 'number']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['state', 'despatch_by_at', 'number']),
        ),
        ops.AddIndex(
            model_name='Order',
            index=Index(fields=['state', 'processed_at', 'number']),
        ),
        ops.RunSQL(FLAG_INDEXES),
        ops.RunSQL(FILL_ALLOCATIONS),
        ops.RunPython(fill_frontiers),
        ops.RunPython(number_orders_from_a_sequence),
    ]

from tortoise import migrations
from tortoise.migrations import operations as ops

# SQLite alters a column by rebuilding its table, and Tortoise's rebuild (0004 to 0007) left out the
# rebuilt tables' indexes and unique constraints. These put them back, named as on PostgreSQL,
# which never lost them (tests/test_migrations.py compares both with the models).
LOST_INDEXES = [
    'CREATE INDEX IF NOT EXISTS "idx_audit_entry_kind_86ef8f" ON "audit_entry" ("kind")',
    'CREATE INDEX IF NOT EXISTS "idx_audit_entry_subject_595d7e" ON "audit_entry" ("subject_id")',
    'CREATE INDEX IF NOT EXISTS "idx_audit_entry_order_n_f17fd7" ON "audit_entry" ("order_number")',
    'CREATE INDEX IF NOT EXISTS "idx_audit_entry_actor_51f72e" ON "audit_entry" ("actor")',
    'CREATE INDEX IF NOT EXISTS "idx_audit_entry_created_817289" ON "audit_entry" ("created_at")',
    'CREATE INDEX IF NOT EXISTS "idx_channel_downloa_3c47e4" ON "channel" ("download_location_id")',
    'CREATE INDEX IF NOT EXISTS "idx_listing_push_du_dee725" ON "listing" ("push_due")',
    'CREATE INDEX IF NOT EXISTS "idx_listing_stock_i_14d367" ON "listing" ("stock_item_id")',
    'CREATE UNIQUE INDEX IF NOT EXISTS "uid_listing_channel_c0df85" ON "listing" ("channel_id", "channel_sku")',
]

TWICE_LISTED = """
SELECT c.name AS channel, l.channel_sku FROM listing l JOIN channel c ON c.id = l.channel_id
GROUP BY c.name, l.channel_sku HAVING COUNT(*) > 1
"""


async def restore_lost_indexes(apps, schema_editor) -> None:
    """SQLite: create the indexes its table rebuilds lost; refuse, naming them, channel SKUs
    listed twice meanwhile (one listing of each must be removed first)."""
    client = schema_editor.client
    if client.capabilities.dialect != "sqlite":
        return
    twice = await client.execute_query_dict(TWICE_LISTED)
    if twice:
        names = ", ".join(f"{row['channel_sku']} on {row['channel']}" for row in twice)
        raise RuntimeError(f"Listed twice, remove one listing of each and migrate again: {names}")
    for statement in LOST_INDEXES:
        await client.execute_script(statement)


class Migration(migrations.Migration):
    dependencies = [('models', '0009_tag_order_keys')]

    initial = False

    operations = [
        ops.RunPython(restore_lost_indexes),
    ]

"""Indexes for searching orders by reference ignoring case.

Tortoise compiles ``reference__iexact`` to ``UPPER(CAST("reference" AS VARCHAR)) = UPPER(?)``: an
index on the same expression serves it (a plain index on the column cannot). Same SQL on SQLite
and PostgreSQL.
"""

from tortoise import migrations
from tortoise.migrations import operations as ops

COLUMNS = {
    "orders": ["reference", "secondary_reference", "external_reference"],
    "deleted_order": ["reference", "secondary_reference", "external_reference"],
}


def _index(table: str, column: str) -> str:
    return f"idx_{table}_{column}_upper"


class Migration(migrations.Migration):
    dependencies = [("models", "0001_initial")]

    operations = [
        ops.RunSQL(
            [
                f'CREATE INDEX {_index(table, column)} ON "{table}" (UPPER(CAST("{column}" AS VARCHAR)))'
                for table, columns in COLUMNS.items()
                for column in columns
            ],
            reverse_sql=[f"DROP INDEX {_index(table, column)}" for table, columns in COLUMNS.items() for column in columns],
        )
    ]

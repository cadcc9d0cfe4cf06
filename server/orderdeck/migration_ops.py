"""Migration operations the generated ones lack, shared by the migrations that need them."""

from __future__ import annotations

from tortoise.migrations import operations as ops


class DescriptionOnly(ops.AlterField):
    """A change of an enum field's values: no database change (its column holds any text), only
    the migration state's (altering it would rebuild the table on SQLite)."""

    async def database_forward(self, app_label, old_state, new_state, state_editor=None) -> None:
        return

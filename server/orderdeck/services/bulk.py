"""Bulk inserts: the rows of one table written in one statement, without building model objects.

Hot paths (order intake, the stock ledger, the audit trail, events) write many rows at once.
Building a Tortoise model per row costs more than the database write itself (``Model.__init__``
visits every field), so these paths build plain dicts keyed by field name and hand them to
:func:`insert_rows`:

- missing fields take the model's own defaults (``default=``, ``auto_now_add``/``auto_now``);
  a generated primary key is left to the database;
- values are converted as Tortoise converts them (``Field.to_db_value``);
- PostgreSQL: one binary ``COPY`` (asyncpg ``copy_records_to_table``) on the current connection,
  so inside a transaction it commits or rolls back with it;
- SQLite: one ``executemany`` of a prepared INSERT on the current connection.

A broken constraint raises Tortoise's ``IntegrityError`` on both dialects, as ``bulk_create`` did.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import cache
from typing import Any

from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from orderdeck import db

_MISSING = object()

_PLAIN = (fields.CharField, fields.TextField, fields.IntField, fields.BigIntField, fields.SmallIntField,
          fields.BooleanField, fields.DecimalField, fields.FloatField)  # fmt: skip
"""Field types whose Python values both drivers take as they are (the service checked them)."""


@dataclass(frozen=True)
class _Column:
    """How one field of a model becomes one column value."""

    name: str
    column: str
    default: Callable[[], Any] | None
    convert: Callable[[Any], Any]


def _default(field: fields.Field) -> Callable[[], Any] | None:
    """What a missing value becomes (None when the field must be given)."""
    if isinstance(field, fields.DatetimeField) and (field.auto_now or field.auto_now_add):
        return lambda: datetime.now(timezone.utc)
    default = field.default
    if callable(default):
        return default
    if default is not None:
        return lambda: default
    if field.null:
        return lambda: None
    return None


def _same(value: Any) -> Any:
    return value


def _convert(field: fields.Field, dialect: str) -> Callable[[Any], Any]:
    """The function turning a Python value of ``field`` into what the driver takes: enums are
    checked and stored by value, JSON as text, datetimes made aware (as Tortoise does); asyncpg
    takes UUIDs as they are, SQLite as text."""
    if getattr(field, "enum_type", None) or isinstance(field, (fields.JSONField, fields.DatetimeField)):
        return lambda value: field.to_db_value(value, None)  # type: ignore[arg-type]
    if isinstance(field, fields.UUIDField):
        return _same if dialect == "postgres" else str
    if isinstance(field, _PLAIN):
        return _same
    return lambda value: field.to_db_value(value, None)  # type: ignore[arg-type]


@cache
def _columns(model: type[Model], dialect: str) -> tuple[_Column, ...]:
    """The columns an insert into ``model``'s table writes (a generated primary key is left out)."""
    meta = model._meta
    columns = []
    for name, column in meta.fields_db_projection.items():
        field = meta.fields_map[name]
        if field.pk and field.generated:
            continue
        columns.append(_Column(name, column, _default(field), _convert(field, dialect)))
    return tuple(columns)


def _values(model: type[Model], columns: tuple[_Column, ...], row: Mapping[str, Any]) -> tuple:
    unknown = set(row) - {c.name for c in columns}
    if unknown:
        raise ValueError(f"{model.__name__} has no field {', '.join(sorted(unknown))}")
    values = []
    for c in columns:
        value = row.get(c.name, _MISSING)
        if value is _MISSING:
            if c.default is None:
                raise ValueError(f"{model.__name__}.{c.name} has no default: give it")
            value = c.default()
        values.append(None if value is None else c.convert(value))
    return tuple(values)


async def insert_rows(model: type[Model], rows: Iterable[Mapping[str, Any]]) -> int:
    """Insert ``rows`` (dicts keyed by field name) into ``model``'s table in one statement on the
    current connection (the transaction's, inside one); return how many. Nothing is written when
    any row is invalid; a broken constraint raises ``IntegrityError``."""
    conn = db.connection()
    dialect = conn.capabilities.dialect
    columns = _columns(model, dialect)
    records = [_values(model, columns, row) for row in rows]
    if not records:
        return 0
    table = model._meta.db_table
    names = [c.column for c in columns]
    if dialect == "postgres":
        import asyncpg

        try:
            async with conn.acquire_connection() as raw:
                await raw.copy_records_to_table(table, records=records, columns=names)
        except asyncpg.IntegrityConstraintViolationError as exc:
            raise IntegrityError(exc) from exc
    else:
        quoted = ", ".join(f'"{name}"' for name in names)
        sql = f'INSERT INTO "{table}" ({quoted}) VALUES ({", ".join(db.placeholders(len(names)))})'
        await conn.execute_many(sql, records)  # Tortoise raises IntegrityError itself here
    return len(records)

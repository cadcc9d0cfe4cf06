"""Bulk inserts: the rows of one table written in one statement, without building model objects.

Hot paths (order intake, the stock ledger, the audit trail, events) write many rows at once.
Building a Tortoise model per row costs more than the database write itself (``Model.__init__``
visits every field), so these paths build plain dicts keyed by field name and hand them to
:func:`insert_rows`:

- missing fields take the model's own defaults (``default=``, ``auto_now_add``/``auto_now``);
  a generated primary key is left to the database;
- values are stored as Tortoise stores them (enums by value, JSON as text, datetimes in UTC,
  UUIDs as text on SQLite); the rest are written as given, so the service validates them first
  (lengths, digits), as it does anyway;
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
from operator import itemgetter
from typing import Any

import asyncpg
from tortoise import fields
from tortoise.exceptions import IntegrityError
from tortoise.models import Model

from orderdeck import db

def _utc(value: datetime) -> datetime:
    """An aware datetime in UTC (a naive one is taken as UTC), as Tortoise stores them."""
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


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


def _to_db(field: fields.Field, dialect: str) -> Callable[[Any], Any] | None:
    """The function turning a Python value of ``field`` into what the driver takes (None: as it
    is; the service checked it): enums by value, JSON as text, datetimes in UTC; asyncpg takes
    UUIDs as they are, SQLite as text."""
    enum_type = getattr(field, "enum_type", None)
    if enum_type is not None:
        return lambda value: (value if isinstance(value, enum_type) else enum_type(value)).value
    if isinstance(field, fields.JSONField):
        return lambda value: field.to_db_value(value, None)  # type: ignore[arg-type]
    if isinstance(field, fields.DatetimeField):
        return _utc
    if isinstance(field, fields.UUIDField):
        return None if dialect == "postgres" else str
    return None


def _to_python(field: fields.Field) -> Callable[[Any], Any] | None:
    """What a read would make of a value as written (None: the same value)."""
    if isinstance(field, fields.DatetimeField):
        return _utc
    if isinstance(field, fields.DecimalField) or getattr(field, "enum_type", None):
        return field.to_python_value
    return None


@dataclass(frozen=True)
class _Table:
    """How rows of one model become column values, for one dialect."""

    model: type[Model]
    names: frozenset[str]
    defaults: dict[str, Callable[[], Any] | None]
    """The default of each field (None: it must be given)."""
    columns: tuple[str, ...]
    pick: Callable[[dict[str, Any]], tuple]
    """The row's values in column order."""
    conversions: tuple[tuple[int, Callable[[Any], Any]], ...]
    """(column position, conversion) of the columns whose values the driver cannot take as they are."""

    def values(self, row: dict[str, Any]) -> tuple | list:
        """The row's column values; a missing field is set in ``row`` to its default first."""
        if not row.keys() <= self.names:
            unknown = ", ".join(sorted(set(row) - self.names))
            raise ValueError(f"{self.model.__name__} has no field {unknown}")
        for name in self.names - row.keys():
            default = self.defaults[name]
            if default is None:
                raise ValueError(f"{self.model.__name__}.{name} has no default: give it")
            row[name] = default()
        values = self.pick(row)
        if not self.conversions:
            return values
        values = list(values)
        for position, convert in self.conversions:
            if values[position] is not None:
                values[position] = convert(values[position])
        return values


@cache
def _table(model: type[Model], dialect: str) -> _Table:
    """The columns an insert into ``model``'s table writes (a generated primary key is left out)."""
    meta = model._meta
    names, columns, defaults, conversions = [], [], {}, []
    for name, column in meta.fields_db_projection.items():
        field = meta.fields_map[name]
        if field.pk and field.generated:
            continue
        convert = _to_db(field, dialect)
        if convert is not None:
            conversions.append((len(names), convert))
        names.append(name)
        columns.append(column)
        defaults[name] = _default(field)
    pick = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    return _Table(model, frozenset(names), defaults, tuple(columns), pick, tuple(conversions))


async def insert_rows(model: type[Model], rows: Iterable[dict[str, Any]]) -> int:
    """Insert ``rows`` (dicts keyed by field name) into ``model``'s table in one statement on the
    current connection (the transaction's, inside one); return how many. Each row's missing
    fields are set in it to the defaults written (see :func:`as_stored`). Nothing is written
    when any row is invalid; a broken constraint raises ``IntegrityError``."""
    conn = db.connection()
    dialect = conn.capabilities.dialect
    spec = _table(model, dialect)
    records = [spec.values(row) for row in rows]
    if not records:
        return 0
    table, names = model._meta.db_table, spec.columns
    if dialect == "postgres":
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


def as_stored(model: type[Model], rows: Iterable[Mapping[str, Any]]) -> list[Model]:
    """Model instances of rows just written by :func:`insert_rows`, as a read would return them
    (decimals to their places, datetimes in UTC), without reading them back. Not for models
    whose primary key the database generates."""
    readers = _readers(model)
    stored = []
    for row in rows:
        values = {}
        for name, value in row.items():
            column, convert = readers[name]
            values[column] = value if value is None or convert is None else convert(value)
        stored.append(model._init_from_db(**values))
    return stored


@cache
def _readers(model: type[Model]) -> dict[str, tuple[str, Callable[[Any], Any] | None]]:
    """(column, conversion) of each field of ``model``, for :func:`as_stored`."""
    meta = model._meta
    return {name: (column, _to_python(meta.fields_map[name])) for name, column in meta.fields_db_projection.items()}

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

from collections.abc import Callable, Iterable, Mapping, Sequence
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
    if value.tzinfo is timezone.utc:
        return value
    return value.astimezone(timezone.utc) if value.tzinfo else value.replace(tzinfo=timezone.utc)


def _now() -> datetime:
    """The current time in UTC: the default of automatic timestamps (``auto_now``, ``auto_now_add``)."""
    return datetime.now(timezone.utc)


def _default(field: fields.Field) -> Callable[[], Any] | None:
    """What a missing value becomes (None when the field must be given)."""
    if isinstance(field, fields.DatetimeField) and (field.auto_now or field.auto_now_add):
        return _now
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
        encode = field.encoder  # what to_db_value does with a dict or list, without its other checks
        return lambda value: encode(value) if type(value) in (dict, list) else field.to_db_value(value, None)  # type: ignore[arg-type]
    if isinstance(field, fields.DatetimeField):
        return _utc
    if isinstance(field, fields.UUIDField):
        return None if dialect == "postgres" else str
    return None


@dataclass(frozen=True)
class _Table:
    """How rows of one model become column values, for one dialect."""

    model: type[Model]
    names: tuple[str, ...]
    """The fields written, in column order."""
    defaults: dict[str, Callable[[], Any] | None]
    """The default of each field (None: it must be given)."""
    columns: tuple[str, ...]
    pick: Callable[[dict[str, Any]], tuple]
    """The row's values in column order."""
    conversions: tuple[tuple[int, Callable[[Any], Any]], ...]
    """(column position, conversion) of the columns whose values the driver cannot take as they are."""

    def _fill(self, keys: tuple[str, ...]) -> list[tuple[str, Callable[[], Any]]]:
        """The (field, default) of the fields missing from rows with these keys."""
        unknown = set(keys) - set(self.names)
        if unknown:
            raise ValueError(f"{self.model.__name__} has no field {', '.join(sorted(unknown))}")
        fill = []
        for name in self.names:
            if name not in keys:
                default = self.defaults[name]
                if default is None:
                    raise ValueError(f"{self.model.__name__}.{name} has no default: give it")
                fill.append((name, default))
        return fill

    def records(self, rows: Iterable[dict[str, Any]]) -> list[tuple | list]:
        """The rows' column values; a missing field is set in its row to its default first.

        Rows built by one piece of code have the same keys in the same order, so what is missing
        is worked out once per run of rows with equal keys, not per row; the time of automatic
        timestamps is taken once per call (one statement: one time, as the database's own
        CURRENT_TIMESTAMP would be).
        """
        stamp = datetime.now(timezone.utc)
        keys: tuple[str, ...] | None = None
        fill: list[tuple[str, Callable[[], Any]]] = []
        pick, conversions = self.pick, self.conversions
        records: list[tuple | list] = []
        for row in rows:
            if (row_keys := tuple(row)) != keys:
                keys, fill = row_keys, self._fill(row_keys)
            for name, default in fill:
                row[name] = stamp if default is _now else default()
            values = pick(row)
            if conversions:
                values = list(values)
                for position, convert in conversions:
                    if values[position] is not None:
                        values[position] = convert(values[position])
            records.append(values)
        return records


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
    return _Table(model, tuple(names), defaults, tuple(columns), pick, tuple(conversions))


async def insert_rows(model: type[Model], rows: Iterable[dict[str, Any]]) -> int:
    """Insert ``rows`` (dicts keyed by field name) into ``model``'s table in one statement on the
    current connection (the transaction's, inside one); return how many. Each row's missing
    fields are set in it to the defaults written (see :func:`as_stored`). Nothing is written
    when any row is invalid; a broken constraint raises ``IntegrityError``."""
    conn = db.connection()
    dialect = conn.capabilities.dialect
    spec = _table(model, dialect)
    records = spec.records(rows)
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
    whose primary key the database generates.

    Tortoise's constructor of read rows converts the values of some fields itself (those the
    driver does not return as Python values); the others are converted here first, as a read
    would give them.
    """
    columns, conversions = _readers(model, db.dialect())
    init = model._init_from_db
    stored = []
    for row in rows:
        values = dict(row) if columns is None else {columns[name]: value for name, value in row.items()}
        for column, convert in conversions:
            if (value := values[column]) is not None:
                values[column] = convert(value)
        stored.append(init(**values))
    return stored


def _to_python(field: fields.Field) -> Callable[[Any], Any] | None:
    """What a read would make of a value as written (None: the same value)."""
    if isinstance(field, fields.DatetimeField):
        return _utc
    if isinstance(field, fields.DecimalField) or getattr(field, "enum_type", None):
        return field.to_python_value
    return None


@cache
def _readers(model: type[Model], dialect: str) -> tuple[dict[str, str] | None, tuple[tuple[str, Callable[[Any], Any]], ...]]:
    """For :func:`as_stored`: the column of each field of ``model`` (None: every column is named
    as its field), and the conversions of the columns that Tortoise takes from the ``dialect``'s
    driver as they are (it converts the others itself)."""
    meta = model._meta
    projection = dict(meta.fields_db_projection)
    columns = None if all(name == column for name, column in projection.items()) else projection
    native = {column for column, _, _ in meta.db_native_fields}
    conversions = []
    for name, column in projection.items():
        convert = _to_python(meta.fields_map[name])
        if column in native and convert is not None:
            conversions.append((column, convert))
    return columns, tuple(conversions)


async def update_rows(rows: Sequence[Model], fields: Sequence[str]) -> int:
    """Write ``fields`` of each of ``rows`` (instances of one model, each with its own values) in
    one statement on the current connection, matched by primary key; return how many rows were
    given. Values are stored as ``QuerySet.update`` stores them (each field's ``to_db_value``).

    - PostgreSQL: ``UPDATE t SET c = v.c ... FROM unnest($1::type[], ...) AS v(pk, c, ...)
      WHERE t.pk = v.pk``: one array parameter per column, whatever the number of rows;
    - SQLite: one ``executemany`` of ``UPDATE t SET c = ? ... WHERE pk = ?``.
    """
    if not rows:
        return 0
    model = type(rows[0])
    meta = model._meta
    conn = db.connection()
    dialect = conn.capabilities.dialect
    names = [meta.pk_attr, *fields]
    columns = [meta.fields_db_projection[name] for name in names]
    to_db = [meta.fields_map[name].to_db_value for name in names]
    values = [[convert(getattr(row, name), None) for row in rows] for name, convert in zip(names, to_db)]
    table = meta.db_table
    sets = ", ".join(f'"{column}" = v."{column}"' for column in columns[1:])
    if dialect == "postgres":
        types = [meta.fields_map[name].get_for_dialect("postgres", "SQL_TYPE") for name in names]
        arrays = ", ".join(f"${n}::{sql_type}[]" for n, sql_type in enumerate(types, 1))
        quoted = ", ".join(f'"{column}"' for column in columns)
        sql = (f'UPDATE "{table}" SET {sets} FROM unnest({arrays}) AS v({quoted}) '
               f'WHERE "{table}"."{columns[0]}" = v."{columns[0]}"')  # fmt: skip
        await conn.execute_query(sql, values)
    else:
        assignments = ", ".join(f'"{column}" = ?' for column in columns[1:])
        sql = f'UPDATE "{table}" SET {assignments} WHERE "{columns[0]}" = ?'
        await conn.execute_many(sql, [[*record[1:], record[0]] for record in zip(*values)])
    return len(rows)

"""Tortoise ORM set-up for SQLite and PostgreSQL, in one place.

Tortoise 1.x keeps its state in a context variable. orderdeck initialises it once per process with
the global fallback enabled, so that Starlette request tasks, the CLI and worker threads all see the
same connections.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Collection, Iterable
from pathlib import Path
from typing import Any

from tortoise import Tortoise, connections
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.backends.base.config_generator import expand_db_url
from tortoise.context import TortoiseContext
from tortoise.migrations.api.migrate import migrate as _migrate

MODELS_MODULE = "orderdeck.models"
MIGRATIONS_MODULE = "orderdeck.migrations"


def normalise_url(url: str) -> str:
    """Tortoise speaks ``postgres://``; accept the common ``postgresql://`` spelling too."""
    if url.startswith("postgresql://"):
        return "postgres://" + url[len("postgresql://") :]
    return url


def sqlite_path(url: str) -> Path | None:
    """The database file of a ``sqlite://PATH`` URL (None for PostgreSQL or an in-memory database)."""
    if not url.startswith("sqlite://"):
        return None
    path = url.removeprefix("sqlite://").split("?", 1)[0]
    return None if path in ("", ":memory:") else Path(path)


def create_private_file(path: Path) -> None:
    """Create ``path`` empty and readable by its owner only (0600), unless it exists already.

    SQLite gives its -wal and -shm files the mode of the database file, so creating the database
    this way keeps all three private; the same holds for key files and backups.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


PLANNER_SETTINGS = {"random_page_cost": "1.1"}
"""Set on every PostgreSQL connection. The default random_page_cost (4.0) models spinning disks;
an order book is read from memory or SSD, where a random page costs about a sequential one. With
4.0 the planner prices the (state, ...) indexes by the poor physical correlation of ``state``
(open orders are the newest rows) and walks the number index instead, past every closed order:
a page of open orders read 700,000 rows at 1,000,000 orders (bench/bench_scale.py)."""


def _connection_config(url: str) -> dict[str, Any]:
    """Tortoise's connection entry: PostgreSQL with PLANNER_SETTINGS; SQLite in WAL mode with a
    busy timeout (``ORDERDECK_SQLITE_BUSY_TIMEOUT_MS``; pragmas in the URL's query win), on the
    client of :mod:`orderdeck.db_sqlite`."""
    url = normalise_url(url)
    expanded = expand_db_url(url)
    credentials = expanded["credentials"]
    if not url.startswith("sqlite://"):
        settings = {**PLANNER_SETTINGS, **credentials.get("server_settings", {})}
        return {**expanded, "credentials": {**credentials, "server_settings": settings}}
    from orderdeck.config import get_settings

    credentials = {"busy_timeout": get_settings().sqlite_busy_timeout_ms, **credentials}
    return {"engine": "orderdeck.db_sqlite", "credentials": credentials}


def tortoise_config(url: str) -> dict[str, Any]:
    """The Tortoise configuration for a database URL (used by the app, CLI, tests and migrations)."""
    return {
        "connections": {"default": _connection_config(url)},
        "apps": {
            "models": {
                "models": [MODELS_MODULE],
                "migrations": MIGRATIONS_MODULE,
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(url: str) -> None:
    """Open the database connections for this process, visible to every task and thread."""
    await Tortoise.init(config=tortoise_config(url), _enable_global_fallback=True)


async def close_db() -> None:
    """Close this process's database connections."""
    await Tortoise.close_connections()


MIGRATION_LOCK = 0x6F72646572646B  # "orderdk": the advisory lock migrating processes queue on


async def migrate(url: str) -> None:
    """Apply every pending migration in ``orderdeck.migrations`` to the database at ``url``.

    Runs in a context of its own, so it can be called before or after :func:`init_db`. On
    PostgreSQL, processes starting together (API, workers) take turns on an advisory lock: the
    first migrates, the others then find nothing to do.
    """
    lock = None
    if normalise_url(url).startswith("postgres://"):
        import asyncpg

        lock = await asyncpg.connect(asyncpg_dsn(url))
        await lock.execute("SELECT pg_advisory_lock($1)", MIGRATION_LOCK)
    try:
        async with TortoiseContext():
            await _migrate(config=tortoise_config(url))
    finally:
        if lock is not None:
            await lock.close()  # ends the session, and with it the lock


def asyncpg_dsn(url: str) -> str:
    """A PostgreSQL database URL as asyncpg's own connections take it (without Tortoise's options)."""
    return normalise_url(url).split("?", 1)[0].replace("postgres://", "postgresql://", 1)


def connection() -> BaseDBAsyncClient:
    """The current connection (the transaction's, inside ``in_transaction``)."""
    return connections.get("default")


def dialect() -> str:
    """``postgres`` or ``sqlite``."""
    return connection().capabilities.dialect


def placeholders(count: int, start: int = 1) -> list[str]:
    """Positional SQL parameter markers for the current dialect ($1.. or ?)."""
    if dialect() == "postgres":
        return [f"${i}" for i in range(start, start + count)]
    return ["?"] * count


def sql_ids(ids: Iterable[uuid.UUID]) -> list[Any]:
    """UUID parameters as the dialect stores them (uuid on PostgreSQL, CHAR(36) text on SQLite)."""
    return list(ids) if dialect() == "postgres" else [str(i) for i in ids]


def uuid_of(value: Any) -> uuid.UUID:
    """A UUID column's value as the driver returns it (uuid on PostgreSQL, text on SQLite)."""
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)


def one_of(column: str, values: Collection[Any], start: int = 1) -> tuple[str, list[Any]]:
    """SQL testing that ``column`` is one of ``values``, and its parameters (markers numbered from
    ``start``). PostgreSQL: ``column = ANY($n)`` with the values as one array, so the statement's
    text is the same whatever their number (asyncpg prepares it once, and the server parses and
    plans no long list); SQLite: ``column IN (?, ...)``. Values are given as the driver takes
    them (UUIDs as text on SQLite)."""
    if dialect() == "postgres":
        return f"{column} = ANY(${start})", [list(values)]
    if not values:
        return "1 = 0", []
    return f"{column} IN ({', '.join('?' * len(values))})", list(values)


async def fetch(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    """Run SQL that returns rows (including UPDATE ... RETURNING) on the current connection."""
    return await connection().execute_query_dict(sql, params)


def parameterized(queryset: Any, ordered: bool = True) -> tuple[str, list[Any]]:
    """The SQL of a queryset and its parameters; ``ordered=False`` leaves out ORDER BY, the
    model's default ordering included (Tortoise adds it back to an empty ``order_by()``)."""
    query = queryset._clone() if hasattr(queryset, "_clone") else queryset  # values queries are built afresh
    query._choose_db_if_not_chosen()
    query._make_query()
    if not ordered:
        query.query._orderbys = []
    return query.query.get_parameterized_sql()


async def plan(query: Any, **options: bool) -> dict[str, Any]:
    """PostgreSQL's plan of a queryset, or of ``(sql, params)`` (``EXPLAIN (FORMAT JSON,
    options)``): its top plan node, with "Actual Rows" and buffers when ``analyze=True,
    buffers=True``.

    The query is sent with its parameters (Tortoise's own explain inlines them, and loses those of
    subqueries).
    """
    unknown = set(options) - {"analyze", "buffers", "costs", "timing"}
    if unknown:
        raise ValueError(f"unknown EXPLAIN options {sorted(unknown)}")
    sql, params = query if isinstance(query, tuple) else parameterized(query)
    words = ", ".join(["FORMAT JSON", *(name.upper() for name, on in options.items() if on)])
    rows = await fetch(f"EXPLAIN ({words}) {sql}", params)
    value = rows[0]["QUERY PLAN"]
    return (json.loads(value) if isinstance(value, str) else value)[0]["Plan"]

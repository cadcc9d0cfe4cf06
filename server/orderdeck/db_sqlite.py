"""orderdeck's SQLite engine for Tortoise: a private database file and write transactions that queue.

``db.tortoise_config`` names this module as the engine of ``sqlite://`` URLs (Tortoise picks the
client class from the module's ``client_class``, and its migration schema editor by the module's
name containing "sqlite": hence a module of its own).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tortoise.backends.base.client import TransactionContext
from tortoise.backends.sqlite.client import SqliteClient, SqliteTransactionContext, SqliteTransactionWrapper
from tortoise.exceptions import TransactionManagementError

from orderdeck.db import create_private_file


class _ImmediateTransaction(SqliteTransactionWrapper):
    """A SQLite transaction that takes the write lock when it begins (``BEGIN IMMEDIATE``).

    A deferred transaction that reads, then writes, cannot wait for another process's write lock:
    SQLite answers "database is locked" at once, because its snapshot would be stale. Taken at
    BEGIN, the lock is queued for on the busy timeout instead, so several processes (the server,
    the CLI) write side by side. Within one process Tortoise already runs transactions one at a time.
    """

    async def begin(self) -> None:
        try:
            await self._connection.commit()
            await self._connection.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise TransactionManagementError(exc) from exc


class OrderdeckSqliteClient(SqliteClient):
    """Tortoise's SQLite client with a private database file and write transactions that queue."""

    async def create_connection(self, with_db: bool) -> None:
        if self._connection is None and self.filename != ":memory:":
            create_private_file(Path(self.filename))
        await super().create_connection(with_db)

    def _in_transaction(self) -> TransactionContext:
        return SqliteTransactionContext(_ImmediateTransaction(self), self._lock)


client_class = OrderdeckSqliteClient
"""Tortoise's engine hook: ``db.tortoise_config`` names this module as the SQLite engine."""

"""What every service call carries: who acts, and the transaction it runs in."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from orderdeck.models import ActorKind
from orderdeck.services.bulk import update_rows
from orderdeck.services.errors import not_found

M = TypeVar("M", bound=Model)

log = logging.getLogger(__name__)

Flush = Callable[[list[Any]], Awaitable[None]]
"""Awaited just before the outermost transaction commits, with the items collected for it."""


@dataclass
class _Pending:
    """What one (possibly nested) transaction block has collected so far."""

    after_commit: list[Callable[[], None]] = field(default_factory=list)
    before_commit: dict[Flush, list[Any]] = field(default_factory=dict)

    def merge_into(self, outer: _Pending) -> None:
        outer.after_commit.extend(self.after_commit)
        for flush, items in self.before_commit.items():
            outer.before_commit.setdefault(flush, []).extend(items)


_pending: ContextVar[_Pending | None] = ContextVar("pending", default=None)

MAX_BATCH = 100
"""The most orders (or items) one batch operation accepts."""


@dataclass(frozen=True)
class Actor:
    """Who makes a change: recorded on every audit entry and ledger row."""

    name: str
    kind: ActorKind = ActorKind.USER

    @classmethod
    def system(cls) -> Actor:
        """orderdeck itself (start-up tasks, migrations)."""
        return cls("orderdeck", ActorKind.SYSTEM)


@asynccontextmanager
async def transaction() -> AsyncIterator[BaseDBAsyncClient]:
    """One service operation: everything inside commits together or not at all.

    A nested block joins the outer transaction: what it collected (``before_commit``,
    ``after_commit``) waits for the outermost commit, and is dropped if the block fails.
    """
    outer = _pending.get()
    pending = _Pending()
    token = _pending.set(pending)
    try:
        async with in_transaction("default") as conn:
            yield conn
            if outer is None:
                # Flushes may collect more (an event's flush queues its announcement after commit).
                while pending.before_commit:
                    flush, items = next(iter(pending.before_commit.items()))
                    del pending.before_commit[flush]
                    await flush(items)
    finally:
        _pending.reset(token)
    # Reached only when the block committed (an exception skips this).
    if outer is not None:
        pending.merge_into(outer)
    else:
        _run_callbacks(pending.after_commit)


def before_commit(flush: Flush, item: Any) -> None:
    """Collect ``item`` for ``flush``, which is awaited once, inside the outermost transaction and
    just before it commits, with every item collected for it in order (those of a nested block
    that failed are gone). A failing flush rolls the transaction back."""
    pending = _pending.get()
    if pending is None:
        raise RuntimeError("before_commit() needs a transaction: call it inside services.context.transaction()")
    pending.before_commit.setdefault(flush, []).append(item)


def after_commit(callback: Callable[[], None]) -> None:
    """Call ``callback`` once the current transaction has committed (never if it rolls back);
    at once outside a transaction. Callbacks must be quick and must not fail the caller: an
    error is logged, not raised (the work they announce is also found by the scheduler's sweep)."""
    pending = _pending.get()
    if pending is None:
        _run_callbacks([callback])
    else:
        pending.after_commit.append(callback)


def _run_callbacks(callbacks: list[Callable[[], None]]) -> None:
    for callback in callbacks:
        try:
            callback()
        except Exception:
            log.exception("after-commit callback %r failed", callback)


async def locked(model: type[M], row_id: uuid.UUID, what: str) -> M:
    """The row of ``model`` with this id, locked until the transaction ends; a NOT_FOUND error
    naming the field "id" (and calling it ``what``) when there is none."""
    row = await model.filter(id=row_id).select_for_update().first()
    if row is None:
        raise not_found(what, row_id, "id")
    return row


async def save_fields(rows: list[M], fields: list[str]) -> None:
    """Write ``fields`` of each row in one statement: ``UPDATE ... WHERE id IN (...)`` when every
    row has the same values, else one ``UPDATE ... FROM unnest(...)`` of each row's own values
    (services.bulk.update_rows), never a statement per row (a status import gives each order its
    own tracking number).

    Used instead of Tortoise's bulk_update, whose ``SET col = CASE WHEN id = ...`` form PostgreSQL
    plans as a scan of the whole table.
    """
    groups = by_values(rows, fields)
    if len(groups) > 1:
        await update_rows(rows, fields)
        return
    for values, ids in groups.items():
        await type(rows[0]).filter(pk__in=ids).update(**dict(zip(fields, values)))


def by_values(rows: list[M], fields: list[str]) -> dict[tuple[Any, ...], list[Any]]:
    """The rows' primary keys grouped by their values of ``fields`` (one UPDATE a group)."""
    groups: dict[tuple[Any, ...], list[Any]] = defaultdict(list)
    for row in rows:
        groups[tuple(getattr(row, name) for name in fields)].append(row.pk)
    return groups

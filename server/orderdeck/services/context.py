"""What every service call carries: who acts, and the transaction it runs in."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from orderdeck.models import ActorKind
from orderdeck.services.errors import not_found

M = TypeVar("M", bound=Model)

log = logging.getLogger(__name__)

_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar("after_commit", default=None)

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
    """One service operation: everything inside commits together or not at all."""
    outer = _after_commit.get()
    pending: list[Callable[[], None]] = []
    token = _after_commit.set(pending)
    try:
        async with in_transaction("default") as conn:
            yield conn
    finally:
        _after_commit.reset(token)
    # Reached only when the block committed (an exception skips this).
    if outer is not None:
        outer.extend(pending)
    else:
        _run_callbacks(pending)


def after_commit(callback: Callable[[], None]) -> None:
    """Call ``callback`` once the current transaction has committed (never if it rolls back);
    at once outside a transaction. Callbacks must be quick and must not fail the caller: an
    error is logged, not raised (the work they announce is also found by the scheduler's sweep)."""
    pending = _after_commit.get()
    if pending is None:
        _run_callbacks([callback])
    else:
        pending.append(callback)


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

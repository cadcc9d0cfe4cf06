"""What every service call carries: who acts, and the transaction it runs in."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TypeVar

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.models import Model
from tortoise.transactions import in_transaction

from orderdeck.models import ActorKind
from orderdeck.services.errors import not_found

M = TypeVar("M", bound=Model)

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
    async with in_transaction("default") as conn:
        yield conn


async def locked(model: type[M], row_id: uuid.UUID, what: str) -> M:
    """The row of ``model`` with this id, locked until the transaction ends; a NOT_FOUND error
    naming the field "id" (and calling it ``what``) when there is none."""
    row = await model.filter(id=row_id).select_for_update().first()
    if row is None:
        raise not_found(what, row_id, "id")
    return row

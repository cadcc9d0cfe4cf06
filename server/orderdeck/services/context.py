"""What every service call carries: who acts, and the transaction it runs in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from orderdeck.models import ActorKind

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

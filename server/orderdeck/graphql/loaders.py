"""The two DataLoader shapes most areas need, each one query per request whatever the number of keys.

Areas wrap them in module-level factories (see orderdeck.graphql.context.Loaders):
``def location_by_id() -> DataLoader[uuid.UUID, Location | None]: return by_key(Location)``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Hashable
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

M = TypeVar("M", bound=Model)
K = TypeVar("K", bound=Hashable)


def by_key(model: type[M], column: str = "id") -> DataLoader[K, M | None]:
    """The row of ``model`` whose unique ``column`` is the key; None if there is none."""

    async def load(keys: list[K]) -> list[M | None]:
        found = {getattr(row, column): row for row in await model.filter(**{f"{column}__in": set(keys)})}
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)


def grouped(model: type[M], column: str, order_by: str) -> DataLoader[K, list[M]]:
    """The rows of ``model`` whose ``column`` is the key, in ``order_by`` order."""

    async def load(keys: list[K]) -> list[list[M]]:
        found: dict[K, list[M]] = defaultdict(list)
        for row in await model.filter(**{f"{column}__in": set(keys)}).order_by(order_by):
            found[getattr(row, column)].append(row)
        return [found.get(k, []) for k in keys]

    return DataLoader(load_fn=load)

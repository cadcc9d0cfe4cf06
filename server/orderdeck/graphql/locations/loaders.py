"""DataLoaders for locations (one query per request, whatever the number of keys)."""

from __future__ import annotations

import uuid

from strawberry.dataloader import DataLoader
from tortoise.functions import Count

from orderdeck.graphql.loaders import by_key
from orderdeck.models import Location, Order, OrderState


def location_by_id() -> DataLoader[uuid.UUID, Location | None]:
    return by_key(Location)


def open_order_count_by_location() -> DataLoader[uuid.UUID, int]:
    async def load(ids: list[uuid.UUID]) -> list[int]:
        rows = (
            await Order.filter(location_id__in=set(ids), state=OrderState.OPEN)
            .group_by("location_id")
            .annotate(n=Count("id"))
            .values("location_id", "n")
        )
        counts = {row["location_id"]: row["n"] for row in rows}
        return [counts.get(i, 0) for i in ids]

    return DataLoader(load_fn=load)

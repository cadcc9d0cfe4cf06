"""DataLoaders for stock items and levels (one query per request, whatever the number of keys)."""

from __future__ import annotations

import uuid

from strawberry.dataloader import DataLoader

from orderdeck.graphql.loaders import by_key, grouped
from orderdeck.models import StockItem, StockLevel


def stock_item_by_id() -> DataLoader[uuid.UUID, StockItem | None]:
    return by_key(StockItem)


def levels_by_item() -> DataLoader[uuid.UUID, list[StockLevel]]:
    return grouped(StockLevel, "item_id", "id")


def level_by_item_and_location() -> DataLoader[tuple[uuid.UUID, uuid.UUID], StockLevel | None]:
    async def load(keys: list[tuple[uuid.UUID, uuid.UUID]]) -> list[StockLevel | None]:
        rows = await StockLevel.for_keys(keys)
        found = {(r.item_id, r.location_id): r for r in rows}
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)

"""DataLoaders for stock items and levels (one query per request, whatever the number of keys)."""

from __future__ import annotations

import uuid

from strawberry.dataloader import DataLoader

from orderdeck.models import StockItem, StockLevel


def stock_item_by_id() -> DataLoader[uuid.UUID, StockItem | None]:
    async def load(ids: list[uuid.UUID]) -> list[StockItem | None]:
        found = {i.id: i for i in await StockItem.filter(id__in=set(ids))}
        return [found.get(i) for i in ids]

    return DataLoader(load_fn=load)


def levels_by_item() -> DataLoader[uuid.UUID, list[StockLevel]]:
    async def load(ids: list[uuid.UUID]) -> list[list[StockLevel]]:
        found: dict[uuid.UUID, list[StockLevel]] = {i: [] for i in ids}
        for row in await StockLevel.filter(item_id__in=set(ids)).order_by("id"):
            found[row.item_id].append(row)
        return [found[i] for i in ids]

    return DataLoader(load_fn=load)


def level_by_item_and_location() -> DataLoader[tuple[uuid.UUID, uuid.UUID], StockLevel | None]:
    async def load(keys: list[tuple[uuid.UUID, uuid.UUID]]) -> list[StockLevel | None]:
        rows = await StockLevel.for_keys(keys)
        found = {(r.item_id, r.location_id): r for r in rows}
        return [found.get(k) for k in keys]

    return DataLoader(load_fn=load)

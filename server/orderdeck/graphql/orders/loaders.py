"""DataLoaders for orders (one query per request and loader, whatever the number of keys)."""

from __future__ import annotations

import uuid

from strawberry.dataloader import DataLoader

from orderdeck.graphql.loaders import by_key, grouped
from orderdeck.models import (
    Dispatch,
    Order,
    OrderItem,
    OrderNote,
    OrderProperty,
    OrderReturn,
    OrderReturnItem,
    OrderTag,
)
from orderdeck.services.allocation import AllocationState, allocation_of


def order_by_id() -> DataLoader[uuid.UUID, Order | None]:
    return by_key(Order)


def order_item_by_id() -> DataLoader[uuid.UUID, OrderItem | None]:
    return by_key(OrderItem)


def items_by_order() -> DataLoader[uuid.UUID, list[OrderItem]]:
    return grouped(OrderItem, "order_id", "position")


def notes_by_order() -> DataLoader[uuid.UUID, list[OrderNote]]:
    return grouped(OrderNote, "order_id", "created_at")


def properties_by_order() -> DataLoader[uuid.UUID, list[OrderProperty]]:
    return grouped(OrderProperty, "order_id", "name")


def returns_by_order() -> DataLoader[uuid.UUID, list[OrderReturn]]:
    return grouped(OrderReturn, "order_id", "created_at")


def items_by_return() -> DataLoader[uuid.UUID, list[OrderReturnItem]]:
    return grouped(OrderReturnItem, "order_return_id", "id")


def resends_by_order() -> DataLoader[uuid.UUID, list[Order]]:
    return grouped(Order, "original_order_id", "number")


def tags_by_order() -> DataLoader[uuid.UUID, list[OrderTag]]:
    return grouped(OrderTag, "order_id", "name")


def dispatch_by_order() -> DataLoader[uuid.UUID, Dispatch | None]:
    return by_key(Dispatch, "order_id")


def allocation_by_order() -> DataLoader[uuid.UUID, AllocationState]:
    """The FIFO allocation of each order (orderdeck.services.allocation), for all keys in one query."""

    async def load(ids: list[uuid.UUID]) -> list[AllocationState]:
        found = await allocation_of(ids)
        return [found[i] for i in ids]

    return DataLoader(load_fn=load)

"""DataLoaders for channels (one query per request, whatever the number of channels)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Hashable
from typing import TypeVar

from strawberry.dataloader import DataLoader
from tortoise.models import Model

from orderdeck import db
from orderdeck.graphql.loaders import by_key, grouped
from orderdeck.models import Channel, Connection, Dispatch, DispatchState, Listing, Location, SubmitStatus, SyncIssue, SyncRun

M = TypeVar("M", bound=Model)
K = TypeVar("K", bound=Hashable)


def channel_by_id() -> DataLoader[uuid.UUID, Channel | None]:
    return by_key(Channel)


def connection_by_id() -> DataLoader[uuid.UUID, Connection | None]:
    """A connection (a channel's, under the channel's id; a fulfilment centre's) by id."""
    return by_key(Connection)


def fulfilment_locations_by_connection() -> DataLoader[uuid.UUID, list[Location]]:
    """The locations each fulfilment connection serves, by name."""
    return grouped(Location, "fulfilment_connection_id", "name")


def stock_location_ids_by_channel() -> DataLoader[uuid.UUID, list[uuid.UUID]]:
    """The ids of each channel's stock locations (one query over channel_stock_location)."""

    async def load(ids: list[uuid.UUID]) -> list[list[uuid.UUID]]:
        found: dict[uuid.UUID, list[uuid.UUID]] = defaultdict(list)
        rows = await Channel.filter(id__in=set(ids)).values_list("id", "stock_locations__id")
        for channel_id, location_id in rows:
            if location_id is not None:
                found[channel_id].append(location_id)
        return [found.get(i, []) for i in ids]

    return DataLoader(load_fn=load)


def _first_per_key(model: type[M], column: str, order: str) -> DataLoader[tuple[K, int], list[M]]:
    """The first ``limit`` rows of ``model`` per ``column`` value in ``order`` (``"col"`` or
    ``"-col"``; the primary key breaks ties), keyed by (value, limit).

    Two queries per request whatever the number of keys: a window function picks the ids (so
    at most ``limit`` rows per key are read), then the rows are fetched.
    """
    table = model._meta.db_table
    name, direction = (order[1:], "DESC") if order.startswith("-") else (order, "ASC")
    ordering = f"{name} {direction}, id {direction}"

    async def load(keys: list[tuple[K, int]]) -> list[list[M]]:
        values = list({value for value, _ in keys})
        limit = max(n for _, n in keys)
        marks = db.placeholders(len(values) + 1)
        sql = (
            f"SELECT id, {column} AS k, n FROM (SELECT id, {column}, ROW_NUMBER() OVER "  # noqa: S608 (names are ours)
            f"(PARTITION BY {column} ORDER BY {ordering}) AS n FROM {table} WHERE {column} IN ({', '.join(marks[:-1])})) "
            f"AS ranked WHERE n <= {marks[-1]}"
        )
        if db.dialect() == "sqlite":  # UUIDs are text there
            values = [str(v) if isinstance(v, uuid.UUID) else v for v in values]
        ranked = await db.fetch(sql, [*values, limit])
        rows = {str(row.pk): row for row in await model.filter(id__in=[r["id"] for r in ranked])}
        found: dict[str, list[tuple[int, M]]] = defaultdict(list)
        for r in ranked:
            found[str(r["k"])].append((r["n"], rows[str(r["id"])]))
        return [[row for n, row in sorted(found.get(str(value), []), key=lambda p: p[0]) if n <= size]
                for value, size in keys]  # fmt: skip

    return DataLoader(load_fn=load)


def listings_by_channel() -> DataLoader[tuple[uuid.UUID, int], list[Listing]]:
    """A channel's first listings by channel SKU, keyed by (channel id, how many)."""
    return _first_per_key(Listing, "channel_id", "channel_sku")


def runs_by_connection() -> DataLoader[tuple[uuid.UUID, int], list[SyncRun]]:
    """A connection's newest runs, keyed by (connection id, how many)."""
    return _first_per_key(SyncRun, "connection_id", "-started_at")


def issues_by_run() -> DataLoader[tuple[uuid.UUID, int], list[SyncIssue]]:
    """A sync run's first issues in the order they were met, keyed by (run id, how many)."""
    return _first_per_key(SyncIssue, "run_id", "id")


def attention_by_channel() -> DataLoader[uuid.UUID, object]:
    """Per channel: its listings and dispatch notes that failed, waiting for a change or retrying
    (a ChannelAttention's fields; two queries for all the channels of a request)."""

    async def load(ids: list[uuid.UUID]) -> list[object]:
        from orderdeck.graphql.channels.types import ChannelAttention

        counts: dict[uuid.UUID, dict[str, int]] = {
            i: dict.fromkeys(("listings_waiting", "listings_retrying", "dispatches_waiting", "dispatches_retrying"), 0)
            for i in ids
        }  # fmt: skip
        failing = (SubmitStatus.FAILED, SubmitStatus.RETRYING)
        for channel_id, status in await Listing.filter(channel_id__in=ids, submit_status__in=failing).values_list(
            "channel_id", "submit_status"
        ):
            counts[channel_id]["listings_waiting" if status == SubmitStatus.FAILED else "listings_retrying"] += 1
        for channel_id, state, attempts in await Dispatch.filter(
            order__channel_id__in=ids, state__in=(DispatchState.PENDING, DispatchState.FAILED)
        ).values_list("order__channel_id", "state", "attempts"):
            if state == DispatchState.FAILED:
                counts[channel_id]["dispatches_waiting"] += 1
            elif attempts:
                counts[channel_id]["dispatches_retrying"] += 1
        return [ChannelAttention(**counts[i]) for i in ids]

    return DataLoader(load_fn=load)

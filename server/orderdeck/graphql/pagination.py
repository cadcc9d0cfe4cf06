"""Keyset pagination: Relay connections (edges, page info, cursors) over Tortoise querysets, and
total counts that stay cheap on a large order book."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import json
import uuid
from collections.abc import Awaitable, Callable, Mapping
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from tortoise.expressions import Q, RawSQL
from tortoise.fields import CharField, DatetimeField, Field, IntField, UUIDField
from tortoise.queryset import QuerySet

from orderdeck import db
from orderdeck.graphql.common import DEFAULT_PAGE

T = TypeVar("T")

@strawberry.type(description="Where a page is among all the results.")
class PageInfo:
    has_next_page: bool = strawberry.field(description="Whether results follow this page (ask `after: endCursor`).")
    has_previous_page: bool = strawberry.field(description="Whether results come before this page.")
    start_cursor: str | None = strawberry.field(description="The cursor of the page's first result; null if empty.")
    end_cursor: str | None = strawberry.field(description="The cursor of the page's last result; null if empty.")


@strawberry.type(description="A result and its cursor.")
class Edge(Generic[T]):
    cursor: str = strawberry.field(description="Where this result is, for `after` and `before`.")
    node: T = strawberry.field(description="The result.")


@dataclasses.dataclass(frozen=True)
class Total:
    """A list's total: exact, or estimated when counting it would read too much."""

    count: int
    estimate: bool = False


def exact_count(queryset: QuerySet) -> Callable[[], Awaitable[Total]]:
    """Count every matching row (for lists that stay small)."""

    async def count() -> Total:
        return Total(await queryset.count())

    return count


def capped_count_sql(queryset: QuerySet, limit: int) -> tuple[str, list[Any]]:
    """SQL (PostgreSQL) counting the rows of ``queryset`` up to ``limit``: unordered and selecting
    no column, so any index that serves the filter is read, and nothing else."""
    present = queryset.annotate(present=RawSQL("1")).limit(limit).values_list("present")
    sql, params = db.parameterized(present, ordered=False)
    return f"SELECT COUNT(*) AS capped FROM ({sql}) AS matching", params


def bounded_count(queryset: QuerySet, limit: int) -> Callable[[], Awaitable[Total]]:
    """Count exactly up to ``limit`` rows (reading at most limit + 1 of them); above that, on
    PostgreSQL, the planner's estimate of the row count. SQLite counts exactly."""

    async def count() -> Total:
        if db.dialect() != "postgres":
            return Total(await queryset.count())
        capped = (await db.fetch(*capped_count_sql(queryset, limit + 1)))[0]["capped"]
        if capped <= limit:
            return Total(capped)
        estimated = int((await db.plan(queryset.order_by()))["Plan Rows"])
        return Total(max(estimated, limit + 1), estimate=True)

    return count


@strawberry.type(description="A page of results with Relay cursors and the total count.")
class Connection(Generic[T]):
    edges: list[Edge[T]] = strawberry.field(description="The results of this page with their cursors.")
    page_info: PageInfo = strawberry.field(description="Where this page is among all the results.")
    _count: strawberry.Private[Callable[[], Awaitable[Total]]]
    _total: strawberry.Private[Any] = None  # the counting task, once started

    @strawberry.field(description="The nodes of this page (the edges' nodes, without cursors).")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    async def _counted(self) -> Total:
        """The total, counted once however many of its fields are asked for."""
        if self._total is None:
            self._total = asyncio.ensure_future(self._count())
        return await self._total

    @strawberry.field(
        description="How many results match, on all pages. Order lists count exactly up to "
        "ORDERDECK_EXACT_COUNT_LIMIT results; above it, on PostgreSQL, this is the planner's estimate "
        "(see totalCountIsEstimate)."
    )
    async def total_count(self) -> int:
        return (await self._counted()).count

    @strawberry.field(description="Whether totalCount is an estimate (a large order list on PostgreSQL).")
    async def total_count_is_estimate(self) -> bool:
        return (await self._counted()).estimate


INT64 = range(-(2**63), 2**63)
"""The values a (big) integer column holds."""

CursorValue = int | str | uuid.UUID | datetime | None
"""A key column's value as a cursor holds it (None: a null in a nullable first key)."""


def encode_cursor(values: tuple[CursorValue, ...]) -> str:
    """The cursor of a row whose key columns hold ``values`` (a UUID as its text, a date in ISO 8601)."""
    plain = [str(v) if isinstance(v, uuid.UUID) else v.isoformat() if isinstance(v, datetime) else v for v in values]
    return base64.b64encode(json.dumps(plain).encode()).decode()


def _key_value(value: Any, key: Field) -> CursorValue | None:
    """``value`` (from a cursor) as a value of the key column ``key``; None if it cannot be one."""
    if isinstance(key, IntField) and type(value) is int and value in INT64:
        return value
    if isinstance(key, CharField) and isinstance(value, str) and "\x00" not in value:
        return value
    if isinstance(key, UUIDField) and isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            return None
    if isinstance(key, DatetimeField) and isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return None
        if moment.tzinfo is None:
            return None
        try:
            return moment.astimezone(timezone.utc)
        except OverflowError:
            return None
    return None


def decode_cursor(
    cursor: str, keys: list[Field], argument: str, nullable_first: bool = False
) -> tuple[CursorValue | None, ...]:
    """The key values inside a cursor, checked against the key columns ``keys``: an integer column
    takes a 64-bit int, a text column a string without NUL, a UUID column a UUID's text, a date
    column an ISO 8601 date with its time zone (the first may be null when ``nullable_first``).
    A GraphQL error naming ``argument`` otherwise."""
    try:
        decoded = json.loads(base64.b64decode(cursor.encode(), validate=True))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = None
    if isinstance(decoded, list) and len(decoded) == len(keys):
        values = tuple(_key_value(value, key) for value, key in zip(decoded, keys, strict=True))
        if None not in values[1:] and (values[0] is not None or (nullable_first and decoded[0] is None)):
            return values
    raise GraphQLError(f"Argument {argument!r} is not a valid cursor")


def _beyond(keys: tuple[str, ...], values: tuple[CursorValue, ...], op: str) -> Q:
    """Rows whose key tuple comes after ``values`` in the row-value order ``op`` ("gt" or "lt"):
    (a, b) > (x, y) is a > x, or a = x and b > y."""
    condition = Q(**{f"{keys[-1]}__{op}": values[-1]})
    for n in range(len(keys) - 2, -1, -1):
        condition = Q(**{f"{keys[n]}__{op}": values[n]}) | (Q(**{keys[n]: values[n]}) & condition)
    return condition


async def paginate(
    queryset: QuerySet,
    *,
    key: str | tuple[str, ...],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    descending: bool = False,
    nullable_first: bool = False,
    count: Callable[[], Awaitable[Total]] | None = None,
    columns: Mapping[str, str] | None = None,
) -> Connection:
    """Keyset pagination over ``queryset`` ordered by ``key``: a unique column, or a tuple of
    columns that together are unique (e.g. ``("started_at", "id")``), all in the same direction.
    With ``nullable_first`` the first key column may be null: those rows come after all others
    (before them when descending), ordered by the remaining keys. ``columns`` names, for a key,
    the column the rows are ordered and compared by instead: a copy of the key, equal in every
    row, in a joined table whose index serves the filter (e.g. ``{"number": "tags__order_number"}``).

    Costs one query for the page (two when it spans dated and undated rows), and one count query
    only if totalCount is asked for (``count``, exact by default). ``first`` and ``last`` were
    checked before execution (``arguments.PAGE_RULES``).
    """
    size = last if last is not None else (first if first is not None else DEFAULT_PAGE)
    backwards = last is not None
    keys = (key,) if isinstance(key, str) else key
    fields = [queryset.model._meta.fields_map[k] for k in keys]
    sort = tuple((columns or {}).get(k, k) for k in keys)  # what the rows are ordered and compared by
    # The list as segments in their display order, each a queryset with its own (unique) key.
    segments = [(queryset, sort)]
    if nullable_first:
        segments = [(queryset.filter(**{f"{sort[0]}__isnull": False}), sort),
                    (queryset.filter(**{f"{sort[0]}__isnull": True}), sort[1:])]  # fmt: skip
        segments = segments[::-1] if descending else segments
    bounds = []  # (segment index, values, op) for after and before
    for cursor, name, op in ((after, "after", "lt" if descending else "gt"),
                             (before, "before", "gt" if descending else "lt")):  # fmt: skip
        if cursor is not None:
            values = decode_cursor(cursor, fields, name, nullable_first)
            index = next(n for n, (_, k) in enumerate(segments) if (values[0] is None) == (k != sort))
            bounds.append((name, index, values[len(keys) - len(segments[index][1]):], op))
    order = descending != backwards
    rows: list[Any] = []
    for index in (range(len(segments) - 1, -1, -1) if backwards else range(len(segments))):
        page, segment_keys = segments[index]
        if any((name == "after" and index < at) or (name == "before" and index > at) for name, at, _, _ in bounds):
            continue
        for _, at, values, op in bounds:
            if at == index:
                page = page.filter(_beyond(segment_keys, values, op))
        # The whole key orders both segments (in the undated one its first column is null
        # throughout), so one composite index serves each.
        ordering = [f"-{k}" if order else k for k in sort]
        rows += await page.order_by(*ordering).limit(size + 1 - len(rows))
        if len(rows) > size:
            break
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    edges = [Edge(cursor=encode_cursor(tuple(getattr(row, k) for k in keys)), node=row) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more if not backwards else before is not None,
            has_previous_page=more if backwards else after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=count or exact_count(queryset),
    )

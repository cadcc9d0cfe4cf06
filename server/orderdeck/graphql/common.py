"""Shared GraphQL pieces: user errors, input conversion, global ids, the Node interface and keyset
pagination."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

import strawberry
from graphql import GraphQLError
from tortoise.fields import CharField, Field, IntField, UUIDField
from tortoise.queryset import QuerySet

from orderdeck.services.errors import ErrorCode as ServiceErrorCode
from orderdeck.services.errors import FieldError, ServiceError, camel_case

T = TypeVar("T")

ErrorCode = strawberry.enum(ServiceErrorCode, name="ErrorCode", description="Why an input was refused.")

MAX_PAGE = 100
DEFAULT_PAGE = 50


@strawberry.type(description="A problem with an input. `field` is the input's path, e.g. `items.0.quantity`.")
class UserError:
    message: str
    code: ErrorCode
    field: str | None = None


def user_errors(exc: ServiceError) -> list[UserError]:
    """A service error as GraphQL user errors, paths in the API's camelCase."""
    return [
        UserError(
            message=e.message,
            code=e.code,
            field=".".join(camel_case(part) for part in e.field.split(".")) if e.field else None,
        )
        for e in exc.errors
    ]


# --- inputs --------------------------------------------------------------------------------------


class Patch:
    """Base of the inputs that change an existing object: there, null clears a (nullable) field.

    In every other input, null means the same as leaving the field out (clients generated from
    the schema send null for empty form fields), so the service's default applies.
    """


def given(data: Any) -> dict[str, Any]:
    """The fields of an input object the client gave, by Python name: fields left out are
    dropped, and so are nulls unless ``data`` is a :class:`Patch`."""
    keep_null = isinstance(data, Patch)
    return {
        f.name: value
        for f in dataclasses.fields(data)
        if (value := getattr(data, f.name)) is not strawberry.UNSET and (keep_null or value is not None)
    }


# --- ids ---------------------------------------------------------------------------------------


def encode_id(type_name: str, value: uuid.UUID | int | str) -> str:
    """A global id: base64 of "Type:value"."""
    return base64.b64encode(f"{type_name}:{value}".encode()).decode()


def decode_id(value: str, type_name: str, field: str) -> uuid.UUID:
    """The UUID inside a global id of ``type_name``; a ServiceError naming ``field`` otherwise."""
    try:
        kind, _, raw = base64.b64decode(value.encode(), validate=True).decode().partition(":")
        if kind == type_name:
            return uuid.UUID(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise ServiceError.one(f"{value[:60]!r} is not a valid {type_name} id", field)


def decode_ids(values: list[str], type_name: str, field: str, limit: int = MAX_PAGE) -> list[uuid.UUID]:
    """Decode a list of global ids (at most ``limit``), naming each bad one by position."""
    if len(values) > limit:
        raise ServiceError.one(f"Give at most {limit} ids", field, ServiceErrorCode.TOO_MANY)
    if not values:
        raise ServiceError.one("Give at least one id", field)
    errors: list[FieldError] = []
    ids = []
    for n, value in enumerate(values):
        try:
            ids.append(decode_id(value, type_name, f"{field}.{n}"))
        except ServiceError as exc:
            errors += exc.errors
    if errors:
        raise ServiceError(errors)
    return ids


def node_type_of(value: str) -> tuple[str, str]:
    """(type name, raw id) of a global id; GraphQL error if it is not one."""
    try:
        kind, sep, raw = base64.b64decode(value.encode(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        sep = ""
    if not sep or not re.fullmatch(r"[A-Za-z]+", kind):
        raise GraphQLError(f"{value[:60]!r} is not a valid id")
    return kind, raw


@strawberry.interface(description="An object with a global id, refetchable with `node(id:)`.")
class Node:
    id: strawberry.ID


def query_id(value: str, type_name: str, argument: str) -> uuid.UUID:
    """decode_id for query arguments: a bad id is a GraphQL error naming the argument."""
    try:
        return decode_id(value, type_name, argument)
    except ServiceError as exc:
        raise GraphQLError(f"{argument}: {exc.errors[0].message}") from None


def date_range(
    query: QuerySet, column: str, start: datetime | None, end: datetime | None, start_name: str, end_name: str
) -> QuerySet:
    """Restrict ``column`` to [start, end], both ends included and optional.

    Dates must carry a time zone; a start after the end is a GraphQL error naming both arguments.
    """
    if start is not None:
        start = _utc(start, start_name)
        query = query.filter(**{f"{column}__gte": start})
    if end is not None:
        end = _utc(end, end_name)
        query = query.filter(**{f"{column}__lte": end})
    if start is not None and end is not None and start > end:
        raise GraphQLError(f"{start_name} ({start.isoformat()}) is after {end_name} ({end.isoformat()})")
    return query


def _utc(value: datetime, argument: str) -> datetime:
    if value.tzinfo is None:
        raise GraphQLError(f"{argument}: the date must include a time zone (e.g. 2026-11-22T10:00:00Z)")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise GraphQLError(f"{argument}: {value.isoformat()} is out of range in UTC") from None


# --- mutations ---------------------------------------------------------------------------------


async def attempt(call: Callable[[], Awaitable[T]]) -> tuple[T | None, list[UserError]]:
    """Run a service call; return (result, []) or (None, user errors) if it was refused."""
    try:
        return await call(), []
    except ServiceError as exc:
        return None, user_errors(exc)


# --- pagination ----------------------------------------------------------------------------------


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None


@strawberry.type
class Edge(Generic[T]):
    cursor: str
    node: T


@strawberry.type(description="A page of results with Relay cursors and the total count.")
class Connection(Generic[T]):
    edges: list[Edge[T]]
    page_info: PageInfo
    _count: strawberry.Private[Callable[[], Awaitable[int]]]

    @strawberry.field(description="The nodes of this page (the edges' nodes, without cursors).")
    def nodes(self) -> list[T]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many results match, on all pages.")
    async def total_count(self) -> int:
        return await self._count()


INT64 = range(-(2**63), 2**63)
"""The values a (big) integer column holds."""


def encode_cursor(value: int | str | uuid.UUID) -> str:
    """The cursor of a row whose key column holds ``value`` (a UUID as its text)."""
    return base64.b64encode(json.dumps([str(value) if isinstance(value, uuid.UUID) else value]).encode()).decode()


def decode_cursor(cursor: str, key: Field, argument: str) -> int | str | uuid.UUID:
    """The key value inside a cursor, checked against the key column ``key``: an integer column
    takes a 64-bit int, a text column a string without NUL, a UUID column a UUID's text. A GraphQL
    error naming ``argument`` otherwise."""
    try:
        decoded = json.loads(base64.b64decode(cursor.encode(), validate=True))
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = None
    if isinstance(decoded, list) and len(decoded) == 1:
        value = decoded[0]
        if isinstance(key, IntField) and type(value) is int and value in INT64:
            return value
        if isinstance(key, CharField) and isinstance(value, str) and "\x00" not in value:
            return value
        if isinstance(key, UUIDField) and isinstance(value, str):
            try:
                return uuid.UUID(value)
            except ValueError:
                pass
    raise GraphQLError(f"Argument {argument!r} is not a valid cursor")


async def paginate(
    queryset: QuerySet,
    *,
    key: str,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    descending: bool = False,
) -> Connection:
    """Keyset pagination over ``queryset`` ordered by the unique column ``key``.

    Costs one query for the page, and one count query only if totalCount is asked for.
    """
    if first is not None and last is not None:
        raise GraphQLError("Give either first or last, not both")
    size = last if last is not None else (first if first is not None else DEFAULT_PAGE)
    if not 0 <= size <= MAX_PAGE:
        raise GraphQLError(f"first and last must be between 0 and {MAX_PAGE}")
    backwards = last is not None
    column = queryset.model._meta.fields_map[key]
    page = queryset
    if after is not None:
        page = page.filter(**{f"{key}__{'lt' if descending else 'gt'}": decode_cursor(after, column, "after")})
    if before is not None:
        page = page.filter(**{f"{key}__{'gt' if descending else 'lt'}": decode_cursor(before, column, "before")})
    order = descending != backwards
    rows = list(await page.order_by(f"-{key}" if order else key).limit(size + 1))
    more = len(rows) > size
    rows = rows[:size]
    if backwards:
        rows.reverse()
    edges = [Edge(cursor=encode_cursor(getattr(row, key)), node=row) for row in rows]
    return Connection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=more if not backwards else before is not None,
            has_previous_page=more if backwards else after is not None,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=edges[-1].cursor if edges else None,
        ),
        _count=queryset.count,
    )

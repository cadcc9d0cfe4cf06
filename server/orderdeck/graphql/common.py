"""Shared GraphQL pieces: user errors, input conversion, global ids and the Node interface
(pagination is in graphql.pagination)."""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from typing import Any, TypeVar

import strawberry
from graphql import GraphQLError
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


def query_ids(values: list[str], type_name: str, argument: str, limit: int = MAX_PAGE) -> list[uuid.UUID]:
    """decode_ids for query arguments: bad ids are a GraphQL error naming each by position."""
    try:
        return decode_ids(values, type_name, argument, limit)
    except ServiceError as exc:
        raise GraphQLError("; ".join(f"{e.field}: {e.message}" for e in exc.errors)) from None


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

"""Paging an emulated collection, by page number or by cursor, as partners' APIs do.

Page numbers (WooCommerce, Magento, eBay's offset is the same with ``page = offset // limit + 1``)::

    page = number_page(orders, page=2, per_page=10)
    page.items, page.total, page.pages, page.has_next
    next_url = page_url(request, page=page.page + 1)       # the same request, another page

Cursors (Shopify's page_info, Amazon's NextToken): an opaque token naming the last item handed
out, so items added or removed meanwhile never shift a page::

    page = cursor_page(orders, key=lambda o: (o.updated, o.id), cursor=request.query_params.get("next"), limit=50)
    page.items, page.next_cursor                            # None on the last page
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar
from urllib.parse import urlencode

from starlette.requests import Request

T = TypeVar("T")


@dataclass(frozen=True)
class NumberedPage(Generic[T]):
    """Page ``page`` (from 1) of a collection of ``total`` items, ``per_page`` a page."""

    items: list[T]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages the collection has (0 when it is empty)."""
        return math.ceil(self.total / self.per_page) if self.total else 0

    @property
    def has_next(self) -> bool:
        return self.page < self.pages

    @property
    def has_previous(self) -> bool:
        return self.page > 1


def number_page(items: Sequence[T], page: int, per_page: int) -> NumberedPage[T]:
    """Page ``page`` (from 1) of ``items``, ``per_page`` a page: empty past the last page."""
    if page < 1 or per_page < 1:
        raise ValueError("page and per_page start at 1")
    chunk = list(items[(page - 1) * per_page : page * per_page])
    return NumberedPage(chunk, page, per_page, len(items))


def page_url(request: Request, **params: str | int) -> str:
    """The URL of ``request`` with these query parameters replaced (the others kept, in order)."""
    base = str(request.url.replace(query="")).rstrip("/")
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in params]
    return f"{base}?{urlencode(kept + [(k, str(v)) for k, v in params.items()])}"


class InvalidCursor(ValueError):
    """A cursor this sandbox did not hand out."""


@dataclass(frozen=True)
class CursorPage(Generic[T]):
    """The items after a cursor, and the cursor naming the last of them (None: nothing follows)."""

    items: list[T]
    next_cursor: str | None


def encode_cursor(position: Any) -> str:
    """An opaque cursor for ``position`` (JSON: numbers, strings, lists)."""
    return base64.urlsafe_b64encode(json.dumps(position, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The position a cursor names (InvalidCursor if it was not made by ``encode_cursor``)."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor(f"invalid cursor {cursor!r}") from exc


def cursor_page(items: Sequence[T], key: Callable[[T], Any], cursor: str | None, limit: int) -> CursorPage[T]:
    """At most ``limit`` of ``items`` after the position ``cursor`` names, in ``key`` order (the
    key must be unique per item and JSON: a number, a string, or a tuple of them)."""
    if limit < 1:
        raise ValueError("limit starts at 1")

    def position(item: T) -> Any:
        return json.loads(json.dumps(key(item)))  # tuples compare with their decoded lists

    ordered = sorted(items, key=position)
    if cursor is not None:
        after = decode_cursor(cursor)
        try:
            ordered = [item for item in ordered if position(item) > after]
        except TypeError:
            raise InvalidCursor(f"invalid cursor {cursor!r}") from None
    chunk = ordered[:limit]
    more = len(ordered) > limit
    return CursorPage(chunk, encode_cursor(position(chunk[-1])) if more else None)

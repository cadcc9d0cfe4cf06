"""Constrained input types every service shares: text, references, money, dates.

Each bound is what the database column holds, so an accepted value is always storable: text has
no NUL character (PostgreSQL refuses it), money fits NUMERIC(14,2), dates carry a time zone and are
kept in UTC.
"""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, TypeAdapter, ValidationError

from orderdeck.services.errors import ServiceError

MAX_MONEY = Decimal("999999999999.99")
"""The largest amount a money column (NUMERIC(14,2)) holds."""

MAX_WEIGHT = Decimal("999999999.999")
"""The largest weight a weight column (NUMERIC(12,3)) holds."""

MAX_LEVEL = 2_000_000_000
"""The largest stock level or allocation (the columns are 32-bit integers)."""


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text must not contain NUL characters")
    return value


def text(max_length: int, min_length: int = 0) -> type[str]:
    """A stripped string of min_length to max_length characters, without NUL characters."""
    return Annotated[  # type: ignore[return-value]
        str,
        StringConstraints(strip_whitespace=True, min_length=min_length, max_length=max_length),
        AfterValidator(_no_nul),
    ]


Reference = text(100, 1)
Tag = text(50, 1)
Money = Annotated[Decimal, Field(ge=0, le=MAX_MONEY, max_digits=14, decimal_places=2)]


def require_time_zone(value: datetime | None) -> datetime | None:
    """Dates must say their time zone (a naive date would be read differently by each server); they
    are kept in UTC (SQLite stores dates as text: mixed offsets would sort wrongly)."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("date must include a time zone (e.g. 2026-11-22T10:00:00Z)")
    try:
        return value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("date is out of range") from None


class Strict(BaseModel):
    """Base of every input: unknown fields are an error, strings are stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


def clean_text(value: str, field: str, max_length: int, min_length: int = 1) -> str:
    """A single text argument checked like ``text()``, or a ServiceError naming ``field``."""
    try:
        return TypeAdapter(text(max_length, min_length)).validate_python(value)
    except ValidationError as exc:
        raise ServiceError.one(exc.errors()[0]["msg"].removeprefix("Value error, "), field) from None

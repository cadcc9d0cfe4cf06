"""Shared model plumbing: enums and field helpers used by several aggregates."""

from __future__ import annotations

from enum import Enum

from tortoise import fields

MONEY = {"max_digits": 14, "decimal_places": 2}
WEIGHT = {"max_digits": 12, "decimal_places": 3}


def money(**kwargs: object) -> fields.DecimalField:
    """A currency amount with two decimal places, zero by default."""
    return fields.DecimalField(**MONEY, default=0, db_default=0, **kwargs)  # type: ignore[arg-type]


class ActorKind(str, Enum):
    """Who made a change: a person, an API token, a channel sync, a plugin or orderdeck itself."""

    USER = "USER"
    TOKEN = "TOKEN"
    SYNC = "SYNC"
    PLUGIN = "PLUGIN"
    SYSTEM = "SYSTEM"

"""Errors services raise for bad input or forbidden transitions. Nothing is changed when raised.

The GraphQL layer turns them into typed user errors naming the offending field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from typing import TypeVar

from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)


class ErrorCode(str, Enum):
    """Machine-readable reason for a user error."""

    INVALID = "INVALID"
    NOT_FOUND = "NOT_FOUND"
    DUPLICATE = "DUPLICATE"
    INVALID_TRANSITION = "INVALID_TRANSITION"
    TOO_MANY = "TOO_MANY"
    IN_USE = "IN_USE"
    INSUFFICIENT_STOCK = "INSUFFICIENT_STOCK"
    FORBIDDEN = "FORBIDDEN"
    ORDER_LOCKED = "ORDER_LOCKED"
    ORDER_PARKED = "ORDER_PARKED"
    ORDER_ON_HOLD = "ORDER_ON_HOLD"
    ORDER_UNPAID = "ORDER_UNPAID"
    UNLINKED_ITEMS = "UNLINKED_ITEMS"
    FULFILMENT_LOCKED = "FULFILMENT_LOCKED"


@dataclass(frozen=True)
class FieldError:
    """One problem with one input field (``field`` is a dotted path, None for the whole input)."""

    message: str
    field: str | None = None
    code: ErrorCode = ErrorCode.INVALID


@dataclass
class ServiceError(Exception):
    """A refused operation, with one or more field errors."""

    errors: list[FieldError] = field(default_factory=list)

    def __str__(self) -> str:
        return "; ".join(f"{e.field}: {e.message}" if e.field else e.message for e in self.errors)

    @classmethod
    def one(cls, message: str, field: str | None = None, code: ErrorCode = ErrorCode.INVALID) -> ServiceError:
        """A service error with a single field error."""
        return cls([FieldError(message, field, code)])

    @classmethod
    def from_validation(cls, exc: ValidationError, prefix: str = "") -> ServiceError:
        """Translate a pydantic validation error into field errors with dotted, camelCase paths
        (as the API names fields, and as the services' own errors name them). A list longer than
        allowed is TOO_MANY; every other problem is INVALID."""
        errors = []
        for err in exc.errors():
            parts = [camel_case(part) if isinstance(part, str) else str(part) for part in err["loc"]]
            path = ".".join(part for part in (prefix, *parts) if part != "")
            message = err["msg"].removeprefix("Value error, ")
            code = ErrorCode.TOO_MANY if err["type"] == "too_long" else ErrorCode.INVALID
            errors.append(FieldError(message, path or None, code))
        return cls(errors)


def camel_case(name: str) -> str:
    """``order_ids`` -> ``orderIds``: an input field's name as the API spells it."""
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def not_found(what: str, value: object, field: str | None) -> ServiceError:
    """The standard error for a reference to something that does not exist."""
    return ServiceError.one(f"{what} {value} does not exist", field, ErrorCode.NOT_FOUND)


def validated(model: type[M], data: M | dict, prefix: str = "") -> M:
    """Validate ``data`` (a dict, or an already built model) against ``model``.

    Raises a ServiceError naming each bad field by its dotted path.
    """
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ServiceError.from_validation(exc, prefix) from None

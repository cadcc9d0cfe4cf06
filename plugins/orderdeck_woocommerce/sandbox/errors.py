"""WordPress's REST error bodies, as a WooCommerce shop answers them, and WordPress's reading of
an RFC 3339 date parameter."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from starlette.responses import JSONResponse

from orderdeck.plugins.sandbox import ApiError

RFC3339 = re.compile(r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}(?::\d{2})?)?")
"""The dates WordPress's REST API accepts (rest_parse_date): RFC 3339, the offset optional."""


def wp_error(code: str, message: str, status: int, **data: Any) -> JSONResponse:
    """A WordPress REST error: ``{"code", "message", "data": {"status", ...}}``."""
    return JSONResponse({"code": code, "message": message, "data": {"status": status, **data}}, status_code=status)


class RestError(ApiError):
    """Answered as a WordPress REST error body."""

    def __init__(self, code: str, message: str, status: int, **data: Any) -> None:
        super().__init__(wp_error(code, message, status, **data), message)


def invalid_param(name: str, reason: str, code: str = "rest_invalid_param") -> RestError:
    """WordPress's answer to a parameter it refuses: 400 ``rest_invalid_param`` naming it in
    ``data.params`` (the reason) and ``data.details`` (the reason's own code: ``rest_invalid_type``,
    ``rest_out_of_bounds``, ``rest_not_in_enum``, ``rest_invalid_date``...)."""
    return RestError("rest_invalid_param", f"Invalid parameter(s): {name}", 400, params={name: reason},
                     details={name: {"code": code, "message": reason, "data": None}})  # fmt: skip


def rest_date(name: str, value: str) -> datetime:
    """A date parameter as WordPress reads it: RFC 3339 or 400 ``rest_invalid_param`` "Invalid date."."""
    text = value.strip()
    if RFC3339.fullmatch(text):
        text = text.upper().replace(" ", "T").replace("Z", "+00:00")
        if re.search(r"[+-]\d{2}$", text):
            text += ":00"
        try:
            return datetime.fromisoformat(text)
        except ValueError:
            pass  # a day or hour that does not exist
    raise invalid_param(name, "Invalid date.", "rest_invalid_date")

"""Request hygiene: bodies, websocket messages and JSON are bounded before anything is parsed.

- A body larger than ``max_body_bytes`` is refused (413) from its Content-Length, or, for a chunked
  body, as soon as the bytes received pass the limit (the rest is never read).
- JSON nested deeper than ``max_json_depth`` is refused (400) by a scan of its brackets before it
  is decoded (the decoder would recurse once per level).
- A list of more than ``max_list_items`` anywhere in the decoded JSON (the variables) is refused
  (400) before GraphQL coerces a single item.
- An answer whose JSON passes ``max_answer_bytes`` is replaced by an error, found once it is encoded.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cross_web import HTTPException

Receive = Callable[[], Awaitable[dict[str, Any]]]

_NOT_BRACKETS = bytes(range(256)).translate(None, b"[]{}")
_SQUARE = bytes.maketrans(b"{}", b"[]")

_ENCODER = json.JSONEncoder(separators=(",", ":"))  # ensure_ascii: one character is one byte


@dataclass(frozen=True)
class RequestLimits:
    """The bounds every request and websocket message is held to."""

    max_body_bytes: int = 2_000_000
    max_json_depth: int = 20
    max_list_items: int = 1000
    max_answer_bytes: int = 5_000_000


class RequestRefused(HTTPException):
    """A request refused before it is parsed: answered with ``status`` and a JSON error."""

    def __init__(self, status: int, message: str, code: str) -> None:
        super().__init__(status, message)
        self.message = message
        self.code = code

    def body(self) -> dict[str, Any]:
        """The JSON answer: a GraphQL-style error list."""
        return {"errors": [{"message": self.message, "extensions": {"code": self.code}}]}


def too_large(size: int | str, limit: int) -> RequestRefused:
    """413 for a body or message of ``size`` bytes (or "more than N") over ``limit``."""
    return RequestRefused(
        413,
        f"Request body of {size} bytes exceeds the limit of {limit} bytes (ORDERDECK_MAX_BODY_BYTES)",
        "BODY_TOO_LARGE",
    )


def check_content_length(declared: str | None, limit: int) -> None:
    """Refuse a request whose declared Content-Length is over ``limit`` (or not a number)."""
    if declared is None:
        return
    if not declared.strip().isdigit():
        raise RequestRefused(400, "Content-Length must be a number of bytes", "BAD_REQUEST")
    if int(declared) > limit:
        raise too_large(int(declared), limit)


def bounded_receive(receive: Receive, limit: int) -> Receive:
    """``receive`` for an HTTP request, refusing (413) once the body received passes ``limit`` bytes."""
    received = 0

    async def receive_bounded() -> dict[str, Any]:
        nonlocal received
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                raise too_large(f"more than {limit}", limit)
        return message

    return receive_bounded


def nested_deeper_than(data: bytes, limit: int) -> bool:
    """Whether JSON text nests arrays and objects more than ``limit`` deep (brackets in strings do
    not count). Runs at the speed of bytes operations: escapes and strings are cut out, then each pass
    removes the innermost level of brackets."""
    unescaped = data.replace(b"\\\\", b"").replace(b'\\"', b"")
    brackets = b"".join(unescaped.split(b'"')[::2]).translate(_SQUARE, _NOT_BRACKETS)
    for _ in range(limit):
        if not brackets:
            return False
        brackets = brackets.replace(b"[]", b"")
    return bool(brackets)


def _longest_list(value: Any) -> int:
    if isinstance(value, list):
        return max([len(value), *(_longest_list(v) for v in value)])
    if isinstance(value, dict):
        return max((_longest_list(v) for v in value.values()), default=0)
    return 0


def decode_json(data: str | bytes, limits: RequestLimits) -> object:
    """Decode a request body or websocket message, refusing deep nesting and long lists (400)."""
    raw = data.encode() if isinstance(data, str) else data
    if nested_deeper_than(raw, limits.max_json_depth):
        raise RequestRefused(
            400,
            f"JSON nested more than {limits.max_json_depth} levels deep (ORDERDECK_MAX_JSON_DEPTH)",
            "JSON_TOO_DEEP",
        )
    value = json.loads(raw)
    longest = _longest_list(value)
    if longest > limits.max_list_items:
        raise RequestRefused(
            400,
            f"A list of {longest} items exceeds the limit of {limits.max_list_items} (ORDERDECK_MAX_LIST_ITEMS)",
            "TOO_MANY_ITEMS",
        )
    return value


def answer_too_large(limit: int) -> dict[str, Any]:
    """The answer sent instead of one larger than ``limit`` bytes."""
    return {
        "data": None,
        "errors": [
            {
                "message": f"The answer exceeds the limit of {limit} bytes (ORDERDECK_MAX_ANSWER_BYTES): "
                "ask for smaller pages or fewer fields",
                "extensions": {"code": "ANSWER_TOO_LARGE", "limit": limit},
            }
        ],
    }


def encode_answer(data: object, limit: int) -> str:
    """``data`` as compact JSON, or the answer_too_large error when the text passes ``limit`` bytes.

    Encoded in one go by the json module's C encoder: ``iterencode``, which could stop at the limit,
    runs the pure-Python encoder, about five times slower (3 ms of a 100-order page). The answer's
    objects are in memory already, and its text takes less room than they do.
    """
    text = _ENCODER.encode(data)
    if len(text) > limit:
        return _ENCODER.encode(answer_too_large(limit))
    return text

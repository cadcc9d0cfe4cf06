"""Checking the credentials a request carries, as partners' APIs do, in constant time.

    def authorised(self, request: Request) -> bool:
        return credentials_match(basic_auth(request), (self.key, self.secret))   # HTTP Basic
        return credentials_match(bearer_token(request), self.token)              # Bearer token
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence

from starlette.requests import Request


def basic_auth(request: Request) -> tuple[str, str] | None:
    """The user and password of the request's HTTP Basic Authorization header: None without one,
    ``("", "")`` when it cannot be read."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip(), validate=True).decode().partition(":")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return "", ""
    return user, password


def bearer_token(request: Request) -> str | None:
    """The token of the request's ``Authorization: Bearer`` header, None without one."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def credentials_match(given: Sequence[str] | str | None, expected: Sequence[str] | str) -> bool:
    """Whether ``given`` (a secret, or a tuple such as user and password) equals ``expected``,
    compared in constant time. Nothing given, or an empty part, never matches."""
    given_parts = [given] if isinstance(given, str) else list(given or [])
    expected_parts = [expected] if isinstance(expected, str) else list(expected)
    if len(given_parts) != len(expected_parts) or not all(given_parts):
        return False
    results = [hmac.compare_digest(g.encode(), e.encode()) for g, e in zip(given_parts, expected_parts, strict=True)]
    return all(results)

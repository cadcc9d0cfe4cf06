"""Sandboxes: emulators of partners' APIs, with state, for tests, the demo and plugin authors.

A plugin offers its sandboxes through the ``orderdeck_register_sandboxes`` hook, each a
``Sandbox`` named after the connector whose partner it emulates; ``orderdeck sandbox NAME`` serves
one, ``orderdeck serve --demo`` and tests ask for one by name (``orderdeck.plugins.manager.sandbox``).

The base every emulator is built on (the plumbing, so no emulator writes its own):

- ``Emulator``: the partner account's state; subclasses add the partner's data and say how it
  writes an error (``error``, ``messages``), checks credentials (``authorised``, with the helpers
  of ``auth``), what ``GET /__sandbox/state`` shows (``state``) and any fault of its own
  (``own_fault``). ``Emulator.api(handler)`` wraps every API route: the request log, then the
  faults, then the credentials; an ``ApiError`` raised by the handler is its answer.
- ``sandbox_app(emulator, api_routes, control=..., banner=...)``: the Starlette app, with the
  control API every sandbox shares (no auth; JSON in, JSON out):
  ``POST /__sandbox/faults {"kind", "count"?, "after"?, "retry_after"?, "status"?, "seconds"?}``
  (kinds: ``FAULT_KINDS``; ``GET`` lists the waiting faults, ``DELETE`` clears them),
  ``GET /__sandbox/requests`` (method, path, query, status, at; ``DELETE`` clears the log) and
  ``GET /__sandbox/state``.
- ``paging``: ``number_page`` and ``page_url`` (page numbers), ``cursor_page`` (opaque cursors).
- ``auth``: ``basic_auth``, ``bearer_token``, ``credentials_match`` (constant time).
- ``serving.serve(app)``: serve an app on a free loopback port for a test, over real HTTP.

A complete emulator of a made-up shop API::

    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from orderdeck.plugins.sandbox import ApiError, Emulator, bearer_token, credentials_match, number_page, sandbox_app


    class Shop(Emulator):
        messages = {**Emulator.messages, "unauthorised": ("invalid_token", "Unknown API token")}

        def __init__(self, token: str) -> None:
            super().__init__()
            self.token = token
            self.orders: list[dict] = []

        def error(self, status: int, code: str, message: str) -> Response:
            return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

        def authorised(self, request: Request) -> bool:
            return credentials_match(bearer_token(request), self.token)

        def state(self) -> dict:
            return {"orders": self.orders}


    def create_app(token: str = "sandbox-token", seed_orders: int = 0) -> Starlette:
        shop = Shop(token)
        shop.orders += [{"number": str(1000 + n), "status": "paid"} for n in range(seed_orders)]

        async def orders(request: Request) -> Response:
            if not request.query_params.get("page", "1").isdigit():
                raise ApiError(shop.error(400, "bad_page", "page must be a number"))
            page = number_page(shop.orders, int(request.query_params.get("page", "1")), per_page=50)
            return JSONResponse({"orders": page.items, "more": page.has_next})

        return sandbox_app(shop, [Route("/api/orders", shop.api(orders))],
                           banner=f"My Shop sandbox: API token {token!r}")

Registered by the plugin (``orderdeck sandbox myshop --port 8081`` then serves it)::

    @hookimpl
    def orderdeck_register_sandboxes():
        return [Sandbox("myshop", "My Shop", create_app, "An emulated My Shop account")]
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from starlette.applications import Starlette

from orderdeck.plugins.connectors import NAME
from orderdeck.plugins.sandbox.auth import basic_auth, bearer_token, credentials_match
from orderdeck.plugins.sandbox.emulator import CONTROL, FAULT_HEADER, ApiError, Emulator, control_error, control_json, sandbox_app
from orderdeck.plugins.sandbox.faults import FAULT_KINDS, DroppedConnection, Fault, FaultQueue
from orderdeck.plugins.sandbox.log import LoggedRequest, RequestLog
from orderdeck.plugins.sandbox.paging import (
    CursorPage,
    InvalidCursor,
    NumberedPage,
    cursor_page,
    decode_cursor,
    encode_cursor,
    number_page,
    page_url,
)

__all__ = [
    "CONTROL", "FAULT_HEADER", "FAULT_KINDS", "ApiError", "CursorPage", "DroppedConnection", "Emulator", "Fault", "FaultQueue",
    "InvalidCursor", "LoggedRequest", "NumberedPage", "RequestLog", "Sandbox", "basic_auth", "bearer_token",
    "control_error", "control_json", "credentials_match", "cursor_page", "decode_cursor", "encode_cursor",
    "number_page", "page_url", "problems", "sandbox_app",
]  # fmt: skip


@dataclass(frozen=True)
class Sandbox:
    """A sandbox a plugin offers (``orderdeck_register_sandboxes``).

    name: the connector whose partner it emulates (one the same plugin provides), e.g. "woocommerce".
    title: the human name, e.g. "WooCommerce shop".
    create_app: makes a new emulated account, with state: ``create_app(**options)`` returns a
        Starlette app (usually ``sandbox_app(...)``); every option has a default, and a channel's
        sandbox takes ``seed_orders`` (random orders to start with; ``orderdeck sandbox
        --seed-orders``).
    description: one line on what it emulates, shown by ``orderdeck sandbox``.
    """

    name: str
    title: str
    create_app: Callable[..., Starlette]
    description: str = ""


def problems(sandbox: object) -> list[str]:
    """What is wrong with a registered sandbox (empty: nothing)."""
    if not isinstance(sandbox, Sandbox):
        return [f"{type(sandbox).__name__} is not a Sandbox (orderdeck.plugins.sandbox.Sandbox)"]
    found = []
    if not isinstance(sandbox.name, str) or not NAME.fullmatch(sandbox.name):
        found.append(f"sandbox name {sandbox.name!r} must be the name of a connector")
    if not isinstance(sandbox.title, str) or not sandbox.title.strip():
        found.append("sandbox title must be a non-empty string")
    if not callable(sandbox.create_app):
        found.append(f"sandbox create_app must be callable, not {sandbox.create_app!r}")
    return found

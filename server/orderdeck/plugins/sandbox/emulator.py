"""What every partner emulator shares: faults, the request log, authentication and the control
API under ``/__sandbox/``, with each answer in the partner's own format.

An emulator subclasses ``Emulator`` (its state: orders, products, ...; how its partner writes an
error) and builds its app with ``sandbox_app``: its API routes, each wrapped by ``Emulator.api``,
and its own control routes.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import Lifespan

from orderdeck.plugins.sandbox.faults import DroppedConnection, Fault, FaultQueue
from orderdeck.plugins.sandbox.log import RequestLog

Handler = Callable[[Request], Awaitable[Response]]
CONTROL = "/__sandbox"
"""Where the control API lives (not the partner's API: no auth, JSON in, JSON out)."""
FAULT_HEADER = "X-Sandbox-Fault"
"""Marks an answer an injected fault gave (its kind), not the emulated partner."""


class ApiError(Exception):
    """Raised by an API handler to answer with ``response`` (an error in the partner's format)."""

    def __init__(self, response: Response, message: str = "") -> None:
        super().__init__(message or f"HTTP {response.status_code}")
        self.response = response


class Emulator:
    """The state of one emulated partner account. Subclasses add the partner's data and override
    what their partner does its own way: ``error`` (its error body), ``messages`` (its codes and
    texts), ``malformed_body``, ``authorised``, ``unmatched``, ``state`` and ``own_fault``."""

    messages: ClassVar[dict[str, tuple[str, str]]] = {
        "rate_limit": ("rate_limited", "Too many requests."),
        "server_error": ("server_error", "Internal server error."),
        "unauthorised": ("unauthorised", "The credentials were refused."),
    }
    """The code and message of each error the base answers with, by situation."""
    malformed_body: ClassVar[str] = '{"items": [{"id": 1, "status": '
    """The body of a ``malformed`` fault: JSON cut off, as a dropped proxy leaves it."""

    def __init__(self) -> None:
        self.faults = FaultQueue()
        self.requests = RequestLog()

    # What a partner does its own way

    def error(self, status: int, code: str, message: str) -> Response:
        """An error answer as the partner writes it (default ``{"code", "message"}``)."""
        return JSONResponse({"code": code, "message": message}, status_code=status)

    def authorised(self, request: Request) -> bool:
        """Whether the request carries the account's credentials (default: no check; see
        ``orderdeck.plugins.sandbox.auth``)."""
        return True

    def unmatched(self, request: Request, status: int, detail: str) -> Response:
        """The answer to a path no route serves (404) or a method it does not take (405)."""
        return JSONResponse({"error": detail}, status_code=status)

    def state(self) -> dict[str, Any]:
        """The emulator's state as JSON, for ``GET /__sandbox/state`` (which adds the faults)."""
        return {}

    async def own_fault(self, request: Request, body: dict[str, Any]) -> Response | None:
        """Handle ``POST /__sandbox/faults`` for a kind of the emulator's own (e.g. a defective
        order); None when ``body["kind"]`` is none of its own."""
        return None

    def fault_response(self, fault: Fault) -> Response | None:
        """The answer a fault gives instead of the API's (None: answer normally, after a delay)."""
        if fault.kind == "rate_limit":
            response = self.error(429, *self.messages["rate_limit"])
            response.headers["Retry-After"] = f"{fault.retry_after:g}"
            return response
        if fault.kind == "server_error":
            return self.error(fault.status, *self.messages["server_error"])
        if fault.kind == "malformed":
            return Response(self.malformed_body, media_type="application/json")
        if fault.kind == "disconnect":
            return DroppedConnection()
        return None

    # The plumbing every API route goes through

    def api(self, handler: Handler, *, authenticate: bool = True) -> Handler:
        """``handler`` as an API endpoint: logged, faults first, then the credentials (unless
        ``authenticate`` is False), an ``ApiError`` answered with its response."""

        async def endpoint(request: Request) -> Response:
            entry = self.requests.record(request)
            response = await self._answer(request, handler, authenticate)
            entry["status"] = response.status_code
            return response

        return endpoint

    async def _answer(self, request: Request, handler: Handler, authenticate: bool) -> Response:
        fault = self.faults.take()
        if fault is not None:
            if fault.kind == "delay":
                await asyncio.sleep(fault.seconds)
            response = self.fault_response(fault)
            if response is not None:
                response.headers[FAULT_HEADER] = fault.kind  # tests checking answers against a spec skip these
                return response
        if authenticate and not self.authorised(request):
            return self.error(401, *self.messages["unauthorised"])
        try:
            return await handler(request)
        except ApiError as exc:
            return exc.response


async def control_json(request: Request) -> dict[str, Any]:
    """A control request's JSON object body ({} when empty); ValueError when it is not one."""
    raw = await request.body()
    if not raw:
        return {}
    body = json.loads(raw)
    if not isinstance(body, dict):
        raise ValueError("the body must be a JSON object")
    return body


def control_error(message: str, status: int = 400) -> JSONResponse:
    """A control API error: ``{"error": message}``."""
    return JSONResponse({"error": message}, status_code=status)


def _control_routes(emulator: Emulator) -> list[BaseRoute]:
    """The control API every sandbox shares: faults, the request log and the state."""

    async def faults(request: Request) -> Response:
        if request.method == "DELETE":
            emulator.faults.clear()
        elif request.method == "POST":
            try:
                body = await control_json(request)
                own = await emulator.own_fault(request, body)
                if own is not None:
                    return own
                emulator.faults.append(Fault.from_json(body))
            except ValueError as exc:
                return control_error(str(exc))
        return JSONResponse({"faults": emulator.faults.as_json()})

    async def requests(request: Request) -> Response:
        if request.method == "DELETE":
            emulator.requests.clear()
        return JSONResponse(emulator.requests.as_json())

    async def state(request: Request) -> Response:
        return JSONResponse({**emulator.state(), "faults": emulator.faults.as_json()})

    return [
        Route(f"{CONTROL}/faults", faults, methods=["GET", "POST", "DELETE"]),
        Route(f"{CONTROL}/requests", requests, methods=["GET", "DELETE"]),
        Route(f"{CONTROL}/state", state, methods=["GET"]),
    ]


def sandbox_app(emulator: Emulator, api: Sequence[BaseRoute], *, control: Sequence[BaseRoute] = (),
                banner: str = "", lifespan: Lifespan[Starlette] | None = None) -> Starlette:  # fmt: skip
    """The sandbox's app: the emulated ``api`` (routes whose handlers are wrapped by
    ``emulator.api``), the emulator's own ``control`` routes (under ``/__sandbox/``) and the shared
    ones. ``app.state.sandbox`` is the emulator; ``app.state.banner`` what ``orderdeck sandbox``
    prints on start (credentials, what the shop holds); ``lifespan`` starts and stops what the
    sandbox serves besides HTTP (an FTP server, ``orderdeck.plugins.sandbox.ftp``)."""

    async def unmatched(request: Request, exc: HTTPException) -> Response:
        return emulator.unmatched(request, exc.status_code, exc.detail)

    app = Starlette(routes=[*api, *control, *_control_routes(emulator)],
                    exception_handlers={404: unmatched, 405: unmatched}, lifespan=lifespan)  # fmt: skip
    app.state.sandbox = emulator
    app.state.banner = banner
    return app

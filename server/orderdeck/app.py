"""The Starlette application: the dashboard at /, GraphQL at /graphql (HTTP and graphql-transport-ws;
token required), health endpoints, CORS."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnected
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UNSET, UnsetType

from orderdeck import db, events
from orderdeck.config import Settings, get_settings
from orderdeck.graphql.context import Context
from orderdeck.graphql.cost import QueryLimits
from orderdeck.graphql.limits import LimitedGraphQL
from orderdeck.graphql.live.execution import encode_message
from orderdeck.graphql.schema import build_schema
from orderdeck.http_limits import RequestLimits
from orderdeck.models import ApiToken
from orderdeck.plugins import manager as plugin_manager
from orderdeck.ratelimit import rate_limiter
from orderdeck.services import auth
from orderdeck.services.locations import ensure_default_location

UNAUTHORIZED = (
    "Missing or invalid API token: send 'Authorization: Bearer <token>' "
    "(create one with 'orderdeck token create --name NAME')"
)

WS_FORBIDDEN = 4403
"""Close code of a websocket whose connection_init carries no valid token (graphql-transport-ws),
or whose token has since been revoked."""
WS_UNAUTHORIZED = (
    "Forbidden: connection_init must carry a valid API token: "
    '{"type": "connection_init", "payload": {"token": "<token>"}}'
)
WS_REVOKED = "Forbidden: the API token of this connection has been revoked"

TOKEN_RECHECK = 30.0
"""Seconds between checks that an open websocket's token is still active (a revoked one is closed)."""
TOKEN_CHECK_SHARED = 1.0
"""Seconds for which one such check answers for every socket of the same token (one query, not one
per socket: 500 dashboards on one token would otherwise cost 17 queries a second)."""

DASHBOARD = Path(__file__).parent / "dashboard"
GRAPHIQL = Path(__file__).parent / "graphiql"
"""The GraphiQL page and its assets (React, GraphiQL), shipped in the package: no CDN, no internet."""

log = logging.getLogger(__name__)


def _bearer(header: str) -> str | None:
    """The token of an 'Authorization: Bearer ...' value, if it is one."""
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def bearer_token(connection: HTTPConnection) -> str | None:
    """The token in an 'Authorization: Bearer ...' header, if any."""
    return _bearer(connection.headers.get("authorization", ""))


def connection_token(params: dict[str, Any] | None) -> str | None:
    """The token in a websocket's connection_init payload: ``{"token": ...}`` or
    ``{"Authorization": "Bearer ..."}``."""
    params = params or {}
    token = params.get("token")
    if isinstance(token, str) and token.strip():
        return token.strip()
    header = params.get("Authorization", params.get("authorization"))
    return _bearer(header) if isinstance(header, str) else None


_token_checks: dict[int, tuple[float, asyncio.Future[bool]]] = {}
"""The latest check of each token of an open socket: (when it was asked, its answer)."""


async def _token_still_active(token: ApiToken) -> bool:
    """``auth.still_active``, asked once for all the sockets of ``token`` that check within
    TOKEN_CHECK_SHARED seconds of each other."""
    loop = asyncio.get_running_loop()
    asked, check = _token_checks.get(token.id, (0.0, None))
    if check is None or check.get_loop() is not loop or loop.time() - asked > TOKEN_CHECK_SHARED:
        check = asyncio.ensure_future(auth.still_active(token))
        check.add_done_callback(lambda done: done.cancelled() or done.exception())  # (retrieved, even if nobody waits)
        _token_checks[token.id] = (loop.time(), check)
    return await asyncio.shield(check)


class OrderdeckGraphQL(LimitedGraphQL):
    """Strawberry's ASGI app, with the token checked before any GraphQL work is done: from the
    Authorization header over HTTP, from the connection_init payload over a websocket; then the
    token's rate limit (each request, or each subscribe on a socket), and the limits of
    LimitedGraphQL."""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "websocket":
            await self._serve_socket(scope, receive, send)
            return
        if scope["type"] == "http":
            request = Request(scope, receive)
            if not self._wants_ide(request):
                token = await auth.authenticate(bearer_token(request) or "")
                if token is None:
                    response = JSONResponse(
                        {"errors": [{"message": UNAUTHORIZED, "extensions": {"code": "UNAUTHENTICATED"}}]},
                        status_code=401,
                        headers={"WWW-Authenticate": 'Bearer realm="orderdeck"'},
                    )
                    await response(scope, receive, send)
                    return
                if await self.refused_over_rate(token, scope, receive, send):
                    return
                scope.setdefault("state", {})["token"] = token
        await super().__call__(scope, receive, send)

    async def _serve_socket(self, scope: Any, receive: Any, send: Any) -> None:
        """A websocket, closed with 4403 once the token it signed in with is found revoked."""
        state = scope.setdefault("state", {})
        watcher = asyncio.create_task(self._watch_token(state))
        try:
            await super().__call__(scope, self.metered_socket(receive, send, state), send)
        except WebSocketDisconnected:  # a socket refused in on_ws_connect, closed once already
            pass
        finally:
            watcher.cancel()

    @staticmethod
    async def _watch_token(state: dict[str, Any]) -> None:
        """Every TOKEN_RECHECK seconds, close the socket if its token (once signed in) was revoked."""
        while True:
            await asyncio.sleep(TOKEN_RECHECK)
            token: ApiToken | None = state.get("token")
            try:
                if token is None or await _token_still_active(token):
                    continue
                await state["socket"].close(code=WS_FORBIDDEN, reason=WS_REVOKED)
            except Exception as exc:  # noqa: BLE001 - the database is away, or the socket closed meanwhile
                log.warning("could not check or close a websocket whose token may be revoked: %s", exc)
                continue
            return

    @property
    def graphql_ide_html(self) -> str:
        """Our GraphiQL page, loading its assets from /graphiql/ (Strawberry's loads them from a CDN)."""
        return (GRAPHIQL / "index.html").read_text()

    def encode_json(self, data: object) -> str | bytes:
        """JSON, splicing in a subscription result encoded once for all its subscribers."""
        return encode_message(data) or super().encode_json(data)

    def _wants_ide(self, request: Request) -> bool:
        """A browser asking for the GraphiQL page (it carries no token; its queries will)."""
        return (
            self.graphql_ide is not None
            and request.method == "GET"
            and "query" not in request.query_params
            and "text/html" in request.headers.get("accept", "")
        )

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """Authenticate a websocket by the token in its connection_init; refuse it with 4403."""
        token = await auth.authenticate(connection_token(context.connection_params) or "")
        if token is None:
            await context.request.close(code=WS_FORBIDDEN, reason=WS_UNAUTHORIZED)
            raise ConnectionRejectionError()
        context.token, context.actor = token, auth.token_actor(token)
        context.permissions = auth.permissions_of(token)
        context.request.state.token, context.request.state.socket = token, context.request  # for _watch_token
        return UNSET

    async def get_context(self, request: Request | WebSocket, response: Response | None = None) -> Context:
        token: ApiToken | None = getattr(request.state, "token", None)
        if token is None:  # the GraphiQL page (it runs no query) and websockets (token in connection_init)
            return Context(token=None, actor=None, permissions=frozenset(), request=request, response=response)
        return Context(
            token=token,
            actor=auth.token_actor(token),
            permissions=auth.permissions_of(token),
            request=request,
            response=response,
        )


async def healthz(request: Request) -> JSONResponse:
    """Liveness: the process is up."""
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """Readiness: the database answers."""
    try:
        await db.connection().execute_query("SELECT 1")
    except Exception as exc:  # noqa: BLE001 - any failure means not ready
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
    return JSONResponse({"status": "ok", "database": db.dialect()})


async def dashboard(request: Request) -> FileResponse:
    """The live dashboard (a static page; it signs in with a token and talks GraphQL)."""
    return FileResponse(DASHBOARD / "index.html", headers={"Cache-Control": "no-cache"})


@asynccontextmanager
async def background_jobs(settings: Settings) -> AsyncIterator[None]:
    """While the app runs: with no broker configured, the in-process worker and scheduler (the
    embedded default); with one, only the sending of jobs (``orderdeck worker`` and
    ``orderdeck scheduler`` run them)."""
    from orderdeck.jobs import actors

    if get_settings().broker_url is None:
        from orderdeck.jobs.embedded import InProcessJobs

        jobs = InProcessJobs(settings.worker_threads, settings.scheduler_interval_seconds)
        await jobs.start()
        try:
            yield
        finally:
            await jobs.stop()
    else:
        actors.start_sending()
        try:
            yield
        finally:
            actors.stop_sending()


def create_app(settings: Settings | None = None) -> Starlette:
    """The orderdeck ASGI app. Opens the database on start-up (migrations are the CLI's job)."""
    settings = settings or get_settings()
    query_limits = QueryLimits(settings.max_query_cost, settings.query_cost_list_size, settings.max_list_items)
    rate = rate_limiter(settings)
    graphql = OrderdeckGraphQL(
        build_schema(settings.max_query_depth, query_limits),
        graphql_ide="graphiql" if settings.graphiql else None,
        subscription_protocols=(GRAPHQL_TRANSPORT_WS_PROTOCOL,),
        connection_init_wait_timeout=timedelta(seconds=10),
        max_subscriptions_per_connection=20,
        allowed_origins=settings.cors_origins,
        request_limits=RequestLimits(
            settings.max_body_bytes, settings.max_json_depth, settings.max_list_items, settings.max_answer_bytes
        ),
        time_limit=settings.request_timeout_seconds,
        rate=rate,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        plugin_manager.report_problems()
        await db.init_db(settings.database_url)
        await ensure_default_location()
        try:
            async with events.serving(settings), background_jobs(settings):
                yield
        finally:
            if rate is not None:
                await rate.close()
            await db.close_db()

    return Starlette(
        routes=[
            Route("/", dashboard),
            Mount("/dashboard", StaticFiles(directory=DASHBOARD), name="dashboard"),
            Mount("/graphiql", StaticFiles(directory=GRAPHIQL), name="graphiql"),
            Route("/graphql", graphql, methods=["GET", "POST"]),
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
        ],
        middleware=[
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "OPTIONS"],
                allow_headers=["authorization", "content-type"],
                max_age=600,
            )
        ],
        lifespan=lifespan,
    )

"""Strawberry's ASGI app held to orderdeck's limits: body and websocket message size, JSON nesting and
list lengths (http_limits), answer size, time per query and requests per minute per token. The
cost limit is a schema extension (graphql.cost), checked before an operation runs.

The time limit applies to queries only: a mutation cancelled after its commit would answer "failed"
for work that was done, so mutations are bounded by their input caps and the cost limit instead.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from graphql import ExecutionResult, GraphQLError
from starlette.datastructures import Headers
from starlette.responses import JSONResponse, Response
from starlette.websockets import WebSocket, WebSocketState
from strawberry.asgi import GraphQL
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType
from strawberry.types.unset import UNSET

from orderdeck.graphql.context import Context
from orderdeck.http_limits import (
    RequestLimits,
    RequestRefused,
    bounded_receive,
    check_content_length,
    decode_json,
    encode_answer,
)
from orderdeck.models import ApiToken
from orderdeck.ratelimit import RateLimiter

log = logging.getLogger(__name__)

WS_MESSAGE_TOO_BIG = 1009
"""Close code of a websocket whose message is larger than the body limit (RFC 6455)."""
WS_REFUSED = 4400
"""Close code of a websocket whose message was refused (nesting, list lengths)."""


def time_limit_error(seconds: float) -> GraphQLError:
    """The error of a request cancelled for running longer than ``seconds``."""
    return GraphQLError(
        f"The request was cancelled after the time limit of {seconds:g} s (ORDERDECK_REQUEST_TIMEOUT_SECONDS): "
        "ask for smaller pages or fewer fields",
        extensions={"code": "TIME_LIMIT", "limit": seconds},
    )


@dataclass
class Deadline:
    """The time limit of one HTTP request, started once the operation is known to be a query."""

    timeout: asyncio.Timeout
    seconds: float

    def start(self) -> None:
        self.timeout.reschedule(asyncio.get_running_loop().time() + self.seconds)


class QueryTimeLimit(SchemaExtension):
    """Starts the request's Deadline when a query (not a mutation) begins to execute."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        deadline = getattr(context.context, "deadline", None)
        if deadline is not None and context.operation_type is OperationType.QUERY:
            deadline.start()
        yield


def rate_error(token: ApiToken, rate: RateLimiter, wait: float) -> dict[str, Any]:
    """The GraphQL error of a request refused for ``token``'s rate, with when to come back."""
    retry = max(1, math.ceil(wait))
    message = (
        f"Rate limit of {rate.rate.per_minute} requests per minute (bursts of {rate.rate.burst}) exceeded for "
        f"token '{token.name}' (ORDERDECK_RATE_LIMIT_PER_MINUTE): retry in {retry} s"
    )
    return {"message": message, "extensions": {"code": "RATE_LIMITED", "retryAfter": retry}}


class LimitedGraphQL(GraphQL[Context, None]):
    """Strawberry's ASGI app with bounded requests, answers and time."""

    def __init__(
        self,
        *args: Any,
        request_limits: RequestLimits = RequestLimits(),
        time_limit: float = 15.0,
        rate: RateLimiter | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.request_limits = request_limits
        self.time_limit = time_limit
        self.rate = rate

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        limit = self.request_limits.max_body_bytes
        if scope["type"] == "http":
            try:
                check_content_length(Headers(scope=scope).get("content-length"), limit)
            except RequestRefused as refused:
                await JSONResponse(refused.body(), status_code=refused.status_code)(scope, receive, send)
                return
            receive = bounded_receive(receive, limit)
        elif scope["type"] == "websocket":
            receive = _bounded_socket(receive, send, limit)
        await super().__call__(scope, receive, send)

    async def over_rate(self, token: ApiToken) -> dict[str, Any] | None:
        """Take one request from ``token``'s bucket; the error to answer if it is over its rate.
        If the buckets cannot be reached (Redis away), the request is let through and logged."""
        if self.rate is None:
            return None
        try:
            wait = await self.rate.take(str(token.id))
        except Exception as exc:  # noqa: BLE001 - the API stays up without its rate limit
            log.warning("rate limit not checked (the buckets cannot be reached): %s", exc)
            return None
        return rate_error(token, self.rate, wait) if wait > 0 else None

    async def refused_over_rate(self, token: ApiToken, scope: Any, receive: Any, send: Any) -> bool:
        """Answer 429 (and return True) if ``token`` is over its rate; else take one request."""
        error = await self.over_rate(token)
        if error is None:
            return False
        retry = str(error["extensions"]["retryAfter"])
        await JSONResponse({"errors": [error]}, status_code=429, headers={"Retry-After": retry})(scope, receive, send)
        return True

    def metered_socket(self, receive: Any, send: Any, state: dict[str, Any]) -> Any:
        """``receive`` for a websocket on which each subscribe message is a request of the token it
        signed in with: one over the token's rate is answered with an error for its id (ending that
        operation, as graphql-transport-ws has it), and the socket stays open."""

        async def receive_metered() -> dict[str, Any]:
            while True:
                message = await receive()
                token = state.get("token")
                operation = self._subscribe_id(message) if token is not None and self.rate is not None else None
                if operation is None:
                    return message
                error = await self.over_rate(token)
                if error is None:
                    return message
                refusal = {"id": operation, "type": "error", "payload": [error]}
                await send({"type": "websocket.send", "text": json.dumps(refusal)})

        return receive_metered

    def _subscribe_id(self, message: dict[str, Any]) -> str | None:
        """The operation id of a graphql-transport-ws subscribe message (None for any other, and
        for one the protocol handler will refuse as unreadable)."""
        text = message.get("text") or "" if message["type"] == "websocket.receive" else ""
        if '"subscribe"' not in text:
            return None
        try:
            frame = decode_json(text, self.request_limits)
        except (RequestRefused, ValueError):
            return None
        operation = frame.get("id") if isinstance(frame, dict) and frame.get("type") == "subscribe" else None
        return operation if isinstance(operation, str) else None

    async def run(self, request: Any, context: Any = UNSET, root_value: Any = UNSET) -> Any:
        try:
            return await super().run(request, context, root_value)
        except RequestRefused as refused:
            if isinstance(request, WebSocket):
                if request.application_state != WebSocketState.DISCONNECTED:
                    await request.close(code=WS_REFUSED, reason=refused.message[:120])
                return request
            return JSONResponse(refused.body(), status_code=refused.status_code)

    def decode_json(self, data: str | bytes) -> object:
        return decode_json(data, self.request_limits)

    def create_response(self, response_data: Any, sub_response: Response) -> Response:
        """The JSON answer, or an error in its place once it passes max_answer_bytes."""
        response = Response(
            encode_answer(response_data, self.request_limits.max_answer_bytes),
            status_code=sub_response.status_code or 200,
            media_type="application/json",
        )
        response.headers.raw.extend(sub_response.headers.raw)
        response.background = sub_response.background
        return response

    async def execute_single(self, *args: Any, **kwargs: Any) -> ExecutionResult:
        """One operation; a query is cancelled once it runs past the time limit (QueryTimeLimit)."""
        try:
            async with asyncio.timeout(None) as timeout:
                kwargs["context"].deadline = Deadline(timeout, self.time_limit)
                return await super().execute_single(*args, **kwargs)
        except TimeoutError:
            return ExecutionResult(data=None, errors=[time_limit_error(self.time_limit)])


def _bounded_socket(receive: Any, send: Any, limit: int) -> Any:
    """``receive`` for a websocket, closing it with 1009 on a message over ``limit`` bytes."""

    async def receive_bounded() -> dict[str, Any]:
        message = await receive()
        if message["type"] == "websocket.receive":
            size = len(message.get("text") or "") + len(message.get("bytes") or b"")
            if size > limit:
                reason = f"Message of {size} bytes exceeds the limit of {limit} bytes"
                await send({"type": "websocket.close", "code": WS_MESSAGE_TOO_BIG, "reason": reason})
                return {"type": "websocket.disconnect", "code": WS_MESSAGE_TOO_BIG}
        return message

    return receive_bounded

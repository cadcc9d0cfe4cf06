"""Schema extensions of orderdeck's own."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from graphql import BREAK, ExecutionResult, GraphQLError, StringValueNode, Visitor, visit
from starlette.websockets import WebSocket
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

NUL = "\x00"

NUL_MESSAGE = "Text must not contain NUL characters (\\u0000)"


class _StringLiterals(Visitor):
    """Finds whether any string literal of a document contains NUL."""

    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_string_value(self, node: StringValueNode, *_: Any) -> Any:
        if NUL in node.value:
            self.found = True
            return BREAK
        return None


def _holds_nul(value: Any) -> bool:
    """Whether a variable value (JSON: str, list, dict, number, bool, None) contains NUL anywhere."""
    if isinstance(value, str):
        return NUL in value
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    if isinstance(value, dict):
        return any(NUL in k or _holds_nul(v) for k, v in value.items())
    return False


class RefuseNul(SchemaExtension):
    """Refuse operations whose string literals or variables contain NUL, before they execute.

    No text column can store NUL (PostgreSQL refuses it), and no name, reference or note needs it.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        literals = _StringLiterals()
        if context.graphql_document is not None:
            visit(context.graphql_document, literals)
        if literals.found or _holds_nul(context.variables):
            context.result = ExecutionResult(data=None, errors=[GraphQLError(NUL_MESSAGE)])
        yield


SOCKET_MESSAGE = (
    "A websocket carries subscriptions only: send queries and mutations with POST /graphql "
    "and an 'Authorization: Bearer <token>' header"
)


class SubscriptionsOnlyOverSockets(SchemaExtension):
    """Refuse queries and mutations sent over a websocket.

    A socket's context (its token, permissions and DataLoaders) is made once and lives as long as
    the socket: a query there would read stale loader caches, and a mutation would act on a token
    checked only now and then. HTTP checks the token on every request.
    """

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        if isinstance(getattr(context.context, "request", None), WebSocket) and (
            context.operation_type is not OperationType.SUBSCRIPTION
        ):
            context.result = ExecutionResult(data=None, errors=[GraphQLError(SOCKET_MESSAGE)])
        yield

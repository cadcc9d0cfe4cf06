"""The GraphQL schema, assembled from the per-area Query and Mutation types."""

from __future__ import annotations

import importlib
import logging

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaxTokensLimiter,
    ParserCache,
    ValidationCache,
)
from strawberry.extensions.max_aliases import create_validator as aliases_rule
from strawberry.extensions.query_depth_limiter import create_validator as depth_rule
from strawberry.schema.config import StrawberryConfig
from strawberry.tools import merge_types
from strawberry.types import ExecutionContext

from orderdeck.graphql.arguments import CheckArguments
from orderdeck.graphql.cost import QueryLimits, cost_limit, list_literal_rule
from orderdeck.graphql.direct import use_direct_resolvers
from orderdeck.graphql.extensions import RefuseNul, SubscriptionsOnlyOverSockets
from orderdeck.graphql.limits import QueryTimeLimit
from orderdeck.graphql.execution import Executor
from orderdeck.graphql.live.execution import MaskErrors
from orderdeck.services.errors import ServiceError

AREAS = [
    "orderdeck.graphql.core",
    "orderdeck.graphql.orders.queries",
    "orderdeck.graphql.orders.mutations",
    "orderdeck.graphql.stock.queries",
    "orderdeck.graphql.stock.mutations",
    "orderdeck.graphql.locations.queries",
    "orderdeck.graphql.locations.mutations",
    "orderdeck.graphql.audit.queries",
    "orderdeck.graphql.channels.queries",
    "orderdeck.graphql.channels.mutations",
    "orderdeck.graphql.fulfilment.mutations",
    "orderdeck.graphql.live.queries",
    "orderdeck.graphql.live.subscriptions",
]


logger = logging.getLogger("orderdeck.graphql")


def is_client_error(error: GraphQLError) -> bool:
    """Errors the client caused (bad query, bad argument, refused input): answered, not logged."""
    return error.original_error is None or isinstance(error.original_error, (GraphQLError, ServiceError))


class Schema(strawberry.Schema):
    """Strawberry's schema, logging only unexpected errors (with their traceback).

    Strawberry logs every error, which buries a real failure under the traceback of every mistyped
    query. Unexpected errors also reach the client as "Unexpected error." (MaskErrors), never as
    an internal message.
    """

    def process_errors(self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None) -> None:
        for error in errors:
            if not is_client_error(error):
                logger.error("Unexpected error in %s", error.path, exc_info=error.original_error)


def _collect(name: str) -> tuple[type, ...]:
    modules = [importlib.import_module(area) for area in AREAS]
    return tuple(getattr(m, name) for m in modules if hasattr(m, name))


def build_schema(max_depth: int = 12, query_limits: QueryLimits = QueryLimits()) -> strawberry.Schema:
    """The schema with its protective and caching extensions."""
    from orderdeck.graphql.locations.types import Location
    from orderdeck.graphql.stock.types import StockItem

    extra_types: list[type] = [Location, StockItem]
    try:
        from orderdeck.graphql.orders.types import Order

        extra_types.append(Order)
    except ImportError:  # pragma: no cover - the orders area is always present once built
        pass
    limits = [
        depth_rule(max_depth, should_ignore=None),
        aliases_rule(max_alias_count=30),
        list_literal_rule(query_limits.max_list_items),
    ]
    from orderdeck.graphql.live.types import SCALARS

    built = Schema(
        config=StrawberryConfig(scalar_map=SCALARS),
        query=merge_types("Query", _collect("Query")),
        mutation=merge_types("Mutation", _collect("Mutation")),
        subscription=merge_types("Subscription", _collect("Subscription")),
        types=extra_types,
        execution_context_class=Executor,
        extensions=[
            lambda: MaskErrors(should_mask_error=lambda error: not is_client_error(error)),
            # The depth and alias rules are made once: QueryDepthLimiter and MaxAliasesLimiter make
            # a new rule class per request, so every ValidationCache lookup would miss (and fill it).
            lambda: AddValidationRules(limits),
            lambda: MaxTokensLimiter(max_token_count=5000),
            lambda: ParserCache(maxsize=200),
            lambda: ValidationCache(maxsize=200),
            RefuseNul,
            SubscriptionsOnlyOverSockets,
            cost_limit(query_limits),
            CheckArguments,
            QueryTimeLimit,
        ],
    )
    use_direct_resolvers(built)
    return built


schema = build_schema()

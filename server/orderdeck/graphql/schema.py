"""The GraphQL schema, assembled from the per-area Query and Mutation types."""

from __future__ import annotations

import importlib

import strawberry
from strawberry.extensions import MaxAliasesLimiter, MaxTokensLimiter, ParserCache, QueryDepthLimiter, ValidationCache
from strawberry.tools import merge_types

AREAS = [
    "orderdeck.graphql.core",
    "orderdeck.graphql.orders.queries",
    "orderdeck.graphql.orders.mutations",
    "orderdeck.graphql.stock.queries",
    "orderdeck.graphql.stock.mutations",
    "orderdeck.graphql.locations.queries",
    "orderdeck.graphql.locations.mutations",
    "orderdeck.graphql.audit.queries",
]


def _collect(name: str) -> tuple[type, ...]:
    modules = [importlib.import_module(area) for area in AREAS]
    return tuple(getattr(m, name) for m in modules if hasattr(m, name))


def build_schema(max_depth: int = 12) -> strawberry.Schema:
    """The schema with its protective and caching extensions."""
    from orderdeck.graphql.locations.types import Location
    from orderdeck.graphql.stock.types import StockItem

    extra_types: list[type] = [Location, StockItem]
    try:
        from orderdeck.graphql.orders.types import Order

        extra_types.append(Order)
    except ImportError:  # pragma: no cover - the orders area is always present once built
        pass
    return strawberry.Schema(
        query=merge_types("Query", _collect("Query")),
        mutation=merge_types("Mutation", _collect("Mutation")),
        types=extra_types,
        extensions=[
            lambda: QueryDepthLimiter(max_depth=max_depth),
            lambda: MaxAliasesLimiter(max_alias_count=30),
            lambda: MaxTokensLimiter(max_token_count=5000),
            lambda: ParserCache(maxsize=200),
            lambda: ValidationCache(maxsize=200),
        ],
    )


schema = build_schema()

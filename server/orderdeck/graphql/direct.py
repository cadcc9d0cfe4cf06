"""Direct resolvers: graphql-core calls a field's function itself wherever Strawberry's wrapper
would only call it.

For every field, Strawberry gives graphql-core a wrapper that builds an ``Info``, converts the
arguments, runs the field's extensions (permission classes among them) and exception handlers,
and then calls the resolver: about ten Python calls before the one that counts. A page of 100
orders resolves some 4,300 fields. For fields with no arguments, extensions or exception handlers
the wrapper adds nothing but those calls, so after the schema is built they get a direct one:

- a field without a resolver reads the attribute (Strawberry's default resolver, ``getattr``);
- a batched field (graphql.batched) asks its loader, with the request's loaders from the context;
- a resolver taking only ``self`` is called with the object.

Any other field (one with arguments, ``info``, ``root``, a permission or an extension) keeps
Strawberry's wrapper. The answers are the same; schema extensions that hook field resolution
(graphql-core middleware) still wrap whichever resolver a field has.

:class:`DirectLeaves` (part of the executor) goes one step further for the most common field of
all, a scalar or enum read from the object: it calls the direct resolver and completes the value
without building the field's ``GraphQLResolveInfo`` (which no such resolver reads) or going
through graphql-core's general completion. Errors, nulls and awaitables are handled as
graphql-core's ``execute_field`` handles them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import strawberry
from graphql import GraphQLField, GraphQLNonNull, GraphQLObjectType, GraphQLResolveInfo, Undefined, is_leaf_type
from strawberry.types.field import StrawberryField

from orderdeck.graphql.batched import BATCHED, STRAWBERRY_FIELD, Batched

Resolver = Callable[..., Any]


def _attribute(name: str) -> Resolver:
    def resolve(source: Any, info: GraphQLResolveInfo) -> Any:
        return getattr(source, name)

    resolve.reads_no_info = True  # type: ignore[attr-defined]
    return resolve


def _batched(batched: Batched) -> Resolver:
    def resolve(source: Any, info: GraphQLResolveInfo) -> Any:
        return batched.resolve(source, info.context.loaders)

    return resolve


def _method(function: Callable[[Any], Any], is_async: bool) -> Resolver:
    def resolve(source: Any, info: GraphQLResolveInfo) -> Any:
        return function(source)

    resolve.reads_no_info = not is_async  # type: ignore[attr-defined]
    return resolve


def direct_resolver(schema: strawberry.Schema, definition: StrawberryField) -> Resolver | None:
    """The direct resolver of a field, or None when Strawberry's wrapper does more than call it."""
    if definition.extensions or definition.is_subscription or definition.arguments:
        return None
    if schema.schema_converter._get_field_exception_handlers(definition):
        return None
    batched = definition.metadata.get(BATCHED)
    if isinstance(batched, Batched):
        return _batched(batched)
    resolver = definition.base_resolver
    if resolver is None:
        return _attribute(definition.python_name) if definition.default_resolver is getattr else None
    if resolver.info_parameter or resolver.root_parameter or resolver.parent_parameter:
        return None
    if resolver.self_parameter is None or len(resolver.signature.parameters) != 1:
        return None
    return _method(resolver.wrapped_func, resolver.is_async)


def use_direct_resolvers(schema: strawberry.Schema) -> int:
    """Give every object field of ``schema`` its direct resolver where it has one; how many."""
    count = 0
    for graphql_type in schema._schema.type_map.values():
        if not isinstance(graphql_type, GraphQLObjectType) or graphql_type.name.startswith("__"):
            continue
        for field in graphql_type.fields.values():
            definition = field.extensions.get(STRAWBERRY_FIELD)
            if not isinstance(definition, StrawberryField):
                continue
            direct = direct_resolver(schema, definition)
            if direct is not None:
                field.resolve = direct
                count += 1
    return count


class DirectLeaves:
    """Executor mixin: scalar and enum fields whose direct resolver reads no ``info`` are resolved
    and completed without one (see the module's docstring)."""

    _leaves: dict[int, tuple[GraphQLField, Resolver, Any] | None] | None = None

    def _leaf(self, field_def: GraphQLField) -> tuple[GraphQLField, Resolver, Any] | None:
        """(field, resolver, leaf type) of a field resolved directly here; None for the others."""
        leaves = self._leaves
        if leaves is None:
            leaves = self._leaves = {}
        known = leaves.get(id(field_def), False)
        if known is not False:
            return known  # type: ignore[return-value]
        leaf_type = field_def.type.of_type if isinstance(field_def.type, GraphQLNonNull) else field_def.type
        direct = (
            getattr(field_def.resolve, "reads_no_info", False)
            and not field_def.args
            and is_leaf_type(leaf_type)
            and not getattr(self.middleware_manager, "middlewares", None)  # type: ignore[attr-defined]
        )
        entry = (field_def, field_def.resolve, leaf_type) if direct else None
        leaves[id(field_def)] = entry  # the field is in the entry: its id stays its own
        return entry

    def execute_field(
        self, parent_type: GraphQLObjectType, source: Any, field_details_list: Any, path: Any, position_context: Any
    ) -> Any:
        name = field_details_list[0].node.name.value
        field_def = self.schema.get_field(parent_type, name)  # type: ignore[attr-defined]
        leaves = self._leaves
        leaf = leaves.get(id(field_def), False) if leaves is not None else False
        if leaf is False:
            leaf = self._leaf(field_def) if field_def is not None else None
        if leaf is None:
            execute = super().execute_field  # type: ignore[misc]
            return execute(parent_type, source, field_details_list, path, position_context)
        _, resolve, leaf_type = leaf
        return_type = field_def.type
        try:
            result = resolve(source, None)
            if self.is_awaitable(result):  # type: ignore[attr-defined]
                nodes = [details.node for details in field_details_list]
                info = self.build_resolve_info(field_def, nodes, parent_type, path)  # type: ignore[attr-defined]
                return self.complete_awaitable_value(  # type: ignore[attr-defined]
                    return_type, field_details_list, info, path, result, position_context
                )
            if isinstance(result, Exception):
                raise result
            if result is None or result is Undefined:
                if return_type is leaf_type:
                    return None
                raise TypeError(f"Cannot return null for non-nullable field {parent_type}.{name}.")
            return self.complete_leaf_value(leaf_type, result)  # type: ignore[attr-defined]
        except Exception as raw_error:
            self.handle_field_error(raw_error, return_type, field_details_list, path)  # type: ignore[attr-defined]
            return None

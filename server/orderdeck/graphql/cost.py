"""What a GraphQL operation may cost, computed from its document and variables before it runs.

An object costs 1 and a scalar or enum nothing. A list costs its length times the cost of one item:
the length is the field's page size (``first``/``last``/``limit``, from the document, the
variables or the argument's default), a connection's default page when none is given, or an
assumed length for lists that take no size (an order's lines, an item's levels). Fragments and
inline fragments are expanded where they are spread, and every alias counts. Introspection is free:
its answer is bounded by the schema.

    operation_cost(schema, document, None, {"n": 100}, list_size=10)
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationRule,
    VariableNode,
    get_named_type,
    is_leaf_type,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from orderdeck.graphql.common import DEFAULT_PAGE

SIZE_ARGUMENTS = ("first", "last", "limit")


@dataclass(frozen=True)
class QueryLimits:
    """The cost limit of one operation and the sizes the cost assumes."""

    max_cost: int = 50_000
    list_size: int = 10
    """Items assumed in a list that takes no page size."""
    max_list_items: int = 1000
    """Most values in a list literal of the document."""


class _Cost:
    """Walks one operation's selections, adding up costs (fragments memoised per page size)."""

    def __init__(self, schema: GraphQLSchema, document: DocumentNode, variables: Mapping[str, Any], list_size: int) -> None:
        self.schema = schema
        self.variables = variables
        self.list_size = list_size
        self.fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
        self.memo: dict[tuple[str, int | None], int] = {}
        self.spreading: set[str] = set()

    def selections(self, selection_set: SelectionSetNode | None, parent: GraphQLNamedType | None, page: int | None) -> int:
        """The cost of a selection set on ``parent``; ``page`` is the page size of a connection parent."""
        if selection_set is None or parent is None:
            return 0
        total = 0
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                total += self.field(selection, parent, page)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                on = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selections(selection.selection_set, on, page)
            elif isinstance(selection, FragmentSpreadNode):
                total += self.spread(selection.name.value, page)
        return total

    def spread(self, name: str, page: int | None) -> int:
        fragment = self.fragments.get(name)
        if fragment is None or name in self.spreading:  # unknown or cyclic: validation refuses it
            return 0
        key = (name, page)
        if key not in self.memo:
            self.spreading.add(name)
            on = self.schema.get_type(fragment.type_condition.name.value)
            self.memo[key] = self.selections(fragment.selection_set, on, page)
            self.spreading.discard(name)
        return self.memo[key]

    def field(self, node: FieldNode, parent: GraphQLNamedType, page: int | None) -> int:
        name = node.name.value
        if name.startswith("__") or not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
            return 0
        definition = parent.fields.get(name)
        if definition is None:
            return 0
        output = definition.type.of_type if isinstance(definition.type, GraphQLNonNull) else definition.type
        named = get_named_type(output)
        if is_leaf_type(named):
            return 0
        size = self.size(node, definition.args)
        if "pageInfo" in getattr(named, "fields", {}):  # a connection: its edges/nodes are the page
            return 1 + self.selections(node.selection_set, named, DEFAULT_PAGE if size is None else size)
        if isinstance(output, GraphQLList):
            length = size if size is not None else (page if page is not None else self.list_size)
            return length * (1 + self.selections(node.selection_set, named, None))
        return 1 + self.selections(node.selection_set, named, None)

    def size(self, node: FieldNode, arguments: Mapping[str, Any]) -> int | None:
        """The largest page size the field is asked for (given, or the argument's default)."""
        given = {argument.name.value: argument.value for argument in node.arguments or ()}
        sizes = []
        for name in SIZE_ARGUMENTS:
            if name not in arguments:
                continue
            value: Any = arguments[name].default_value
            if name in given:
                literal = given[name]
                if isinstance(literal, VariableNode):
                    value = self.variables.get(literal.name.value)
                elif isinstance(literal, IntValueNode):
                    value = int(literal.value)
            if isinstance(value, int) and not isinstance(value, bool):
                sizes.append(max(value, 0))
        return max(sizes) if sizes else None


def _operation(document: DocumentNode, operation_name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name and o.name.value == operation_name), None)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    list_size: int,
) -> int:
    """The cost of the operation the request runs (0 if it names none: execution will refuse it)."""
    operation = _operation(document, operation_name)
    if operation is None:
        return 0
    values = {
        definition.variable.name.value: value_from_ast_untyped(definition.default_value)
        for definition in operation.variable_definitions or ()
        if definition.default_value is not None
    }
    values.update(variables or {})
    root = schema.get_root_type(operation.operation)
    return _Cost(schema, document, values, list_size).selections(operation.selection_set, root, None)


def cost_message(cost: int, limit: int) -> str:
    """The error of a refused operation, with the figures."""
    return (
        f"Query cost {cost} exceeds the limit of {limit} (ORDERDECK_MAX_QUERY_COST): ask for smaller pages "
        "(first/last/limit) or fewer nested lists, or split the query. Each object costs 1 and each list its "
        "page size times its items' cost."
    )


def cost_limit(limits: QueryLimits) -> type[SchemaExtension]:
    """A schema extension refusing operations costlier than ``limits.max_cost`` before they run."""

    class QueryCostLimit(SchemaExtension):
        def on_execute(self) -> Iterator[None]:
            context = self.execution_context
            if context.graphql_document is not None and context.result is None:
                cost = operation_cost(
                    context.schema._schema,
                    context.graphql_document,
                    context.operation_name,
                    context.variables,
                    limits.list_size,
                )
                if cost > limits.max_cost:
                    error = GraphQLError(
                        cost_message(cost, limits.max_cost),
                        extensions={"code": "QUERY_TOO_COSTLY", "cost": cost, "limit": limits.max_cost},
                    )
                    context.result = ExecutionResult(data=None, errors=[error])
            yield

    return QueryCostLimit


def list_literal_rule(max_items: int) -> type[ValidationRule]:
    """A validation rule refusing list literals of more than ``max_items`` values."""

    class ListLiteralLimit(ValidationRule):
        def enter_list_value(self, node: ListValueNode, *_: Any) -> None:
            if len(node.values) > max_items:
                self.report_error(
                    GraphQLError(
                        f"A list literal has {len(node.values)} items, more than the limit of {max_items} "
                        "(ORDERDECK_MAX_LIST_ITEMS)",
                        node,
                        extensions={"code": "TOO_MANY_ITEMS"},
                    )
                )

    return ListLiteralLimit

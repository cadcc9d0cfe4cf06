"""Field arguments checked for the whole operation before any resolver runs.

A field declares the rules of its arguments once, next to the field::

    @strawberry.field(metadata=checked(IntRange("limit", 1, 200)))

and :class:`CheckArguments` runs the rules of every field the operation selects (deep in a
mutation's payload too, through fragments, with the variables coerced) before execution. A mutation
whose selection is invalid therefore changes nothing: before, an output argument was checked only
when the payload was resolved, after the write had committed. Resolvers do not check again.

The Relay arguments ``first`` and ``last`` mean the same on every field that takes them, so their
rules (:data:`PAGE_RULES`) apply to every such field without being declared.

Arguments that are converted rather than checked (global ids, cursors, dates, decoded by the
resolver that uses them) are taken only by root query and subscription fields, which no mutation can
select; a test keeps every nested field's arguments covered by a rule.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from graphql import (
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_variable_values
from graphql.utilities import get_operation_ast
from strawberry.extensions import SchemaExtension
from strawberry.types.graphql import OperationType

from orderdeck.graphql.common import MAX_PAGE

RULES = "orderdeck.argument_rules"
"""The key of a field's rules in its Strawberry ``metadata``."""


class Rule(Protocol):
    """A rule over a field's arguments (coerced, by GraphQL name; absent ones left out)."""

    arguments: tuple[str, ...]
    """The arguments the rule reads."""

    def refusal(self, values: dict[str, Any]) -> str | None:
        """Why ``values`` break the rule; None if they keep it."""


@dataclass(frozen=True)
class IntRange:
    """An integer argument from ``low`` to ``high``, both included (null: the field's default)."""

    argument: str
    low: int
    high: int

    @property
    def arguments(self) -> tuple[str, ...]:
        return (self.argument,)

    def refusal(self, values: dict[str, Any]) -> str | None:
        value = values.get(self.argument)
        if value is not None and not self.low <= value <= self.high:
            return f"{self.argument} must be between {self.low} and {self.high}"
        return None


@dataclass(frozen=True)
class _Pair:
    """A rule on which of two arguments are given (not null)."""

    first: str
    second: str

    @property
    def arguments(self) -> tuple[str, ...]:
        return (self.first, self.second)

    def given(self, values: dict[str, Any]) -> int:
        """How many of the two are given."""
        return sum(values.get(name) is not None for name in self.arguments)


class AtMostOne(_Pair):
    """At most one of two arguments given (not null)."""

    def refusal(self, values: dict[str, Any]) -> str | None:
        if self.given(values) == 2:
            return f"Give either {self.first} or {self.second}, not both"
        return None


class ExactlyOne(_Pair):
    """Exactly one of two arguments given (not null)."""

    def refusal(self, values: dict[str, Any]) -> str | None:
        if self.given(values) != 1:
            return f"Give exactly one of {self.first} and {self.second}"
        return None


@dataclass(frozen=True)
class NotBlank:
    """A text argument with more than white space; ``hint`` says what to give."""

    argument: str
    hint: str

    @property
    def arguments(self) -> tuple[str, ...]:
        return (self.argument,)

    def refusal(self, values: dict[str, Any]) -> str | None:
        value = values.get(self.argument)
        if value is not None and not value.strip():
            return f"{self.argument}: {self.hint}"
        return None


PAGE_RULES: tuple[Rule, ...] = (
    AtMostOne("first", "last"),
    IntRange("first", 0, MAX_PAGE),
    IntRange("last", 0, MAX_PAGE),
)
"""The Relay page size rules, for every field taking ``first`` or ``last``."""


def checked(*rules: Rule) -> dict[str, Any]:
    """The ``metadata`` of a Strawberry field whose arguments follow ``rules``."""
    return {RULES: rules}


def rules_of(field: GraphQLField) -> tuple[Rule, ...]:
    """The rules of a field's arguments: those declared on it, and the page rules if it pages."""
    definition = field.extensions.get("strawberry-definition")
    declared: tuple[Rule, ...] = definition.metadata.get(RULES, ()) if definition is not None else ()
    if "first" in field.args or "last" in field.args:
        return declared + PAGE_RULES
    return declared


@dataclass(frozen=True)
class _Selected:
    """A selected field with rules: its response path, its node, its definition."""

    path: tuple[str, ...]
    node: FieldNode
    field: GraphQLField
    rules: tuple[Rule, ...]


def _selected(
    schema: GraphQLSchema,
    fragments: dict[str, FragmentDefinitionNode],
    selection_set: SelectionSetNode,
    parent: GraphQLNamedType,
    path: tuple[str, ...],
    seen: frozenset[str] = frozenset(),
) -> Iterator[_Selected]:
    """Every field with rules under ``selection_set`` (of type ``parent``), fragments followed.

    Fields under @skip or @include are checked whatever the directive says: stricter, and the same
    answer for every value of the variables.
    """
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            if not isinstance(parent, (GraphQLObjectType, GraphQLInterfaceType)):
                continue  # a union: only __typename, which takes no argument
            field = parent.fields.get(selection.name.value)
            if field is None:
                continue  # __typename and the introspection fields
            key = (selection.alias or selection.name).value
            if rules := rules_of(field):
                yield _Selected((*path, key), selection, field, rules)
            if selection.selection_set is not None:
                child = get_named_type(field.type)
                yield from _selected(schema, fragments, selection.selection_set, child, (*path, key), seen)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            kind = schema.get_type(condition.name.value) if condition is not None else parent
            if kind is not None:
                yield from _selected(schema, fragments, selection.selection_set, kind, path, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            kind = schema.get_type(fragment.type_condition.name.value) if fragment is not None else None
            if fragment is not None and kind is not None and name not in seen:
                yield from _selected(schema, fragments, fragment.selection_set, kind, path, seen | {name})


def argument_errors(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, FragmentDefinitionNode],
    variables: VariableValues,
) -> list[GraphQLError]:
    """The rules broken by the fields ``operation`` selects, each error naming the field's path."""
    root = schema.get_root_type(operation.operation)
    if root is None:
        return []
    errors: list[GraphQLError] = []
    for selected in _selected(schema, fragments, operation.selection_set, root, ()):
        try:
            values = get_argument_values(selected.field, selected.node, variables)
        except GraphQLError:
            continue  # a value of the wrong type: execution reports it as it always has
        given = {name: values[python] for name, python in _python_names(selected.field).items() if python in values}
        for rule in selected.rules:
            if (reason := rule.refusal(given)) is not None:
                message = f"{'.'.join(selected.path)}: {reason}"
                errors.append(GraphQLError(message, nodes=selected.node, path=list(selected.path)))
    return errors


def _python_names(field: GraphQLField) -> dict[str, str]:
    """GraphQL name -> the key get_argument_values gives the argument (Strawberry's out_name)."""
    return {name: argument.out_name or name for name, argument in field.args.items()}


class CheckArguments(SchemaExtension):
    """Refuse an operation that breaks an argument rule before any of its resolvers runs."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        operation = get_operation_ast(document, context.operation_name) if document is not None else None
        if document is not None and operation is not None:
            schema = context.schema._schema
            coerced = get_variable_values(schema, operation.variable_definitions or (), context.variables or {})
            if isinstance(coerced, VariableValues):  # else execution reports the bad variables
                fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
                if errors := argument_errors(schema, operation, fragments, coerced):
                    if context.operation_type is OperationType.SUBSCRIPTION:
                        raise errors[0]  # a subscription runs unless its set-up fails
                    context.result = ExecutionResult(data=None, errors=errors)
        yield

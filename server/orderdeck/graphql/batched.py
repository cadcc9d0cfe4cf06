"""Fields read through DataLoaders, and the loads of a list made before its items are completed.

A field declared with :func:`batched_field` names its DataLoader and how to find its key on the
object. Its resolver is a plain function: it returns the value when the request's loader holds it
already, and the loader's future otherwise (graphql-core awaits it)::

    location = batched_field(Location, location_by_id, key=by("location_id"))

:class:`PrefetchLists` (part of the executor, ``graphql/execution.py``) makes "holds it already"
the rule for lists of objects, whichever query returned them. Before graphql-core completes a list,
it reads the list's selection (after fragments, ``@skip`` and ``@include``) and starts the loads of
every batched field in it for all the items at once: one batch, so one query, per loader. Then it
does the same for what those loads returned (an order page's lines, then their stock items and
levels) and for objects reached through plain attribute fields (an edge's node), level by level.
Only then are the items completed: their batched fields resolve synchronously, with no coroutine
or task per field, and the statements per page stay the same whatever its length. Nothing
depends on it for correctness: a value not loaded ahead is loaded when its field resolves.
"""

from __future__ import annotations

import asyncio
import operator
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from types import GeneratorType
from typing import Any

import strawberry
from graphql import GraphQLNonNull, GraphQLObjectType, get_named_type
from strawberry.dataloader import DataLoader
from strawberry.execution import optimized_is_awaitable
from strawberry.types.field import StrawberryField
from tortoise.models import Model

from orderdeck.graphql.context import Info, Loaders

BATCHED = "orderdeck.batched"
"""The key of a field's :class:`Batched` in its Strawberry ``metadata``."""

STRAWBERRY_FIELD = "strawberry-definition"
"""Where Strawberry keeps a GraphQL field's StrawberryField (in the field's ``extensions``)."""

Key = Callable[[Any, Loaders], Any]
"""The key of a batched field on an object: a loader key, None (the field is null, nothing to
load), or an awaitable of either (when finding the key needs a load of its own)."""


def by(attribute: str) -> Key:
    """The key held in the object's ``attribute`` (None there: the field is null)."""
    get = operator.attrgetter(attribute)
    return lambda obj, _loaders: get(obj)


_AWAITABLE: dict[type, bool] = {}
"""Whether the values of a type are awaitable, by type (``await`` looks at the type only)."""


def is_awaitable(value: Any) -> bool:
    """Whether ``value`` must be awaited: a coroutine, future or task. A Tortoise model is a value,
    though it has ``__await__`` (awaiting it gives the model itself)."""
    kind = type(value)
    known = _AWAITABLE.get(kind)
    if known is None:
        if kind is GeneratorType:  # a generator-based coroutine, or a plain generator
            return optimized_is_awaitable(value)
        known = _AWAITABLE[kind] = optimized_is_awaitable(value) and not issubclass(kind, Model)
    return known


def then(value: Any, function: Callable[[Any], Any]) -> Any:
    """``function(value)``; an awaitable of it when ``value`` is awaitable."""
    if not is_awaitable(value):
        return function(value)

    async def later() -> Any:
        return function(await value)

    return later()


@dataclass(frozen=True)
class Batched:
    """How a field's value is loaded: the DataLoader, the key on the object, and an optional shape
    of the loaded value (e.g. tag rows to their names)."""

    loader: Callable[[], DataLoader]
    key: Key
    shape: Callable[[Any], Any] | None = None

    def resolve(self, root: Any, loaders: Loaders) -> Any:
        """The field's value on ``root``, or an awaitable of it when it is not loaded yet."""
        key = self.key(root, loaders)
        if is_awaitable(key):
            return self._load_later(key, loaders)
        if key is None:
            return None
        value = loaders.load(self.loader, key)
        return value if self.shape is None else then(value, self.shape)

    def start(self, root: Any, loaders: Loaders) -> Any:
        """The loaded value for ``root`` if known, else an awaitable of it (the load started)."""
        key = self.key(root, loaders)
        if is_awaitable(key):
            return asyncio.ensure_future(self._load_later(key, loaders, shaped=False))
        return None if key is None else loaders.load(self.loader, key)

    async def _load_later(self, key: Awaitable[Any], loaders: Loaders, shaped: bool = True) -> Any:
        found = await key
        if found is None:
            return None
        value = await loaders.get(self.loader).load(found)
        return value if self.shape is None or not shaped else self.shape(value)


def batched_field(
    graphql_type: Any,
    loader: Callable[[], DataLoader],
    key: Key,
    *,
    shape: Callable[[Any], Any] | None = None,
    description: str | None = None,
) -> Any:
    """A field of ``graphql_type`` (a type, or its name as in an annotation) whose value ``loader``
    loads by ``key`` (see :class:`Batched`)."""
    batched = Batched(loader, key, shape)

    def resolve(root: Any, info: Info) -> Any:
        return batched.resolve(root, info.context.loaders)

    return strawberry.field(
        resolver=resolve, graphql_type=graphql_type, description=description, metadata={BATCHED: batched}
    )


# --- loading a list's batched fields ahead ---------------------------------------------------


@dataclass(eq=False)
class Plan:
    """What to load ahead for the objects at one place of a query: the batched fields selected
    there (each with the plan of what it returns) and the plain attribute fields leading to
    more of them."""

    loads: list[tuple[Batched, Plan | None]] = field(default_factory=list)
    follows: list[tuple[StrawberryField, Plan]] = field(default_factory=list)
    nested: bool = False
    """Reached from the plan of an enclosing list: the lists here were loaded with it."""

    @property
    def empty(self) -> bool:
        return not self.loads and not self.follows


_MISSING = object()


def _settled(value: Any) -> Any:
    """A started load's value, or _MISSING when it failed (its field will raise the error)."""
    if isinstance(value, asyncio.Future):
        if value.cancelled() or value.exception() is not None:
            return _MISSING
        return value.result()
    return value


def _objects(values: Iterable[Any]) -> list[Any]:
    """The distinct objects among field values (a list value gives its items)."""
    found: dict[int, Any] = {}
    for value in values:
        for item in value if isinstance(value, list) else (value,):
            if item is not None and item is not _MISSING:
                found[id(item)] = item
    return list(found.values())


def _start_round(
    frontier: list[tuple[Plan, list[Any]]], loaders: Loaders
) -> tuple[list[Any], list[tuple[Batched, Plan, list[Any]]]]:
    """Start every load of the plans in ``frontier`` (following attribute fields at once).
    Returns what to await, and the loads whose values have plans of their own."""
    pending: list[Any] = []
    loaded: list[tuple[Batched, Plan, list[Any]]] = []
    while frontier:
        plan, objects = frontier.pop()
        for attribute, child in plan.follows:
            values = []
            for obj in objects:
                try:
                    values.append(attribute.get_result(obj, info=None, args=[], kwargs={}))
                except Exception:  # noqa: BLE001 - the field raises it again when it resolves
                    continue
            frontier.append((child, _objects(values)))
        for batched, child in plan.loads:
            started = []
            for obj in objects:
                try:
                    value = batched.start(obj, loaders)
                except Exception:  # noqa: BLE001 - the field raises it again when it resolves
                    continue
                if isinstance(value, asyncio.Future) and not value.done():
                    pending.append(value)
                started.append(value)
            if child is not None and not child.empty:
                loaded.append((batched, child, started))
    return pending, loaded


def _next_frontier(loaded: list[tuple[Batched, Plan, list[Any]]]) -> list[tuple[Plan, list[Any]]]:
    frontier = []
    for batched, child, started in loaded:
        values = [_settled(v) for v in started]
        if batched.shape is not None:
            values = [batched.shape(v) for v in values if v is not _MISSING]
        frontier.append((child, _objects(values)))
    return frontier


def prefetch(plan: Plan, objects: list[Any], loaders: Loaders) -> Awaitable[None] | None:
    """Load ``plan`` for ``objects``, level by level; None when all of it was loaded already."""
    frontier = [(plan, objects)]
    while frontier:
        pending, loaded = _start_round(frontier, loaders)
        if pending:
            return _finish(pending, loaded, loaders)
        frontier = _next_frontier(loaded)
    return None


async def _finish(pending: list[Any], loaded: list[tuple[Batched, Plan, list[Any]]], loaders: Loaders) -> None:
    while True:
        # One after the other: a loader settles all the futures of its batch at once, so most are
        # done when their turn comes (gather would wrap and watch every one of them).
        for future in pending:
            if not future.done():
                try:
                    await future
                except Exception:  # noqa: BLE001 - it stays in the loader's future: the field raises it
                    pass
        pending, loaded = _start_round(_next_frontier(loaded), loaders)
        if not pending and not loaded:
            return


class PrefetchLists:
    """Executor mixin: load a list's batched fields ahead, for all its items at once (see the
    module's docstring)."""

    _prefetch_plans: dict[tuple[GraphQLObjectType, int], tuple[Any, Plan]] | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        executor = super().build_per_event_executor(payload)  # type: ignore[misc]
        if isinstance(executor, PrefetchLists):
            executor._prefetch_plans = None  # plans are keyed by lists of the event's own execution
        return executor

    def complete_iterable_value(
        self,
        item_type: Any,
        field_details_list: Any,
        info: Any,
        path: Any,
        items: Iterable[Any],
        position_context: Any,
    ) -> Any:
        complete = super().complete_iterable_value  # type: ignore[misc]
        named = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        loaders = getattr(self.context_value, "loaders", None)  # type: ignore[attr-defined]
        if not isinstance(named, GraphQLObjectType) or not isinstance(loaders, Loaders):
            return complete(item_type, field_details_list, info, path, items, position_context)
        plan = self._plan(named, field_details_list)
        if plan.nested or plan.empty:
            return complete(item_type, field_details_list, info, path, items, position_context)
        items = list(items)
        loading = prefetch(plan, items, loaders)
        if loading is None:
            return complete(item_type, field_details_list, info, path, items, position_context)

        async def completed() -> Any:
            await loading
            result = complete(item_type, field_details_list, info, path, items, position_context)
            return await result if is_awaitable(result) else result

        return completed()

    def _plan(self, object_type: GraphQLObjectType, field_details_list: Any) -> Plan:
        """The plan for the objects of ``object_type`` selected by ``field_details_list`` (made once
        per place in the query, like graphql-core's memo of collected sub-fields)."""
        plans = self._prefetch_plans
        if plans is None:
            plans = self._prefetch_plans = {}
        memo = (object_type, id(field_details_list))
        known = plans.get(memo)
        if known is not None:
            return known[1]
        plan = Plan()
        plans[memo] = (field_details_list, plan)  # the list kept alive, so that its id stays its own
        grouped_field_set = self.collect_subfields(object_type, field_details_list)[0]  # type: ignore[attr-defined]
        for details in grouped_field_set.values():
            field_def = self.schema.get_field(object_type, details[0].node.name.value)  # type: ignore[attr-defined]
            definition = field_def.extensions.get(STRAWBERRY_FIELD) if field_def is not None else None
            if not isinstance(definition, StrawberryField):
                continue
            batched = definition.metadata.get(BATCHED)
            if not isinstance(batched, Batched) and not definition.is_basic_field:
                continue  # a resolver of its own: what it returns is planned when it is completed
            named = get_named_type(field_def.type)
            child = self._plan(named, details) if isinstance(named, GraphQLObjectType) else None
            if child is not None:
                child.nested = True
            if isinstance(batched, Batched):
                plan.loads.append((batched, child))
            elif child is not None and not child.empty:
                plan.follows.append((definition, child))
        return plan

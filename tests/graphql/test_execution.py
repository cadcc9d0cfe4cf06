"""orderdeck's executor (graphql.execution) answers exactly as Strawberry's own does: same data, same
errors at the same paths. It loads a list's batched fields ahead, one batch per loader and level,
and resolves them without a task per field. No database: the objects and loaders live in memory."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any

import strawberry
from strawberry.dataloader import DataLoader

from orderdeck.graphql.batched import batched_field, by, is_awaitable
from orderdeck.graphql.context import Context
from orderdeck.graphql.direct import use_direct_resolvers
from orderdeck.graphql.execution import Executor
from orderdeck.models import Location

THINGS = {
    n: SimpleNamespace(id=n, name=f"thing {n}" if n != 4 else None, count=n, parent_id=n // 2 or None)
    for n in range(1, 8)
}
BATCHES: list[tuple[str, list[int]]] = []


def parent_by_id() -> DataLoader[int, Any]:
    async def load(keys: list[int]) -> list[Any]:
        BATCHES.append(("parent", sorted(keys)))
        return [THINGS.get(k) for k in keys]

    return DataLoader(load_fn=load)


def children_by_id() -> DataLoader[int, list[Any]]:
    async def load(keys: list[int]) -> list[Any]:
        BATCHES.append(("children", sorted(keys)))
        if 3 in keys:
            raise RuntimeError("children unavailable")
        return [[t for t in THINGS.values() if t.parent_id == k] for k in keys]

    return DataLoader(load_fn=load)


@strawberry.type
class Thing:
    name: str
    count: int

    @strawberry.field
    def double(self) -> int:
        return self.count * 2

    @strawberry.field
    def broken(self) -> str | None:
        raise ValueError("broken on purpose")

    parent = batched_field("Thing | None", parent_by_id, key=by("parent_id"))
    children = batched_field("list[Thing]", children_by_id, key=by("id"))


@strawberry.type
class Query:
    @strawberry.field
    def things(self, ids: list[int]) -> list[Thing | None]:
        return [THINGS.get(n) for n in ids]  # type: ignore[misc]


def _schemas() -> tuple[strawberry.Schema, strawberry.Schema]:
    ours = strawberry.Schema(Query, execution_context_class=Executor)
    use_direct_resolvers(ours)
    return strawberry.Schema(Query), ours


async def _run(schema: strawberry.Schema, query: str) -> tuple[Any, list[tuple[str, Any]], int, list[Any]]:
    BATCHES.clear()
    loop = asyncio.get_running_loop()
    tasks = 0

    def count_tasks(loop: Any, coro: Any, **kwargs: Any) -> asyncio.Task:
        nonlocal tasks
        tasks += 1
        return asyncio.Task(coro, loop=loop, **kwargs)

    loop.set_task_factory(count_tasks)
    try:
        context = Context(token=None, actor=None, permissions=frozenset())
        result = await schema.execute(query, context_value=context)
    finally:
        loop.set_task_factory(None)
    errors = sorted((e.message, e.path) for e in result.errors or [])
    return result.data, errors, tasks, sorted(BATCHES)


QUERIES = [
    "{ things(ids: [1, 2, 3, 5, 6, 7]) { name count double parent { name parent { count } } } }",
    "{ things(ids: [1, 2, 3, 4, 5]) { count name } }",  # null in a non-null field: the item is null
    "{ things(ids: [1, 2]) { count broken children { count children { count parent { count } } } } }",
    "{ things(ids: [2, 3, 5]) { count children { count } } }",  # a loader that fails for one batch
    "{ things(ids: [1, 99]) { ... on Thing { count parent @skip(if: true) { count } } } }",
]


async def test_the_executor_answers_as_strawberry_does() -> None:
    reference, ours = _schemas()
    for query in QUERIES:
        expected = await _run(reference, query)
        found = await _run(ours, query)
        assert found[:2] == expected[:2], query
        assert found[3] == expected[3], query  # the same batches of keys, so the same queries


async def test_lists_load_ahead_without_a_task_per_field() -> None:
    reference, ours = _schemas()
    query = QUERIES[0]
    _, _, reference_tasks, _ = await _run(reference, query)
    data, errors, tasks, batches = await _run(ours, query)
    assert not errors and len(data["things"]) == 6
    assert batches == [("parent", [1, 2, 3])]
    assert tasks <= 3 < reference_tasks, (tasks, reference_tasks)


def test_a_model_is_a_value_not_an_awaitable() -> None:
    location = Location(name="Main")
    assert hasattr(location, "__await__") and not is_awaitable(location)
    coroutine = asyncio.sleep(0)
    assert is_awaitable(coroutine)
    coroutine.close()
    assert not is_awaitable("text") and not is_awaitable(None)

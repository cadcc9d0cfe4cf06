"""orderdeck's GraphQL executor: Strawberry's, with the changes below (each in its own module)."""

from __future__ import annotations

from typing import Any

from orderdeck.graphql.batched import PrefetchLists, is_awaitable
from orderdeck.graphql.direct import DirectLeaves
from orderdeck.graphql.live.execution import EventExecutor


class Executor(DirectLeaves, PrefetchLists, EventExecutor):
    """Strawberry's executor, where

    - a Tortoise model is a value, not an awaitable (it has ``__await__``, which gives the model
      itself): graphql-core would wrap every model a field returns, and every model in a list, in a
      coroutine and gather them as tasks, about 1,300 of them for a page of 100 orders;
    - the batched fields of lists are loaded ahead, for all the items at once (graphql.batched);
    - scalars and enums read from the object are resolved without building an info for each
      (graphql.direct);
    - a subscription event is executed once for all its subscribers (graphql.live.execution).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.is_awaitable = is_awaitable  # type: ignore[assignment]

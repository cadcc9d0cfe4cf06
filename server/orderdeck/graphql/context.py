"""The per-request GraphQL context: who is calling, what they may do, and the DataLoaders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from strawberry.dataloader import DataLoader
from strawberry.types import Info as _Info

from orderdeck.models import ApiToken
from orderdeck.services.auth import Permission
from orderdeck.services.context import Actor

L = TypeVar("L", bound=DataLoader)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class Loaders:
    """DataLoaders of one request, each created on first use from its factory function.

    Areas declare loaders as module-level factories (``def location_by_id() -> DataLoader``) and
    use them as ``info.context.loaders.get(location_by_id).load(key)``.
    """

    def __init__(self) -> None:
        self._loaders: dict[Callable[[], DataLoader], DataLoader] = {}

    def get(self, factory: Callable[[], L]) -> L:
        """The request's loader made by ``factory``."""
        loader = self._loaders.get(factory)
        if loader is None:
            loader = self._loaders[factory] = factory()
        return loader  # type: ignore[return-value]

    def load(self, factory: Callable[[], DataLoader[K, V]], key: K) -> V | Awaitable[V]:
        """The value of ``key`` if the request's loader made by ``factory`` has it already (its
        error is raised), else the loader's future: a resolver returning this costs no coroutine
        when the value is known (graphql-core awaits what is awaitable)."""
        loader = self.get(factory)
        future = loader.cache_map.get(key) if loader.cache else None
        if future is not None and future.done() and not future.cancelled():
            return future.result()
        return loader.load(key)


@dataclass
class Context:
    """What every resolver can reach as ``info.context``."""

    token: ApiToken | None
    actor: Actor | None
    permissions: frozenset[Permission]
    request: Any = None
    response: Any = None
    loaders: Loaders = field(default_factory=Loaders)
    connection_params: dict[str, Any] | None = None
    """The ``connection_init`` payload of a websocket (where its token is)."""
    deadline: Any = None
    """The time limit of an HTTP request (graphql.limits.Deadline), started when a query executes."""


Info = _Info[Context, None]

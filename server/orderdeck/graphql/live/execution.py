"""Subscription events executed and encoded once for every subscriber with the same subscription.

Each event the hub reads is converted once to its payload object (``events.Published.view``), the
same object for every subscriber. graphql-core would then execute the subscription's selection set
on it once per subscriber, and each result would be JSON-encoded once per socket: with 500
subscribers that is 500 identical executions and encodings of every event, most of the API's CPU
(bench/README.md, bench_live_latency.py). Here:

- :class:`EventExecutor` executes an event once per distinct (operation, variables) and hands the same
  result to every subscriber of that subscription. That is sound because a payload's fields are
  plain values of the event: they read nothing of the subscriber's (no context, no per-field
  permission), so the result depends only on the event, the operation and its variables. The
  payload types say so by carrying an ``executions`` field (:data:`Executions`); any other root
  value (an ``EventsMissed``, made per subscriber) is executed as usual, and so is any result with
  errors.
- The shared result's ``data`` is a :class:`SharedData`, which encodes itself to JSON once;
  :func:`encode_message` splices it into each socket's ``next`` message.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import strawberry
from strawberry.extensions import MaskErrors as _MaskErrors
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

Executions = strawberry.Private[dict[Any, Any]]
"""The type of a payload's ``executions`` field: its results, by subscription (see EventExecutor)."""


def executions() -> Any:
    """The default of a payload type's ``executions`` field (not part of the schema)."""
    return dataclasses.field(default_factory=dict, compare=False, repr=False)


class SharedData(dict[str, Any]):
    """A subscription result's ``data``, shared by every subscriber that gets it; JSON once."""

    _json: str | None = None

    @property
    def json(self) -> str:
        if self._json is None:
            self._json = json.dumps(self, separators=(",", ":"))
        return self._json


class EventExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's executor: each subscription event with a memo of its own, executed once per
    distinct (operation, variables) for all the subscribers of a shared payload.

    graphql-core 3.3 runs each event on a shallow copy of the subscription's executor, sharing its
    memo of collected sub-fields, keyed by the identity of lists made anew for each event: the memo
    would grow by an entry (about 1.5 KB) per event for as long as the subscription lives.
    """

    _event_results: dict[Any, Any] | None = None
    _subscription_key: tuple[Any, ...] | None = None

    def build_per_event_executor(self, payload: Any) -> Any:
        shared = getattr(payload, "executions", None)
        key = self._key() if isinstance(shared, dict) else None
        known = shared.get(key) if key is not None else None
        if known is not None and known[0] is self.operation:  # (the id of a live operation)
            return _Executed(known[1])
        executor = super().build_per_event_executor(payload)
        executor._relevant_sub_fields = {}
        if key is not None:
            executor._event_results, executor._subscription_key = shared, key
        return executor

    def _key(self) -> tuple[Any, ...]:
        """What the execution of an event depends on besides the event: the operation, and the
        variables (their values can select fields through @include/@skip)."""
        if self._subscription_key is None:
            variables = json.dumps(self.variable_values, sort_keys=True, separators=(",", ":"), default=repr)
            self._subscription_key = (id(self.operation), variables)
        return self._subscription_key

    def execute_operation(self, serially: bool | None = None) -> Any:
        result = super().execute_operation(serially)
        shared, key = self._event_results, self._subscription_key
        if shared is None or key is None or self.is_awaitable(result) or result.errors or result.data is None:
            return result  # not shared: anything but a plain, complete answer is executed per subscriber
        result.data = SharedData(result.data)
        shared[key] = (self.operation, result)
        return result


class _Executed:
    """An event's executor when the event was already executed for the same subscription."""

    def __init__(self, result: Any) -> None:
        self.result = result

    def execute_operation(self, serially: bool | None = None) -> Any:
        return self.result


class MaskErrors(_MaskErrors):
    """Strawberry's MaskErrors, without an ``isinstance`` check against a runtime Protocol for
    every result: that check alone was about 8% of the API's CPU while delivering events."""

    def _process_result(self, result: object) -> None:
        errors = getattr(result, "errors", None)
        if errors:
            result.errors = self._process_errors(errors)  # type: ignore[attr-defined]


def encode_message(message: object) -> str | None:
    """A graphql-transport-ws ``next`` message whose payload is only a shared result's data, as
    JSON, without encoding the data again (None: any other message, encoded as usual)."""
    if not isinstance(message, dict) or message.get("type") != "next" or len(message) != 3:
        return None
    payload = message.get("payload")
    if not isinstance(payload, dict) or len(payload) != 1 or type(payload.get("data")) is not SharedData:
        return None
    return f'{{"id":{json.dumps(message["id"])},"type":"next","payload":{{"data":{payload["data"].json}}}}}'

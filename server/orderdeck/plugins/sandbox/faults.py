"""Faults a sandbox injects into its emulated API: the next requests fail as a partner's do.

    faults = FaultQueue()
    faults.append(Fault("rate_limit", count=2, retry_after=5))   # the next two requests get a 429
    faults.append(Fault("server_error", status=503, after=3))    # then, 3 requests later, one 503
    fault = faults.take()                                        # once per API request

Kinds (``FAULT_KINDS``): ``rate_limit`` (429 with Retry-After: ``retry_after`` seconds),
``server_error`` (``status``, default 500), ``delay`` (the answer comes ``seconds`` later, and is
otherwise normal), ``malformed`` (200 with a body that is not JSON, as a proxy's error page or a
cut-off answer), ``disconnect`` (the status line and headers are sent, then the connection is
closed mid-body: a dropped connection). A refused connection is a closed port: point the client at
one. Each fault applies to ``count`` requests, once ``after`` more requests have been answered;
faults wait their turn in the order they were added.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

FAULT_KINDS = ("rate_limit", "server_error", "delay", "malformed", "disconnect")
"""The kinds of fault every sandbox offers (an emulator may add its own: ``Emulator.own_fault``)."""


@dataclass
class Fault:
    """A fault for the next ``count`` API requests, starting after ``after`` more are answered."""

    kind: str
    count: int = 1
    after: int = 0
    retry_after: float = 1.0
    """rate_limit: the Retry-After header, in seconds."""
    status: int = 500
    """server_error: the HTTP status."""
    seconds: float = 1.0
    """delay: how much later the answer comes."""

    @classmethod
    def from_json(cls, body: dict[str, Any], kinds: tuple[str, ...] = FAULT_KINDS) -> Fault:
        """A fault from the control API's JSON (``{"kind", "count"?, "after"?, ...}``), of one of
        ``kinds`` (an emulator's ``own_fault`` may accept more); ValueError says what is wrong."""
        kind = body.get("kind")
        if kind not in kinds:
            raise ValueError(f"unknown fault kind {kind!r}; one of {', '.join(kinds)}")
        try:
            fault = cls(kind=kind, count=int(body.get("count", 1)), after=int(body.get("after", 0)),
                        retry_after=float(body.get("retry_after", 1)), status=int(body.get("status", 500)),
                        seconds=float(body.get("seconds", 1)))  # fmt: skip
        except (TypeError, ValueError) as exc:
            raise ValueError(f"invalid fault: {exc}") from None
        if fault.count < 0 or fault.after < 0 or fault.retry_after < 0 or fault.seconds < 0:
            raise ValueError("count, after, retry_after and seconds must not be negative")
        if not 100 <= fault.status <= 599:
            raise ValueError(f"status {fault.status} is not an HTTP status")
        return fault

    def as_json(self) -> dict[str, Any]:
        """The fault as the control API shows it."""
        return asdict(self)


class FaultQueue:
    """The faults waiting for the next API requests, in the order they were added."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []

    def append(self, fault: Fault) -> None:
        """Queue ``fault`` behind those already waiting."""
        self._faults.append(fault)

    def clear(self) -> None:
        """Forget every waiting fault (the partner is well again)."""
        self._faults.clear()

    def take(self) -> Fault | None:
        """The fault for the API request being answered now, if any (call once per request)."""
        while self._faults:
            fault = self._faults[0]
            if fault.count <= 0:
                self._faults.pop(0)
                continue
            if fault.after > 0:
                fault.after -= 1
                return None
            fault.count -= 1
            if fault.count <= 0:
                self._faults.pop(0)
            return fault
        return None

    def as_json(self) -> list[dict[str, Any]]:
        """The waiting faults, as the control API shows them."""
        return [fault.as_json() for fault in self._faults]

    def __iter__(self) -> Iterator[Fault]:
        return iter(list(self._faults))

    def __len__(self) -> int:
        return len(self._faults)


class DroppedConnection(Response):
    """An answer that sends its status line and headers, part of the body it announces, and then
    ends without finishing it: the server closes the connection and the client sees a dropped
    connection (httpx: RemoteProtocolError). The server logs the unfinished answer. Its
    ``status_code`` is 0, as the request log records a request with no complete answer."""

    def __init__(self) -> None:
        super().__init__(media_type="application/json")
        self.status_code = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", b"4096")]})  # fmt: skip
        await send({"type": "http.response.body", "body": b'{"partial": ', "more_body": True})

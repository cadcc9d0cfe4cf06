"""The request log of a sandbox: every API request it received, for tests to read back.

    entry = log.record(request)     # on arrival: {"method", "path", "query", "status": 0, "at"}
    entry["status"] = 200           # once answered (0 while in flight, or when no answer was sent)
    [e["path"] for e in log]        # what the client asked, in order
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from starlette.requests import Request

LoggedRequest = dict[str, Any]
"""One entry: method, path, query (the raw query string), status (0 until answered) and at (the
arrival time, seconds since the epoch)."""


class RequestLog:
    """The API requests a sandbox received, oldest first (control requests are not logged)."""

    def __init__(self) -> None:
        self._entries: list[LoggedRequest] = []

    def record(self, request: Request) -> LoggedRequest:
        """Log ``request`` on arrival; set the entry's ``status`` once it is answered."""
        return self.add(request.method, request.url.path, request.url.query)

    def add(self, method: str, path: str, query: str = "") -> LoggedRequest:
        """Log a request that is not HTTP (an FTP command: method ``STOR``, path its argument);
        set the entry's ``status`` once it is answered."""
        entry: LoggedRequest = {"method": method, "path": path, "query": query, "at": time.time(), "status": 0}
        self._entries.append(entry)
        return entry

    def clear(self) -> None:
        """Forget every logged request."""
        self._entries.clear()

    def as_json(self) -> list[LoggedRequest]:
        """The log as the control API shows it."""
        return list(self._entries)

    def __iter__(self) -> Iterator[LoggedRequest]:
        return iter(list(self._entries))

    def __len__(self) -> int:
        return len(self._entries)

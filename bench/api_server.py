"""orderdeck's API for a benchmark: ``create_app`` under uvicorn on a free loopback port.

    ORDERDECK_DATABASE_URL=postgres://... python bench/api_server.py CAPTURE_DIR

Binds 127.0.0.1 port 0, prints ``{"port": N}`` on stdout, then serves as ``orderdeck serve``
does (one process, settings from the environment, the embedded jobs, no per-message deflate)
until SIGTERM. Start it with ``common.api_server``. Migrations are the caller's job.

A request carrying the header ``x-bench-capture: NAME`` has the SQL it sent (and no other's)
recorded with the parameters to ``CAPTURE_DIR/NAME.pickle`` (a list of ``(sql, params)``; see
``common.capture_sql``) before its answer is sent, so the benchmark can EXPLAIN it.
"""

from __future__ import annotations

import json
import os
import pickle
import socket
from contextvars import ContextVar
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import capture_sql  # noqa: E402

import uvicorn  # noqa: E402

from orderdeck.app import create_app  # noqa: E402

CAPTURE_HEADER = b"x-bench-capture"
CAPTURING: ContextVar[bool] = ContextVar("bench_capturing", default=False)


class CaptureSQL:
    """ASGI middleware: record the SQL of requests that ask for it (see the module docstring)."""

    def __init__(self, app: Any, directory: Path) -> None:
        self.app = app
        self.directory = directory

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        name = dict(scope.get("headers") or []).get(CAPTURE_HEADER) if scope["type"] == "http" else None
        if not name:
            await self.app(scope, receive, send)
            return
        target = self.directory / f"{os.path.basename(name.decode())}.pickle"

        # Only this request's statements: tasks it starts (DataLoaders) inherit the context
        # variable, the embedded jobs' tasks do not.
        token = CAPTURING.set(True)
        with capture_sql(CAPTURING.get) as records:

            async def send_after_writing(message: dict) -> None:
                # Write the file before the end of the body reaches the client.
                if message["type"] == "http.response.body" and not message.get("more_body"):
                    partial = target.with_suffix(".part")
                    partial.write_bytes(pickle.dumps(list(records)))
                    partial.rename(target)
                await send(message)

            try:
                await self.app(scope, receive, send_after_writing)
            finally:
                CAPTURING.reset(token)


def main(capture_dir: str) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    print(json.dumps({"port": sock.getsockname()[1]}), flush=True)
    app = CaptureSQL(create_app(), Path(capture_dir))
    config = uvicorn.Config(app, log_level="warning", ws_per_message_deflate=False, timeout_graceful_shutdown=5)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(sys.argv[1])

"""Serving a sandbox app on loopback for a test, over real HTTP.

    with serve(create_app(seed_orders=5)) as running:
        httpx.get(f"{running.url}/__sandbox/state")

uvicorn runs in a background thread with its own event loop, on a socket bound to a free loopback
port before it starts (no race for the port); ``serve`` waits for ``server.started`` and shuts the
server down on exit. The app's lifespan runs, as under ``orderdeck sandbox``: a sandbox that serves
more than HTTP (an FTP server) starts it there, before ``serve`` returns.

With ``certificate`` (a PEM file holding a certificate and its key, e.g. from
``orderdeck.plugins.sandbox.ftp.self_signed_certificate``) the app is served over HTTPS: the
client trusts that certificate (PEM text) instead of turning certificate checks off.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn


@dataclass
class RunningApp:
    """An app being served: its base URL and the app itself (for its state)."""

    url: str
    app: Any
    server: uvicorn.Server


@contextmanager
def serve(app: Any, host: str = "127.0.0.1", startup_timeout: float = 10.0,
          certificate: Path | None = None) -> Iterator[RunningApp]:  # fmt: skip
    """Serve ``app`` with uvicorn on a free port of ``host`` until the block ends (over HTTPS with
    ``certificate``: see the module docstring)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on",
                            timeout_graceful_shutdown=5, ssl_certfile=certificate)  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + startup_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"uvicorn did not start on {host}:{port}")
        time.sleep(0.01)
    try:
        yield RunningApp(f"{'https' if certificate else 'http'}://{host}:{port}", app, server)
    finally:
        server.should_exit = True
        thread.join(timeout=15)
        sock.close()

"""Helpers for tests that run orderdeck as a real process."""

from __future__ import annotations

import itertools
import os
import random
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

ORDERDECK = [sys.executable, "-m", "orderdeck.cli"]


PORTS_PER_PROCESS = 500
"""Each test process's own block of ports, below the kernel's ephemeral range (32768-60999 on
Linux), where bind(0) and outgoing connections never land."""
_port_block = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % 25
_next_ports = itertools.cycle(
    range(20_000 + _port_block * PORTS_PER_PROCESS, 20_000 + (_port_block + 1) * PORTS_PER_PROCESS)
)
for _ in range(random.randrange(PORTS_PER_PROCESS)):  # apart from another run's worker of the same number
    next(_next_ports)


def free_port() -> int:
    """A TCP port free on loopback right now, for a server the test starts (often in another process,
    which binds it a moment later).

    A port the kernel picks (bind to port 0) could be taken meanwhile by another xdist worker's
    server, or by any outgoing connection. This one comes from the test process's own block
    (PYTEST_XDIST_WORKER gw<n>: block n), which nothing else hands out, and is checked free."""
    for _ in range(PORTS_PER_PROCESS):
        port = next(_next_ports)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:  # in use (or lingering after a test's server stopped)
                continue
            return port
    raise RuntimeError(f"no free port left in this test process's block of {PORTS_PER_PROCESS}")


@dataclass
class Server:
    """A running `orderdeck serve`, its output going to a log file (never a pipe that could fill)."""

    process: subprocess.Popen
    log: Path
    url: str


def start_server(env: dict[str, str], cwd: Path, port: int) -> Server:
    """Start `orderdeck serve` and wait until it is ready."""
    log = cwd / f"serve-{port}-{time.monotonic_ns()}.log"
    with log.open("w") as out:
        proc = subprocess.Popen([*ORDERDECK, "serve", "--port", str(port)], env=env, cwd=cwd,
                                stdout=out, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200:
                return Server(proc, log, f"http://127.0.0.1:{port}")
        except httpx.HTTPError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {log.read_text()}")
    proc.kill()
    raise AssertionError(f"serve did not become ready in 60 s: {log.read_text()}")


def stop(server: Server) -> str:
    """Stop the server; return everything it printed."""
    server.process.terminate()
    server.process.wait(timeout=30)
    return server.log.read_text()


CHROMIUM = Path(os.environ.get("ORDERDECK_TEST_CHROMIUM", "/usr/bin/chromium"))
"""The browser the browser tests drive: Debian's Chromium (never one Playwright downloads)."""
CHROMIUM_ARGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
NO_CHROMIUM = (
    f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium, or set ORDERDECK_TEST_CHROMIUM); "
    "skipped, and a failure under CI=true"
)


def require_chromium() -> None:
    """Skip a browser test when Chromium is missing (with the reason in the summary: pytest -rs is
    the project's default), or fail it under CI=true, where it must run."""
    if CHROMIUM.exists():
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(NO_CHROMIUM, pytrace=False)
    pytest.skip(NO_CHROMIUM)

"""Helpers for the plugin tests:

- ``serve``: an ASGI app (a channel sandbox) on loopback, over real HTTP (the toolkit's
  ``orderdeck.plugins.sandbox.serving``, which the tests import from here);
- ``install_plugins``: plugins written as real distributions (a package and its ``*.dist-info``
  with the entry point) into a folder, found by importlib.metadata once it is on sys.path;
- ``sandbox_command``: ``orderdeck sandbox NAME`` run as a process, once it answers.

    with serve(create_app(seed_orders=5)) as running:
        httpx.get(f"{running.url}/__sandbox/state")
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from orderdeck.plugins.sandbox.serving import RunningApp, serve
from tests.support import free_port

__all__ = ["RunningApp", "RunningSandbox", "install_plugins", "sandbox_command", "serve"]


def install_plugins(folder: Path, sources: Mapping[str, str]) -> None:
    """Write each plugin (entry-point name: its module's source) into ``folder`` as a package
    ``orderdeck_test_<name>`` with a dist-info naming its entry point, as pip would install it."""
    for name, source in sources.items():
        package = folder / f"orderdeck_test_{name}"
        package.mkdir()
        (package / "__init__.py").write_text(source)
        info = folder / f"orderdeck_test_{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: orderdeck-test-{name}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[orderdeck]\n{name} = orderdeck_test_{name}\n")


@dataclass
class RunningSandbox:
    """A sandbox served by ``orderdeck sandbox``: its port, its first state and its console log."""

    port: int
    state: Any
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def sandbox_command(name: str, *options: str, log: Path, env: Mapping[str, str] | None = None) -> Iterator[RunningSandbox]:
    """Run ``orderdeck sandbox NAME --port P *options`` until the block ends, once its control API
    answers (its state read then); the command's output goes to ``log``."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "orderdeck.cli", "sandbox", name, "--port", str(port),
                                    *options], stdout=out, stderr=subprocess.STDOUT,
                                   env=dict(env if env is not None else os.environ))  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/__sandbox/state", timeout=1).json()
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield RunningSandbox(port, state, log)
    finally:
        process.terminate()
        process.wait(timeout=15)

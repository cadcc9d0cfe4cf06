"""Serving an ASGI app (a channel sandbox) on loopback for a test, over real HTTP: the toolkit's
``orderdeck.plugins.sandbox.serving``, which the tests import from here.

    with serve(create_app(seed_orders=5)) as running:
        httpx.get(f"{running.url}/__sandbox/state")
"""

from __future__ import annotations

from orderdeck.plugins.sandbox.serving import RunningApp, serve

__all__ = ["RunningApp", "serve"]

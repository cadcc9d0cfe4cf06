"""Job test fixtures: the in-process worker on the test's event loop, and WooCommerce sandbox
shops served over real HTTP."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

from tests.plugins.support import RunningApp, serve

# Fast retries for tests (read when orderdeck.jobs.broker builds the broker, at first import).
os.environ.setdefault("ORDERDECK_JOB_MIN_BACKOFF_MS", "50")
os.environ.setdefault("ORDERDECK_JOB_MAX_BACKOFF_MS", "200")
os.environ.setdefault("ORDERDECK_JOB_MAX_RETRIES", "2")


@pytest.fixture
async def jobs(database: str) -> AsyncIterator["InProcessJobs"]:  # noqa: F821
    """The in-process worker (no scheduler: tests tick it themselves), sending jobs on wake-ups."""
    from orderdeck.jobs.embedded import InProcessJobs

    running = InProcessJobs(worker_threads=4, scheduler_interval=None)
    await running.start()
    try:
        yield running
    finally:
        await running.drain()
        await running.stop()


def shop_app(skus: list[str], key: str, secret: str, seed: int):
    from orderdeck_woocommerce.sandbox import create_app

    return create_app(skus=skus, key=key, secret=secret, seed=seed)


@pytest.fixture
def shop_a() -> Iterator[RunningApp]:
    with serve(shop_app(["MUG", "CUP"], "ck_a", "cs_a", 1)) as running:
        yield running


@pytest.fixture
def shop_b() -> Iterator[RunningApp]:
    with serve(shop_app(["MUG", "CUP"], "ck_b", "cs_b", 2)) as running:
        yield running

"""Test fixtures: every storage test runs on SQLite and on PostgreSQL.

Each backend is a throwaway database built from the migrations alone (PostgreSQL: a database named
orderdeck_test_<pid>, dropped at the end; SQLite: a file in a temporary folder). Tests are grouped by
backend. Between tests every table is emptied and the default location recreated.

Also here, for the job tests and the GraphQL tests of channel work: the in-process worker on the
test's event loop (``jobs``) and WooCommerce sandbox shops served over real HTTP (``shop_a``,
``shop_b``).

Environment:
- ORDERDECK_TEST_BACKENDS: comma list of backends to run, default "sqlite,postgres".
- ORDERDECK_TEST_POSTGRES: server URL, default postgres://postgres@127.0.0.1:5432.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import pytest
from tortoise.backends.base.executor import EXECUTOR_CACHE

from orderdeck import db
from orderdeck.models import ActorKind
from orderdeck.services.context import Actor
from orderdeck.services.locations import ensure_default_location
from tests.plugins.support import RunningApp, serve

if TYPE_CHECKING:
    from orderdeck.jobs.embedded import InProcessJobs

pytest_plugins = ["tests.graphql.fixtures"]  # the GraphQL client fixtures, for any test

# Channel secrets are encrypted with this key in tests (the real key comes from the environment).
os.environ.setdefault("ORDERDECK_SECRET_KEY", "orderdeck-test-suite-secret-key-0123456789")
# Fast retries for tests (read when orderdeck.jobs.broker builds the broker, at first import).
os.environ.setdefault("ORDERDECK_JOB_MIN_BACKOFF_MS", "50")
os.environ.setdefault("ORDERDECK_JOB_MAX_BACKOFF_MS", "200")
os.environ.setdefault("ORDERDECK_JOB_MAX_RETRIES", "2")
# Test clients send far more requests per token than a person would; the rate limit has its own
# tests (tests/graphql/test_limits.py), which set it explicitly.
os.environ.setdefault("ORDERDECK_RATE_LIMIT_PER_MINUTE", "0")
# Short backoffs for listings and dispatch notes the channel could not take (read at first use).
os.environ.setdefault("ORDERDECK_RETRY_MIN_BACKOFF_SECONDS", "0.2")
os.environ.setdefault("ORDERDECK_RETRY_MAX_BACKOFF_SECONDS", "2")

POSTGRES = os.environ.get("ORDERDECK_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
BACKENDS = [b.strip() for b in os.environ.get("ORDERDECK_TEST_BACKENDS", "sqlite,postgres").split(",") if b.strip()]

TABLES = [
    "audit_entry", "stock_ledger", "order_return_item", "order_return", "dispatch", "order_tag",
    "order_note", "order_property", "order_item", "deleted_order", "orders", "sync_issue", "sync_run",
    "failed_job", "listing", "run_claim", "channel_stock_location", "channel", "stock_level", "stock_item",
    "location", "api_token", "counter", "event", "allocation",
]  # fmt: skip


async def create_postgres_database(name: str) -> str:
    """Create an empty PostgreSQL database and return its URL."""
    conn = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return f"{POSTGRES}/{name}"


async def drop_postgres_database(name: str) -> None:
    """Drop a database made by create_postgres_database."""
    conn = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest.fixture(params=BACKENDS)
async def database_env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[dict[str, str]]:
    """Environment for an orderdeck process on a fresh, empty database of each backend (not migrated)."""
    name = f"orderdeck_env_{uuid.uuid4().hex[:8]}"
    if request.param == "postgres":
        url = await create_postgres_database(name)
    else:
        url = f"sqlite://{tmp_path / 'orderdeck.sqlite3'}"
    yield {**os.environ, "ORDERDECK_DATABASE_URL": url}
    if request.param == "postgres":
        await drop_postgres_database(name)


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    """A migrated throwaway database of one backend, open for the whole session."""
    backend = request.param
    if backend == "postgres":
        name = f"orderdeck_test_{os.getpid()}"
        url = await create_postgres_database(name)
        url_with_pool = f"{url}?minsize=1&maxsize=30"
    else:
        url = url_with_pool = f"sqlite://{tmp_path_factory.mktemp('sqlite') / 'orderdeck.sqlite3'}"
    await db.migrate(url)
    await db.init_db(url_with_pool)
    try:
        yield url
    finally:
        await db.close_db()
        # Tortoise caches compiled INSERT/UPDATE SQL per table, not per dialect: the next backend
        # must not reuse this one's placeholders.
        EXECUTOR_CACHE.clear()
        if backend == "postgres":
            await drop_postgres_database(name)


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[str]:
    """An empty database (but for the default location); yields the backend name."""
    yield "postgres" if database_url.startswith("postgres") else "sqlite"
    conn = db.connection()
    if db.dialect() == "postgres":
        await conn.execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    else:
        # Resends reference their original order (RESTRICT): unlink them so orders can be emptied.
        await conn.execute_script("UPDATE orders SET original_order_id = NULL")
        for table in TABLES:
            await conn.execute_script(f"DELETE FROM {table}")


@pytest.fixture
async def default_location(database: str):
    """The default location (created as on first start)."""
    return await ensure_default_location()


@pytest.fixture
def actor() -> Actor:
    """A user making changes in tests."""
    return Actor("tester", ActorKind.USER)


@pytest.fixture
def postgres_only(database: str) -> None:
    """Skip on SQLite: for tests of row locks and concurrency, which SQLite serialises anyway."""
    if database != "postgres":
        pytest.skip("needs PostgreSQL")


@pytest.fixture
async def jobs(database: str) -> AsyncIterator[InProcessJobs]:
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
    """A WooCommerce sandbox shop selling ``skus``, taking this consumer key and secret."""
    from orderdeck_woocommerce.sandbox import create_app

    return create_app(skus=skus, key=key, secret=secret, seed=seed)


@pytest.fixture
def shop_a() -> Iterator[RunningApp]:
    """A sandbox shop selling MUG and CUP (key ck_a, secret cs_a)."""
    with serve(shop_app(["MUG", "CUP"], "ck_a", "cs_a", 1)) as running:
        yield running


@pytest.fixture
def shop_b() -> Iterator[RunningApp]:
    """A sandbox shop selling MUG and CUP (key ck_b, secret cs_b)."""
    with serve(shop_app(["MUG", "CUP"], "ck_b", "cs_b", 2)) as running:
        yield running

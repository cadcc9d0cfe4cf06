"""Test fixtures: every storage test runs on SQLite and on PostgreSQL.

Each backend is a throwaway database built from the migrations alone (PostgreSQL: a database named
orderdeck_test_<pid>, dropped at the end; SQLite: a file in a temporary folder), made once per test
process on first use. Every test process has its own: under pytest-xdist each worker is a process
with its own databases, temporary folders, Redis namespace (ORDERDECK_BROKER_NAMESPACE) and ports
(tests.support.free_port). Between tests every table is emptied and the default location recreated.

Migrating an empty database takes Tortoise some seconds of CPU, so each backend is migrated once
per run (``MigratedTemplate``), and every worker's database is a copy of it (SQLite: the file;
PostgreSQL: CREATE DATABASE ... TEMPLATE).

Also here, for the job tests and the GraphQL tests of channel work: the in-process worker on the
test's event loop (``jobs``) and WooCommerce sandbox shops served over real HTTP (``shop_a``,
``shop_b``).

Environment:
- ORDERDECK_TEST_BACKENDS: comma list of backends to run, default "sqlite,postgres".
- ORDERDECK_TEST_POSTGRES: server URL, default postgres://postgres@127.0.0.1:5432.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
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
# Redis names (job queues, event bus channels, rate-limit buckets) of this test process and the
# orderdeck processes it starts: pytest-xdist workers never share a queue or a channel.
os.environ.setdefault("ORDERDECK_BROKER_NAMESPACE", f"orderdeck-test-{os.getpid()}")

POSTGRES = os.environ.get("ORDERDECK_TEST_POSTGRES", "postgres://postgres@127.0.0.1:5432")
BACKENDS = [b.strip() for b in os.environ.get("ORDERDECK_TEST_BACKENDS", "sqlite,postgres").split(",") if b.strip()]

# Every table but tortoise_migrations, children before parents: emptied in this order after each test.
TABLES = [
    "audit_entry", "stock_ledger", "order_return_item", "order_return", "dispatch", "order_tag",
    "order_note", "order_property", "order_item", "deleted_order", "orders", "imported_report", "sync_issue", "sync_run",
    "failed_job", "listing", "run_claim", "channel_stock_location", "channel", "stock_level", "stock_item",
    "location", "connection", "api_token", "counter", "event", "allocation",
]  # fmt: skip


async def create_postgres_database(name: str, template: str | None = None) -> str:
    """Create an empty PostgreSQL database (or a copy of ``template``) and return its URL."""
    conn = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
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


POOL = "minsize=1&maxsize=20&max_inactive_connection_lifetime=5"
"""The session database's pool on PostgreSQL: room for the concurrency tests' bursts, and
connections idle for 5 s are closed, so that four xdist workers (and anything else on the server)
stay inside PostgreSQL's default max_connections (100)."""


class MigratedTemplate:
    """A database of one backend built from the migrations once per test run, under a lock in the
    run's temporary folder (shared by every xdist worker), and copied for each worker."""

    def __init__(self, run_root: Path, backend: str) -> None:
        self.backend, self.run_root = backend, run_root
        self.name = template_name(run_root)
        self.sqlite_file = run_root / "template.sqlite3"

    async def copy_to(self, target: str) -> str:
        """Make the database ``target`` (a PostgreSQL name, or a SQLite file path) a copy of the
        template, built first if this is the run's first copy; its URL."""
        with (self.run_root / f"template-{self.backend}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one builder, and no copy while it builds
            ready = self.run_root / f"template-{self.backend}.ready"
            if not ready.exists():
                await self._build()
                ready.touch()
            if self.backend == "sqlite":
                shutil.copyfile(self.sqlite_file, target)
                return f"sqlite://{target}"
            return await create_postgres_database(target, template=self.name)

    async def _build(self) -> None:
        if self.backend == "sqlite":
            self.sqlite_file.unlink(missing_ok=True)
            await db.migrate(f"sqlite://{self.sqlite_file}")
        else:
            await db.migrate(await create_postgres_database(self.name))


def template_name(run_root: Path) -> str:
    """The PostgreSQL template database of the run whose temporary folder is ``run_root``."""
    return f"orderdeck_template_{hashlib.sha256(str(run_root).encode()).hexdigest()[:12]}"


def run_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's temporary folder: an xdist worker's is a folder in it."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


def pytest_sessionfinish(session: pytest.Session) -> None:
    """The controller (or a run without xdist) drops the run's PostgreSQL template."""
    if hasattr(session.config, "workerinput") or "postgres" not in BACKENDS:
        return
    import asyncio

    root = run_root(session.config._tmp_path_factory)  # type: ignore[attr-defined]
    if (root / "template-postgres.ready").exists():
        asyncio.run(drop_postgres_database(template_name(root)))


class SessionDatabases:
    """This test process's migrated databases, one per backend, each made on first use (a copy of
    the run's MigratedTemplate) and dropped at the end. Tests switch backends as they go (a serial
    run takes every SQLite test, then every PostgreSQL one; an xdist worker takes a file's SQLite
    tests, then its PostgreSQL ones, then the next file's): a switch reopens the connections, it
    never migrates again."""

    def __init__(self, tmp_path_factory: pytest.TempPathFactory) -> None:
        self.tmp_path_factory = tmp_path_factory
        self.urls: dict[str, str] = {}
        self.emptying: dict[str, str] = {}
        """The script that empties every table of a backend's database (run after each test)."""

    async def url(self, backend: str) -> str:
        """The URL of this process's migrated database of ``backend``, made now if need be."""
        if backend not in self.urls:
            template = MigratedTemplate(run_root(self.tmp_path_factory), backend)
            if backend == "postgres":
                url = await template.copy_to(f"orderdeck_test_{os.getpid()}")
            else:
                url = await template.copy_to(str(self.tmp_path_factory.mktemp("sqlite") / "orderdeck.sqlite3"))
            self.urls[backend] = url
            self.emptying[backend] = await emptying_script(url)
        return self.urls[backend]

    async def drop(self) -> None:
        if "postgres" in self.urls:
            await drop_postgres_database(self.urls["postgres"].rsplit("/", 1)[1])


async def emptying_script(url: str) -> str:
    """SQL that empties every table of a migrated database (TABLES, children first), as a
    ``TRUNCATE ... RESTART IDENTITY`` would, but in milliseconds: on PostgreSQL a TRUNCATE of these
    tables takes about 0.2 s, a DELETE of a test's few rows well under 1 ms. The sequences
    a TRUNCATE would restart (those owned by the tables' columns: ids, order numbers) start again."""
    unlink = ["UPDATE orders SET original_order_id = NULL WHERE original_order_id IS NOT NULL"]  # resends (RESTRICT)
    deletes = [f"DELETE FROM {table}" for table in TABLES]
    if not url.startswith("postgres"):
        return ";\n".join(unlink + deletes)
    conn = await asyncpg.connect(db.asyncpg_dsn(url))
    try:
        tables = {row["tablename"] for row in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        sequences = await conn.fetch(
            """SELECT s.oid::regclass::text AS name, p.seqstart AS start
               FROM pg_class s JOIN pg_sequence p ON p.seqrelid = s.oid
               JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = s.oid
                                AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
               JOIN pg_class t ON t.oid = d.refobjid
               WHERE s.relkind = 'S' AND t.relname = ANY($1::text[])""",
            TABLES,
        )
    finally:
        await conn.close()
    assert tables - {"tortoise_migrations"} == set(TABLES), "tests/conftest.py's TABLES must list every table"
    restarts = [f"SELECT setval('{row['name']}', {row['start']}, false)" for row in sequences]
    return ";\n".join(unlink + deletes + restarts)


@pytest.fixture(scope="session")
async def session_databases(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SessionDatabases]:
    databases = SessionDatabases(tmp_path_factory)
    try:
        yield databases
    finally:
        await databases.drop()


@pytest.fixture(scope="session", params=BACKENDS)
async def database_url(request: pytest.FixtureRequest, session_databases: SessionDatabases) -> AsyncIterator[str]:
    """A migrated throwaway database of one backend, open (Tortoise's connections) while the tests
    of that backend run."""
    url = await session_databases.url(request.param)
    await db.init_db(f"{url}?{POOL}" if request.param == "postgres" else url)
    try:
        yield url
    finally:
        await db.close_db()
        # Tortoise caches compiled INSERT/UPDATE SQL per table, not per dialect: the next backend
        # must not reuse this one's placeholders.
        EXECUTOR_CACHE.clear()


@pytest.fixture
async def database(database_url: str, session_databases: SessionDatabases) -> AsyncIterator[str]:
    """An empty database (but for the default location); yields the backend name."""
    backend = "postgres" if database_url.startswith("postgres") else "sqlite"
    yield backend
    await db.connection().execute_script(session_databases.emptying[backend])


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

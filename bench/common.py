"""Shared set-up of the orderdeck benchmarks: a throwaway database, seeding, timing, tables.

Every benchmark runs against a PostgreSQL database of its own, ``orderdeck_bench_<pid>``, built
from the migrations (``orderdeck.db.migrate``) and dropped at the end, even on failure or Ctrl-C.
The server is ``ORDERDECK_BENCH_POSTGRES`` (default ``postgres://postgres@127.0.0.1:5432``).

The benchmark machines are small and noisy: no figure means anything on its own, so every
benchmark measures its own baseline in the same run and prints ratios against it.

This module must not import from ``tests/``.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import statistics
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import asyncpg

# Run from a checkout without installing: bench/ sits next to server/.
_SERVER = Path(__file__).resolve().parent.parent / "server"
if _SERVER.is_dir() and str(_SERVER) not in sys.path:
    sys.path.insert(0, str(_SERVER))

from orderdeck import db  # noqa: E402
from orderdeck.models import ActorKind, Location, StockItem, StockLevel  # noqa: E402
from orderdeck.services.context import Actor  # noqa: E402
from orderdeck.services.locations import ensure_default_location  # noqa: E402

POSTGRES = os.environ.get("ORDERDECK_BENCH_POSTGRES", "postgres://postgres@127.0.0.1:5432")

ACTOR = Actor("bench", ActorKind.USER)

# Every table of the schema, children first (for TRUNCATE between phases).
ORDER_TABLES = [
    "audit_entry", "stock_ledger", "order_return_item", "order_return", "dispatch", "order_tag",
    "order_note", "order_property", "order_item", "deleted_order", "orders",
]  # fmt: skip


# --- the throwaway database ----------------------------------------------------------------


async def _admin(sql: str) -> None:
    conn = await asyncpg.connect(f"{POSTGRES}/postgres")
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@dataclass(frozen=True)
class BenchDatabase:
    """The database of one benchmark run."""

    name: str
    url: str

    async def raw(self) -> asyncpg.Connection:
        """A plain asyncpg connection to it (for COPY baselines and checks); close it yourself."""
        return await asyncpg.connect(self.url)


@asynccontextmanager
async def throwaway_database(suffix: str = "", *, keep: bool = False) -> AsyncIterator[BenchDatabase]:
    """Create ``orderdeck_bench_<pid>[_<suffix>]`` and migrate it; drop it afterwards (even on
    failure) unless ``keep``. Opens no Tortoise connection."""
    name = f"orderdeck_bench_{os.getpid()}" + (f"_{suffix}" if suffix else "")
    url = f"{POSTGRES}/{name}"
    await _admin(f'DROP DATABASE IF EXISTS "{name}"')
    await _admin(f'CREATE DATABASE "{name}"')
    try:
        await db.migrate(url)
        yield BenchDatabase(name, url)
    finally:
        if keep:
            print(f"kept database {name} ({url})")
        else:
            await _admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def bench_database(pool_max: int = 10) -> AsyncIterator[BenchDatabase]:
    """Create ``orderdeck_bench_<pid>``, migrate it, open Tortoise on it; drop it afterwards."""
    async with throwaway_database() as database:
        await db.init_db(f"{database.url}?minsize=1&maxsize={pool_max}")
        try:
            await ensure_default_location()
            yield database
        finally:
            await db.close_db()


async def truncate_orders() -> None:
    """Empty every order table (and the ledger and audit trail); stock items and levels stay."""
    await db.connection().execute_script(f"TRUNCATE {', '.join(ORDER_TABLES)} RESTART IDENTITY CASCADE")


# --- seeding -------------------------------------------------------------------------------


@dataclass
class Catalogue:
    """Seeded stock: items by SKU, the locations, and the level each (item, location) starts at."""

    items: list[StockItem]
    locations: list[Location]
    start_level: int

    @property
    def skus(self) -> list[str]:
        return [i.sku for i in self.items]


async def seed_stock(skus: int = 500, extra_locations: int = 1, level: int = 1_000_000) -> Catalogue:
    """Stock items SKU-00001.. and a level row for each at every location (default + extras).

    Seeding writes rows directly (bulk_create); it is set-up, not what is measured.
    """
    default = await ensure_default_location()
    extras = [Location(id=uuid.uuid4(), name=f"Warehouse {n + 2}") for n in range(extra_locations)]
    if extras:
        await Location.bulk_create(extras)
    items = [
        StockItem(id=uuid.uuid4(), sku=f"SKU-{n:05d}", title=f"Bench product {n}", barcode=f"50{n:011d}",
                  weight=Decimal("0.250"), unit_price=Decimal("9.99"))  # fmt: skip
        for n in range(1, skus + 1)
    ]
    await StockItem.bulk_create(items, batch_size=1000)
    locations = [default, *extras]
    await StockLevel.bulk_create(
        [StockLevel(item_id=i.id, location_id=loc.id, level=level) for loc in locations for i in items],
        batch_size=1000,
    )
    return Catalogue(items, locations, level)


def order_inputs(count: int, catalogue: Catalogue, *, lines: int = 3, seed: int = 1, prefix: str = "B") -> list[dict]:
    """``count`` direct-order inputs of ``lines`` distinct SKUs each, spread over the locations.

    Deterministic for a seed. References are unique per prefix.
    """
    rng = random.Random(seed)
    skus = catalogue.skus
    locations = catalogue.locations
    out = []
    for n in range(count):
        location = locations[n % len(locations)]
        out.append({
            "location_id": location.id,
            "reference": f"{prefix}-{seed}-{n:07d}",
            "buyer_name": f"Buyer {n}",
            "email": f"buyer{n}@example.com",
            "shipping_address": {
                "full_name": f"Buyer {n}", "address1": f"{n} High Street", "town": "Leeds",
                "postcode": "LS1 4AP", "country": "GB", "phone": "0113 496 0000",
            },
            "shipping_service": "Standard",
            "postage": Decimal("3.95"),
            "payment_method": "card",
            "items": [
                {"sku": sku, "quantity": rng.randint(1, 5), "unit_price": Decimal(rng.randint(100, 9999)) / 100,
                 "tax_rate": Decimal(20)}
                for sku in rng.sample(skus, lines)
            ],
        })  # fmt: skip
    return out


# --- GraphQL selections shared by the benchmarks ---------------------------------------------

# One order of an open-orders page: items, location, totals, stock level and allocation.
ORDER_PAGE_NODE = """id number reference status receivedAt
  location { name }
  totals { total currency }
  allocation
  items { sku quantity unitPrice stockItem { sku title } stockLevel { level allocated available } }"""


# --- timing --------------------------------------------------------------------------------


class Clock:
    """Elapsed wall time of a block: ``with Clock() as c: ...; c.seconds``."""

    def __enter__(self) -> Clock:
        self.start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) of values, by linear interpolation."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def ratio(a: float, b: float) -> str:
    """a / b formatted for a table (two significant decimals below 1)."""
    if not b:
        return "n/a"
    r = a / b
    return f"{r:.3f}" if r < 0.1 else f"{r:.2f}"


def fmt(value: float, digits: int = 0) -> str:
    """A number with thousands separators."""
    return f"{value:,.{digits}f}"


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]], left: int = 1) -> None:
    """A plain text table: the first ``left`` columns left-aligned, the others right-aligned."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(row: list[str]) -> str:
        return "  ".join(c.ljust(w) if i < left else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()

    print(f"\n{title}")
    print(line(cells[0]))
    print("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        print(line(row))


def machine_note() -> str:
    """Where the figures came from."""
    import platform

    return f"{os.cpu_count()} cores, Python {platform.python_version()}, PostgreSQL at {POSTGRES.rsplit('@', 1)[-1]}"


# --- the API in a subprocess ---------------------------------------------------------------


@dataclass
class ApiServer:
    """A running ``bench/api_server.py``: its base URL and where captured SQL is written."""

    url: str
    capture_dir: Path
    pid: int

    def captured(self, name: str, timeout: float = 10.0) -> list[tuple[str, list[Any]]]:
        """The ``(sql, params)`` of the request sent with header ``x-bench-capture: name``."""
        import pickle

        path = self.capture_dir / f"{name}.pickle"
        deadline = time.monotonic() + timeout
        while not path.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"no SQL captured for {name}")
            time.sleep(0.01)
        return pickle.loads(path.read_bytes())


@asynccontextmanager
async def api_server(database_url: str, **env: str) -> AsyncIterator[ApiServer]:
    """Run orderdeck's API (``bench/api_server.py``) on ``database_url`` in a subprocess on a free
    loopback port until the block ends; its log goes to a file in a temporary folder, shown if it
    fails to start. ``env``: more ``ORDERDECK_*`` settings."""
    import asyncio
    import json
    import tempfile

    import httpx

    folder = Path(tempfile.mkdtemp(prefix="orderdeck-bench-api-"))
    log = open(folder / "api.log", "wb")  # noqa: SIM115 - closed below
    child_env = {**os.environ, "ORDERDECK_DATABASE_URL": database_url, **env}
    child_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(_SERVER), child_env.get("PYTHONPATH")]))
    process = await asyncio.create_subprocess_exec(
        sys.executable, str(Path(__file__).with_name("api_server.py")), str(folder),
        stdout=asyncio.subprocess.PIPE, stderr=log, env=child_env,
    )  # fmt: skip
    try:
        try:
            line = await asyncio.wait_for(process.stdout.readline(), 60)
            url = f"http://127.0.0.1:{json.loads(line)['port']}"
            async with httpx.AsyncClient() as http:
                for _ in range(600):
                    try:
                        if (await http.get(f"{url}/readyz", timeout=2)).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if process.returncode is not None:
                        raise RuntimeError("exited")
                    await asyncio.sleep(0.1)
                else:
                    raise RuntimeError("not ready after 60 s")
        except Exception as exc:
            log.flush()
            raise RuntimeError(f"the API did not start ({exc}):\n{(folder / 'api.log').read_text()[-3000:]}") from exc
        try:
            yield ApiServer(url, folder, process.pid)
        except Exception:
            log.flush()
            print(f"the API's log ends:\n{(folder / 'api.log').read_text()[-3000:]}", file=sys.stderr)
            raise
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
        shutil.rmtree(folder, ignore_errors=True)


# --- counting SQL statements ---------------------------------------------------------------


class _Counter(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []
        self.records: list[tuple[str, list[Any]]] = []

    def emit(self, record: logging.LogRecord) -> None:
        # Pool open/close messages are not statements.
        message = str(record.msg)
        if "connection pool" in message:
            return
        with_args = bool(record.args) and message.startswith("%s")
        sql = str(record.args[0]) if with_args else message
        params = record.args[1] if with_args and len(record.args) > 1 else None
        self.statements.append(sql)
        self.records.append((sql, list(params or [])))


@contextmanager
def _collecting(accept: Callable[[], bool] | None = None) -> Iterator[_Counter]:
    logger = logging.getLogger("tortoise.db_client")
    handler = _Counter()
    if accept is not None:
        handler.addFilter(lambda record: accept())
    level, propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate


@contextmanager
def count_sql() -> Iterator[list[str]]:
    """Collect the SQL Tortoise sends (records of the "tortoise.db_client" logger at DEBUG).

    An executemany (bulk_create) is one record, like one statement.
    """
    with _collecting() as handler:
        yield handler.statements


@contextmanager
def capture_sql(accept: Callable[[], bool] | None = None) -> Iterator[list[tuple[str, list[Any]]]]:
    """Like ``count_sql``, with each statement's parameters: ``[(sql, params), ...]`` (for EXPLAIN).

    An executemany records all its rows' parameters as one list of lists. ``accept``, called as
    each statement is logged (in the task that sends it), keeps only those it returns True for.
    """
    with _collecting(accept) as handler:
        yield handler.records


async def seed_orders(count: int, catalogue: Catalogue, *, batch: int = 100, seed: int = 1) -> int:
    """Create ``count`` open direct orders through the service (batches of ``batch``); return count."""
    from orderdeck.services.orders import create_orders

    inputs = order_inputs(count, catalogue, seed=seed, prefix="P")
    for start in range(0, count, batch):
        await create_orders(inputs[start : start + batch], ACTOR)
    return count

"""Migrations build the database the models describe, on PostgreSQL and from an installed wheel."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import random
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from tortoise import fields
from tortoise.context import TortoiseContext
from tortoise.exceptions import IntegrityError
from tortoise.migrations.api.migrate import migrate as _migrate
from tortoise.migrations.autodetector import MigrationAutodetector

from orderdeck import crypto, db
from orderdeck.models import __all__ as model_names
from orderdeck import models
from orderdeck.models import Order
from orderdeck.services.allocation import AllocationState, allocation_of
from orderdeck.services.orders.common import next_numbers
from tests.conftest import BACKENDS, create_postgres_database, drop_postgres_database
from tests.services.allocation_oracle import assert_allocation_matches_oracle

ROOT = Path(__file__).resolve().parents[1]
DATETIME = fields.DatetimeField()


async def test_migrations_are_in_step_with_models():
    """No model change is missing a migration (what `orderdeck makemigrations` would write)."""
    config = db.tortoise_config("sqlite://:memory:")
    async with TortoiseContext() as ctx:
        await ctx.init(config=config, init_connections=False)
        writers = await MigrationAutodetector(ctx.apps, config["apps"]).changes()
    assert writers == [], "models changed without a migration: run `orderdeck makemigrations`"


def _model_columns() -> dict[str, set[str]]:
    tables: dict[str, set[str]] = {}
    for name in model_names:
        model = getattr(models, name)
        meta = getattr(model, "_meta", None)
        if meta is None or not hasattr(meta, "db_table"):
            continue
        tables[meta.db_table] = {f.source_field or key for key, f in meta.fields_map.items() if key in meta.db_fields}
    return tables


async def test_a_database_built_from_the_migrations_has_every_column_of_the_models(database_url: str):
    """The test session's database (a copy of one built from the migrations alone) has each
    model's table with exactly its columns."""
    if database_url.startswith("postgres"):
        query = "SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public'"
    else:
        query = ("SELECT m.name AS table_name, p.name AS column_name FROM sqlite_master m "
                 "JOIN pragma_table_info(m.name) p WHERE m.type = 'table'")  # fmt: skip
    actual: dict[str, set[str]] = {}
    for row in await db.connection().execute_query_dict(query):
        actual.setdefault(row["table_name"], set()).add(row["column_name"])
    for table, columns in _model_columns().items():
        assert table in actual, f"table {table} missing"
        assert actual[table] == columns, f"{table}: database {sorted(actual[table])} != models {sorted(columns)}"


def _project_files() -> list[str]:
    """The checkout's files as git sees them: tracked, or new and not ignored (build output is ignored)."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            capture_output=True, check=True).stdout.decode()  # fmt: skip
    return [name for name in listed.split("\0") if name and (ROOT / name).is_file()]


def _build_output() -> set[Path]:
    """What a build inside the checkout would leave there."""
    return {p for p in (ROOT / "build", *ROOT.glob("*.egg-info"), *ROOT.glob("server/*.egg-info")) if p.exists()}


@pytest.fixture(scope="module")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """orderdeck built as a wheel and installed (without dependencies) into a folder of its own.

    The wheel is built from a copy of the project's files, never in the checkout: a build there
    leaves build/ and *.egg-info behind, and a stale build/lib can ship modules since deleted.
    """
    source = tmp_path_factory.mktemp("source")
    for name in _project_files():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    out = tmp_path_factory.mktemp("wheel")
    left_before = _build_output()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out), str(source)], check=True)  # fmt: skip
    assert _build_output() == left_before, "building the wheel wrote into the checkout"
    wheel = next(out.glob("orderdeck-*.whl"))
    target = out / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
                   check=True)  # fmt: skip
    return target


def test_the_wheel_ships_exactly_the_projects_modules(installed_wheel: Path):
    shipped = {str(p.relative_to(installed_wheel)) for p in (installed_wheel / "orderdeck").rglob("*.py")}
    expected = {
        name.replace("server/", "", 1) if name.startswith("server/") else f"orderdeck/{name}"
        for name in _project_files()
        if name.endswith(".py") and name.startswith(("server/orderdeck/", "migrations/"))
    }
    assert shipped == expected


def test_the_wheel_ships_the_browser_pages_and_their_assets(installed_wheel: Path):
    for folder in ("dashboard", "graphiql"):  # served from the package: nothing from a CDN
        source = {p.name for p in (ROOT / "server" / "orderdeck" / folder).iterdir() if p.is_file()}
        shipped = {p.name for p in (installed_wheel / "orderdeck" / folder).iterdir()}
        assert source and source <= shipped, (folder, source - shipped)


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_migrate_from_installed_wheel(installed_wheel: Path, tmp_path: Path, backend: str):
    name = f"orderdeck_wheel_{uuid.uuid4().hex[:8]}"
    url = await create_postgres_database(name) if backend == "postgres" else f"sqlite://{tmp_path / 'w.sqlite3'}"
    try:
        env = {**os.environ, "PYTHONPATH": str(installed_wheel), "ORDERDECK_DATABASE_URL": url}
        code = "import orderdeck, sys; print(orderdeck.__file__); from orderdeck.cli import main; main()"
        done = subprocess.run([sys.executable, "-c", code, "migrate"], env=env, cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith(str(installed_wheel)), "ran the source tree, not the wheel"
        if backend == "postgres":
            conn = await asyncpg.connect(url)
            try:
                tables = {r["tablename"] for r in await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname='public'")}
            finally:
                await conn.close()
        else:
            import sqlite3

            with sqlite3.connect(tmp_path / "w.sqlite3") as conn:
                tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert set(_model_columns()) <= tables
    finally:
        if backend == "postgres":
            await drop_postgres_database(name)


async def _insert(table: str, row: dict[str, Any]) -> None:
    """A raw INSERT (the models may be ahead of the schema under test); values as Tortoise writes them."""
    sqlite = db.dialect() == "sqlite"
    values = [str(v) if sqlite and isinstance(v, uuid.UUID) else v for v in row.values()]
    if sqlite:
        values = [DATETIME.to_db_value(v, None) if isinstance(v, datetime) else v for v in values]
    marks = ", ".join(db.placeholders(len(row)))
    await db.connection().execute_query(f"INSERT INTO {table} ({', '.join(row)}) VALUES ({marks})", values)


async def _order_book_at_0005(rng: random.Random) -> None:
    """Locations, items, levels and orders in every state, written as 0005's schema stores them."""
    stamp = datetime(2026, 6, 1, tzinfo=timezone.utc)
    places = [uuid.uuid4(), uuid.uuid4()]
    for n, place in enumerate(places):
        await _insert("location", {"id": place, "name": f"L{n}", "is_default": n == 0, "created_at": stamp, "updated_at": stamp})
    items = [uuid.uuid4() for _ in range(3)]
    for n, item in enumerate(items):
        await _insert("stock_item", {"id": item, "sku": f"S{n}", "title": "t", "created_at": stamp, "updated_at": stamp})
    held: dict[tuple[uuid.UUID, uuid.UUID], int] = {(i, p): 0 for i in items for p in places}
    for number in range(1, 61):
        order_id, place = uuid.uuid4(), rng.choice(places)
        state, locked = rng.choice(["OPEN", "OPEN", "OPEN", "PROCESSED", "CANCELLED"]), rng.random() < 0.15
        received = stamp + timedelta(minutes=rng.randint(0, 20))
        await _insert("orders", {"id": order_id, "number": number, "source": "DIRECT", "status": "PAID", "state": state,
                                 "locked": locked, "location_id": place, "received_at": received,
                                 "created_at": stamp, "updated_at": stamp})  # fmt: skip
        for position in range(rng.randint(1, 3)):
            item = rng.choice([*items, None])
            quantity = rng.randint(1, 3)
            await _insert("order_item", {"id": uuid.uuid4(), "order_id": order_id, "stock_item_id": item,
                                         "position": position, "sku": "x", "quantity": quantity})  # fmt: skip
            if item is not None and state == "OPEN" and not locked:
                held[(item, place)] += quantity
    await _insert("counter", {"name": "order_number", "value": 60})
    for (item, place), allocated in held.items():
        await _insert("stock_level", {"item_id": item, "location_id": place, "level": rng.randint(0, 12),
                                      "allocated": allocated, "updated_at": stamp})  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
async def test_0006_fills_the_allocation_state_of_existing_orders(backend: str, tmp_path: Path):
    name = f"orderdeck_migr_scale_{uuid.uuid4().hex[:8]}"
    url = await create_postgres_database(name) if backend == "postgres" else f"sqlite://{tmp_path / 'old.sqlite3'}"
    try:
        async with TortoiseContext():
            await _migrate(config=db.tortoise_config(url), target="models.0005_live_events")
        async with TortoiseContext() as ctx:
            await ctx.init(config=db.tortoise_config(url))
            await _order_book_at_0005(random.Random(5))
        await db.migrate(url)
        async with TortoiseContext() as ctx:
            await ctx.init(config=db.tortoise_config(url))
            await assert_allocation_matches_oracle()
            states = set((await allocation_of(await Order.all().values_list("id", flat=True))).values())
            assert states == set(AllocationState), states  # the book had orders in every state
            assert await next_numbers(3) == 61  # numbering goes on past the numbers given
            assert await next_numbers(1) == 64
    finally:
        if backend == "postgres":
            await drop_postgres_database(name)


@pytest.mark.parametrize("backend", BACKENDS)
async def test_0009_gives_existing_tags_their_orders_state_and_keys(backend: str, tmp_path: Path):
    name = f"orderdeck_migr_tags_{uuid.uuid4().hex[:8]}"
    url = await create_postgres_database(name) if backend == "postgres" else f"sqlite://{tmp_path / 'old.sqlite3'}"
    stamp = datetime(2026, 6, 1, tzinfo=timezone.utc)
    try:
        async with TortoiseContext():
            await _migrate(config=db.tortoise_config(url), target="models.0008_level_coverage")
        async with TortoiseContext() as ctx:
            await ctx.init(config=db.tortoise_config(url))
            place = uuid.uuid4()
            await _insert("location", {"id": place, "name": "L", "is_default": True, "created_at": stamp,
                                       "updated_at": stamp})  # fmt: skip
            for number, state in enumerate(["OPEN", "PROCESSED", "CANCELLED", "OPEN"], start=1):
                order_id = uuid.uuid4()
                await _insert("orders", {
                    "id": order_id, "number": number, "source": "DIRECT", "status": "PAID", "state": state,
                    "location_id": place, "received_at": stamp + timedelta(hours=number),
                    "despatch_by_at": stamp + timedelta(days=number) if number % 2 else None,
                    "processed_at": stamp + timedelta(days=9) if state == "PROCESSED" else None,
                    "created_at": stamp, "updated_at": stamp,
                })  # fmt: skip
                for tag in ("gift", "vip")[: number % 2 + 1]:
                    await _insert("order_tag", {"order_id": order_id, "name": tag})
        await db.migrate(url)
        async with TortoiseContext() as ctx:
            await ctx.init(config=db.tortoise_config(url))
            tags = await models.OrderTag.all().values("name", *models.TAGGED_ORDER_KEYS.values(),
                                                      *(f"order__{k}" for k in models.TAGGED_ORDER_KEYS))  # fmt: skip
            assert len(tags) == 6
            for tag in tags:
                assert {k: tag[c] for k, c in models.TAGGED_ORDER_KEYS.items()} == {
                    k: tag[f"order__{k}"] for k in models.TAGGED_ORDER_KEYS}, tag  # fmt: skip
            assert {t["order_state"] for t in tags} == set(models.OrderState)
            assert any(t["order_despatch_by_at"] is None for t in tags) and any(t["order_processed_at"] for t in tags)
            tag = await models.OrderTag.first()
            with pytest.raises(IntegrityError):  # an order still carries a tag once
                await _insert("order_tag", {k: getattr(tag, k) for k in ["order_id", "name", *models.TAGGED_ORDER_KEYS.values()]})
    finally:
        if backend == "postgres":
            await drop_postgres_database(name)


async def _indexes() -> set[tuple[str, bool, tuple[str, ...]]]:
    """Every index of the current database as (table, unique, columns), primary keys left out."""
    conn = db.connection()
    if db.dialect() == "postgres":
        rows = await conn.execute_query_dict("""
            SELECT t.relname AS tbl, i.indisunique AS uniq, array_agg(a.attname ORDER BY k.ord) AS cols
            FROM pg_index i JOIN pg_class t ON t.oid = i.indrelid JOIN pg_namespace n ON n.oid = t.relnamespace
            CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
            JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
            WHERE n.nspname = 'public' AND NOT i.indisprimary AND i.indpred IS NULL
            GROUP BY t.relname, i.indexrelid, i.indisunique""")
        return {(r["tbl"], r["uniq"], tuple(r["cols"])) for r in rows}
    found = set()
    tables = await conn.execute_query_dict("SELECT name FROM sqlite_master WHERE type = 'table'")
    for table in (t["name"] for t in tables):
        for index in await conn.execute_query_dict(f'PRAGMA index_list("{table}")'):
            if index["origin"] != "pk" and not index["partial"]:
                columns = await conn.execute_query_dict(f'PRAGMA index_info("{index["name"]}")')
                found.add((table, bool(index["unique"]), tuple(c["name"] for c in columns)))
    return found


async def test_migrations_build_every_unique_constraint_and_index_the_models_declare(database_url: str, tmp_path: Path):
    """What the migrations build (the test session's database, a copy of one built from the
    migrations alone) holds every index a schema made straight from the models has (SQLite alters
    a column by rebuilding its table, which must not lose them)."""
    name = f"orderdeck_migr_idx_{uuid.uuid4().hex[:8]}"
    postgres = database_url.startswith("postgres")
    declared = await create_postgres_database(name) if postgres else f"sqlite://{tmp_path / name}.sqlite3"
    try:
        migrated = await _indexes()
        async with TortoiseContext() as ctx:
            await ctx.init(config=db.tortoise_config(declared))
            await ctx.generate_schemas()
            assert await _indexes() - migrated == set()
    finally:
        if postgres:
            await drop_postgres_database(name)


async def test_0010_names_channel_skus_listed_twice_instead_of_failing_obscurely(tmp_path: Path):
    """On SQLite a listing's unique (channel, channel SKU) was lost before 0010: a SKU listed
    twice meanwhile stops the migration with a message naming it, and nothing else changes."""
    url = f"sqlite://{tmp_path / 'twice.sqlite3'}"
    stamp = datetime(2026, 6, 1, tzinfo=timezone.utc)
    async with TortoiseContext():
        await _migrate(config=db.tortoise_config(url), target="models.0009_tag_order_keys")
    async with TortoiseContext() as ctx:
        await ctx.init(config=db.tortoise_config(url))
        place, channel, item = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await _insert("location", {"id": place, "name": "L", "is_default": True, "created_at": stamp, "updated_at": stamp})
        await _insert("channel", {"id": channel, "name": "Woo", "plugin": "woocommerce", "source": "WOOCOMMERCE",
                                  "settings": "{}", "status_overrides": "{}", "download_location_id": place,
                                  "created_at": stamp, "updated_at": stamp})  # fmt: skip
        await _insert("stock_item", {"id": item, "sku": "MUG", "title": "Mug", "created_at": stamp, "updated_at": stamp})
        for _ in range(2):
            await _insert("listing", {"id": uuid.uuid4(), "channel_id": channel, "stock_item_id": item,
                                      "channel_sku": "W-MUG", "submit_status": "NEVER", "created_at": stamp})  # fmt: skip
    with pytest.raises(RuntimeError, match="W-MUG on Woo"):
        await db.migrate(url)


async def _rows(table: str, key: str = "id") -> dict[Any, dict[str, Any]]:
    """Every row of ``table`` as the database returns it, by ``key`` (str: SQLite gives text)."""
    rows = await db.connection().execute_query_dict(f"SELECT * FROM {table}")
    return {str(row[key]) if not isinstance(key, tuple) else tuple(str(row[k]) for k in key): row for row in rows}


# What 0011 moves from a channel to its connection (old column: new column).
CHANNEL_TO_CONNECTION = {"id": "id", "name": "name", "plugin": "connector", "settings": "settings",
                         "secrets": "secrets", "enabled": "enabled", "sync_interval_seconds": "sync_interval_seconds",
                         "download_cursor": "cursor", "last_download_at": "last_run_at",
                         "next_download_at": "next_run_at", "created_at": "created_at",
                         "updated_at": "updated_at"}  # fmt: skip
# The tables 0011 changes only by adding columns (its own tables' rows keep every old column).
KEPT_TABLES = {"location": "id", "stock_item": "id", "listing": "id", "orders": "id", "order_item": "id",
               "sync_issue": "id", "channel_stock_location": ("channel_id", "location_id")}  # fmt: skip


@pytest.mark.parametrize("backend", BACKENDS)
async def test_0011_moves_each_channels_account_to_a_connection_and_loses_nothing(backend: str, tmp_path: Path):
    name = f"orderdeck_migr_conn_{uuid.uuid4().hex[:8]}"
    url = await create_postgres_database(name) if backend == "postgres" else f"sqlite://{tmp_path / 'old.sqlite3'}"
    stamp = datetime(2026, 6, 1, tzinfo=timezone.utc)
    place, other_place, item = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    woo, ebay = uuid.uuid4(), uuid.uuid4()  # woo: encrypted secrets; ebay: disabled, mid-download
    woo_secrets = {"consumer_key": "ck_live_1", "consumer_secret": "cs_live_ä€"}
    try:
        async with TortoiseContext():
            await _migrate(config=db.tortoise_config(url), target="models.0010_sqlite_rebuilt_indexes")
        async with TortoiseContext() as ctx:
            await ctx.init(config=db.tortoise_config(url))
            for n, loc in enumerate([place, other_place]):
                await _insert("location", {"id": loc, "name": f"L{n}", "is_default": n == 0, "created_at": stamp,
                                           "updated_at": stamp + timedelta(hours=n)})  # fmt: skip
            await _insert("stock_item", {"id": item, "sku": "MUG", "title": "Mug", "barcode": "501",
                                         "created_at": stamp, "updated_at": stamp})  # fmt: skip
            await _insert("channel", {
                "id": woo, "name": "Woo shop", "plugin": "woocommerce", "source": "WOOCOMMERCE",
                "settings": '{"url":"https://shop.example","page_size":50}', "secrets": crypto.encrypt(woo_secrets),
                "download_location_id": place, "download_unpaid": True,
                "status_overrides": '{"on-hold":"UNPAID"}', "created_at": stamp, "updated_at": stamp + timedelta(days=1),
            })  # fmt: skip
            await _insert("channel", {
                "id": ebay, "name": "eBay", "plugin": "ebay", "source": "EBAY", "settings": "{}",
                "enabled": False, "sync_interval_seconds": 900, "download_cursor": "2026-06-01T10:00:00Z|p3",
                "last_download_at": stamp + timedelta(minutes=5), "next_download_at": stamp + timedelta(minutes=20),
                "download_location_id": other_place, "status_overrides": "{}",
                "created_at": stamp + timedelta(seconds=1), "updated_at": stamp + timedelta(seconds=2),
            })  # fmt: skip
            for channel_id, locs in ((woo, [place, other_place]), (ebay, [other_place])):
                for loc in locs:
                    await _insert("channel_stock_location", {"channel_id": channel_id, "location_id": loc})
            for n, channel_id in enumerate([woo, ebay]):
                await _insert("listing", {
                    "id": uuid.uuid4(), "channel_id": channel_id, "stock_item_id": item, "channel_sku": f"C{n}-MUG",
                    "channel_reference": f"ref{n}", "max_listed_quantity": 5 if n else None, "push_due": n == 0,
                    "due_since": stamp if n == 0 else None, "submitted_quantity": 3, "submitted_at": stamp,
                    "submit_status": "OK" if n else "RETRYING", "push_attempts": n + 1, "created_at": stamp,
                })  # fmt: skip
                order_id = uuid.uuid4()
                await _insert("orders", {
                    "id": order_id, "number": n + 1, "source": "WOOCOMMERCE" if n == 0 else "EBAY",
                    "reference": f"R{n}", "status": "PAID", "state": "OPEN", "channel_id": channel_id,
                    "channel_cancelled": n == 1, "location_id": place, "received_at": stamp, "buyer_name": "Ann",
                    "total": "12.50", "created_at": stamp, "updated_at": stamp,
                })  # fmt: skip
                for position, stock_item in enumerate([item, None]):
                    await _insert("order_item", {"id": uuid.uuid4(), "order_id": order_id, "stock_item_id": stock_item,
                                                 "position": position, "sku": "MUG", "channel_sku": f"C{n}-MUG",
                                                 "quantity": position + 2, "unit_price": "6.25"})  # fmt: skip
                run = uuid.uuid4()
                await _insert("sync_run", {
                    "id": run, "channel_id": channel_id, "kind": "DOWNLOAD", "outcome": "PARTIAL",
                    "started_at": stamp + timedelta(minutes=n), "finished_at": stamp + timedelta(minutes=n + 1),
                    "downloaded": 4, "failed": 1, "retrying": 1, "error": "one order failed", "claim_token": "t" * 32,
                })  # fmt: skip
                await _insert("sync_run", {"id": uuid.uuid4(), "channel_id": channel_id, "kind": "STOCK_PUSH",
                                           "outcome": "RUNNING", "started_at": stamp})  # fmt: skip
                for ref in ("R9", ""):
                    await _insert("sync_issue", {"run_id": run, "reference": ref, "kind": "INVALID",
                                                 "message": f"bad {ref}", "created_at": stamp})  # fmt: skip
                await _insert("run_claim", {"channel_id": channel_id, "kind": "DOWNLOAD",
                                            "token": "a" * 32 if n == 0 else None,
                                            "lease_until": stamp + timedelta(minutes=2) if n == 0 else None})  # fmt: skip
                await _insert("run_claim", {"channel_id": channel_id, "kind": "STOCK_PUSH"})
            for n, channel_id in enumerate([ebay, None]):
                await _insert("failed_job", {
                    "id": uuid.uuid4(), "actor": "download_channel", "queue": "default", "message_id": f"m{n}",
                    "args": f'["{channel_id}"]' if channel_id else "[]", "kwargs": '{"page":2}', "error": "boom",
                    "channel_id": channel_id, "failed_at": stamp,
                })  # fmt: skip
            before = {table: await _rows(table, key) for table, key in KEPT_TABLES.items()}
            channels = await _rows("channel")
            moved = {table: await _rows(table) for table in ("sync_run", "run_claim", "failed_job")}
        await db.migrate(url)
        async with TortoiseContext() as ctx:
            await ctx.init(config=db.tortoise_config(url))
            for table, key in KEPT_TABLES.items():  # every row, every old value, nothing new
                after = await _rows(table, key)
                assert after.keys() == before[table].keys(), table
                for row_key, old in before[table].items():
                    assert {c: after[row_key][c] for c in old} == old, (table, row_key)
            connections = await _rows("connection")
            assert connections.keys() == channels.keys()
            for channel_id, old in channels.items():
                assert connections[channel_id] == {
                    "kind": "CHANNEL", **{new: old[col] for col, new in CHANNEL_TO_CONNECTION.items()}
                }, channel_id
            for channel_id, row in (await _rows("channel")).items():
                old = channels[channel_id]
                kept = {c: old[c] for c in ("id", "source", "download_location_id", "download_unpaid", "status_overrides")}
                later = {"follow_up_since": None, "follow_up_after_days": 7, "fulfilment_location_id": None}  # 0012's
                assert row == {**kept, "connection_id": old["id"], **later}
            for table, rows in moved.items():  # the same rows, under their channel's connection
                after = await _rows(table)
                assert after.keys() == rows.keys(), table
                for row_id, old in rows.items():
                    expected = {c: v for c, v in old.items() if c != "channel_id"} | {"connection_id": old["channel_id"]}
                    assert {c: after[row_id][c] for c in expected} == expected, (table, row_id)
                    assert "channel_id" not in after[row_id], table
            assert [r["connection_id"] for r in (await _rows("failed_job")).values()].count(None) == 1

            # The models read it all back.
            channel = await models.Channel.get(id=woo).prefetch_related("connection", "stock_locations")
            assert channel.connection.id == woo and channel.connection.kind == models.ConnectionKind.CHANNEL
            assert channel.connection.connector == "woocommerce" and channel.connection.name == "Woo shop"
            assert channel.connection.settings == {"url": "https://shop.example", "page_size": 50}
            assert crypto.decrypt(channel.connection.secrets) == woo_secrets
            assert channel.connection.enabled and channel.connection.sync_interval_seconds == 300
            assert channel.connection.cursor is None and channel.connection.last_run_at is None
            assert channel.connection.created_at == stamp and channel.connection.updated_at == stamp + timedelta(days=1)
            assert channel.download_unpaid and channel.status_overrides == {"on-hold": "UNPAID"}
            assert {loc.id for loc in channel.stock_locations} == {place, other_place}
            ebay_connection = await models.Connection.get(id=ebay).prefetch_related("channel")
            assert (ebay_connection.enabled, ebay_connection.sync_interval_seconds) == (False, 900)
            assert ebay_connection.secrets is None and ebay_connection.cursor == "2026-06-01T10:00:00Z|p3"
            assert ebay_connection.last_run_at == stamp + timedelta(minutes=5)
            assert ebay_connection.next_run_at == stamp + timedelta(minutes=20)
            assert ebay_connection.channel.id == ebay and ebay_connection.channel.download_location_id == other_place
            for connection_id in (woo, ebay):
                runs = await models.SyncRun.filter(connection_id=connection_id).prefetch_related("issues")
                assert sorted(r.kind for r in runs) == [models.SyncKind.DOWNLOAD, models.SyncKind.STOCK_PUSH]
                assert sum(len(r.issues) for r in runs) == 2
                assert {c.kind for c in await models.RunClaim.filter(connection_id=connection_id)} == {
                    models.SyncKind.DOWNLOAD, models.SyncKind.STOCK_PUSH}  # fmt: skip
                assert await models.Listing.filter(channel_id=connection_id).count() == 1
                order = await models.Order.get(channel_id=connection_id).prefetch_related("items")
                assert len(order.items) == 2 and order.fulfilment_state is None and order.export_attempts == 0
            held = await models.RunClaim.get(connection_id=woo, kind=models.SyncKind.DOWNLOAD)
            assert (held.token, held.lease_until) == ("a" * 32, stamp + timedelta(minutes=2))
            jobs = {j.message_id: j for j in await models.FailedJob.all()}
            assert (jobs["m0"].connection_id, jobs["m1"].connection_id) == (ebay, None)
            assert jobs["m0"].kwargs == {"page": 2}
            location = await models.Location.get(id=place)
            assert (location.export_columns, location.deduct_stock_when_processed, location.fulfilment_connection_id) == ([], True, None)
            assert (await models.StockItem.get(id=item)).fulfilment_sku == ""
            with pytest.raises(IntegrityError):  # still a claim per connection and kind
                await _insert("run_claim", {"connection_id": woo, "kind": "DOWNLOAD"})
    finally:
        if backend == "postgres":
            await drop_postgres_database(name)

"""Backups of the embedded default, key files, file modes and key rotation.

`orderdeck backup` takes an online copy while `serve` writes; `orderdeck restore` checks an archive
before it changes anything; files holding data or keys are readable by their owner only; channel
secrets survive a key rotation (`orderdeck rotate-key`, and configured key rings).
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import os
import sqlite3
import stat
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path

import httpx
import pytest

from orderdeck import crypto
from orderdeck.config import Settings
from orderdeck.models import Channel, Connection
from orderdeck.services import channels
from orderdeck.services.secret_keys import UnreadableSecrets, connections_needing_old_keys, reencrypt_secrets
from tests.support import ORDERDECK, Server, free_port, start_server, stop

SHOP = {"url": "https://shop.example.com/", "consumer_key": "ck_live", "consumer_secret": "cs_top_secret"}
KEY_A = "backup-test-key-a-0123456789abcdefghijklmnop"
KEY_B = "backup-test-key-b-0123456789abcdefghijklmnop"
ORDERS = 5


def sqlite_env(folder: Path, secret_key: str | None = None) -> dict[str, str]:
    """Environment for orderdeck on a SQLite file in ``folder`` (a generated key file unless a key is given)."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("ORDERDECK_SECRET")}
    env["ORDERDECK_DATABASE_URL"] = f"sqlite://{folder / 'orderdeck.sqlite3'}"
    if secret_key:
        env["ORDERDECK_SECRET_KEY"] = secret_key
    return env


def orderdeck(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run an orderdeck command to its end."""
    return subprocess.run([*ORDERDECK, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def digest(path: Path) -> str | None:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.exists() else None


@contextmanager
def running(env: dict[str, str], cwd: Path) -> Iterator[tuple[Server, httpx.Client]]:
    """`orderdeck serve` on ``env``'s database, and an admin client for it."""
    made = orderdeck(env, cwd, "token", "create", "--name", f"tester-{free_port()}")
    assert made.returncode == 0, made.stderr
    server = start_server(env, cwd, free_port())
    try:
        with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {made.stdout.strip()}"},
                          timeout=60) as client:  # fmt: skip
            yield server, client
    finally:
        stop(server)


def gql(client: httpx.Client, query: str) -> dict:
    answer = client.post("/graphql", json={"query": query}).json()
    assert "errors" not in answer, answer
    return answer["data"]


def shop_with_orders(client: httpx.Client) -> None:
    """A channel with a secret, a stock item and ORDERS orders."""
    made = gql(client, 'mutation { createChannel(input: {name: "Web shop", plugin: "woocommerce", settings: '
                       '{url: "https://shop.example.com/", consumer_key: "ck_live", consumer_secret: "cs_top_secret"}}) '
                       "{ channel { secretsSet } errors { message } } }")  # fmt: skip
    assert made["createChannel"] == {"channel": {"secretsSet": ["consumer_secret"]}, "errors": []}
    gql(client, 'mutation { createStockItem(input: {sku: "MUG", title: "Mug", unitPrice: "8.50"}) { errors { message } } }')
    for number in range(ORDERS):
        created = gql(client, 'mutation { createOrder(input: {reference: "PHONE-%d", buyerName: "Ada", items: '
                              '[{sku: "MUG", quantity: 1, unitPrice: "8.50"}]}) { errors { message } } }' % number)
        assert created["createOrder"]["errors"] == []


def order_references(client: httpx.Client) -> set[str]:
    page = gql(client, "{ openOrders(first: 100) { edges { node { reference } } } }")
    return {edge["node"]["reference"] for edge in page["openOrders"]["edges"]}


def test_a_backup_taken_while_the_server_writes_restores_orders_and_channel_secrets(tmp_path):
    live, restored = tmp_path / "live", tmp_path / "restored"
    live.mkdir()
    env = sqlite_env(live)
    archive = tmp_path / "orderdeck-backup.tar.gz"
    written: list[str] = []
    with running(env, tmp_path) as (server, client):
        shop_with_orders(client)
        for name in ("orderdeck.sqlite3", "orderdeck.sqlite3-wal", "orderdeck.sqlite3-shm", "orderdeck.sqlite3.key"):
            assert mode(live / name) == 0o600, name
        stop_writing = threading.Event()

        def writer() -> None:
            with httpx.Client(base_url=server.url, headers=client.headers, timeout=60) as own:
                while not stop_writing.is_set():
                    sku = f"SKU-{len(written)}"
                    gql(own, 'mutation { createStockItem(input: {sku: "%s", title: "Cup", unitPrice: "1"}) '
                             "{ errors { message } } }" % sku)  # fmt: skip
                    written.append(sku)

        thread = threading.Thread(target=writer)
        thread.start()
        try:
            while len(written) < 20 and thread.is_alive():
                thread.join(0.05)
            made = orderdeck(env, tmp_path, "backup", str(archive))
            during = len(written)
            while len(written) < during + 20 and thread.is_alive():
                thread.join(0.05)
        finally:
            stop_writing.set()
            thread.join()
        assert len(written) >= during + 20, "the writer stopped: see its exception above"
        assert made.returncode == 0, made.stderr
        assert mode(archive) == 0o600
        with tarfile.open(archive) as tar:
            assert sorted(tar.getnames()) == ["manifest.json", "orderdeck.sqlite3", "orderdeck.sqlite3.key"]

    restore_env = sqlite_env(restored)
    done = orderdeck(restore_env, tmp_path, "restore", str(archive))
    assert done.returncode == 0, done.stderr
    assert mode(restored / "orderdeck.sqlite3") == 0o600 and mode(restored / "orderdeck.sqlite3.key") == 0o600
    assert (restored / "orderdeck.sqlite3.key").read_text() == (live / "orderdeck.sqlite3.key").read_text()
    with running(restore_env, tmp_path) as (_, client):
        assert order_references(client) == {f"PHONE-{n}" for n in range(ORDERS)}
        assert gql(client, "{ channels { name secretsSet } }")["channels"] == [
            {"name": "Web shop", "secretsSet": ["consumer_secret"]}
        ]
    with closing(sqlite3.connect(restored / "orderdeck.sqlite3")) as conn:
        copied = {row[0] for row in conn.execute("SELECT sku FROM stock_item WHERE sku LIKE 'SKU-%'")}
    assert 20 <= len(copied) < len(written), "a snapshot taken during the writes"
    assert copied == {f"SKU-{n}" for n in range(len(copied))}, "a consistent prefix of the writes"


def test_restore_refuses_bad_archives_and_busy_or_full_targets_and_changes_nothing(tmp_path):
    source, target = tmp_path / "source", tmp_path / "target"
    source.mkdir()
    target.mkdir()
    sealed_env = sqlite_env(source, secret_key=KEY_A)
    with running(sealed_env, tmp_path) as (_, client):
        shop_with_orders(client)
    archive = tmp_path / "sealed.tar.gz"
    assert orderdeck(sealed_env, tmp_path, "backup", str(archive)).returncode == 0

    target_env = sqlite_env(target, secret_key=KEY_B)
    assert orderdeck(target_env, tmp_path, "token", "create", "--name", "keeper").returncode == 0
    before = digest(target / "orderdeck.sqlite3")

    garbage = tmp_path / "garbage.tar.gz"
    garbage.write_bytes(b"not an archive at all")
    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    tampered = tmp_path / "tampered.tar.gz"
    with tarfile.open(archive) as tar, tarfile.open(tampered, "w:gz") as out:
        for member in tar.getmembers():
            data = tar.extractfile(member).read()
            if member.name == "orderdeck.sqlite3":
                data = data.replace(b"PHONE-1", b"PHONE-9")
                assert len(data) == member.size
            out.addfile(member, io.BytesIO(data))
    cases = {
        str(tmp_path / "missing.tar.gz"): "No backup archive at",
        str(garbage): "is not an orderdeck backup",
        str(truncated): "cannot be read as an orderdeck backup",
        str(tampered): "does not match its checksum",
        str(archive): "cannot be read with the key it would be restored with",  # sealed with A, target has B
    }
    for path, message in cases.items():
        done = orderdeck(target_env, tmp_path, "restore", path, "--force")
        assert done.returncode != 0 and message in done.stderr, (path, done.stderr)
        assert "nothing was changed" in done.stderr
        assert digest(target / "orderdeck.sqlite3") == before

    right_key = sqlite_env(target, secret_key=KEY_A)
    full = orderdeck(right_key, tmp_path, "restore", str(archive))
    assert full.returncode != 0 and "pass --force" in full.stderr
    assert digest(target / "orderdeck.sqlite3") == before
    with running(right_key, tmp_path):
        busy = orderdeck(right_key, tmp_path, "restore", str(archive), "--force")
        assert busy.returncode != 0 and "is in use" in busy.stderr, busy.stderr
    with closing(sqlite3.connect(target / "orderdeck.sqlite3")) as conn:  # the server wrote meanwhile: compare content
        assert conn.execute("SELECT COUNT(*) FROM orders").fetchone() == (0,)
        assert conn.execute("SELECT COUNT(*) FROM channel").fetchone() == (0,)

    assert orderdeck(right_key, tmp_path, "restore", str(archive), "--force").returncode == 0
    with running(right_key, tmp_path) as (_, client):
        assert order_references(client) == {f"PHONE-{n}" for n in range(ORDERS)}
        assert gql(client, "{ channels { secretsSet } }")["channels"] == [{"secretsSet": ["consumer_secret"]}]


def test_backup_refuses_to_overwrite_and_points_postgres_users_to_pg_dump(tmp_path):
    env = sqlite_env(tmp_path)
    assert orderdeck(env, tmp_path, "migrate").returncode == 0
    (tmp_path / "taken.tar.gz").write_text("keep me")
    again = orderdeck(env, tmp_path, "backup", str(tmp_path / "taken.tar.gz"))
    assert again.returncode != 0 and "exists already" in again.stderr
    assert (tmp_path / "taken.tar.gz").read_text() == "keep me"
    postgres = {**env, "ORDERDECK_DATABASE_URL": "postgres://postgres@127.0.0.1:5432/nowhere"}
    for command in ("backup", "restore"):
        done = orderdeck(postgres, tmp_path, command, str(tmp_path / "x.tar.gz"))
        assert done.returncode != 0 and "pg_dump" in done.stderr and "ORDERDECK_SECRET_KEY" in done.stderr


def test_rotate_key_seals_every_secret_with_a_new_key_then_the_old_one_can_go(tmp_path):
    env = sqlite_env(tmp_path)
    with running(env, tmp_path) as (_, client):
        shop_with_orders(client)
    key_file = tmp_path / "orderdeck.sqlite3.key"
    database = tmp_path / "orderdeck.sqlite3"

    def stored() -> str:
        with closing(sqlite3.connect(database)) as conn:
            return conn.execute("SELECT secrets FROM connection").fetchone()[0]

    old_key, sealed_before = key_file.read_text().split(), stored()
    early = orderdeck(env, tmp_path, "rotate-key", "--forget-old")
    assert early.returncode == 0 and len(key_file.read_text().split()) == 1, "nothing to forget yet"

    done = orderdeck(env, tmp_path, "rotate-key")
    assert done.returncode == 0, done.stderr
    keys = key_file.read_text().split()
    assert len(keys) == 2 and keys[1:] == old_key and mode(key_file) == 0o600
    assert stored() != sealed_before
    assert crypto.opens_with(stored(), keys[:1]) and not crypto.opens_with(stored(), old_key)

    forget = orderdeck(env, tmp_path, "rotate-key", "--forget-old")
    assert forget.returncode == 0, forget.stderr
    assert key_file.read_text().split() == keys[:1]
    with running(env, tmp_path) as (_, client):
        assert gql(client, "{ channels { secretsSet } }")["channels"] == [{"secretsSet": ["consumer_secret"]}]


@pytest.fixture
def keys(monkeypatch, database_url):
    """Switch the configured key ring: ``keys("A")``, ``keys("B", "A")`` (newest first)."""

    def use(*ring: str) -> None:
        settings = Settings(database_url=database_url, secret_key=ring[0], previous_secret_keys=list(ring[1:]))
        monkeypatch.setattr(crypto, "get_settings", lambda: settings)

    return use


async def test_configured_keys_rotate_and_an_unreadable_secret_changes_nothing(default_location, actor, keys):
    keys(KEY_A)
    channel = await channels.create_channel({"name": "Web shop", "plugin": "woocommerce", "settings": SHOP}, actor)
    sealed_with_a = (await Connection.get(id=channel.id)).secrets

    keys(KEY_B, KEY_A)  # a new key first, the old one still opens what it sealed
    assert channels.channel_connection(await Connection.get(id=channel.id))[1].settings.consumer_secret.get_secret_value() == "cs_top_secret"
    assert await connections_needing_old_keys() == ["Web shop"]
    assert await reencrypt_secrets() == 1
    assert await connections_needing_old_keys() == []

    keys(KEY_B)  # the old key removed
    assert channels.channel_connection(await Connection.get(id=channel.id))[1].settings.consumer_secret.get_secret_value() == "cs_top_secret"

    await Connection.filter(id=channel.id).update(secrets=sealed_with_a)  # a secret no key in force opens
    with pytest.raises(UnreadableSecrets, match="Web shop"):
        await reencrypt_secrets()
    assert (await Connection.get(id=channel.id)).secrets == sealed_with_a


async def test_rotation_racing_secret_changes_loses_none_and_leaves_none_on_the_old_key(postgres_only, default_location,
                                                                                       actor, keys):  # fmt: skip
    keys(KEY_A)
    shops = [await channels.create_channel({"name": f"Shop {n}", "plugin": "woocommerce", "settings": SHOP}, actor)
             for n in range(4)]  # fmt: skip
    keys(KEY_B, KEY_A)

    async def change(channel: Channel, rounds: int) -> None:
        for i in range(rounds):
            await channels.update_channel(channel.id, {"settings": {"consumer_secret": f"cs-{channel.id}-{i}"}}, actor)

    await asyncio.gather(*(change(shop, 5) for shop in shops), *(reencrypt_secrets() for _ in range(3)))
    assert await connections_needing_old_keys() == []
    keys(KEY_B)
    for shop in shops:
        context = channels.channel_connection(await Connection.get(id=shop.id))[1]
        assert context.settings.consumer_secret.get_secret_value() == f"cs-{shop.id}-4", "no change lost"

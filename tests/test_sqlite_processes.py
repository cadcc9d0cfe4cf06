"""The embedded default takes several processes: the token CLI writes while `serve` takes writes.

SQLite runs in WAL mode with a busy timeout and BEGIN IMMEDIATE write transactions (orderdeck.db),
so a second process's write waits its turn instead of failing with "database is locked".
"""

from __future__ import annotations

import os
import re
import subprocess
import threading
from pathlib import Path

import httpx
import pytest

from tests.support import ORDERDECK, free_port, start_server, stop

TOKEN = re.compile(r"\bod_[A-Za-z0-9_-]{20,}\b")
CLIENTS = 8
MUTATIONS_EACH = 15
CLI_CALLS = 8


@pytest.fixture
def sqlite_env(tmp_path: Path) -> dict[str, str]:
    """Environment for orderdeck processes sharing one SQLite file."""
    return {**os.environ, "ORDERDECK_DATABASE_URL": f"sqlite://{tmp_path / 'orderdeck.sqlite3'}"}


def _admin_token(log: Path) -> str:
    found = TOKEN.findall(log.read_text())
    assert len(found) == 1, log.read_text()
    return found[0]


def test_the_token_cli_and_the_server_write_side_by_side(sqlite_env, tmp_path):
    server = start_server(sqlite_env, tmp_path, free_port())
    failures: list[str] = []
    created: list[str] = []
    cli_tokens: dict[str, str] = {}
    try:
        headers = {"Authorization": f"Bearer {_admin_token(server.log)}"}

        def client(number: int) -> None:
            with httpx.Client(base_url=server.url, headers=headers, timeout=60) as http:
                for i in range(MUTATIONS_EACH):
                    sku = f"SKU-{number}-{i}"
                    query = ('mutation { createStockItem(input: {sku: "%s", title: "Mug", unitPrice: "1.00"}) '
                             "{ stockItem { sku } errors { message } } }" % sku)  # fmt: skip
                    answer = http.post("/graphql", json={"query": query})
                    body = answer.json()
                    if answer.status_code != 200 or "errors" in body or body["data"]["createStockItem"]["errors"]:
                        failures.append(f"{sku}: {answer.status_code} {body}")
                    else:
                        created.append(body["data"]["createStockItem"]["stockItem"]["sku"])

        threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for call in range(CLI_CALLS):
            done = subprocess.run([*ORDERDECK, "token", "create", "--name", f"bot-{call}"], env=sqlite_env,
                                  cwd=tmp_path, capture_output=True, text=True, timeout=120)  # fmt: skip
            if done.returncode != 0 or not TOKEN.fullmatch(done.stdout.strip()):
                failures.append(f"token create bot-{call}: {done.returncode} {done.stderr[-500:]}")
            else:
                cli_tokens[f"bot-{call}"] = done.stdout.strip()
        for thread in threads:
            thread.join()
        assert all(not thread.is_alive() for thread in threads)
        signed_in = {
            name: httpx.post(f"{server.url}/graphql", json={"query": "{ me { name } }"},
                             headers={"Authorization": f"Bearer {secret}"}).json()["data"]["me"]["name"]
            for name, secret in cli_tokens.items()
        }  # fmt: skip
    finally:
        output = stop(server)
    assert not failures, "\n".join(failures)
    assert "database is locked" not in output
    assert len(created) == CLIENTS * MUTATIONS_EACH
    assert signed_in == {f"bot-{call}": f"bot-{call}" for call in range(CLI_CALLS)}

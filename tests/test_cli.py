"""The orderdeck command, end to end: serve on an empty database, tokens, export-schema."""

from __future__ import annotations

import os
import re
import subprocess

import httpx

from tests.support import ORDERDECK, free_port, start_server, stop

TOKEN = re.compile(r"\bod_[A-Za-z0-9_-]{20,}\b")


def test_first_serve_prints_an_admin_token_once_and_it_works(database_env, tmp_path):
    port = free_port()
    server = start_server(database_env, tmp_path, port)
    try:
        ready = httpx.get(f"http://127.0.0.1:{port}/readyz").json()
        assert ready["status"] == "ok"
        unauthorised = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ me { name } }"})
        assert unauthorised.status_code == 401
    finally:
        output = stop(server)
    tokens = TOKEN.findall(output)
    assert len(tokens) == 1, output
    server = start_server(database_env, tmp_path, port)
    try:
        me = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ me { name role } }"},
                        headers={"Authorization": f"Bearer {tokens[0]}"})  # fmt: skip
        assert me.json() == {"data": {"me": {"name": "admin", "role": "ADMIN"}}}
        locations = httpx.post(f"http://127.0.0.1:{port}/graphql", json={"query": "{ locations { name isDefault } }"},
                               headers={"Authorization": f"Bearer {tokens[0]}"})  # fmt: skip
        assert locations.json()["data"]["locations"] == [{"name": "Default", "isDefault": True}]
    finally:
        second = stop(server)
    assert not TOKEN.findall(second), "the admin token must be printed only on the first start"


def test_token_create_prints_only_the_token(database_env, tmp_path):
    done = subprocess.run([*ORDERDECK, "token", "create", "--name", "ci-bot"], env=database_env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert TOKEN.fullmatch(done.stdout.strip()), done.stdout
    again = subprocess.run([*ORDERDECK, "token", "create", "--name", "ci-bot"], env=database_env, cwd=tmp_path,
                           capture_output=True, text=True, timeout=60)  # fmt: skip
    assert again.returncode != 0
    assert "already exists" in again.stderr
    assert again.stdout == ""


def test_bad_configuration_is_a_clear_error(tmp_path):
    env = {**os.environ, "ORDERDECK_DATABASE_URL": "mysql://nope"}
    done = subprocess.run([*ORDERDECK, "migrate"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "ORDERDECK_DATABASE_URL must start with" in done.stderr

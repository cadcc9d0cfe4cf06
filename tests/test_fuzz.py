"""Fuzzing the live GraphQL API with schemathesis: random, schema-shaped queries and mutations, on
SQLite and on PostgreSQL (which refuses more than SQLite does: NUL in text, out-of-range numbers).

The server must answer every one without an unexpected error: schemathesis reports every GraphQL
error, deliberate ones included ("not a valid id"), so the verdict is the server's own log, where
only unexpected errors are logged (orderdeck.graphql.schema.Schema.process_errors), and its status
codes (no 5xx).
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

from tests.support import ORDERDECK, free_port, start_server, stop


def test_fuzzed_requests_cause_no_unexpected_error(database_env: dict[str, str], tmp_path: Path):
    token = subprocess.run([*ORDERDECK, "token", "create", "--name", "fuzz"], env=database_env, cwd=tmp_path,
                           capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    # The fuzzer sends hundreds of requests a second with one token: no rate limit for it.
    server = start_server({**database_env, "ORDERDECK_RATE_LIMIT_PER_MINUTE": "0"}, tmp_path, free_port())
    try:
        fuzz = subprocess.run(
            [sys.executable, "-m", "schemathesis.cli", "run", f"{server.url}/graphql",
             "-H", f"Authorization: Bearer {token}", "--phases", "fuzzing", "--max-examples", "12",
             "--seed", "20261122", "--workers", "2"],
            cwd=tmp_path, capture_output=True, text=True, timeout=600,
        )  # fmt: skip
    finally:
        log = stop(server)
    requests = log.count('"POST /graphql HTTP/1.1"')
    assert requests > 300, f"the fuzzer sent only {requests} requests:\n{fuzz.stdout[-3000:]}"
    assert "Unexpected error" not in log, log[log.index("Unexpected error") - 200 :][:5000]
    assert not re.search(r'"POST /graphql HTTP/1.1" 5\d\d', log)

"""The static sandbox cases of Amazon's API models (``x-amzn-api-sandbox.static``), served as
Amazon's own static sandbox serves them: a request whose parameters have a case's values gets that
case's canned answer.

``static_cases.json`` holds the cases of Orders v0 (31), Listings Items 2021-08-01 (14) and
Solicitations v1 (2), as ``extract(spec)`` reads them from the models
(amzn/selling-partner-api-models, Apache-2.0; a test checks the file against the specs): by
operationId, each ``{"status", "parameters": {name: value}, "response"}`` with only the
parameters a case gives a value for.

Matching: a case matches when every parameter it names has its value in the request (path, query,
or the JSON body as ``body``; a list value is compared with the comma-separated query value). Of
the matching cases the one naming the most parameters answers. A case naming none (a catch-all,
e.g. updateShipmentStatus' 204) answers only operations this sandbox does not emulate with state.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

CASES_FILE = Path(__file__).with_name("static_cases.json")


@dataclass(frozen=True)
class StaticCase:
    """One documented request (the parameters it gives values for) and Amazon's answer to it."""

    operation: str
    status: int
    parameters: dict[str, Any]
    response: Any


def extract(spec: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """The static cases of an API model (Swagger 2.0), by operationId, in the spec's order."""
    found: dict[str, list[dict[str, Any]]] = {}
    for operations in spec["paths"].values():
        for method, operation in operations.items():
            if method == "parameters" or not isinstance(operation, dict):  # x-amzn-api-sandbox-only: true
                continue
            for status, answer in operation.get("responses", {}).items():
                for case in answer.get("x-amzn-api-sandbox", {}).get("static", []):
                    given = case.get("request", {}).get("parameters", {})
                    values = {name: p["value"] for name, p in given.items() if isinstance(p, dict) and "value" in p}
                    found.setdefault(operation["operationId"], []).append(
                        {"status": int(status), "parameters": values, "response": case.get("response")})
    return found


@cache
def load() -> dict[str, list[StaticCase]]:
    """The shipped cases, by operationId."""
    data = json.loads(CASES_FILE.read_text())
    return {operation: [StaticCase(operation, c["status"], c["parameters"], c["response"]) for c in cases]
            for source in data["sources"] for operation, cases in source["cases"].items()}  # fmt: skip


def _equal(expected: Any, given: Any) -> bool:
    if given is None:
        return False
    if isinstance(expected, list) and isinstance(given, str):
        return [part.strip() for part in given.split(",")] == [str(item) for item in expected]
    if isinstance(expected, (dict, list)) or not isinstance(given, str):
        return expected == given
    return str(expected).lower() == given.lower() if isinstance(expected, bool) else str(expected) == given


def best(operation: str, request: dict[str, Any]) -> StaticCase | None:
    """The case answering ``request`` (parameter name -> the request's value: strings, the JSON
    body as ``body``), if one matches."""
    matching = [case for case in load().get(operation, [])
                if all(_equal(value, request.get(name)) for name, value in case.parameters.items())]  # fmt: skip
    return max(matching, key=lambda case: len(case.parameters), default=None)

"""Helpers for the plugin tests:

- ``serve``: an ASGI app (a channel sandbox) on loopback, over real HTTP (the toolkit's
  ``orderdeck.plugins.sandbox.serving``, which the tests import from here);
- ``install_plugins``: plugins written as real distributions (a package and its ``*.dist-info``
  with the entry point) into a folder, found by importlib.metadata once it is on sys.path;
- ``sandbox_command``: ``orderdeck sandbox NAME`` run as a process, once it answers;
- ``ApiSpec`` and ``SpecChecked``: a partner's published contract (Swagger 2.0 or OpenAPI 3, from
  ../shared/specs) and an ASGI wrapper checking every request a client sends a sandbox and every
  answer the sandbox gives against it (parameters, bodies, documented statuses, JSON schemas).

    with serve(create_app(seed_orders=5)) as running:
        httpx.get(f"{running.url}/__sandbox/state")
"""

from __future__ import annotations

import functools
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from orderdeck.plugins.sandbox.serving import RunningApp, serve
from tests.support import free_port

__all__ = ["ApiSpec", "RunningApp", "RunningSandbox", "SpecChecked", "install_plugins", "sandbox_command", "serve"]


def install_plugins(folder: Path, sources: Mapping[str, str]) -> None:
    """Write each plugin (entry-point name: its module's source) into ``folder`` as a package
    ``orderdeck_test_<name>`` with a dist-info naming its entry point, as pip would install it."""
    for name, source in sources.items():
        package = folder / f"orderdeck_test_{name}"
        package.mkdir()
        (package / "__init__.py").write_text(source)
        info = folder / f"orderdeck_test_{name}-1.0.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: orderdeck-test-{name}\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text(f"[orderdeck]\n{name} = orderdeck_test_{name}\n")


@dataclass
class RunningSandbox:
    """A sandbox served by ``orderdeck sandbox``: its port, its first state and its console log."""

    port: int
    state: Any
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@contextmanager
def sandbox_command(name: str, *options: str, log: Path, env: Mapping[str, str] | None = None) -> Iterator[RunningSandbox]:
    """Run ``orderdeck sandbox NAME --port P *options`` until the block ends, once its control API
    answers (its state read then); the command's output goes to ``log``."""
    port = free_port()
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "orderdeck.cli", "sandbox", name, "--port", str(port),
                                    *options], stdout=out, stderr=subprocess.STDOUT,
                                   env=dict(env if env is not None else os.environ))  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                state = httpx.get(f"http://127.0.0.1:{port}/__sandbox/state", timeout=1).json()
                break
            except httpx.HTTPError:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.2)
        yield RunningSandbox(port, state, log)
    finally:
        process.terminate()
        process.wait(timeout=15)


# --- partners' API contracts -------------------------------------------------------------------

SPECS = Path(__file__).resolve().parents[2].parent / "shared" / "specs"
"""The partners' published specifications (see its README), beside the project's checkout."""


def _nullable(node: Any) -> Any:
    """OpenAPI 3's ``nullable: true`` as JSON Schema (``anyOf`` the schema or null)."""
    if isinstance(node, list):
        return [_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted = {key: _nullable(value) for key, value in node.items()}
    if converted.pop("nullable", False) is True:
        return {"anyOf": [converted, {"type": "null"}]}
    return converted


@dataclass(frozen=True)
class SpecOperation:
    """One operation of a spec: its method, path template and definition (with the path's parameters)."""

    method: str
    template: str
    definition: dict[str, Any]
    parameters: list[dict[str, Any]]
    pattern: re.Pattern[str]
    """The concrete paths it serves, a group for each path parameter."""

    @property
    def name(self) -> str:
        return self.definition.get("operationId") or f"{self.method.upper()} {self.template}"


class ApiSpec:
    """A partner's API contract (Swagger 2.0 or OpenAPI 3.x), to check requests and answers by.

        orders = ApiSpec.load("amazon-sp-api-ordersV0.json")
        orders.request_problems("GET", "/orders/v0/orders", [("MarketplaceIds", "ATVPDKIKX0DER")], None)
        orders.response_problems("GET", "/orders/v0/orders", 200, b'{"payload": {"Orders": []}}')

    Each returns a list of problems (empty: it fits). Schemas are checked with jsonschema (draft 4,
    the dialect of Swagger 2.0 and close to OpenAPI 3.0's), every ``$ref`` resolved in the document.
    """

    def __init__(self, document: dict[str, Any], name: str = "spec") -> None:
        self.openapi3 = str(document.get("openapi", "")).startswith("3")
        self.document = _nullable(document) if self.openapi3 else document
        self.name = name
        if self.openapi3:
            server = (self.document.get("servers") or [{"url": ""}])[0]
            url = server.get("url", "")
            for variable, spec in server.get("variables", {}).items():  # their defaults
                url = url.replace(f"{{{variable}}}", str(spec.get("default", "")))
            base = re.escape(re.sub(r"^[a-z]+://[^/]+", "", url).rstrip("/"))
        else:
            base = re.escape((self.document.get("basePath") or "").rstrip("/"))
        self.operations: list[SpecOperation] = []
        for template, item in self.document["paths"].items():
            shared = item.get("parameters", [])
            for method, definition in item.items():
                if method not in ("get", "put", "post", "delete", "patch", "head", "options"):
                    continue
                own = [self._resolve(p) for p in definition.get("parameters", [])]
                names = {(p["name"], p["in"]) for p in own}
                parameters = own + [p for p in map(self._resolve, shared) if (p["name"], p["in"]) not in names]
                regex = re.sub(r"\\\{[^}]+\\\}", "([^/]+)", re.escape(template))  # a group per path parameter
                self.operations.append(SpecOperation(method, template, definition, parameters,
                                                     re.compile(f"{base}{regex}/?")))  # fmt: skip

    @classmethod
    def load(cls, file_name: str) -> ApiSpec:
        """A spec of ../shared/specs (JSON or YAML); the test is skipped, saying so, without it."""
        import pytest

        path = SPECS / file_name
        if not path.exists():
            pytest.skip(f"the partner's specification {path} is not here (it comes with shared/specs)")
        return _load_spec(str(path))

    def _resolve(self, node: dict[str, Any]) -> dict[str, Any]:
        """A ``{"$ref": "#/..."}`` node's target (any other node as it is)."""
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/"):
            target: Any = self.document
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def operation(self, method: str, path: str) -> SpecOperation | None:
        """The operation serving ``method`` on ``path`` (a concrete, percent-encoded path), if any:
        the template with the most literal characters wins."""
        found = [op for op in self.operations if op.method == method.lower() and op.pattern.fullmatch(path)]
        return max(found, key=lambda op: len(re.sub(r"\{[^}]+\}", "", op.template)), default=None)

    def _schema_problems(self, schema: dict[str, Any], instance: Any, where: str) -> list[str]:
        import jsonschema

        root = {"allOf": [schema], "definitions": self.document.get("definitions", {}),
                "components": self.document.get("components", {})}  # fmt: skip
        validator = jsonschema.Draft4Validator(root)
        return [f"{where}: {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message[:300]}"
                for error in validator.iter_errors(instance)]  # fmt: skip

    def _parameter_schema(self, parameter: dict[str, Any]) -> dict[str, Any]:
        if "schema" in parameter:
            return self._resolve(parameter["schema"])
        ignored = {"name", "in", "description", "required", "collectionFormat", "allowEmptyValue"}
        return {k: v for k, v in parameter.items() if k not in ignored and not k.startswith("x-")}

    def _parameter_value(self, parameter: dict[str, Any], values: list[str]) -> Any:
        """The query or path values of a parameter as the JSON its schema describes (arrays split
        by their collection format; numbers and booleans read); ValueError when unreadable."""
        schema = self._parameter_schema(parameter)

        def scalar(raw: str, kind: str | None) -> Any:
            if kind == "integer":
                return int(raw)
            if kind == "number":
                return float(raw)
            if kind == "boolean":
                if raw not in ("true", "false"):
                    raise ValueError(f"{raw!r} is not true or false")
                return raw == "true"
            return raw

        if schema.get("type") == "array":
            item_type = self._resolve(schema.get("items", {})).get("type")
            if parameter.get("collectionFormat") == "multi" or (self.openapi3 and parameter.get("explode", True)):
                parts = values if len(values) > 1 or not self.openapi3 else values[0].split(",")
            else:
                separator = {"ssv": " ", "tsv": "\t", "pipes": "|"}.get(parameter.get("collectionFormat", "csv"), ",")
                parts = [part for value in values for part in value.split(separator)]
            return [scalar(part, item_type) for part in parts]
        return scalar(values[-1], schema.get("type"))

    def request_problems(self, method: str, path: str, query: list[tuple[str, str]], body: bytes | None,
                         content_type: str = "application/json", *, unknown_query: bool = False) -> list[str]:  # fmt: skip
        """What of a request does not fit the spec: the path or method, each parameter (required,
        type, enum...), query parameters the operation does not take (unless ``unknown_query``),
        and the JSON body against its schema."""
        from urllib.parse import unquote

        operation = self.operation(method, path)
        if operation is None:
            return [f"{method} {path}: no operation of {self.name} serves it"]
        where = operation.name
        problems: list[str] = []
        given: dict[str, list[str]] = {}
        for key, value in query:
            given.setdefault(key, []).append(value)
        names = re.findall(r"\{([^}]+)\}", operation.template)
        matched = operation.pattern.fullmatch(path)
        path_values = {name: unquote(value) for name, value in zip(names, matched.groups() if matched else (), strict=False)}
        for parameter in operation.parameters:
            name, place = parameter["name"], parameter["in"]
            if place == "body":
                schema = self._resolve(parameter.get("schema", {}))
                problems += self._body_problems(schema, body, content_type, bool(parameter.get("required")), where)
                continue
            if place not in ("query", "path"):
                continue
            values = given.get(name) if place == "query" else ([path_values[name]] if name in path_values else None)
            if not values:
                if parameter.get("required"):
                    problems.append(f"{where}: the required {place} parameter {name} is missing")
                continue
            try:
                value = self._parameter_value(parameter, values)
            except ValueError as exc:
                problems.append(f"{where}: {place} parameter {name}: {exc}")
                continue
            problems += self._schema_problems(self._parameter_schema(parameter), value, f"{where} {place} parameter {name}")
        if self.openapi3 and "requestBody" in operation.definition:
            request_body = self._resolve(operation.definition["requestBody"])
            content = request_body.get("content", {})
            schema = self._resolve(next((c.get("schema", {}) for t, c in content.items() if "json" in t), {}))
            problems += self._body_problems(schema, body, content_type, bool(request_body.get("required")), where)
        if not unknown_query:
            known = {p["name"] for p in operation.parameters if p["in"] == "query"}
            problems += [f"{where}: query parameter {key} is not the operation's" for key in given if key not in known]
        return problems

    def _body_problems(self, schema: dict[str, Any], body: bytes | None, content_type: str, required: bool,
                       where: str) -> list[str]:  # fmt: skip
        if not body:
            return [f"{where}: the required body is missing"] if required else []
        if "json" not in content_type:
            return [f"{where}: the body is {content_type or 'untyped'}, not JSON"]
        try:
            instance = json.loads(body)
        except ValueError:
            return [f"{where}: the body is not JSON: {body[:100]!r}"]
        return self._schema_problems(schema, instance, f"{where} request body")

    def response_problems(self, method: str, path: str, status: int, body: bytes,
                          content_type: str = "application/json") -> list[str]:  # fmt: skip
        """What of an answer does not fit the spec: an undocumented status, a body where none is
        documented (204), a body that is not JSON or does not fit the status's schema."""
        operation = self.operation(method, path)
        if operation is None:
            return [f"{method} {path}: no operation of {self.name} serves it"]
        responses = operation.definition.get("responses", {})
        documented = responses.get(str(status)) or responses.get(f"{str(status)[0]}XX") or responses.get("default")
        where = f"{operation.name} {status}"
        if documented is None:
            return [f"{where}: status {status} is not documented (documented: {', '.join(responses)})"]
        documented = self._resolve(documented)
        if self.openapi3:
            content = documented.get("content", {})
            schema = next((c.get("schema") for t, c in content.items() if "json" in t), None)
        else:
            schema = documented.get("schema")
        if status == 204 or schema is None:
            return [f"{where}: a body where none is documented: {body[:100]!r}"] if body.strip() and status == 204 else []
        if "json" not in content_type:
            return [f"{where}: the answer is {content_type or 'untyped'}, not JSON"]
        try:
            instance = json.loads(body)
        except ValueError:
            return [f"{where}: the answer is not JSON: {body[:100]!r}"]
        return self._schema_problems(self._resolve(schema), instance, where)


@functools.cache
def _load_spec(path: str) -> ApiSpec:
    text = Path(path).read_text()
    if path.endswith((".yaml", ".yml")):
        import yaml

        return ApiSpec(yaml.safe_load(text), Path(path).name)
    return ApiSpec(json.loads(text), Path(path).name)


class SpecChecked:
    """An ASGI app (a sandbox) behind which every request and answer of the specs' API paths is
    checked: ``problems`` lists what did not fit (assert it is empty at the end of a test).
    Requests and answers no spec serves (the control API, a token endpoint) pass unchecked, and
    so do answers an injected fault gave (``X-Sandbox-Fault``).

        checked = SpecChecked(create_app(), [ApiSpec.load("amazon-sp-api-ordersV0.json")], skip=("/auth/",))
        with serve(checked) as running: ...
        assert checked.problems == []
    """

    def __init__(self, app: Any, specs: list[ApiSpec], *, requests: bool = True, responses: bool = True,
                 skip: tuple[str, ...] = ("/__sandbox",), unknown_query: bool = False) -> None:  # fmt: skip
        self.app, self.specs = app, specs
        self.check_requests, self.check_responses = requests, responses
        self.skip, self.unknown_query = skip, unknown_query
        self.problems: list[str] = []
        self.checked = 0

    def __getattr__(self, name: str) -> Any:  # app.state... of the wrapped app
        return getattr(self.app, name)

    def _spec(self, method: str, path: str) -> ApiSpec | None:
        return next((spec for spec in self.specs if spec.operation(method, path) is not None), None)

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["path"].startswith(self.skip):
            return await self.app(scope, receive, send)
        from urllib.parse import parse_qsl

        method = scope["method"]
        path = (scope.get("raw_path") or scope["path"].encode()).decode().split("?", 1)[0]
        spec = self._spec(method, path)
        if spec is None:
            self.problems.append(f"{method} {path}: no operation of {', '.join(s.name for s in self.specs)} serves it")
            return await self.app(scope, receive, send)
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        if self.check_requests:
            query = parse_qsl(scope.get("query_string", b"").decode(), keep_blank_values=True)
            self.problems += spec.request_problems(method, path, query, body or None, headers.get("content-type", ""),
                                                   unknown_query=self.unknown_query)  # fmt: skip
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        answer: dict[str, Any] = {"status": 0, "headers": {}, "body": []}

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = {k.decode().lower(): v.decode() for k, v in message.get("headers", [])}
            elif message["type"] == "http.response.body":
                answer["body"].append(message.get("body", b""))
                if not message.get("more_body") and self.check_responses and "x-sandbox-fault" not in answer["headers"]:
                    self.checked += 1
                    self.problems += spec.response_problems(method, path, answer["status"], b"".join(answer["body"]),
                                                            answer["headers"].get("content-type", ""))  # fmt: skip
            await send(message)

        await self.app(scope, replay, record)

"""Helpers for the plugin tests:

- ``serve``: an ASGI app (a channel sandbox) on loopback, over real HTTP (the toolkit's
  ``orderdeck.plugins.sandbox.serving``, which the tests import from here);
- ``install_plugins``: plugins written as real distributions (a package and its ``*.dist-info``
  with the entry point) into a folder, found by importlib.metadata once it is on sys.path;
- ``sandbox_command``: ``orderdeck sandbox NAME`` run as a process, once it answers;
- ``ApiSpec`` and ``SpecChecked``: a partner's published contract (Swagger 2.0 or OpenAPI 3, from
  ../shared/specs) and an ASGI wrapper checking every request a client sends a sandbox and every
  answer the sandbox gives against it (parameters and headers, media types, bodies, documented
  statuses and headers, JSON schemas with OpenAPI's nullable, readOnly, writeOnly and formats).

    with serve(create_app(seed_orders=5)) as running:
        httpx.get(f"{running.url}/__sandbox/state")
"""

from __future__ import annotations

import functools
import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

import httpx

from orderdeck.plugins.sandbox.serving import RunningApp, serve
from tests.support import free_port

__all__ = ["ApiSpec", "Exchange", "RunningApp", "RunningSandbox", "SpecChecked", "install_plugins", "sandbox_command", "serve"]


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

UNCHECKED_HEADERS = frozenset({"accept", "content-type", "authorization"})
"""Header parameters OpenAPI 3 says to ignore (the media types and security say what they hold)."""
BROKEN_FAULTS = ("malformed", "disconnect")
"""Kinds of injected fault whose answer is broken on purpose (cut-off JSON, a dropped connection):
``SpecChecked`` does not check them. The other faults' answers are the partner's own errors."""


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


_RFC3339 = re.compile(r"(\d{4})-(\d\d)-(\d\d)[Tt](\d\d):(\d\d):(\d\d)(?:\.\d+)?(?:[Zz]|[+-](\d\d):(\d\d))")


def _is_date_time(value: Any) -> bool:
    """RFC 3339 date-time (``date-time``): a real date and time, an offset or Z."""
    if not isinstance(value, str):
        return True
    found = _RFC3339.fullmatch(value)
    if found is None:
        return False
    year, month, day, hour, minute, second = (int(part) for part in found.groups()[:6])
    try:
        datetime(year, month, day, hour, minute, min(second, 59))  # 60: a leap second
    except ValueError:
        return False
    return found.group(7) is None or (int(found.group(7)) < 24 and int(found.group(8)) < 60)


def _is_date(value: Any) -> bool:
    """RFC 3339 full-date (``date``): YYYY-MM-DD, a real day."""
    if not isinstance(value, str):
        return True
    try:
        return bool(re.fullmatch(r"\d{4}-\d\d-\d\d", value)) and bool(date.fromisoformat(value))
    except ValueError:
        return False


def _in_range(bits: int) -> Callable[[Any], bool]:
    def check(value: Any) -> bool:
        return not isinstance(value, int) or isinstance(value, bool) or -(2 ** (bits - 1)) <= value < 2 ** (bits - 1)

    return check


def _is_float(value: Any) -> bool:
    return not isinstance(value, float) or (math.isfinite(value) and abs(value) <= 3.4028234663852886e38)


def _is_double(value: Any) -> bool:
    return not isinstance(value, float) or math.isfinite(value)


def _is_byte(value: Any) -> bool:
    return not isinstance(value, str) or bool(re.fullmatch(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?", value))


@functools.cache
def _formats() -> Any:
    """The formats Swagger 2.0 and OpenAPI 3 define, as a jsonschema FormatChecker: int32 and int64
    in range, float and double finite, byte base64, date and date-time as RFC 3339 writes them."""
    import jsonschema

    checker = jsonschema.FormatChecker(formats=())
    for name, check in {"int32": _in_range(32), "int64": _in_range(64), "float": _is_float, "double": _is_double,
                        "byte": _is_byte, "date": _is_date, "date-time": _is_date_time}.items():  # fmt: skip
        checker.checks(name)(check)
    return checker


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _documents(content_type: str, documented: list[str]) -> bool:
    """Whether a Content-Type is one of the documented media types (parameters aside, wildcards)."""
    given = _media_type(content_type)
    for media_type in map(_media_type, documented):
        if media_type in (given, "*/*") or (media_type.endswith("/*") and given.startswith(media_type[:-1])):
            return True
    return False


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
    the dialect of Swagger 2.0 and close to OpenAPI 3.0's), every ``$ref`` resolved in the document,
    with OpenAPI's ``nullable``, ``readOnly`` (not in a request, nor required of one),
    ``writeOnly`` (the same for answers) and formats (int32, int64, float, double, byte, date,
    date-time). A request's path, query and header parameters, media type and body are checked; an
    answer's status, media type, documented headers and body.

    For partners whose spec leaves out most of its error answers (eBay documents a few error
    statuses, none with a body): ``error_schema`` is the body of an error status (400 and up) that
    the operation does not document, or documents without a body (a JSON schema; its ``$ref`` point
    into the document), and ``same_body_as`` names documented statuses without a body whose body is
    another's (eBay's 207 Multi-Status: ``{"207": "200"}``).
    """

    def __init__(self, document: dict[str, Any], name: str = "spec", *, error_schema: dict[str, Any] | None = None,
                 same_body_as: Mapping[str, str] | None = None) -> None:  # fmt: skip
        self.openapi3 = str(document.get("openapi", "")).startswith("3")
        self.document = _nullable(document) if self.openapi3 else document
        self.name = name
        self.error_schema = _nullable(error_schema) if error_schema is not None else None
        self.same_body_as = dict(same_body_as or {})
        if self.openapi3:
            bases = []
            for server in self.document.get("servers") or [{"url": ""}]:
                url = server.get("url", "")
                for variable, spec in server.get("variables", {}).items():  # their defaults
                    url = url.replace(f"{{{variable}}}", str(spec.get("default", "")))
                bases.append(re.escape(re.sub(r"^[a-z]+://[^/]+", "", url).rstrip("/")))
            base = f"(?:{'|'.join(sorted(set(bases)))})"
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
        self._validators = {direction: self._validator_class(direction) for direction in ("request", "response")}

    @classmethod
    def load(cls, file_name: str, **options: Any) -> ApiSpec:
        """A spec of ../shared/specs (JSON or YAML), with the constructor's ``options``; the test is
        skipped, saying so, without it."""
        import pytest

        path = SPECS / file_name
        if not path.exists():
            pytest.skip(f"the partner's specification {path} is not here (it comes with shared/specs)")
        return _load_spec(str(path), json.dumps(options, sort_keys=True))

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

    def _validator_class(self, direction: str) -> Any:
        """Draft 4 as OpenAPI reads it in a request or in an answer: a ``readOnly`` property (in a
        request) or a ``writeOnly`` one (in an answer) must not be there, and is not required."""
        import jsonschema
        from jsonschema.exceptions import ValidationError

        hidden = "readOnly" if direction == "request" else "writeOnly"
        why = "read-only: the partner sets it, a request must not carry it" if direction == "request" else \
            "write-only: it is sent, never answered"  # fmt: skip

        def marked(validator: Any, value: Any, instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
            if value is True:
                yield ValidationError(why)

        def required(validator: Any, names: list[str], instance: Any, schema: dict[str, Any]) -> Iterator[Any]:
            if not validator.is_type(instance, "object"):
                return
            properties = schema.get("properties", {})
            for name in names:
                declared = properties.get(name, {})
                if name not in instance and not (declared.get(hidden) or self._resolve(declared).get(hidden)):
                    yield ValidationError(f"{name!r} is a required property")

        return jsonschema.validators.extend(jsonschema.Draft4Validator, {hidden: marked, "required": required})

    def _schema_problems(self, schema: dict[str, Any], instance: Any, where: str, direction: str = "response") -> list[str]:
        root = {"allOf": [schema], "definitions": self.document.get("definitions", {}),
                "components": self.document.get("components", {})}  # fmt: skip
        validator = self._validators[direction](root, format_checker=_formats())
        return [f"{where}: {'/'.join(map(str, error.absolute_path)) or '(root)'}: {error.message[:300]}"
                for error in validator.iter_errors(instance)]  # fmt: skip

    def _parameter_schema(self, parameter: dict[str, Any]) -> dict[str, Any]:
        if "schema" in parameter:
            return self._resolve(parameter["schema"])
        ignored = {"name", "in", "description", "required", "collectionFormat", "allowEmptyValue"}
        return {k: v for k, v in parameter.items() if k not in ignored and not k.startswith("x-")}

    def _parameter_value(self, parameter: dict[str, Any], values: list[str]) -> Any:
        """The query, path or header values of a parameter as the JSON its schema describes (arrays
        split by their collection format; numbers and booleans read); ValueError when unreadable."""
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

    def _consumes(self, operation: SpecOperation) -> list[str]:
        """The media types a Swagger 2.0 operation takes (its own, else the document's)."""
        return operation.definition.get("consumes") or self.document.get("consumes") or []

    def request_problems(self, method: str, path: str, query: list[tuple[str, str]], body: bytes | None,
                         content_type: str = "application/json", *, headers: Mapping[str, str] | None = None,
                         unknown_query: bool = False) -> list[str]:  # fmt: skip
        """What of a request does not fit the spec: the path or method, each parameter (required,
        type, enum...; header parameters when ``headers``, lower-case names, are given), query
        parameters the operation does not take (unless ``unknown_query``), the body's media type
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
                problems += self._body_problems(schema, body, content_type, bool(parameter.get("required")), where,
                                                self._consumes(operation))  # fmt: skip
                continue
            if place == "query":
                values = given.get(name)
            elif place == "path":
                values = [path_values[name]] if name in path_values else None
            elif place == "header" and headers is not None and name.lower() not in UNCHECKED_HEADERS:
                values = [headers[name.lower()]] if name.lower() in headers else None
            else:
                continue
            if not values:
                if parameter.get("required"):
                    problems.append(f"{where}: the required {place} parameter {name} is missing")
                continue
            try:
                value = self._parameter_value(parameter, values)
            except ValueError as exc:
                problems.append(f"{where}: {place} parameter {name}: {exc}")
                continue
            problems += self._schema_problems(self._parameter_schema(parameter), value, f"{where} {place} parameter {name}",
                                              "request")  # fmt: skip
        if self.openapi3 and "requestBody" in operation.definition:
            request_body = self._resolve(operation.definition["requestBody"])
            content = request_body.get("content", {})
            schema = next((c.get("schema", {}) for t, c in content.items() if _documents(content_type, [t])), None)
            schema = schema or next((c.get("schema", {}) for t, c in content.items() if "json" in t), {})
            problems += self._body_problems(self._resolve(schema), body, content_type, bool(request_body.get("required")),
                                            where, list(content))  # fmt: skip
        if not unknown_query:
            known = {p["name"] for p in operation.parameters if p["in"] == "query"}
            problems += [f"{where}: query parameter {key} is not the operation's" for key in given if key not in known]
        return problems

    def _body_problems(self, schema: dict[str, Any], body: bytes | None, content_type: str, required: bool,
                       where: str, media_types: list[str]) -> list[str]:  # fmt: skip
        if not body:
            return [f"{where}: the required body is missing"] if required else []
        if media_types and not _documents(content_type, media_types):
            return [f"{where}: the body is {_media_type(content_type) or 'untyped'}, not {' or '.join(media_types)}"]
        if "json" not in _media_type(content_type):
            return [] if media_types else [f"{where}: the body is {content_type or 'untyped'}, not JSON"]
        try:
            instance = json.loads(body)
        except ValueError:
            return [f"{where}: the body is not JSON: {body[:100]!r}"]
        return self._schema_problems(schema, instance, f"{where} request body", "request")

    def _answer_schema(self, documented: dict[str, Any], operation: SpecOperation) -> tuple[dict[str, Any] | None, list[str]]:
        """A documented answer's body schema (None: no body documented) and media types."""
        if self.openapi3:
            content = documented.get("content", {})
            schema = next((c.get("schema") for t, c in content.items() if "json" in t), None)
            return (self._resolve(schema) if schema is not None else None), list(content)
        produces = operation.definition.get("produces") or self.document.get("produces") or []
        return (self._resolve(documented["schema"]) if "schema" in documented else None), produces

    def _header_problems(self, documented: dict[str, Any], headers: Mapping[str, str], where: str) -> list[str]:
        """A documented answer's headers: the required there, each given one as its schema says."""
        problems = []
        for name, header in documented.get("headers", {}).items():
            header = self._resolve(header)
            value = headers.get(name.lower())
            if value is None:
                problems += [f"{where}: the required header {name} is missing"] if header.get("required") else []
                continue
            try:
                typed = self._parameter_value(header, [value])
            except ValueError as exc:
                problems.append(f"{where}: header {name}: {exc}")
                continue
            problems += self._schema_problems(self._parameter_schema(header), typed, f"{where} header {name}")
        return problems

    def response_problems(self, method: str, path: str, status: int, body: bytes, content_type: str = "application/json",
                          *, headers: Mapping[str, str] | None = None, fault: bool = False) -> list[str]:  # fmt: skip
        """What of an answer does not fit the spec: an undocumented status (but an error the
        ``error_schema`` describes, or an injected ``fault``'s: the test chose it), a body where none
        is documented (204), a media type not documented, a body that is not JSON or does not fit
        the status's schema (or ``same_body_as``'s, or ``error_schema``), the documented headers
        (when ``headers``, lower-case names, are given)."""
        operation = self.operation(method, path)
        if operation is None:
            return [f"{method} {path}: no operation of {self.name} serves it"]
        responses = operation.definition.get("responses", {})
        key = next((k for k in (str(status), f"{str(status)[0]}XX", "default") if k in responses), None)
        where = f"{operation.name} {status}"
        problems: list[str] = []
        schema: dict[str, Any] | None = None
        media_types: list[str] = []
        if key is not None:
            documented = self._resolve(responses[key])
            problems += self._header_problems(documented, headers, where) if headers is not None else []
            schema, media_types = self._answer_schema(documented, operation)
            if schema is None and key in self.same_body_as and self.same_body_as[key] in responses:
                schema, media_types = self._answer_schema(self._resolve(responses[self.same_body_as[key]]), operation)
        if schema is None and status >= 400 and self.error_schema is not None:
            schema, media_types = self.error_schema, []
        if key is None and schema is None:
            return [] if fault else [f"{where}: status {status} is not documented (documented: {', '.join(responses)})"]
        if schema is None:
            return problems + ([f"{where}: a body where none is documented: {body[:100]!r}"] if body.strip() and status == 204 else [])
        if media_types and not _documents(content_type, media_types):
            return problems + [f"{where}: the answer is {_media_type(content_type) or 'untyped'}, not {' or '.join(media_types)}"]
        if "json" not in _media_type(content_type):
            return problems + ([] if media_types else [f"{where}: the answer is {content_type or 'untyped'}, not JSON"])
        try:
            instance = json.loads(body)
        except ValueError:
            return problems + [f"{where}: the answer is not JSON: {body[:100]!r}"]
        return problems + self._schema_problems(schema, instance, where)


@functools.cache
def _load_spec(path: str, options: str) -> ApiSpec:
    text = Path(path).read_text()
    if path.endswith((".yaml", ".yml")):
        import yaml

        document = yaml.safe_load(text)
    else:
        document = json.loads(text)
    return ApiSpec(document, Path(path).name, **json.loads(options))


@dataclass
class Exchange:
    """A request ``SpecChecked`` passed on (its headers with lower-case names) and the status it
    was answered with (0: no answer finished)."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    status: int = 0


class SpecChecked:
    """An ASGI app (a sandbox) behind which every request and answer of the specs' API paths is
    checked: ``problems`` lists what did not fit (assert it is empty at the end of a test), and
    ``exchanges`` what was asked (``checked``: how many answers were checked). Requests and answers
    no spec serves (the control API, a token endpoint: ``skip``) pass unchecked, and so do answers
    an injected fault broke on purpose (``X-Sandbox-Fault``: malformed); the other faults' answers
    (a 429, a 5xx) are checked as the partner's errors, whatever their status.

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
        self.exchanges: list[Exchange] = []
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
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        exchange = Exchange(method, path, scope.get("query_string", b"").decode("latin-1"), headers)
        self.exchanges.append(exchange)
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
        if self.check_requests:
            query = parse_qsl(exchange.query, keep_blank_values=True)
            self.problems += spec.request_problems(method, path, query, body or None, headers.get("content-type", ""),
                                                   headers=headers, unknown_query=self.unknown_query)  # fmt: skip
        replayed = False

        async def replay() -> dict[str, Any]:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        answer: dict[str, Any] = {"headers": {}, "body": []}

        async def record(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                answer["headers"] = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in message.get("headers", [])}
                exchange.status = message["status"]
            elif message["type"] == "http.response.body":
                answer["body"].append(message.get("body", b""))
                fault = answer["headers"].get("x-sandbox-fault")
                if not message.get("more_body") and self.check_responses and fault not in BROKEN_FAULTS:
                    self.checked += 1
                    self.problems += spec.response_problems(method, path, exchange.status, b"".join(answer["body"]),
                                                            answer["headers"].get("content-type", ""),
                                                            headers=answer["headers"], fault=fault is not None)  # fmt: skip
            await send(message)

        await self.app(scope, replay, record)

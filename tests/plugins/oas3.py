"""Checking a sandbox and the clients that talk to it against a partner's OpenAPI 3 contract
(openapi-core), for any channel whose partner publishes one (eBay's, in ../shared/specs).

    fulfillment = Oas3Contract.load(SPECS / "ebay-sell-fulfillment-v1-oas3.json", error_schema=EBAY_ERRORS)
    recorder = ExchangeRecorder(create_app())          # the sandbox, recording every exchange
    with serve(recorder) as running:
        ...                                            # any client: the connector, another library
    assert_exchanges_keep(recorder.exchanges, [fulfillment, inventory], ignore=("/identity/",))

- ``ExchangeRecorder``: an ASGI wrapper that records each request (method, path, query, headers,
  body) and the response the sandbox served (status, headers, body), control routes excepted.
- ``Oas3Contract``: one OpenAPI 3 document. Its servers' variables are set to their defaults, so
  a request is matched by the path after the server's (``/sell/fulfillment/v1/order``), whatever
  host it went to. ``problems(exchange)`` lists what breaks the contract: a request's path,
  parameters or body; a response's body for a status the operation declares with a schema. A
  status the operation does not declare (eBay documents few of its errors) is checked against
  ``error_schema`` (a JSON schema whose ``$ref``s point into the document) when one is given;
  ``same_body_as`` names declared statuses whose body is another's (eBay's 207 Multi-Status
  carries the 200's).
- ``assert_exchanges_keep``: every exchange kept some contract, and none broke it.

OpenAPI 3 only: a Swagger 2.0 document (Amazon's) needs a validator of its own.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import jsonschema
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound, ServerNotFound
from referencing import Registry
from referencing.jsonschema import DRAFT4
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from werkzeug.datastructures import Headers, ImmutableMultiDict

from orderdeck.plugins.sandbox import CONTROL

SPECS = Path(__file__).resolve().parents[3] / "shared" / "specs"
"""The partners' published contracts (the project's shared/specs, beside the checkout)."""
HOST = "https://partner.invalid"


@dataclass
class Exchange:
    """One request a sandbox received and the response it served."""

    method: str
    path: str
    query: str
    request_headers: dict[str, str]
    request_body: bytes
    status: int = 0
    response_headers: dict[str, str] = field(default_factory=dict)
    response_body: bytes = b""

    def __str__(self) -> str:
        return f"{self.method} {self.path}{'?' + self.query if self.query else ''} -> {self.status}"


class ExchangeRecorder:
    """An ASGI app that serves ``app`` and records every exchange (see the module docstring)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.exchanges: list[Exchange] = []

    @property
    def state(self) -> Any:
        return self.app.state  # type: ignore[attr-defined]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(CONTROL):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        exchange = Exchange(scope["method"], scope["path"], scope["query_string"].decode("latin-1"), headers, b"")
        self.exchanges.append(exchange)

        more = True
        while more:  # the whole body first (a handler may answer without reading it), then replayed
            message = await receive()
            exchange.request_body += message.get("body", b"")
            more = message["type"] == "http.request" and message.get("more_body", False)
        replayed = False

        async def receiving() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": exchange.request_body, "more_body": False}
            return await receive()

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = message["status"]
                exchange.response_headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                                             for k, v in message.get("headers", [])}  # fmt: skip
            elif message["type"] == "http.response.body":
                exchange.response_body += message.get("body", b"")
            await send(message)

        await self.app(scope, receiving, sending)


@dataclass
class _Request:
    """An exchange's request as openapi-core reads it."""

    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None


@dataclass
class _Response:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes


def _concrete_servers(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The document's servers with their variables set to the defaults, on one made-up host."""
    servers = []
    for server in document.get("servers") or [{"url": "/"}]:
        url = server["url"]
        for name, variable in (server.get("variables") or {}).items():
            url = url.replace(f"{{{name}}}", str(variable.get("default", "")))
        path = re.sub(r"^[a-z]+://[^/]+", "", url) or "/"
        servers.append({"url": HOST + path})
    return servers


class Oas3Contract:
    """One OpenAPI 3 document, checking exchanges (see the module docstring)."""

    def __init__(self, document: dict[str, Any], *, error_schema: dict[str, Any] | None = None,
                 same_body_as: dict[str, str] | None = None, name: str = "") -> None:  # fmt: skip
        if not str(document.get("openapi", "")).startswith("3."):
            raise ValueError(f"{name or 'the document'} is not OpenAPI 3 (openapi: {document.get('openapi')!r})")
        self.name = name or document.get("info", {}).get("title", "OpenAPI 3 document")
        self.document = copy.deepcopy(document)
        self.document["servers"] = _concrete_servers(document)
        self.api = OpenAPI.from_dict(self.document)
        self.same_body_as = same_body_as or {}
        self.error_validator = None
        if error_schema is not None:
            registry = Registry().with_resource("urn:contract", DRAFT4.create_resource(self.document))
            rooted = json.loads(json.dumps(error_schema).replace('"#/', '"urn:contract#/'))
            self.error_validator = jsonschema.Draft4Validator(rooted, registry=registry)

    @classmethod
    def load(cls, path: Path, **options: Any) -> Oas3Contract:
        """The contract of a JSON document on disk (read once per process)."""
        return cls(_read(str(path)), name=path.name, **options)

    def covers(self, exchange: Exchange) -> bool:
        """Whether the exchange is one of the document's operations (path and method)."""
        try:
            self.api.request_validator.path_finder.find(exchange.method.lower(), f"{HOST}{exchange.path}")
        except (PathNotFound, OperationNotFound, ServerNotFound):
            return False
        return True

    def _request(self, exchange: Exchange) -> _Request:
        headers = Headers(list(exchange.request_headers.items()))
        parameters = RequestParameters(query=ImmutableMultiDict(parse_qsl(exchange.query, keep_blank_values=True)),
                                       header=headers)  # fmt: skip
        return _Request(HOST, exchange.path, exchange.method.lower(), parameters,
                        exchange.request_headers.get("content-type", "application/octet-stream"),
                        exchange.request_body or None)  # fmt: skip

    def problems(self, exchange: Exchange) -> list[str]:
        """What in the exchange breaks the contract (empty: nothing)."""
        request = self._request(exchange)
        found = []
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Unsupported scheme type")  # OAuth 2 scopes are not checked
            try:
                self.api.validate_request(request)
            except Exception as exc:  # noqa: BLE001 - openapi-core's errors, each said
                found.append(f"request: {_explain(exc)}")
            found += self._response_problems(request, exchange)
        return [f"{exchange}: {problem}" for problem in found]

    def _response_problems(self, request: _Request, exchange: Exchange) -> list[str]:
        declared = self._declared(exchange)
        status = str(exchange.status)
        if status in self.same_body_as and not (declared.get(status) or {}).get("content"):
            status = self.same_body_as[status]
        if status in declared:
            response = _Response(int(status), exchange.response_headers.get("content-type", "application/json"),
                                 Headers(list(exchange.response_headers.items())), exchange.response_body)  # fmt: skip
            try:
                self.api.validate_response(request, response)
            except Exception as exc:  # noqa: BLE001
                return [f"response: {_explain(exc)}"]
            if int(status) < 400 or (declared[status] or {}).get("content"):
                return []
        if exchange.status >= 400 and self.error_validator is not None:
            try:
                body = json.loads(exchange.response_body)
            except ValueError:
                return [f"error body is not JSON: {exchange.response_body[:100]!r}"]
            errors = sorted(self.error_validator.iter_errors(body), key=str)
            return [f"error body: {e.message} at {list(e.absolute_path)}" for e in errors]
        if status not in declared:
            return [f"response: status {exchange.status} is not declared for this operation"]
        return []

    def _declared(self, exchange: Exchange) -> dict[str, Any]:
        """The responses the exchange's operation declares, by status."""
        found = self.api.request_validator.path_finder.find(exchange.method.lower(), f"{HOST}{exchange.path}")
        _, template, method = found.operation.parts
        return self.document["paths"][template][method].get("responses", {})


@cache
def _read(path: str) -> dict[str, Any]:
    return json.loads(Path(path).read_text())


def _explain(exc: BaseException) -> str:
    """openapi-core's error with the schema errors underneath it."""
    details = [str(e).split("\n", 1)[0] for e in getattr(exc.__cause__, "schema_errors", None) or []]
    return f"{type(exc).__name__}: {exc}" + (f" ({'; '.join(details)})" if details else "")


def assert_exchanges_keep(exchanges: list[Exchange], contracts: list[Oas3Contract],
                          ignore: tuple[str, ...] = ()) -> int:  # fmt: skip
    """Assert every exchange (but those whose path starts with one of ``ignore``) is covered by
    a contract and keeps it; the number checked."""
    problems, checked = [], 0
    for exchange in exchanges:
        if exchange.path.startswith(ignore):
            continue
        contract = next((c for c in contracts if c.covers(exchange)), None)
        if contract is None:
            problems.append(f"{exchange}: no contract has this operation")
            continue
        problems += contract.problems(exchange)
        checked += 1
    assert not problems, "\n".join(problems)
    return checked

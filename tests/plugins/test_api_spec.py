"""The contract checker the channel tests share (tests/plugins/support.py: ApiSpec, SpecChecked),
on two small specs of the same API, one Swagger 2.0 and one OpenAPI 3: it passes what fits and
finds what does not, in requests (path, query and header parameters, media type, body, readOnly)
and answers (status, media type, headers, body, nullable, writeOnly, formats), eBay's way of
leaving error bodies out (error_schema, same_body_as), and injected faults behind SpecChecked.
Amazon's and eBay's own specs are checked in test_amazon_spec.py and test_ebay_sandbox.py."""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.plugins.support import ApiSpec, SpecChecked, serve

ORDER = {"type": "object", "required": ["id", "placed", "secret"], "properties": {
    "id": {"type": "integer", "format": "int32", "readOnly": True},
    "placed": {"type": "string", "format": "date-time"},
    "note": {"type": "string", "nullable": True},
    "secret": {"type": "string", "writeOnly": True},
    "total": {"type": "number", "format": "double"}}}  # fmt: skip
"""An order: its id set by the shop, its secret only ever sent (OpenAPI 3 only: Swagger 2.0 has
neither nullable nor writeOnly, so there ``secret`` is an ordinary optional property)."""

OPENAPI3 = {
    "openapi": "3.0.3", "info": {"title": "Shop", "version": "2"},
    "servers": [{"url": "https://shop.example{base}", "variables": {"base": {"default": "/api/v2"}}}],
    "paths": {
        "/orders/{id}": {
            "parameters": [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "format": "int32"}}],
            "get": {"operationId": "getOrder",
                    "parameters": [{"name": "X-Shop", "in": "header", "required": True, "schema": {"type": "string", "enum": ["GB", "DE"]}},
                                   {"name": "fields", "in": "query", "schema": {"type": "string"}}],
                    "responses": {"200": {"description": "the order", "headers": {"X-Rate": {"required": True, "schema": {"type": "integer"}}},
                                          "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}},
                                  "404": {"description": "no such order"}}},
            "put": {"operationId": "putOrder",
                    "requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}},
                    "responses": {"200": {"description": "changed", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Order"}}}},
                                  "207": {"description": "changed, with warnings"}}},
        },
    },
    "components": {"schemas": {"Order": ORDER}},
}  # fmt: skip


def swagger2() -> dict[str, Any]:
    """The same API as Swagger 2.0."""
    order = copy.deepcopy(ORDER)
    order["required"].remove("secret")
    del order["properties"]["note"]["nullable"], order["properties"]["secret"]["writeOnly"]
    return {
        "swagger": "2.0", "info": {"title": "Shop", "version": "2"}, "basePath": "/api/v2",
        "consumes": ["application/json"], "produces": ["application/json"],
        "paths": {
            "/orders/{id}": {
                "parameters": [{"name": "id", "in": "path", "required": True, "type": "integer", "format": "int32"}],
                "get": {"operationId": "getOrder",
                        "parameters": [{"name": "X-Shop", "in": "header", "required": True, "type": "string", "enum": ["GB", "DE"]},
                                       {"name": "fields", "in": "query", "type": "string"}],
                        "responses": {"200": {"description": "the order", "headers": {"X-Rate": {"type": "integer"}},
                                              "schema": {"$ref": "#/definitions/Order"}},
                                      "404": {"description": "no such order"}}},
                "put": {"operationId": "putOrder",
                        "parameters": [{"name": "body", "in": "body", "required": True, "schema": {"$ref": "#/definitions/Order"}}],
                        "responses": {"200": {"description": "changed", "schema": {"$ref": "#/definitions/Order"}},
                                      "207": {"description": "changed, with warnings"}}},
            },
        },
        "definitions": {"Order": order},
    }  # fmt: skip


SHOP_ERROR = {"type": "object", "required": ["code"], "properties": {"code": {"type": "string"}}}
DIALECTS = [pytest.param(lambda: ApiSpec(OPENAPI3, "shop-oas3"), id="openapi3"),
            pytest.param(lambda: ApiSpec(swagger2(), "shop-swagger2"), id="swagger2")]  # fmt: skip
GOOD = {"id": 7, "placed": "2026-05-01T09:30:00.123+01:00", "note": "leave at the door", "total": 12.5}
JSON = "application/json"


@pytest.mark.parametrize("spec", DIALECTS)
def test_what_fits_passes(spec):
    spec = spec()
    assert spec.request_problems("GET", "/api/v2/orders/7", [("fields", "id")], None, headers={"x-shop": "GB"}) == []
    sent = json.dumps({"placed": "2026-05-01T09:30:00Z", "secret": "s3"}).encode()  # no id: the shop sets it
    assert spec.request_problems("PUT", "/api/v2/orders/7", [], sent, "application/json; charset=utf-8", headers={}) == []
    assert spec.response_problems("GET", "/api/v2/orders/7", 200, json.dumps(GOOD).encode(), JSON, headers={"x-rate": "5"}) == []
    assert spec.response_problems("GET", "/api/v2/orders/8", 404, b"", "") == []


@pytest.mark.parametrize("spec", DIALECTS)
@pytest.mark.parametrize(("method", "path", "query", "body", "content_type", "headers", "problem"), [
    ("GET", "/api/v2/orders/7", [], None, JSON, {}, "getOrder: the required header parameter X-Shop is missing"),
    ("GET", "/api/v2/orders/7", [], None, JSON, {"x-shop": "FR"}, "getOrder header parameter X-Shop: (root): 'FR' is not one of ['GB', 'DE']"),
    ("GET", "/api/v2/orders/seven", [], None, JSON, {"x-shop": "GB"}, "getOrder: path parameter id: invalid literal for int()"),
    ("GET", "/api/v2/orders/2147483648", [], None, JSON, {"x-shop": "GB"}, "getOrder path parameter id: (root): 2147483648 is not a 'int32'"),
    ("GET", "/api/v2/orders/7", [("sort", "new")], None, JSON, {"x-shop": "GB"}, "getOrder: query parameter sort is not the operation's"),
    ("PUT", "/api/v2/orders/7", [], b'{"placed": "2026-05-01T09:30:00Z"}', "text/plain", {}, "putOrder: the body is text/plain, not application/json"),
    ("PUT", "/api/v2/orders/7", [], None, JSON, {}, "putOrder: the required body is missing"),
    ("PUT", "/api/v2/orders/7", [], b'{"id": 7, "placed": "2026-05-01T09:30:00Z"}', JSON, {}, "putOrder request body: id: read-only"),
    ("PUT", "/api/v2/orders/7", [], b'{"placed": "yesterday"}', JSON, {}, "putOrder request body: placed: 'yesterday' is not a 'date-time'"),
    ("GET", "/api/v2/customers", [], None, JSON, {}, "no operation of shop-"),
])  # fmt: skip
def test_a_request_that_does_not_fit_is_found(spec, method, path, query, body, content_type, headers, problem):
    problems = spec().request_problems(method, path, query, body, content_type, headers=headers)
    assert any(found.startswith(problem) or problem in found for found in problems), problems


@pytest.mark.parametrize("spec", DIALECTS)
@pytest.mark.parametrize(("status", "body", "content_type", "headers", "problem"), [
    (200, {**GOOD, "id": "7"}, JSON, {"x-rate": "5"}, "getOrder 200: id: '7' is not of type 'integer'"),
    (200, {"placed": GOOD["placed"]}, JSON, {"x-rate": "5"}, "getOrder 200: (root): 'id' is a required property"),
    (200, {**GOOD, "placed": "2026-02-30T09:30:00Z"}, JSON, {"x-rate": "5"}, "placed: '2026-02-30T09:30:00Z' is not a 'date-time'"),
    (200, {**GOOD, "total": 1e400}, JSON, {"x-rate": "5"}, "total: inf is not a 'double'"),
    (200, GOOD, "text/html", {"x-rate": "5"}, "getOrder 200: the answer is text/html, not application/json"),
    (200, GOOD, JSON, {"x-rate": "many"}, "getOrder 200: header X-Rate: invalid literal for int()"),
    (418, {}, JSON, {}, "getOrder 418: status 418 is not documented (documented: 200, 404)"),
])  # fmt: skip
def test_an_answer_that_does_not_fit_is_found(spec, status, body, content_type, headers, problem):
    problems = spec().response_problems("GET", "/api/v2/orders/7", status, json.dumps(body).encode(), content_type, headers=headers)
    assert any(problem in found for found in problems), problems


def test_openapi_3_reads_nullable_write_only_and_required_headers():
    spec = ApiSpec(OPENAPI3, "shop-oas3")
    answer = json.dumps({**GOOD, "note": None}).encode()
    assert spec.response_problems("GET", "/api/v2/orders/7", 200, answer, JSON, headers={"x-rate": "5"}) == []
    assert spec.response_problems("GET", "/api/v2/orders/7", 200, answer, JSON, headers={}) == [
        "getOrder 200: the required header X-Rate is missing"]  # fmt: skip
    told = json.dumps({**GOOD, "secret": "s3"}).encode()
    assert spec.response_problems("GET", "/api/v2/orders/7", 200, told, JSON) == [
        "getOrder 200: secret: write-only: it is sent, never answered"]  # fmt: skip
    assert ApiSpec(swagger2(), "shop-swagger2").response_problems("GET", "/api/v2/orders/7", 200, answer, JSON) == [
        "getOrder 200: note: None is not of type 'string'"]  # fmt: skip


@pytest.mark.parametrize("document", [OPENAPI3, swagger2()], ids=["openapi3", "swagger2"])
def test_an_error_schema_and_same_body_as_check_what_the_spec_leaves_out(document):
    """As eBay's specs: errors documented without a body, or not at all; a 207 without one."""
    bare, told = ApiSpec(document), ApiSpec(document, error_schema=SHOP_ERROR, same_body_as={"207": "200"})
    assert bare.response_problems("GET", "/api/v2/orders/7", 404, b'{"oops": 1}') == []
    assert bare.response_problems("GET", "/api/v2/orders/7", 503, b'{"code": "down"}') != []
    assert told.response_problems("GET", "/api/v2/orders/7", 503, b'{"code": "down"}') == []
    for status in (404, 503):
        assert told.response_problems("GET", "/api/v2/orders/7", status, b'{"oops": 1}') == [
            f"getOrder {status}: (root): 'code' is a required property"]  # fmt: skip
    assert told.response_problems("GET", "/api/v2/orders/7", 404, b"<html>", "text/html") == [
        "getOrder 404: the answer is text/html, not JSON"]  # fmt: skip
    assert bare.response_problems("PUT", "/api/v2/orders/7", 207, b'{"id": "x"}') == []
    assert sorted(told.response_problems("PUT", "/api/v2/orders/7", 207, b'{"id": "x"}')) == [
        "putOrder 207: (root): 'placed' is a required property", "putOrder 207: id: 'x' is not of type 'integer'"]  # fmt: skip
    assert told.response_problems("GET", "/api/v2/orders/7", 302, b"") == [
        "getOrder 302: status 302 is not documented (documented: 200, 404)"]  # fmt: skip


def shop() -> Starlette:
    """A sandbox of the shop: order 1 as it should be; 2 a rate-limit fault not in the shop's
    error shape; 3 a malformed fault; 4 a server-error fault in the shop's shape (503, undocumented)."""

    async def get_order(request: Request) -> Response:
        fault = {"x-sandbox-fault": "rate_limit"}
        return {
            "1": JSONResponse(GOOD, headers={"X-Rate": "5"}),
            "2": JSONResponse({"message": "slow down"}, status_code=429, headers=fault),
            "3": Response('{"orders": [', media_type=JSON, headers={"x-sandbox-fault": "malformed"}),
            "4": JSONResponse({"code": "down"}, status_code=503, headers={"x-sandbox-fault": "server_error"}),
        }[request.path_params["id"]]  # fmt: skip

    return Starlette(routes=[Route("/api/v2/orders/{id}", get_order)])


@pytest.mark.parametrize("document", [OPENAPI3, swagger2()], ids=["openapi3", "swagger2"])
def test_spec_checked_checks_each_exchange_and_a_faults_answer_as_an_error(document):
    checked = SpecChecked(shop(), [ApiSpec(document, "shop", error_schema=SHOP_ERROR)])
    with serve(checked) as running, httpx.Client(base_url=running.url, headers={"X-Shop": "GB"}) as client:
        statuses = [client.get(f"/api/v2/orders/{n}").status_code for n in (1, 2, 3, 4)]
        client.get("/api/v2/orders/1", headers={"X-Shop": "US"})
    assert statuses == [200, 429, 200, 503]
    assert checked.problems == ["getOrder 429: (root): 'code' is a required property",
                                "getOrder header parameter X-Shop: (root): 'US' is not one of ['GB', 'DE']"]  # fmt: skip
    assert checked.checked == 4, "the malformed fault's answer, broken on purpose, is not checked"
    assert [(e.path, e.status, e.headers["x-shop"]) for e in checked.exchanges] == [
        ("/api/v2/orders/1", 200, "GB"), ("/api/v2/orders/2", 429, "GB"), ("/api/v2/orders/3", 200, "GB"),
        ("/api/v2/orders/4", 503, "GB"), ("/api/v2/orders/1", 200, "US")]  # fmt: skip

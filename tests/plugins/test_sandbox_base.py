"""The sandbox base (orderdeck.plugins.sandbox) over real HTTP, through a small emulator of a made-up
partner that writes its errors its own way: faults in the partner's format, in order, with count
and after; the request log; the control API; credentials; page-number and cursor paging."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from orderdeck.plugins.errors import PartnerUnavailable
from orderdeck.plugins.sandbox import (
    CONTROL,
    ApiError,
    Emulator,
    InvalidCursor,
    basic_auth,
    bearer_token,
    control_json,
    credentials_match,
    cursor_page,
    number_page,
    page_url,
    sandbox_app,
)
from orderdeck.plugins.toolkit import PartnerHttp
from tests.plugins.support import RunningApp, serve

TOKEN = "kiosk-token"


class Kiosk(Emulator):
    """A made-up partner: bearer tokens, errors as {"error": {"code", "message"}}, items."""

    messages = {**Emulator.messages, "rate_limit": ("slow_down", "Easy, tiger.")}
    malformed_body = "<html>502 Bad Gateway"

    def __init__(self) -> None:
        super().__init__()
        self.items = [{"id": n, "name": f"item {n}"} for n in range(1, 26)]

    def error(self, status: int, code: str, message: str) -> Response:
        return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)

    def authorised(self, request: Request) -> bool:
        return credentials_match(bearer_token(request), TOKEN)

    def unmatched(self, request: Request, status: int, detail: str) -> Response:
        if request.url.path.startswith("/api"):
            return self.error(404, "no_route", detail)
        return super().unmatched(request, status, detail)

    def state(self) -> dict[str, Any]:
        return {"items": len(self.items)}

    async def own_fault(self, request: Request, body: dict[str, Any]) -> Response | None:
        if body.get("kind") != "lose_item":
            return None
        self.items.pop()
        return JSONResponse({"items": len(self.items)}, status_code=201)


def create_app() -> Starlette:
    kiosk = Kiosk()

    async def numbered(request: Request) -> Response:
        page = number_page(kiosk.items, int(request.query_params.get("page", "1")), per_page=10)
        links = {"next": page_url(request, page=page.page + 1)} if page.has_next else {}
        return JSONResponse({"items": page.items, "total": page.total, "pages": page.pages, "links": links})

    async def cursored(request: Request) -> Response:
        try:
            page = cursor_page(kiosk.items, lambda i: i["id"], request.query_params.get("cursor"), limit=10)
        except InvalidCursor as exc:
            raise ApiError(kiosk.error(400, "bad_cursor", str(exc))) from None
        return JSONResponse({"items": page.items, "next": page.next_cursor})

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    async def add_item(request: Request) -> Response:
        body = await control_json(request)
        kiosk.items.append({"id": body["id"], "name": body["name"]})
        return JSONResponse({"items": len(kiosk.items)}, status_code=201)

    api = [Route("/api/items", kiosk.api(numbered)), Route("/api/feed", kiosk.api(cursored)),
           Route("/api/health", kiosk.api(health, authenticate=False))]  # fmt: skip
    return sandbox_app(kiosk, api, control=[Route(f"{CONTROL}/items", add_item, methods=["POST"])], banner="Kiosk")


@pytest.fixture
def kiosk() -> Iterator[RunningApp]:
    with serve(create_app()) as running:
        yield running


@pytest.fixture
def api(kiosk: RunningApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{kiosk.url}/api", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10) as client:
        yield client


@pytest.fixture
def control(kiosk: RunningApp) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{kiosk.url}{CONTROL}", timeout=10) as client:
        yield client


def fault(control: httpx.Client, kind: str, **options: Any) -> Any:
    response = control.post("/faults", json={"kind": kind, **options})
    assert response.status_code < 300, response.text
    return response.json()


# Faults


def test_faults_answer_in_the_partners_format_in_the_order_added(api, control):
    fault(control, "rate_limit", count=2, retry_after=7)
    fault(control, "server_error", status=502)
    assert [f["kind"] for f in control.get("/faults").json()["faults"]] == ["rate_limit", "server_error"]
    for _ in range(2):
        limited = api.get("/items")
        assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
        assert limited.json() == {"error": {"code": "slow_down", "message": "Easy, tiger."}}
    failed = api.get("/items")
    assert failed.status_code == 502 and failed.json()["error"]["code"] == "server_error"
    assert api.get("/items").status_code == 200
    assert control.get("/faults").json() == {"faults": []}


def test_after_lets_requests_through_before_the_fault(api, control):
    fault(control, "server_error", count=2, after=2)
    assert [api.get("/items").status_code for _ in range(5)] == [200, 200, 500, 500, 200]


def test_a_delay_answers_normally_later(api, control):
    fault(control, "delay", seconds=0.4)
    started = time.monotonic()
    answer = api.get("/items")
    assert time.monotonic() - started >= 0.4
    assert answer.status_code == 200 and answer.json()["total"] == 25


def test_a_malformed_answer_is_200_with_a_body_that_is_not_json(api, control):
    fault(control, "malformed")
    broken = api.get("/items")
    assert broken.status_code == 200 and broken.headers["content-type"] == "application/json"
    assert broken.text == "<html>502 Bad Gateway"
    with pytest.raises(ValueError):
        broken.json()


async def test_a_dropped_connection_is_a_transport_error_and_partner_http_makes_it_unavailable(kiosk, control):
    fault(control, "disconnect", count=2)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.get(f"{kiosk.url}/api/items", headers={"Authorization": f"Bearer {TOKEN}"})
    async with PartnerHttp(f"{kiosk.url}/api", retries=0, headers={"Authorization": f"Bearer {TOKEN}"}) as client:
        with pytest.raises(PartnerUnavailable, match="RemoteProtocolError"):
            await client.request("GET", "/items")
        assert (await client.request("GET", "/items")).status_code == 200, "the partner is well again"
    assert [r["status"] for r in control.get("/requests").json()] == [0, 0, 200], "no answer: status 0"


def test_faults_come_before_credentials_and_apply_to_api_requests_only(kiosk, control):
    fault(control, "server_error")
    assert control.get("/state").status_code == 200, "the control API is never faulted"
    assert httpx.get(f"{kiosk.url}/api/items").status_code == 500, "a fault answers before the credentials are checked"
    assert httpx.get(f"{kiosk.url}/api/items").status_code == 401


def test_the_control_api_refuses_what_it_cannot_queue(control):
    unknown = control.post("/faults", json={"kind": "meteor"})
    assert unknown.status_code == 400 and "rate_limit" in unknown.json()["error"] and "disconnect" in unknown.json()["error"]
    for body in [{"kind": "delay", "seconds": -1}, {"kind": "server_error", "status": 700},
                 {"kind": "rate_limit", "count": "many"}]:  # fmt: skip
        assert control.post("/faults", json=body).status_code == 400, body
    assert control.post("/faults", content=b"{not json").status_code == 400
    assert control.get("/faults").json() == {"faults": []}
    fault(control, "delay", count=3)
    assert control.delete("/faults").json() == {"faults": []}
    assert control.get("/state").json()["faults"] == []


def test_an_emulator_adds_fault_kinds_and_control_routes_of_its_own(api, control):
    assert fault(control, "lose_item") == {"items": 24}
    assert control.post("/items", json={"id": 99, "name": "late"}).status_code == 201
    assert control.get("/state").json() == {"items": 25, "faults": []}
    assert api.get("/items", params={"page": 3}).json()["items"][-1] == {"id": 99, "name": "late"}


# The request log


def test_the_request_log_records_each_api_request_and_its_answer(kiosk, api, control):
    api.get("/items", params={"page": 2})
    httpx.get(f"{kiosk.url}/api/items", headers={"Authorization": "Bearer wrong"})
    api.get("/health")
    control.get("/state")  # not logged: not the partner's API
    log = control.get("/requests").json()
    assert [(r["method"], r["path"], r["query"], r["status"]) for r in log] == [
        ("GET", "/api/items", "page=2", 200), ("GET", "/api/items", "", 401), ("GET", "/api/health", "", 200)]  # fmt: skip
    assert all(abs(r["at"] - time.time()) < 30 for r in log)
    assert control.delete("/requests").json() == [] and control.get("/requests").json() == []


def test_a_request_in_flight_is_logged_with_status_0(kiosk, api, control):
    fault(control, "delay", seconds=1.0)
    thread = threading.Thread(target=api.get, args=("/items",))
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not control.get("/requests").json():
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert control.get("/requests").json()[0]["status"] == 0
    finally:
        thread.join()
    assert control.get("/requests").json()[0]["status"] == 200


# Credentials


def test_refused_credentials_get_the_partners_401(kiosk):
    for headers in [{}, {"Authorization": "Bearer nope"}, {"Authorization": f"Basic {TOKEN}"}]:
        refused = httpx.get(f"{kiosk.url}/api/items", headers=headers)
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthorised", headers
    assert httpx.get(f"{kiosk.url}/api/health").status_code == 200, "a route may need no credentials"


def request_with(authorization: str) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": b"",
                    "headers": [(b"authorization", authorization.encode())]})  # fmt: skip


def test_auth_helpers():
    assert basic_auth(request_with("Basic Y2tfMTpjc186c2VjcmV0")) == ("ck_1", "cs_:secret")
    assert basic_auth(request_with("basic !!!")) == ("", "")
    assert basic_auth(request_with("Bearer x")) is None and bearer_token(request_with("Basic x")) is None
    assert bearer_token(request_with("Bearer  abc ")) == "abc"
    assert credentials_match(("ck", "cs"), ("ck", "cs")) and credentials_match("tök", "tök")
    for given in [None, ("ck",), ("ck", "cs", "x"), ("ck", "cx"), ("", ""), ""]:
        assert not credentials_match(given, ("ck", "cs") if not isinstance(given, str) else ""), given


# Paging


def test_page_numbers_and_the_link_to_the_next_page(api):
    first = api.get("/items", params={"page": 1, "lang": "en"}).json()
    assert (len(first["items"]), first["total"], first["pages"]) == (10, 25, 3)
    second = api.get(first["links"]["next"]).json()
    assert first["links"]["next"].endswith("/api/items?lang=en&page=2")
    last = api.get(second["links"]["next"]).json()
    assert [i["id"] for i in last["items"]] == [21, 22, 23, 24, 25] and last["links"] == {}
    assert api.get("/items", params={"page": 9}).json()["items"] == []
    empty = number_page([], 1, 10)
    assert (empty.pages, empty.has_next, empty.has_previous) == (0, False, False)
    with pytest.raises(ValueError):
        number_page([1], 0, 10)


def test_a_cursor_pages_without_loss_or_duplicates_while_items_are_added(api, control):
    seen: list[int] = []
    cursor = None
    for round_ in range(10):
        page = api.get("/feed", params={"cursor": cursor} if cursor else {}).json()
        seen += [item["id"] for item in page["items"]]
        if round_ == 0:  # new items arrive (ids after all others) while the feed is read
            control.post("/items", json={"id": 100, "name": "new"})
        cursor = page["next"]
        if cursor is None:
            break
    assert seen == [*range(1, 26), 100]
    refused = api.get("/feed", params={"cursor": "not-a-cursor"})
    assert refused.status_code == 400 and refused.json()["error"]["code"] == "bad_cursor"


def test_cursor_page_orders_by_its_key_and_refuses_a_cursor_of_another_shape():
    rows = [("2024-05-01", 3), ("2024-05-01", 1), ("2024-04-30", 9)]
    page = cursor_page(rows, key=lambda r: r, cursor=None, limit=2)
    assert page.items == [("2024-04-30", 9), ("2024-05-01", 1)]
    rest = cursor_page(rows, key=lambda r: r, cursor=page.next_cursor, limit=2)
    assert rest.items == [("2024-05-01", 3)] and rest.next_cursor is None
    numbers = cursor_page([1, 2, 3], key=lambda n: n, cursor=None, limit=1).next_cursor
    with pytest.raises(InvalidCursor):
        cursor_page(rows, key=lambda r: r, cursor=numbers, limit=2)


# Unknown routes


def test_unknown_routes_are_answered_by_the_emulator(kiosk, api):
    missing = api.get("/nothing")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "no_route"
    assert httpx.get(f"{kiosk.url}/elsewhere").json() == {"error": "Not Found"}
    assert httpx.post(f"{kiosk.url}{CONTROL}/state").status_code == 405


def test_the_app_carries_the_emulator_and_its_banner():
    app = create_app()
    assert isinstance(app.state.sandbox, Kiosk) and app.state.banner == "Kiosk"

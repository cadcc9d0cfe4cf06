"""The WooCommerce sandbox against WooCommerce's documented REST v3 contract: the fields it emits,
authentication over HTTPS, collection parameters and headers, dates, notes, products and batch
errors, the error codes of each route; and the `orderdeck sandbox` command. The shop is served over
HTTPS here (a throwaway self-signed certificate the client trusts), where WooCommerce takes HTTP
Basic; test_woocommerce_auth.py covers plain HTTP (OAuth 1.0a)."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest
import woocommerce

from orderdeck.plugins.toolkit import tls_context
from tests.plugins.conftest import KEY, SECRET
from tests.plugins.support import sandbox_command

# Order properties as documented by WooCommerce (woocommerce-rest-api-docs, wp-api-v3/_orders.md),
# less the write-only set_paid.
ORDER_FIELDS = {
    "id", "parent_id", "number", "order_key", "created_via", "version", "status", "currency", "date_created",
    "date_created_gmt", "date_modified", "date_modified_gmt", "discount_total", "discount_tax", "shipping_total",
    "shipping_tax", "cart_tax", "total", "total_tax", "prices_include_tax", "customer_id", "customer_ip_address",
    "customer_user_agent", "customer_note", "billing", "shipping", "payment_method", "payment_method_title",
    "transaction_id", "date_paid", "date_paid_gmt", "date_completed", "date_completed_gmt", "cart_hash", "meta_data",
    "line_items", "tax_lines", "shipping_lines", "fee_lines", "coupon_lines", "refunds",
}  # fmt: skip
BILLING_FIELDS = {"first_name", "last_name", "company", "address_1", "address_2", "city", "state", "postcode",
                  "country", "email", "phone"}  # fmt: skip
SHIPPING_FIELDS = BILLING_FIELDS - {"email"} | {"phone"}  # phone: WooCommerce 5.6+
LINE_FIELDS = {"id", "name", "product_id", "variation_id", "quantity", "tax_class", "subtotal", "subtotal_tax", "total",
               "total_tax", "taxes", "meta_data", "sku", "price"}  # fmt: skip
SHIPPING_LINE_FIELDS = {"id", "method_title", "method_id", "total", "total_tax", "taxes", "meta_data"}
NOTE_FIELDS = {"id", "author", "date_created", "date_created_gmt", "note", "customer_note"}
MONEY = r"^-?\d+\.\d{2}$"


@pytest.fixture
def sandbox(tls_sandbox):
    """This module's shop: served over HTTPS."""
    return tls_sandbox


@pytest.fixture
def control(tls_control):
    return tls_control


@pytest.fixture
def trusted(shop_certificate):
    """What a client checks the shop's certificate against: the shop's own certificate."""
    return tls_context(shop_certificate[1])


@pytest.fixture
def api(sandbox, trusted):
    with httpx.Client(base_url=f"{sandbox.url}/wp-json/wc/v3", auth=(KEY, SECRET), timeout=10, verify=trusted) as client:
        yield client


def test_orders_carry_the_documented_fields_with_the_documented_types(api, control):
    control.orders(random=5)
    orders = api.get("/orders").json()
    assert len(orders) == 5
    for order in orders:
        assert set(order) - {"_links"} == ORDER_FIELDS
        assert isinstance(order["id"], int) and isinstance(order["number"], str)
        assert order["status"] in {"pending", "processing", "on-hold"}
        assert len(order["currency"]) == 3
        for key in ("total", "total_tax", "shipping_total", "discount_total", "cart_tax", "shipping_tax"):
            assert re.match(MONEY, order[key]), (key, order[key])
        for key in ("date_created_gmt", "date_modified_gmt"):
            assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", order[key])
        assert order["date_paid_gmt"] is None or isinstance(order["date_paid_gmt"], str)
        assert set(order["billing"]) == BILLING_FIELDS and set(order["shipping"]) == SHIPPING_FIELDS
        assert 1 <= len(order["line_items"]) <= 3
        for line in order["line_items"]:
            assert set(line) == LINE_FIELDS
            assert isinstance(line["quantity"], int) and isinstance(line["product_id"], int)
            assert isinstance(line["price"], (int, float))  # a JSON number in WooCommerce's answers
        assert [set(s) for s in order["shipping_lines"]] == [SHIPPING_LINE_FIELDS]
        # The totals add up as WooCommerce's do.
        lines = sum(float(line["total"]) + float(line["total_tax"]) for line in order["line_items"])
        assert round(lines + float(order["shipping_total"]) + float(order["shipping_tax"]), 2) == float(order["total"])


def test_local_dates_follow_the_site_timezone(api, control):
    (order,) = control.orders({"date_created_gmt": "2024-05-01T10:00:00"})
    assert (order["date_created_gmt"], order["date_created"]) == ("2024-05-01T10:00:00", "2024-05-01T12:00:00")


def test_authentication_over_https(sandbox, control, trusted):
    url = f"{sandbox.url}/wp-json/wc/v3/orders"
    cannot_list = {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
                   "data": {"status": 401}}  # fmt: skip
    assert httpx.get(url, auth=(KEY, SECRET), verify=trusted).status_code == 200
    assert httpx.get(url, params={"consumer_key": KEY, "consumer_secret": SECRET}, verify=trusted).status_code == 200
    # A known key with a wrong secret is refused as such; no key, or a key the shop does not know,
    # is nobody, whom the route refuses.
    for credentials in [{"auth": (KEY, "cs_wrong")}, {"params": {"consumer_key": KEY, "consumer_secret": "cs_wrong"}}]:
        refused = httpx.get(url, verify=trusted, **credentials)
        assert refused.status_code == 401
        assert refused.json() == {"code": "woocommerce_rest_authentication_error", "message": "Consumer secret is invalid.",
                                  "data": {"status": 401}}  # fmt: skip
    for auth in [None, ("ck_wrong", SECRET)]:
        response = httpx.get(url, auth=auth, verify=trusted)
        assert (response.status_code, response.json()) == (401, cannot_list)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        httpx.get(url, auth=(KEY, SECRET))  # the public CAs do not vouch for the shop


def test_each_route_refuses_nobody_with_its_own_error(sandbox, control, trusted):
    (order,) = control.orders(random=1)
    product = control.product("MUG-RED")
    anonymous = httpx.Client(base_url=f"{sandbox.url}/wp-json/wc/v3", verify=trusted)
    cases = [
        ("GET", "/orders", None, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
        ("GET", f"/orders/{order['id']}", None, "woocommerce_rest_cannot_view", "Sorry, you cannot view this resource."),
        ("PUT", f"/orders/{order['id']}", {"status": "completed"}, "woocommerce_rest_cannot_edit",
         "Sorry, you are not allowed to edit this resource."),
        ("GET", f"/orders/{order['id']}/notes", None, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
        ("POST", f"/orders/{order['id']}/notes", {"note": "x"}, "woocommerce_rest_cannot_create",
         "Sorry, you are not allowed to create resources."),
        ("GET", "/products", None, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources."),
        ("PUT", f"/products/{product['id']}", {"stock_quantity": 1}, "woocommerce_rest_cannot_edit",
         "Sorry, you are not allowed to edit this resource."),
        ("POST", "/products/batch", {"update": []}, "woocommerce_rest_cannot_batch",
         "Sorry, you are not allowed to batch manipulate this resource."),
    ]  # fmt: skip
    for method, path, body, code, message in cases:
        response = anonymous.request(method, path, json=body)
        assert (response.status_code, response.json()) == (401, {"code": code, "message": message, "data": {"status": 401}}), path
    # Parameters are checked before permissions, and an object that does not exist is not guarded.
    assert anonymous.get("/orders", params={"per_page": 500}).json()["code"] == "rest_invalid_param"
    assert anonymous.get("/orders/424242").json()["code"] == "woocommerce_rest_shop_order_invalid_id"
    assert control.order(order["id"])["status"] == order["status"], "nothing changed"
    anonymous.close()


@pytest.mark.parametrize("permissions, method, allowed", [("read", "GET", True), ("read", "PUT", False),
                                                         ("write", "GET", False), ("write", "PUT", True)])  # fmt: skip
def test_a_key_may_only_read_or_only_write(sandbox_options, shop_certificate, permissions, method, allowed):
    from orderdeck_woocommerce.sandbox import create_app
    from tests.plugins.support import serve

    with serve(create_app(**sandbox_options, permissions=permissions), certificate=shop_certificate[0]) as running:
        product = running.app.state.sandbox.upsert_product({"sku": "MUG-RED"})
        response = httpx.request(method, f"{running.url}/wp-json/wc/v3/products/{product.id}", auth=(KEY, SECRET),
                                 json={"stock_quantity": 3} if method == "PUT" else None,
                                 verify=tls_context(shop_certificate[1]))  # fmt: skip
    if allowed:
        assert response.status_code == 200
    else:
        kind = "read" if method == "GET" else "write"
        assert (response.status_code, response.json()) == (401, {
            "code": "woocommerce_rest_authentication_error",
            "message": f"The API key provided does not have {kind} permissions.", "data": {"status": 401}})  # fmt: skip


def test_paging_headers_and_links(api, control):
    control.orders(*[{"date_modified_gmt": f"2024-05-01T10:00:{i:02}"} for i in range(25)])
    first = api.get("/orders", params={"per_page": 10})
    assert first.headers["X-WP-Total"] == "25" and first.headers["X-WP-TotalPages"] == "3"
    assert set(first.links) == {"next"}
    assert len(first.headers.get_list("link")) == 1
    middle = api.get(first.links["next"]["url"])
    assert set(middle.links) == {"prev", "next"} and len(middle.headers.get_list("link")) == 2
    assert "per_page=10" in middle.links["next"]["url"] and "page=3" in middle.links["next"]["url"]
    last = api.get(middle.links["next"]["url"])
    assert set(last.links) == {"prev"} and len(last.json()) == 5
    beyond = api.get("/orders", params={"per_page": 10, "page": 9})
    assert beyond.json() == [] and beyond.headers["X-WP-Total"] == "25"
    # Default order: newest first by creation date.
    ids = [o["id"] for o in api.get("/orders", params={"per_page": 100}).json()]
    assert ids == sorted(ids, reverse=True)


def test_status_and_modified_filters(api, control):
    made = control.orders(
        {"status": "processing", "date_modified_gmt": "2024-05-01T10:00:00"},
        {"status": "on-hold", "date_modified_gmt": "2024-05-01T10:00:01"},
        {"status": "completed", "date_modified_gmt": "2024-05-01T10:00:02"},
        {"status": "trash", "date_modified_gmt": "2024-05-01T10:00:03"},
    )
    ids = [o["id"] for o in made]

    def get(**params):
        return [o["id"] for o in api.get("/orders", params={"orderby": "modified", "order": "asc", **params}).json()]

    assert get() == ids[:3], "'any' leaves trash out"
    assert get(status="processing,completed") == [ids[0], ids[2]]
    assert get(status="trash") == [ids[3]]
    # modified_after is exclusive, and in GMT only with dates_are_gmt (the site is GMT+2).
    assert get(modified_after="2024-05-01T10:00:00", dates_are_gmt="true") == ids[1:3]
    assert get(modified_after="2024-05-01T10:00:00") == ids[:3]
    assert get(modified_after="2024-05-01T12:00:00") == ids[1:3]
    assert get(modified_after="2024-05-01T09:59:59", modified_before="2024-05-01T10:00:01", dates_are_gmt="true") == ids[:1]
    assert get(modified_after="2024-05-01T10:00:00Z", dates_are_gmt="true") == ids[1:3]
    assert get(order="desc") == list(reversed(ids[:3]))


def test_orderby_modified_sorts_by_id_within_a_second(api, control):
    made = control.orders(*[{"date_modified_gmt": "2024-05-01T10:00:00"} for _ in range(4)])
    ids = [o["id"] for o in made]
    asc = api.get("/orders", params={"orderby": "modified", "order": "asc"}).json()
    assert [o["id"] for o in asc] == ids
    desc = api.get("/orders", params={"orderby": "modified", "order": "desc"}).json()
    assert [o["id"] for o in desc] == ids[::-1]


def test_invalid_parameters_are_refused_as_wordpress_does(api):
    for params, name in [({"per_page": 101}, "per_page"), ({"per_page": 0}, "per_page"), ({"page": 0}, "page"),
                         ({"status": "shipped"}, "status"), ({"orderby": "total"}, "orderby"),
                         ({"order": "up"}, "order"), ({"modified_after": "soon"}, "modified_after")]:  # fmt: skip
        response = api.get("/orders", params=params)
        assert response.status_code == 400, params
        body = response.json()
        assert body["code"] == "rest_invalid_param" and name in body["data"]["params"]
        assert body["message"] == f"Invalid parameter(s): {name}" and name in body["data"]["details"]


def test_dates_must_be_rfc_3339(api, control):
    control.orders({"date_created_gmt": "2024-05-01T10:00:00", "date_modified_gmt": "2024-05-01T10:00:00"})
    for name in ("after", "before", "modified_after", "modified_before"):
        for bad in ["2024-05-01", "2024-05-01T10:00", "01/05/2024 10:00:00", "1714557600", "2024-05-01T10:00:00+2",
                    "2024-02-30T10:00:00", "yesterday"]:  # fmt: skip
            response = api.get("/orders", params={name: bad})
            assert response.status_code == 400, (name, bad)
            assert response.json() == {"code": "rest_invalid_param", "message": f"Invalid parameter(s): {name}", "data": {
                "status": 400, "params": {name: "Invalid date."},
                "details": {name: {"code": "rest_invalid_date", "message": "Invalid date.", "data": None}}}}  # fmt: skip
    for good in ["2024-05-01T09:00:00", "2024-05-01 09:00:00", "2024-05-01t09:00:00.250", "2024-05-01T09:00:00Z",
                 "2024-05-01T09:00:00+00:00", "2024-05-01T10:00:00+02"]:  # fmt: skip
        assert len(api.get("/orders", params={"after": good, "dates_are_gmt": "true"}).json()) == 1, good


def test_unknown_routes_and_ids(api):
    assert api.get("/nothing").json()["code"] == "rest_no_route"
    assert api.delete("/orders").status_code == 404
    missing = api.get("/orders/424242")
    assert missing.status_code == 404 and missing.json()["code"] == "woocommerce_rest_shop_order_invalid_id"
    # Updating what does not exist is a bad request (400), as WooCommerce's update_item answers.
    update = api.put("/orders/424242", json={"status": "completed"})
    assert (update.status_code, update.json()) == (400, {"code": "woocommerce_rest_shop_order_invalid_id",
                                                         "message": "Invalid ID.", "data": {"status": 400}})  # fmt: skip
    product = api.get("/products/424242")
    assert (product.status_code, product.json()["code"]) == (404, "woocommerce_rest_product_invalid_id")
    stock = api.put("/products/424242", json={"stock_quantity": 1})
    assert (stock.status_code, stock.json()["code"]) == (400, "woocommerce_rest_product_invalid_id")
    notes = api.get("/orders/424242/notes")
    assert (notes.status_code, notes.json()["code"]) == (404, "woocommerce_rest_shop_order_invalid_id")
    note = api.post("/orders/424242/notes", json={"note": "Shipped"})
    assert (note.status_code, note.json()["code"]) == (404, "woocommerce_rest_order_invalid_id")


def test_order_update_and_notes(api, control):
    (order,) = control.orders({"status": "processing", "date_modified_gmt": "2024-05-01T10:00:00"})
    created = api.post(f"/orders/{order['id']}/notes", json={"note": "Packed", "customer_note": False})
    assert created.status_code == 201 and set(created.json()) == NOTE_FIELDS
    api.post(f"/orders/{order['id']}/notes", json={"note": "Shipped", "customer_note": True})
    notes = api.get(f"/orders/{order['id']}/notes").json()
    assert [(n["note"], n["customer_note"]) for n in notes] == [("Shipped", True), ("Packed", False)]
    assert api.post(f"/orders/{order['id']}/notes", json={}).status_code == 400
    updated = api.put(f"/orders/{order['id']}", json={"status": "completed"}).json()
    assert updated["status"] == "completed" and updated["date_completed_gmt"]
    assert updated["date_modified_gmt"] > "2024-05-01T10:00:00"
    assert api.put(f"/orders/{order['id']}", json={"status": "shipped"}).status_code == 400


def test_products_by_sku_and_batch_updates(api, control):
    red, blue = control.product("MUG-RED"), control.product("MUG-BLUE")
    found = api.get("/products", params={"sku": "MUG-RED,MUG-BLUE,NOPE"}).json()
    assert sorted(p["id"] for p in found) == sorted([red["id"], blue["id"]])
    assert api.get("/products", params={"sku": "MUG"}).json() == [], "SKUs match exactly"
    answer = api.post("/products/batch", json={"update": [
        {"id": red["id"], "stock_quantity": 12, "manage_stock": True},
        {"id": 999999, "stock_quantity": 1},
        {"id": blue["id"], "stock_quantity": "lots"},
    ]}).json()  # fmt: skip
    first, unknown, invalid = answer["update"]
    assert first["id"] == red["id"] and first["stock_quantity"] == 12 and first["stock_status"] == "instock"
    assert unknown == {"id": 999999, "error": {"code": "woocommerce_rest_product_invalid_id", "message": "Invalid ID.",
                                               "data": {"status": 400}}}  # fmt: skip
    assert invalid["id"] == blue["id"] and invalid["error"]["code"] == "rest_invalid_param"
    assert control.product("MUG-RED")["stock_quantity"] == 12
    too_many = api.post("/products/batch", json={"update": [{"id": red["id"]}] * 101})
    assert too_many.status_code == 413 and too_many.json()["code"] == "woocommerce_rest_request_entity_too_large"
    zero = api.put(f"/products/{blue['id']}", json={"stock_quantity": 0}).json()
    assert zero["stock_status"] == "outofstock"


def test_faults_apply_to_the_next_api_requests_only(sandbox, api, control):
    control.fault("rate_limit", count=1, retry_after=7)
    control.fault("server_error", count=1, status=502)
    limited = api.get("/orders")
    assert limited.status_code == 429 and limited.headers["Retry-After"] == "7"
    assert api.get("/orders").status_code == 502
    assert api.get("/orders").status_code == 200
    assert control.state()["faults"] == []
    control.fault("malformed", count=1)
    broken = api.get("/orders")
    assert broken.status_code == 200 and broken.headers["content-type"].startswith("application/json")
    with pytest.raises(ValueError):
        broken.json()
    bad = control.fault("bad_order", defect="negative_quantity")["order"]
    assert bad["line_items"][0]["quantity"] == -1


def test_seeded_orders_are_random_over_the_configured_skus():
    from orderdeck_woocommerce.sandbox import create_app

    shop = create_app(seed_orders=30, skus=["A-1", "B-2", "C-3"], seed=3).state.sandbox
    assert len(shop.orders) == 30
    skus = {line.sku for order in shop.orders.values() for line in order.lines}
    assert skus == {"A-1", "B-2", "C-3"}
    assert len({order.billing["email"] for order in shop.orders.values()}) > 20
    assert all(1 <= len(order.lines) <= 3 for order in shop.orders.values())


def test_the_sandbox_command_serves_a_seeded_shop(tmp_path):
    with sandbox_command("woocommerce", "--seed-orders", "4", log=tmp_path / "sandbox.log") as running:
        assert len(running.state["orders"]) == 4
        shop = woocommerce.API(url=running.url, consumer_key="ck_sandbox", consumer_secret="cs_sandbox", version="wc/v3")
        assert len(shop.get("orders").json()) == 4  # over http: signed with OAuth 1.0a
    assert "consumer key 'ck_sandbox'" in running.log.read_text()


def test_the_sandbox_command_refuses_an_unknown_plugin():
    result = subprocess.run([sys.executable, "-m", "orderdeck.cli", "sandbox", "nosuch"], capture_output=True, text=True)
    assert result.returncode != 0 and "No installed connector is called 'nosuch'" in result.stderr

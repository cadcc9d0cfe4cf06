"""The WooCommerce sandbox against WooCommerce's documented REST v3 contract: the fields it emits,
authentication, collection parameters and headers, notes, products and batch errors; and the
`orderdeck sandbox` command."""

from __future__ import annotations

import re
import subprocess
import sys

import httpx
import pytest

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
def api(sandbox):
    with httpx.Client(base_url=f"{sandbox.url}/wp-json/wc/v3", auth=(KEY, SECRET), timeout=10) as client:
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


def test_authentication(sandbox, control):
    url = f"{sandbox.url}/wp-json/wc/v3/orders"
    for auth in [None, (KEY, "cs_wrong"), ("ck_wrong", SECRET)]:
        response = httpx.get(url, auth=auth)
        assert response.status_code == 401
        assert response.json() == {"code": "woocommerce_rest_cannot_view", "message": "Sorry, you cannot list resources.",
                                   "data": {"status": 401}}  # fmt: skip
    assert httpx.get(url, auth=(KEY, SECRET)).status_code == 200
    assert httpx.get(url, params={"consumer_key": KEY, "consumer_secret": SECRET}).status_code == 200


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


def test_unknown_routes_and_ids(api):
    assert api.get("/nothing").json()["code"] == "rest_no_route"
    assert api.delete("/orders").status_code == 404
    missing = api.get("/orders/424242")
    assert missing.status_code == 404 and missing.json()["code"] == "woocommerce_rest_shop_order_invalid_id"


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
        orders = httpx.get(f"{running.url}/wp-json/wc/v3/orders", auth=("ck_sandbox", "cs_sandbox")).json()
        assert len(orders) == 4
    assert "consumer key 'ck_sandbox'" in running.log.read_text()


def test_the_sandbox_command_refuses_an_unknown_plugin():
    result = subprocess.run([sys.executable, "-m", "orderdeck.cli", "sandbox", "nosuch"], capture_output=True, text=True)
    assert result.returncode != 0 and "No installed connector is called 'nosuch'" in result.stderr

"""Authentication as a WooCommerce shop does it, proven with WooCommerce's official Python client
(the PyPI package ``woocommerce``, which this project did not write): over plain HTTP it signs
with OAuth 1.0a, over HTTPS it sends HTTP Basic (or the keys in the query string). Then what the
shop refuses (a bad signature, a replayed nonce, an old timestamp, Basic over plain HTTP...), and
the connector over both schemes."""

from __future__ import annotations

import time
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest
import requests
import woocommerce
from woocommerce.oauth import OAuth

from orderdeck.plugins.errors import PartnerAuthError
from orderdeck.plugins.connectors import Connection
from orderdeck.plugins.oauth1 import OAuth1
from orderdeck_woocommerce import WooCommerceSettings
from tests.plugins.conftest import KEY, SECRET, make_channel

API = "/wp-json/wc/v3"


def refused(response: requests.Response | httpx.Response, code: str, message: str) -> bool:
    """Whether the shop refused the request with WooCommerce's 401 ``code`` and ``message``."""
    body = {"code": code, "message": message, "data": {"status": 401}}
    return response.status_code == 401 and response.json() == body


@pytest.fixture
def ca_bundle(shop_certificate, tmp_path) -> Path:
    """The shop's certificate alone, as the CA bundle file requests verifies against."""
    path = tmp_path / "shop-ca.pem"
    path.write_text(shop_certificate[1])
    return path


def shop_client(url: str, **options) -> woocommerce.API:
    return woocommerce.API(url=url, consumer_key=KEY, consumer_secret=SECRET, version="wc/v3", timeout=10, **options)


def run_the_shop(shop: woocommerce.API, control) -> None:
    """List orders, read one, complete it and set a product's stock, through the official client."""
    placed = control.orders({"status": "processing"}, {"status": "on-hold"})
    listed = shop.get("orders", params={"per_page": 5, "orderby": "id", "order": "asc"})
    assert listed.status_code == 200, listed.text
    assert [o["id"] for o in listed.json()] == [o["id"] for o in placed] and listed.headers["X-WP-Total"] == "2"
    one = shop.get(f"orders/{placed[0]['id']}")
    assert one.status_code == 200 and one.json()["number"] == placed[0]["number"]
    completed = shop.put(f"orders/{placed[0]['id']}", {"status": "completed"})
    assert completed.status_code == 200 and completed.json()["status"] == "completed"
    assert control.order(placed[0]["id"])["status"] == "completed"
    mug = control.product("MUG-RED")
    stocked = shop.put(f"products/{mug['id']}", {"stock_quantity": 42, "manage_stock": True})
    assert stocked.status_code == 200 and stocked.json()["stock_quantity"] == 42
    assert control.product("MUG-RED")["stock_quantity"] == 42


def test_the_official_client_over_http_signs_with_oauth_and_is_accepted(sandbox, control):
    run_the_shop(shop_client(sandbox.url), control)
    requests_seen = control.requests()
    assert len(requests_seen) == 4
    for seen in requests_seen:
        query = parse_qs(seen["query"])
        assert query["oauth_signature_method"] == ["HMAC-SHA256"] and query["oauth_consumer_key"] == [KEY]
        assert "consumer_secret" not in query, "the secret never travels over plain HTTP"


@pytest.mark.parametrize("query_string_auth", [False, True], ids=["basic", "query-keys"])
def test_the_official_client_over_https_is_accepted(tls_sandbox, tls_control, ca_bundle, query_string_auth):
    run_the_shop(shop_client(tls_sandbox.url, verify_ssl=str(ca_bundle), query_string_auth=query_string_auth), tls_control)
    for seen in tls_control.requests():
        assert "oauth_signature" not in seen["query"]
        assert ("consumer_secret" in seen["query"]) == query_string_auth


def test_a_bad_signature_is_refused(sandbox, control):
    wrong = woocommerce.API(url=sandbox.url, consumer_key=KEY, consumer_secret="cs_wrong", version="wc/v3")
    assert refused(wrong.get("orders"), "woocommerce_rest_authentication_error",
                   "Invalid signature - provided signature does not match.")  # fmt: skip
    signed = OAuth(f"{sandbox.url}{API}/orders?per_page=5", KEY, SECRET, version="wc/v3", method="GET").get_oauth_url()
    tampered = signed.replace("per_page=5", "per_page=6")  # a parameter changed after signing
    assert refused(requests.get(tampered), "woocommerce_rest_authentication_error",
                   "Invalid signature - provided signature does not match.")  # fmt: skip
    for_post = OAuth(f"{sandbox.url}{API}/orders", KEY, SECRET, version="wc/v3", method="POST").get_oauth_url()
    assert refused(requests.get(for_post), "woocommerce_rest_authentication_error",
                   "Invalid signature - provided signature does not match.")  # fmt: skip
    assert [r["status"] for r in control.requests()] == [401, 401, 401]


def test_a_replayed_nonce_is_refused(sandbox, control):
    control.orders(random=1)
    signed = OAuth(f"{sandbox.url}{API}/orders", KEY, SECRET, version="wc/v3", method="GET").get_oauth_url()
    assert requests.get(signed).status_code == 200
    assert refused(requests.get(signed), "woocommerce_rest_authentication_error",
                   "Invalid nonce - nonce has already been used.")  # fmt: skip


def test_a_timestamp_outside_fifteen_minutes_is_refused(sandbox, control):
    for skew in (-16 * 60, 16 * 60):
        signed = OAuth(f"{sandbox.url}{API}/orders", KEY, SECRET, version="wc/v3", method="GET",
                       oauth_timestamp=int(time.time()) + skew).get_oauth_url()  # fmt: skip
        assert refused(requests.get(signed), "woocommerce_rest_authentication_error", "Invalid timestamp.")
    near = OAuth(f"{sandbox.url}{API}/orders", KEY, SECRET, version="wc/v3", method="GET",
                 oauth_timestamp=int(time.time()) - 14 * 60).get_oauth_url()  # fmt: skip
    assert requests.get(near).status_code == 200


def test_basic_auth_and_query_keys_over_plain_http_are_nobody(sandbox, control):
    url = f"{sandbox.url}{API}/orders"
    for response in [requests.get(url, auth=(KEY, SECRET)),
                     requests.get(url, params={"consumer_key": KEY, "consumer_secret": SECRET})]:  # fmt: skip
        assert refused(response, "woocommerce_rest_cannot_view", "Sorry, you cannot list resources.")


def test_incomplete_or_foreign_oauth_is_refused(sandbox, control):
    url = f"{sandbox.url}{API}/orders"
    partial = requests.get(url, params={"oauth_consumer_key": KEY, "oauth_nonce": "abc"})
    assert refused(partial, "woocommerce_rest_authentication_missing_parameter",
                   "Missing OAuth parameters oauth_timestamp, oauth_signature, oauth_signature_method")  # fmt: skip
    stranger = woocommerce.API(url=sandbox.url, consumer_key="ck_stranger", consumer_secret=SECRET, version="wc/v3")
    assert refused(stranger.get("orders"), "woocommerce_rest_authentication_error", "Consumer key is invalid.")
    plaintext = httpx.get(url, params={"oauth_consumer_key": KEY, "oauth_nonce": "n1", "oauth_timestamp": int(time.time()),
                                       "oauth_signature_method": "PLAINTEXT", "oauth_signature": f"{SECRET}&"})  # fmt: skip
    assert refused(plaintext, "woocommerce_rest_authentication_error", "Invalid signature - signature method is invalid.")


def test_hmac_sha1_in_the_authorization_header_is_accepted(sandbox, control):
    """orderdeck's own signer (RFC 5849), in the header WooCommerce also reads, with the older method."""
    control.orders(random=2)
    auth = OAuth1(KEY, SECRET, signature_method="HMAC-SHA1", placement="header")
    response = httpx.get(f"{sandbox.url}{API}/orders", params={"status": "any", "after": "2020-01-01T00:00:00"}, auth=auth)
    assert response.status_code == 200 and len(response.json()) == 2
    assert "oauth" not in control.requests()[-1]["query"]


# The connector


async def test_the_connector_signs_each_attempt_afresh_over_http(hooks, channel, control):
    control.orders(random=2)
    control.fault("server_error", count=1)  # the first attempt fails; the retry must not replay its nonce
    result = await hooks.test_connection(channel)
    assert result.ok, result.message
    attempts = [parse_qs(r["query"]) for r in control.requests()]
    assert [r["status"] for r in control.requests()] == [500, 200]
    assert attempts[0]["oauth_nonce"] != attempts[1]["oauth_nonce"]
    assert all(a["oauth_signature_method"] == ["HMAC-SHA256"] and "consumer_secret" not in a for a in attempts)


async def test_the_connector_over_https_uses_basic_and_trusts_the_given_certificate(hooks, tls_sandbox, tls_control,
                                                                                   shop_certificate):  # fmt: skip
    settings = WooCommerceSettings(url=tls_sandbox.url, consumer_key=KEY, consumer_secret=SECRET,
                                   trusted_certificate=shop_certificate[1], requests_per_second=50)  # fmt: skip
    channel = Connection(connection_id="ch-tls", name="Shop over HTTPS", settings=settings)
    tls_control.orders({"status": "processing", "date_modified_gmt": "2024-05-01T10:00:00"})
    result = await hooks.test_connection(channel)
    assert result.ok, result.message
    page = await hooks.download_orders(channel, cursor=None, page_size=10)
    assert len(page.orders) == 1
    assert all("oauth" not in r["query"] and "consumer_secret" not in r["query"] for r in tls_control.requests())


async def test_the_connector_refuses_a_certificate_it_was_not_told_to_trust(hooks, tls_sandbox, tls_control):
    result = await hooks.test_connection(make_channel(tls_sandbox.url))
    assert not result.ok and "CERTIFICATE_VERIFY_FAILED" in result.message, result.message
    with pytest.raises(PartnerAuthError, match="TLS certificate is not trusted"):  # waits for the settings: no retries
        await hooks.download_orders(make_channel(tls_sandbox.url), cursor=None, page_size=10)
    assert tls_control.requests() == [], "nothing reached the shop"

"""The toolkit's OAuth 1.0a signer (orderdeck.plugins.oauth1) against RFC 5849's own example, and
how it places and renews its parameters. test_woocommerce_auth.py proves it against a shop."""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import parse_qs, unquote

import httpx
import pytest

from orderdeck.plugins.oauth1 import OAuth1, sign, signature_base_string

RFC_BASE_STRING = (
    "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26"
    "c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26"
    "oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7"
)
"""RFC 5849 section 3.4.1.1: the signature base string of its example request."""


def signed(auth: OAuth1, request: httpx.Request) -> httpx.Request:
    return next(auth.auth_flow(request))


def test_the_rfc_example_base_string():
    url = httpx.URL("http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
    parameters = [("b5", "=%3D"), ("a3", "a"), ("c@", ""), ("a2", "r b"), ("c2", ""), ("a3", "2 q"),
                  ("oauth_consumer_key", "9djdj82h48djs9d2"), ("oauth_token", "kkk9d7dh3k39sjv7"),
                  ("oauth_signature_method", "HMAC-SHA1"), ("oauth_timestamp", "137131201"), ("oauth_nonce", "7d8f3e4a")]  # fmt: skip
    assert signature_base_string("post", url, parameters) == RFC_BASE_STRING


def test_the_signer_covers_the_query_and_a_form_body_and_signs_with_both_secrets():
    auth = OAuth1("9djdj82h48djs9d2", "j49sdk", token="kkk9d7dh3k39sjv7", token_secret="dh893hdasih9",
                  signature_method="HMAC-SHA1", clock=lambda: 137131201)  # fmt: skip
    request = httpx.Request("POST", "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b", content=b"c2&a3=2+q",
                            headers={"Content-Type": "application/x-www-form-urlencoded"})  # fmt: skip
    header = signed(auth, request).headers["Authorization"]
    assert header.startswith("OAuth ")
    fields = dict(part.split("=", 1) for part in header[6:].split(", "))
    fields = {name: unquote(value.strip('"')) for name, value in fields.items()}
    base = RFC_BASE_STRING.replace("7d8f3e4a", fields["oauth_nonce"]).replace(
        "oauth_token%3Dkkk9d7dh3k39sjv7", "oauth_token%3Dkkk9d7dh3k39sjv7%26oauth_version%3D1.0")
    expected = base64.b64encode(hmac.new(b"j49sdk&dh893hdasih9", base.encode(), hashlib.sha1).digest()).decode()
    assert fields["oauth_signature"] == expected == sign(base, "j49sdk", "dh893hdasih9", "HMAC-SHA1")


def test_query_placement_renews_the_nonce_for_every_request():
    auth = OAuth1("ck", "cs", placement="query")
    queries = [parse_qs(signed(auth, httpx.Request("GET", "https://shop.example/orders?page=2")).url.query.decode())
               for _ in range(2)]  # fmt: skip
    assert all(q["page"] == ["2"] and q["oauth_signature_method"] == ["HMAC-SHA256"] for q in queries)
    assert queries[0]["oauth_nonce"] != queries[1]["oauth_nonce"]
    assert queries[0]["oauth_signature"] != queries[1]["oauth_signature"]


def test_an_unknown_signature_method_is_refused():
    with pytest.raises(ValueError, match="HMAC-SHA1, HMAC-SHA256"):
        OAuth1("ck", "cs", signature_method="PLAINTEXT")

"""OAuth 1.0a request signing (RFC 5849) for partners that authenticate requests by signature,
as an ``httpx.Auth``: every request (every retry too) is signed afresh, with a new nonce.

    http = PartnerHttp("http://shop.example/wp-json/wc/v3", auth=OAuth1("ck_...", "cs_...", placement="query"))

One-legged (a consumer key and secret only, as WooCommerce's REST API over plain HTTP) or with a
token (``token``, ``token_secret``: Magento's integrations). The signature covers the method, the
URL without its query, the query parameters, a form-encoded body's parameters and the ``oauth_*``
parameters (RFC 5849 section 3.4.1); a JSON body is not covered (OAuth 1.0a signs no other body).
The ``oauth_*`` parameters go in the ``Authorization: OAuth ...`` header (``placement="header"``,
the RFC's way) or in the query string (``placement="query"``, for servers that never see the
header, as WooCommerce documents).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Callable, Generator, Iterable
from typing import Literal
from urllib.parse import parse_qsl, quote

import httpx

SIGNATURE_METHODS: dict[str, Callable[[], object]] = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
"""The signature methods a request may be signed with, by their OAuth name."""
FORM = "application/x-www-form-urlencoded"


def percent_encode(value: str) -> str:
    """RFC 5849 section 3.6: UTF-8, then every byte but the unreserved characters percent-encoded."""
    return quote(value, safe="-._~")


def base_string_uri(url: httpx.URL) -> str:
    """RFC 5849 section 3.4.1.2: scheme and host in lower case, the port only when not the
    scheme's default, the path; no query, no fragment."""
    scheme, host = url.scheme.lower(), (url.host or "").lower()
    default = {"http": 80, "https": 443}.get(scheme)
    authority = host if url.port in (None, default) else f"{host}:{url.port}"
    return f"{scheme}://{authority}{url.raw_path.split(b'?', 1)[0].decode('ascii') or '/'}"


def signature_base_string(method: str, url: httpx.URL, parameters: Iterable[tuple[str, str]]) -> str:
    """RFC 5849 section 3.4.1: the method, the base string URI and the normalised parameters
    (each name and value percent-encoded, sorted by name then value, joined with ``=`` and ``&``)."""
    encoded = sorted((percent_encode(name), percent_encode(value)) for name, value in parameters)
    normalised = "&".join(f"{name}={value}" for name, value in encoded)
    return "&".join(percent_encode(part) for part in (method.upper(), base_string_uri(url), normalised))


def sign(base_string: str, consumer_secret: str, token_secret: str = "", method: str = "HMAC-SHA256") -> str:
    """The base64 HMAC of ``base_string`` keyed ``consumer_secret&token_secret`` (RFC 5849 3.4.2)."""
    digest = SIGNATURE_METHODS[method]
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    mac = hmac.new(key.encode(), base_string.encode(), digest)  # type: ignore[arg-type]
    return base64.b64encode(mac.digest()).decode("ascii")


class OAuth1(httpx.Auth):
    """Signs each request with OAuth 1.0a (see the module docstring)."""

    requires_request_body = True  # a form-encoded body's parameters are signed

    def __init__(
        self,
        consumer_key: str,
        consumer_secret: str,
        *,
        token: str | None = None,
        token_secret: str = "",
        signature_method: str = "HMAC-SHA256",
        placement: Literal["header", "query"] = "header",
        clock: Callable[[], float] = time.time,
    ) -> None:
        if signature_method not in SIGNATURE_METHODS:
            raise ValueError(f"signature_method must be one of {', '.join(SIGNATURE_METHODS)}")
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.token, self.token_secret = token, token_secret
        self.signature_method, self.placement, self.clock = signature_method, placement, clock

    def oauth_parameters(self) -> dict[str, str]:
        """The ``oauth_*`` parameters of one request, before its signature: a new nonce each time."""
        parameters = {
            "oauth_consumer_key": self.consumer_key,
            "oauth_nonce": secrets.token_hex(16),
            "oauth_signature_method": self.signature_method,
            "oauth_timestamp": str(int(self.clock())),
            "oauth_version": "1.0",
        }
        if self.token is not None:
            parameters["oauth_token"] = self.token
        return parameters

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        oauth = self.oauth_parameters()
        signed = parse_qsl(request.url.query.decode("ascii"), keep_blank_values=True)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() == FORM:
            signed += parse_qsl(request.content.decode(), keep_blank_values=True)
        base = signature_base_string(request.method, request.url, [*signed, *oauth.items()])
        oauth["oauth_signature"] = sign(base, self.consumer_secret, self.token_secret, self.signature_method)
        if self.placement == "query":
            request.url = request.url.copy_merge_params(oauth)
        else:
            fields = ", ".join(f'{name}="{percent_encode(value)}"' for name, value in oauth.items())
            request.headers["Authorization"] = f"OAuth {fields}"
        yield request

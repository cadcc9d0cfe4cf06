"""How a WooCommerce shop authenticates REST API requests, emulated after WooCommerce's own
``WC_REST_Authentication`` (includes/class-wc-rest-authentication.php) and WordPress's REST server.

- Over HTTPS: the ``consumer_key`` and ``consumer_secret`` query parameters (first), else HTTP
  Basic with the key as user and the secret as password. A known key with a wrong secret is
  ``woocommerce_rest_authentication_error`` "Consumer secret is invalid."; an unknown key, or no
  key, leaves the request to OAuth, then anonymous.
- Over plain HTTP (and over HTTPS when Basic found no key): OAuth 1.0a "one-legged" (RFC 5849,
  consumer key and secret only, no token). Its parameters come from the query string, a
  form-encoded body or an ``Authorization: OAuth ...`` header. Some but not all of
  oauth_consumer_key, oauth_timestamp, oauth_nonce, oauth_signature, oauth_signature_method:
  ``woocommerce_rest_authentication_missing_parameter``; then, each a
  ``woocommerce_rest_authentication_error``: an unknown key ("Consumer key is invalid."), a
  signature method other than HMAC-SHA1 / HMAC-SHA256, a signature that does not match, a
  timestamp more than 15 minutes off the shop's clock, a nonce used before within 15 minutes.
  HTTP Basic and the query-string keys mean nothing over plain HTTP: such a request is anonymous.
- The signature is checked as WooCommerce computes it: every query (and form) parameter but
  oauth_signature, sorted by name (strcmp), names and values percent-encoded (rawurlencode;
  ``a[]=x`` becomes ``a%5B0%5D``, as PHP reads it into an array), each ``name=value`` encoded
  again, joined by ``%26``; the string signed is ``METHOD&rawurlencode(url without query)&that``,
  keyed ``consumer_secret&``. A JSON body is not signed.
- An anonymous request reaches the route, whose permission check refuses it (401: e.g.
  ``woocommerce_rest_cannot_view`` "Sorry, you cannot list resources."; see ``Shop.permit``). An
  authenticated key needs read permission for GET and write permission for POST, PUT, PATCH and
  DELETE ("The API key provided does not have write permissions.").
- Every error is WordPress's body: ``{"code", "message", "data": {"status": 401}}``.

One deliberate difference: WooCommerce keeps one used nonce per timestamp (a second request signed
in the same second replaces the first's nonce); the sandbox keeps every nonce of the window, so a
replayed request is always refused.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote, unquote_plus

from starlette.requests import Request

from orderdeck.plugins.sandbox import basic_auth, credentials_match
from orderdeck_woocommerce.sandbox.errors import RestError

OAUTH_PARAMETERS = ["oauth_consumer_key", "oauth_timestamp", "oauth_nonce", "oauth_signature", "oauth_signature_method"]
HASHES = {"HMAC-SHA1": hashlib.sha1, "HMAC-SHA256": hashlib.sha256}
WINDOW_SECONDS = 15 * 60
PERMISSIONS = ["read", "write", "read_write"]

PhpValue = str | dict[str, Any]


def _auth_error(message: str, code: str = "woocommerce_rest_authentication_error") -> RestError:
    return RestError(code, message, 401)


def rawurlencode(value: str) -> str:
    """PHP's rawurlencode: every byte but letters, digits and ``-_.~`` percent-encoded."""
    return quote(value, safe="-_.~")


def php_parameters(raw: str) -> dict[str, PhpValue]:
    """A query string (or form body) as PHP reads it into ``$_GET``: ``+`` is a space, the last of
    repeated names wins, ``name[]`` and ``name[key]`` make arrays (by index and by key)."""
    found: dict[str, PhpValue] = {}
    for piece in raw.split("&"):
        if not piece:
            continue
        name, _, value = piece.partition("=")
        name, value = unquote_plus(name), unquote_plus(value)
        base, brackets = re.match(r"([^\[]*)((?:\[[^\]]*\])*)", name).groups()  # type: ignore[union-attr]
        base = re.sub(r"[ .]", "_", base.lstrip(" "))
        if not base:
            continue
        keys = re.findall(r"\[([^\]]*)\]", brackets)
        if not keys:
            found[base] = value
            continue
        target = found.get(base)
        if not isinstance(target, dict):
            target = found[base] = {}
        for key in keys[:-1]:
            inner = target.get(key) if key else None
            if not isinstance(inner, dict):
                inner = {}
                target[key or str(len(target))] = inner
            target = inner
        last = keys[-1] or str(sum(1 for k in target if k.isdigit()))
        target[last] = value
    return found


def _normalised(value: PhpValue) -> PhpValue:
    return {k: _normalised(v) for k, v in value.items()} if isinstance(value, dict) else rawurlencode(value)


def _joined(parameters: dict[str, PhpValue], prefix: str = "") -> list[str]:
    """WooCommerce's join_with_equals_sign: ``name=value`` pairs, nested names as ``a%5Bk%5D``,
    each pair percent-encoded again."""
    pairs: list[str] = []
    for name, value in parameters.items():
        key = f"{prefix}%5B{name}%5D" if prefix else name
        if isinstance(value, dict):
            pairs += _joined(value, key)
        else:
            pairs.append(rawurlencode(f"{key}={value}"))
    return pairs


def woocommerce_signature(method: str, url: str, parameters: dict[str, PhpValue], secret: str, algorithm: str) -> str:
    """The signature WooCommerce expects for a request (``parameters`` without oauth_signature)."""
    ordered = {rawurlencode(name): _normalised(parameters[name]) for name in sorted(parameters)}
    string_to_sign = f"{method.upper()}&{rawurlencode(url)}&{'%26'.join(_joined(ordered))}"
    mac = hmac.new(f"{secret}&".encode(), string_to_sign.encode(), HASHES[algorithm])
    return base64.b64encode(mac.digest()).decode()


def _oauth_header(header: str) -> dict[str, str]:
    """The ``oauth_*`` fields of an ``Authorization: OAuth ...`` header (WooCommerce's parse_header)."""
    if not header.startswith("OAuth "):
        return {}
    return {name: unquote_plus(quoted or bare)
            for name, quoted, bare in re.findall(r'(oauth_[a-z_-]*)=(?:"([^"]*)"|([^,]*))', header)}  # fmt: skip


class ApiKey:
    """One REST API key of the shop (consumer key, secret, permissions) and the OAuth nonces it used."""

    def __init__(self, key: str, secret: str, permissions: str = "read_write",
                 clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        if permissions not in PERMISSIONS:
            raise ValueError(f"permissions must be one of {', '.join(PERMISSIONS)}")
        self.key, self.secret, self.permissions, self.clock = key, secret, permissions, clock
        self.nonces: dict[str, int] = {}

    async def authenticate(self, request: Request) -> bool:
        """Whether the request carries this key (True) or no credentials (False, anonymous);
        raises ``RestError`` for credentials that are refused (see the module docstring)."""
        error: RestError | None = None
        user = False
        if request.url.scheme == "https":
            user, error = self._basic(request)
        if not user:
            try:
                user = await self._oauth(request)
            except RestError as refused:
                error = refused
        if not user:
            if error is not None:
                raise error
            return False
        self._check_permissions(request.method)
        return True

    def _basic(self, request: Request) -> tuple[bool, RestError | None]:
        query = request.query_params
        given: tuple[str, str] | None = None
        if query.get("consumer_key") and query.get("consumer_secret"):
            given = (query["consumer_key"], query["consumer_secret"])
        else:
            given = basic_auth(request)
        if not given or not all(given) or not credentials_match(given[0], self.key):
            return False, None  # no key, or not a key of this shop: OAuth is tried next
        if not credentials_match(given[1], self.secret):
            return False, _auth_error("Consumer secret is invalid.")
        return True, None

    async def _oauth(self, request: Request) -> bool:
        parameters = php_parameters(request.url.query)
        if request.headers.get("content-type", "").split(";")[0].strip().lower() == "application/x-www-form-urlencoded":
            parameters.update(php_parameters((await request.body()).decode(errors="replace")))
        parameters.update(_oauth_header(request.headers.get("authorization", "").strip()))
        missing = [name for name in OAUTH_PARAMETERS if not parameters.get(name)]
        if len(missing) == len(OAUTH_PARAMETERS):
            return False  # not even trying OAuth
        if missing:
            label = "parameter" if len(missing) == 1 else "parameters"
            raise _auth_error(f"Missing OAuth {label} {', '.join(missing)}", "woocommerce_rest_authentication_missing_parameter")
        if not isinstance(parameters["oauth_consumer_key"], str) or not credentials_match(parameters["oauth_consumer_key"], self.key):
            raise _auth_error("Consumer key is invalid.")
        self._check_signature(request, parameters)
        self._check_timestamp_and_nonce(parameters["oauth_timestamp"], parameters["oauth_nonce"])
        return True

    def _check_signature(self, request: Request, parameters: dict[str, PhpValue]) -> None:
        given = parameters.pop("oauth_signature")
        given = unquote(given.replace(" ", "+")) if isinstance(given, str) else ""  # rawurldecode
        method = parameters["oauth_signature_method"]
        if method not in HASHES:
            raise _auth_error("Invalid signature - signature method is invalid.")
        url = str(request.url.replace(query="", fragment="")).rstrip("?")
        expected = woocommerce_signature(request.method, url, parameters, self.secret, str(method))
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise _auth_error("Invalid signature - provided signature does not match.")

    def _check_timestamp_and_nonce(self, timestamp: PhpValue, nonce: PhpValue) -> None:
        now = int(self.clock())
        if not isinstance(timestamp, str) or not timestamp.strip().isdigit() or abs(int(timestamp) - now) > WINDOW_SECONDS:
            raise _auth_error("Invalid timestamp.")
        self.nonces = {used: at for used, at in self.nonces.items() if at >= now - WINDOW_SECONDS}
        if not isinstance(nonce, str) or nonce in self.nonces:
            raise _auth_error("Invalid nonce - nonce has already been used.")
        self.nonces[nonce] = int(timestamp)

    def _check_permissions(self, method: str) -> None:
        if method in ("GET", "HEAD") and self.permissions not in ("read", "read_write"):
            raise _auth_error("The API key provided does not have read permissions.")
        if method in ("POST", "PUT", "PATCH", "DELETE") and self.permissions not in ("write", "read_write"):
            raise _auth_error("The API key provided does not have write permissions.")

"""The eBay REST APIs orderdeck uses: OAuth (identity), Sell Fulfillment v1 and Sell Inventory v1.

Every call goes through the shared ``PartnerHttp`` (pacing per connection and operation, 429 /
Retry-After, retries, typed errors); what is eBay's own lives here:

- Authentication: a user access token from ``POST /identity/v1/oauth2/token`` (HTTP Basic with
  the application's client id and secret; ``grant_type=refresh_token``, the seller's refresh
  token and the scopes), cached per connection until shortly before it expires and fetched again
  once when eBay answers 401 (errorId 1001, "Invalid access token"): ``orderdeck.plugins.oauth``.
  The token endpoint refusing the credentials (400 ``invalid_grant`` / ``invalid_scope``, 401
  ``invalid_client``) is a PartnerAuthError.
- Errors: eBay's body ``{"errors": [{"errorId", "domain", "category", "message", "longMessage",
  "parameters"}]}`` is read by ``ebay_error``: errorId 1001 (and any 401/403) -> PartnerAuthError,
  errorId 2001 ("Too many requests") -> PartnerRateLimited, other 4xx -> PartnerDataError with
  eBay's ids and messages; 429 and 5xx are left to PartnerHttp (waited out / retried).
- Operations (each its own rate bucket, ``OPERATIONS``): getOrders, getOrder,
  getShippingFulfillments, createShippingFulfillment, bulkUpdatePriceQuantity, and the token call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from orderdeck.plugins.errors import (
    PartnerAuthError,
    PartnerDataError,
    PartnerError,
    PartnerRateLimited,
    PartnerUnreadable,
)
from orderdeck.plugins.oauth import AccessToken, RefreshingTokenAuth, token_key
from orderdeck.plugins.toolkit import PartnerHttp

TOKEN_PATH = "/identity/v1/oauth2/token"
FULFILLMENT = "/sell/fulfillment/v1"
INVENTORY = "/sell/inventory/v1"
SCOPES = (
    "https://api.ebay.com/oauth/api_scope/sell.fulfillment",
    "https://api.ebay.com/oauth/api_scope/sell.inventory",
)
"""The scopes orderdeck asks the token for: orders and fulfillments; inventory quantities."""
MAX_ORDERS_PER_PAGE = 200
MAX_PRICE_QUANTITY_REQUESTS = 25
INVALID_TOKEN, TOO_MANY_REQUESTS = 1001, 2001
QUOTA_RETRY_AFTER = 60.0
"""Seconds to wait on an errorId 2001 answer that is not a 429 and names no Retry-After."""


@dataclass(frozen=True)
class Limits:
    """Requests a second (and burst) per operation: eBay's daily call limits spread over the day."""

    fulfillment: tuple[float, int]
    inventory: tuple[float, int]

    def operation_rates(self) -> dict[str, tuple[float, int]]:
        """Each operation's bucket (the token call is paced as the fulfillment calls: a token
        lasts two hours, so it is rare)."""
        return {"getOrders": self.fulfillment, "getOrder": self.fulfillment,
                "getShippingFulfillments": self.fulfillment, "createShippingFulfillment": self.fulfillment,
                "bulkUpdatePriceQuantity": self.inventory, "token": self.fulfillment}  # fmt: skip


def _errors(response: httpx.Response) -> list[dict[str, Any]]:
    """eBay's error entries of an answer ([] when the body is not eBay's error shape)."""
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return [e for e in errors if isinstance(e, dict)] if isinstance(errors, list) else []


def describe_errors(errors: list[dict[str, Any]]) -> str:
    """eBay error entries as one line: ``errorId 32100 (API_FULFILLMENT/REQUEST): message [name=value]``."""
    parts = []
    for error in errors:
        text = str(error.get("longMessage") or error.get("message") or "no message")
        where = "/".join(str(error[k]) for k in ("domain", "category") if error.get(k))
        parameters = error.get("parameters") if isinstance(error.get("parameters"), list) else []
        named = ", ".join(f"{p.get('name')}={p.get('value')}" for p in parameters if isinstance(p, dict))
        parts.append(f"errorId {error.get('errorId')}" + (f" ({where})" if where else "") + f": {text}"
                     + (f" [{named}]" if named else ""))  # fmt: skip
    return "; ".join(parts)


def ebay_error(response: httpx.Response, what: str) -> PartnerError | None:
    """The typed error of an eBay error answer (see the module docstring); None for 429 and 5xx
    without errorId 2001, which PartnerHttp waits out or retries."""
    errors = _errors(response)
    ids = {e.get("errorId") for e in errors}
    status = response.status_code
    text = f"{what}: HTTP {status}: " + (describe_errors(errors) or response.text[:300])
    if TOO_MANY_REQUESTS in ids and status != 429:
        try:
            wait = float(response.headers.get("retry-after", ""))
        except ValueError:
            wait = QUOTA_RETRY_AFTER
        return PartnerRateLimited(text, retry_after=wait)
    if status == 429 or status >= 500:
        return None
    if INVALID_TOKEN in ids or status in (401, 403):
        return PartnerAuthError(text)
    return PartnerDataError(text)


def token_error(response: httpx.Response, what: str) -> PartnerError | None:
    """The token endpoint's refusals (``{"error", "error_description"}``): the credentials."""
    if response.status_code in (400, 401, 403):
        try:
            body = response.json()
        except ValueError:
            body = {}
        reason = f"{body.get('error', '')}: {body.get('error_description', '')}" if isinstance(body, dict) else ""
        return PartnerAuthError(f"eBay refused the client id, secret or refresh token ({what}: HTTP "
                                f"{response.status_code} {reason.strip(': ') or response.text[:200]})")  # fmt: skip
    return None


def server_time(response: httpx.Response) -> datetime | None:
    """eBay's clock when it answered (the Date header), if it sent one."""
    value = response.headers.get("date")
    if not value:
        return None
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class OrdersPage:
    """One page of getOrders: the raw orders, eBay's total, the next page's href, eBay's clock."""

    orders: list[dict[str, Any]]
    total: int
    next: str | None
    server_time: datetime | None


class EbayClient:
    """A client of one seller account (use as an async context manager, or call ``close()``)."""

    def __init__(self, *, connection_id: str, api_url: str, token_url: str, client_id: str, client_secret: str,
                 refresh_token: str, scopes: tuple[str, ...] = SCOPES, marketplace_id: str = "EBAY_GB",
                 content_language: str = "en-GB", limits: Limits, timeout: float = 30.0, max_wait: float = 30.0,
                 verify_tls: bool = True) -> None:  # fmt: skip
        self.api_url = api_url.rstrip("/")
        self.token_url = token_url
        self.scopes = scopes
        self.content_language = content_language
        common: dict[str, Any] = {"rate": limits.fulfillment[0], "burst": limits.fulfillment[1], "timeout": timeout,
                                  "max_wait": max_wait, "limit_key": connection_id, "verify": verify_tls,
                                  "operation_rates": limits.operation_rates()}  # fmt: skip
        # The token is fetched inside an API request's attempt, which PartnerHttp retries: no retries of its own.
        self.identity = PartnerHttp(self.api_url, auth=(client_id, client_secret), error_for=token_error, retries=0,
                                    headers={"Accept": "application/json"}, **common)  # fmt: skip
        self._refresh_token = refresh_token
        key = token_key(connection_id, token_url, client_id, client_secret, refresh_token, " ".join(scopes))
        self.http = PartnerHttp(self.api_url, auth=RefreshingTokenAuth(key, self.fetch_token), error_for=ebay_error,
                                headers={"Accept": "application/json", "X-EBAY-C-MARKETPLACE-ID": marketplace_id},
                                **common)  # fmt: skip

    async def __aenter__(self) -> EbayClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.close()
        await self.identity.close()

    # OAuth

    async def fetch_token(self) -> AccessToken:
        """A new user access token for the refresh token (the token endpoint's refusal: PartnerAuthError)."""
        response = await self.identity.request("POST", self.token_url, operation="token", data={
            "grant_type": "refresh_token", "refresh_token": self._refresh_token, "scope": " ".join(self.scopes)})  # fmt: skip
        body = self.identity.json(response, dict)
        token, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(token, str) or not token or isinstance(expires_in, bool) or not isinstance(expires_in, int | float):
            raise PartnerUnreadable(f"{self.token_url}: no access_token and expires_in in the answer")
        return AccessToken.lasting(token, float(expires_in))

    # Sell Fulfillment

    async def get_orders(self, filter_: str, *, limit: int = MAX_ORDERS_PER_PAGE, offset: int = 0) -> OrdersPage:
        """One page of getOrders for ``filter_`` (eBay's filter syntax)."""
        params = {"filter": filter_, "limit": str(max(1, min(limit, MAX_ORDERS_PER_PAGE))), "offset": str(offset)}
        response = await self.http.request("GET", f"{FULFILLMENT}/order", params=params, operation="getOrders")
        return self._orders_page(response)

    async def follow(self, href: str) -> OrdersPage:
        """The page a getOrders ``next`` href names (it must be on this API's host)."""
        target, base = urlsplit(href), urlsplit(self.api_url)
        if (target.scheme, target.netloc) != (base.scheme, base.netloc) or not target.path.endswith(f"{FULFILLMENT}/order"):
            raise PartnerUnreadable(f"getOrders: the next page {href!r} is not on {self.api_url}")
        response = await self.http.request("GET", href, operation="getOrders")
        return self._orders_page(response)

    def _orders_page(self, response: httpx.Response) -> OrdersPage:
        body = self.http.json(response, dict)
        orders, total, following = body.get("orders", []), body.get("total", 0), body.get("next")
        if not isinstance(orders, list) or isinstance(total, bool) or not isinstance(total, int):
            raise PartnerUnreadable(f"{response.request.url}: not an order page (orders, total): {str(body)[:200]}")
        if following is not None and not isinstance(following, str):
            raise PartnerUnreadable(f"{response.request.url}: next is not a link: {following!r}")
        return OrdersPage(orders, total, following or None, server_time(response))

    async def get_order(self, order_id: str) -> dict[str, Any]:
        response = await self.http.request("GET", f"{FULFILLMENT}/order/{quote(order_id, safe='')}", operation="getOrder")
        return self.http.json(response, dict)

    async def get_fulfillments(self, order_id: str) -> list[dict[str, Any]]:
        """The order's shipping fulfillments (getShippingFulfillments)."""
        response = await self.http.request("GET", f"{FULFILLMENT}/order/{quote(order_id, safe='')}/shipping_fulfillment",
                                           operation="getShippingFulfillments")  # fmt: skip
        fulfillments = self.http.json(response, dict).get("fulfillments", [])
        if not isinstance(fulfillments, list) or not all(isinstance(f, dict) for f in fulfillments):
            raise PartnerUnreadable(f"{response.request.url}: fulfillments is not a list of objects")
        return fulfillments

    async def create_fulfillment(self, order_id: str, details: dict[str, Any]) -> str:
        """createShippingFulfillment; the new fulfillment's id (the end of the Location header)."""
        response = await self.http.request("POST", f"{FULFILLMENT}/order/{quote(order_id, safe='')}/shipping_fulfillment",
                                           json=details, operation="createShippingFulfillment")  # fmt: skip
        location = response.headers.get("location", "")
        if response.status_code != 201 or "/shipping_fulfillment/" not in location:
            raise PartnerUnreadable(f"createShippingFulfillment for {order_id}: HTTP {response.status_code} "
                                    f"without the new fulfillment's Location: {location!r}")  # fmt: skip
        return location.rsplit("/", 1)[-1]

    # Sell Inventory

    async def bulk_update_quantities(self, quantities: list[tuple[str, int]]) -> list[dict[str, Any]]:
        """bulkUpdatePriceQuantity: each SKU's ship-to-home quantity (at most 25 SKUs); eBay's
        per-SKU responses (sku, statusCode, errors, warnings), answered 200 or 207."""
        if len(quantities) > MAX_PRICE_QUANTITY_REQUESTS:
            raise ValueError(f"at most {MAX_PRICE_QUANTITY_REQUESTS} SKUs a call")
        body = {"requests": [{"sku": sku, "shipToLocationAvailability": {"quantity": quantity}}
                             for sku, quantity in quantities]}  # fmt: skip
        response = await self.http.request("POST", f"{INVENTORY}/bulk_update_price_quantity", json=body,
                                           headers={"Content-Language": self.content_language},
                                           operation="bulkUpdatePriceQuantity")  # fmt: skip
        answers = self.http.json(response, dict).get("responses")
        if not isinstance(answers, list) or not all(isinstance(a, dict) for a in answers):
            raise PartnerUnreadable(f"{response.request.url}: responses is not a list of objects")
        return answers

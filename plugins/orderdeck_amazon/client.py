"""The Selling Partner API calls orderdeck makes, with Login with Amazon (LWA) access tokens.

Every call goes through the shared ``PartnerHttp`` (pacing per connection and operation, 429,
retries and typed errors live there). Amazon's ways this module adds:

- LWA: ``POST <token_url>`` (form) ``grant_type=refresh_token&refresh_token&client_id&client_secret``
  answers ``{"access_token", "token_type": "bearer", "expires_in", "refresh_token"}``. The access
  token is cached per connection in this process until ``TOKEN_MARGIN`` seconds before it expires;
  an API answer 401 or 403 drops it and the request is tried once more with a fresh one (a token
  expired early, or revoked). LWA refusing the refresh token or the client (400 invalid_grant,
  401 invalid_client) is a ``PartnerAuthError``.
- Every SP-API request carries ``x-amz-access-token`` (no AWS signature: SP-API dropped it).
- Each operation has Amazon's documented usage plan (``OPERATION_RATES``, rate a second and burst)
  as its own token bucket; ``x-amzn-RateLimit-Limit`` on an answer re-tunes that operation's rate.
- Errors are ``{"errors": [{"code", "message", "details"}]}``: ``amazon_error`` reads them.
- Solicitations answer in HAL (``application/hal+json``): the actions offered for an order are
  ``_links.actions`` (``{href, name}``). Amazon answers a review request it does not take (made
  before, outside 5 to 30 days after delivery) with 403 ``Unauthorized``, as it answers a refused
  token: ``request_review`` does not renew the token for it (see there).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from orderdeck.plugins.errors import PartnerAuthError, PartnerDataError, PartnerUnreadable
from orderdeck.plugins.toolkit import PartnerHttp

REGIONS = {
    "na": "https://sellingpartnerapi-na.amazon.com",
    "eu": "https://sellingpartnerapi-eu.amazon.com",
    "fe": "https://sellingpartnerapi-fe.amazon.com",
}
"""The SP-API endpoint of each selling region."""
TOKEN_URL = "https://api.amazon.com/auth/o2/token"
"""Login with Amazon's token endpoint (the same for every region)."""
RATE_HEADER = "x-amzn-RateLimit-Limit"

OPERATION_RATES: dict[str, tuple[float, int]] = {
    "getOrders": (0.0167, 20),
    "getOrder": (0.5, 30),
    "getOrderItems": (0.5, 30),
    "confirmShipment": (2.0, 10),
    "getListingsItem": (5.0, 10),
    "patchListingsItem": (5.0, 5),
    "getSolicitationActionsForOrder": (1.0, 5),
    "createProductReviewAndSellerFeedbackSolicitation": (1.0, 5),
}
"""Amazon's default usage plan of each operation orderdeck calls: (requests a second, burst), as
the API models' descriptions give them (a test compares them with the specs)."""
LWA_RATE = (1.0, 5)
"""Pacing of token requests (LWA documents no usage plan; one is needed an hour per connection)."""
TOKEN_MARGIN = 60.0
"""A cached access token is renewed this many seconds before it expires."""
MAX_RESULTS_PER_PAGE = 100

ORDERS = "/orders/v0/orders"
LISTINGS = "/listings/2021-08-01/items"
SOLICITATIONS = "/solicitations/v1/orders"
REVIEW_REQUEST = "productReviewAndSellerFeedback"
"""The Solicitations API's one solicitation: a request for a product review and seller feedback."""


def amazon_error(response: httpx.Response) -> str:
    """The first error of an SP-API error body as ``code: message (details)``, else the body's start."""
    try:
        errors = response.json().get("errors")
        first = errors[0]
        text = f"{first.get('code', '')}: {first.get('message', '')}"
        return f"{text} ({first['details']})" if first.get("details") else text
    except (ValueError, AttributeError, TypeError, IndexError, KeyError):
        return response.text[:300]


@dataclass
class _Token:
    value: str
    expires_at: float  # time.monotonic()


_tokens: dict[tuple[str, ...], _Token] = {}
"""Access tokens of this process, by connection and credentials."""


@dataclass(frozen=True)
class Credentials:
    """An LWA client (client id and secret) and the seller's refresh token."""

    client_id: str
    client_secret: str
    refresh_token: str


class AmazonClient:
    """A client of one seller's SP-API account. Use as an async context manager.

    ``cache_key`` keys the access token cache (the connection); ``limit_key`` the usage plans'
    buckets (else ``cache_key``): Amazon counts a plan per seller and application in a region, so
    every connection of that seller and app shares them (``seller_account``)."""

    def __init__(
        self,
        endpoint: str,
        token_url: str,
        credentials: Credentials,
        *,
        cache_key: str,
        limit_key: str | None = None,
        rates: dict[str, tuple[float, int]] | None = None,
        timeout: float = 30.0,
        retries: int = 2,
    ) -> None:
        self.token_url = token_url
        self.credentials = credentials
        secret = hashlib.sha256(f"{credentials.client_secret}\0{credentials.refresh_token}".encode()).hexdigest()
        self.token_key = (cache_key, token_url, credentials.client_id, secret)
        self.http = PartnerHttp(
            endpoint.rstrip("/"),
            rate=LWA_RATE[0],
            burst=LWA_RATE[1],
            timeout=timeout,
            retries=retries,
            rate_header=RATE_HEADER,
            limit_key=limit_key or cache_key,  # Amazon's budget: shared by every call, connection and worker of it
            operation_rates={**OPERATION_RATES, "lwaToken": LWA_RATE, **(rates or {})},
            headers={"Accept": "application/json", "User-Agent": "orderdeck-amazon/0.1 (Language=Python)"},
        )

    async def __aenter__(self) -> AmazonClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.http.close()

    # Login with Amazon

    async def access_token(self, *, renew: bool = False) -> str:
        """A valid access token: the cached one, or a new one from LWA."""
        cached = _tokens.get(self.token_key)
        if cached is not None and not renew and cached.expires_at - TOKEN_MARGIN > time.monotonic():
            return cached.value
        form = {"grant_type": "refresh_token", "refresh_token": self.credentials.refresh_token,
                "client_id": self.credentials.client_id, "client_secret": self.credentials.client_secret}  # fmt: skip
        try:
            response = await self.http.request("POST", self.token_url, operation="lwaToken", data=form)
        except PartnerDataError as exc:  # 400 invalid_grant / unsupported_grant_type
            raise PartnerAuthError(f"Login with Amazon refused the refresh token: {exc}") from None
        body = self.http.json(response, dict)
        token, lifetime = body.get("access_token"), body.get("expires_in", 3600)
        if not isinstance(token, str) or not token or isinstance(lifetime, bool) or not isinstance(lifetime, int | float):
            raise PartnerUnreadable(f"{self.token_url}: no access_token and expires_in in the answer: {str(body)[:200]}")
        _tokens[self.token_key] = _Token(token, time.monotonic() + float(lifetime))
        return token

    def forget_token(self) -> None:
        """Drop the cached access token (the API refused it)."""
        _tokens.pop(self.token_key, None)

    async def call(self, operation: str, method: str, path: str, *, renew_on_refusal: bool = True,
                   **kwargs: Any) -> httpx.Response:  # fmt: skip
        """One SP-API request of ``operation``, with the access token; a 401/403 renews the token
        and tries once more (unless ``renew_on_refusal`` is False: then it raises at once)."""
        for renew in (False, True):
            token = await self.access_token(renew=renew)
            try:
                return await self.http.request(method, path, operation=operation,
                                               headers={"x-amz-access-token": token}, **kwargs)  # fmt: skip
            except PartnerAuthError:
                if not renew_on_refusal:
                    raise  # the token stays: the caller knows the refusal is of the request
                self.forget_token()
                if renew:
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def call_json(self, operation: str, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """``call`` and its JSON object body."""
        return self.http.json(await self.call(operation, method, path, **kwargs), dict)

    # Orders v0

    async def get_orders(self, marketplace_ids: list[str], *, last_updated_after: str, max_results: int,
                         next_token: str | None = None) -> dict[str, Any]:  # fmt: skip
        """getOrders: one page of the orders updated at or after ``last_updated_after`` (the
        payload: Orders, NextToken, LastUpdatedBefore)."""
        params: dict[str, Any] = {
            "MarketplaceIds": ",".join(marketplace_ids),
            "LastUpdatedAfter": last_updated_after,
            "MaxResultsPerPage": max(1, min(max_results, MAX_RESULTS_PER_PAGE)),
        }
        if next_token:
            params["NextToken"] = next_token
        return _payload(await self.call_json("getOrders", "GET", ORDERS, params=params), "getOrders")

    async def get_order(self, order_id: str) -> dict[str, Any]:
        """getOrder: one order (its payload)."""
        return _payload(await self.call_json("getOrder", "GET", f"{ORDERS}/{_segment(order_id)}"), "getOrder")

    async def get_order_items(self, order_id: str) -> list[dict[str, Any]]:
        """getOrderItems: every item of an order, through its NextToken pages."""
        items: list[dict[str, Any]] = []
        next_token: str | None = None
        for _ in range(100):
            params = {"NextToken": next_token} if next_token else None
            payload = _payload(await self.call_json("getOrderItems", "GET", f"{ORDERS}/{_segment(order_id)}/orderItems",
                                                    params=params), "getOrderItems")  # fmt: skip
            page = payload.get("OrderItems")
            if not isinstance(page, list) or not all(isinstance(item, dict) for item in page):
                raise PartnerUnreadable(f"getOrderItems {order_id}: OrderItems is not a list of objects")
            items += page
            next_token = payload.get("NextToken") or None
            if next_token is None:
                return items
        raise PartnerUnreadable(f"getOrderItems {order_id}: more than 100 pages of items")

    async def confirm_shipment(self, order_id: str, body: dict[str, Any]) -> None:
        """confirmShipment: tell Amazon a package of the order shipped (204, no body: any other
        answer, e.g. a proxy's page, is unreadable and the note is tried again)."""
        response = await self.call("confirmShipment", "POST", f"{ORDERS}/{_segment(order_id)}/shipmentConfirmation", json=body)
        if response.status_code != 204 or response.content.strip():
            raise PartnerUnreadable(f"confirmShipment {order_id}: expected 204 without a body, got {response.status_code} "
                                    f"{response.text[:200]!r}")  # fmt: skip

    # Listings Items 2021-08-01

    async def patch_listing(self, seller_id: str, sku: str, marketplace_ids: list[str],
                            body: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        """patchListingsItem: the submission's answer ``{sku, status, submissionId, issues}``."""
        path = f"{LISTINGS}/{_segment(seller_id)}/{_segment(sku)}"
        params = {"marketplaceIds": ",".join(marketplace_ids), "includedData": "issues"}
        return await self.call_json("patchListingsItem", "PATCH", path, params=params, json=body)


    # Solicitations v1

    async def solicitation_actions(self, order_id: str, marketplace_id: str) -> list[str]:
        """getSolicitationActionsForOrder: the names of the solicitations Amazon offers for the
        order now (HAL ``_links.actions``; none when it is too early, too late, done or not allowed)."""
        body = await self.call_json("getSolicitationActionsForOrder", "GET", f"{SOLICITATIONS}/{_segment(order_id)}",
                                    params={"marketplaceIds": marketplace_id})  # fmt: skip
        links = body.get("_links")
        actions = links.get("actions") if isinstance(links, dict) else None
        if not isinstance(actions, list) or not all(isinstance(action, dict) for action in actions):
            raise PartnerUnreadable(f"getSolicitationActionsForOrder {order_id}: no _links.actions list: {str(body)[:200]}")
        return [str(action.get("name") or "") for action in actions]

    async def request_review(self, order_id: str, marketplace_id: str) -> None:
        """createProductReviewAndSellerFeedbackSolicitation: 201 (any other success, e.g. a proxy's
        page, is unreadable). Amazon refuses a request it does not take (made before, or outside 5
        to 30 days after delivery) with 403 Unauthorized: sent right after the same token was
        accepted for the order's actions, that 403 raises PartnerAuthError at once (no renewal)."""
        path = f"{SOLICITATIONS}/{_segment(order_id)}/solicitations/{REVIEW_REQUEST}"
        response = await self.call("createProductReviewAndSellerFeedbackSolicitation", "POST", path,
                                    params={"marketplaceIds": marketplace_id}, renew_on_refusal=False)  # fmt: skip
        if response.status_code != 201:
            raise PartnerUnreadable(f"createProductReviewAndSellerFeedbackSolicitation {order_id}: expected 201, got "
                                    f"{response.status_code} {response.text[:200]!r}")  # fmt: skip


def seller_account(endpoint: str, seller_id: str, client_id: str) -> str:
    """The key of a seller's usage plans: its region's endpoint, the seller and the LWA app."""
    return f"amazon|{endpoint.rstrip('/')}|{seller_id}|{client_id}"


def _segment(value: str) -> str:
    """A path segment, percent-encoded (SKUs may hold slashes and spaces)."""
    return quote(value, safe="")


def _payload(body: dict[str, Any], operation: str) -> dict[str, Any]:
    payload = body.get("payload")
    if not isinstance(payload, dict):
        raise PartnerUnreadable(f"{operation}: the answer has no payload object: {str(body)[:200]}")
    return payload

"""The WooCommerce REST API v3 (``<shop>/wp-json/wc/v3``), as far as orderdeck uses it.

Every call goes through the shared ``PartnerHttp`` (rate limiting, 429 / Retry-After, retries and
typed errors live there, not here). Authentication is WooCommerce's (``auth_for``): HTTP Basic with
the REST API consumer key and secret over HTTPS; over plain HTTP, where WooCommerce refuses Basic,
each request (each retry too) is signed with OAuth 1.0a (HMAC-SHA256, a new nonce and the current
timestamp, the parameters in the query string as WooCommerce documents), so the secret never
travels in clear. The shop's certificate is checked against the public CAs, or against the
``trusted_certificate`` given (a self-signed shop); checks are never turned off.

Facts of the API this client relies on (WooCommerce's ``WC_REST_CRUD_Controller``):
- ``modified_after`` / ``modified_before`` are exclusive, at one-second resolution, and compare with
  the site's local time unless ``dates_are_gmt=true`` is sent (always sent here).
- ``orderby=modified`` sorts by the modified date *then by ID* in the same direction, so
  ``orderby=modified&order=asc`` is a total order: (date_modified_gmt, id).
- ``per_page`` is at most 100; ``X-WP-Total`` / ``X-WP-TotalPages`` and ``Link`` (rel="next" /
  "prev") describe the collection.
- ``GET /products?sku=A,B`` matches exact SKUs (a comma list is accepted); ``POST /products/batch``
  takes at most 100 items and answers one entry per item, an ``{"id", "error": {...}}`` object for
  each item it could not update.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from orderdeck.plugins.errors import PartnerUnreadable
from orderdeck.plugins.oauth1 import OAuth1
from orderdeck.plugins.toolkit import PartnerHttp, tls_context

API_PATH = "/wp-json/wc/v3"
MAX_PER_PAGE = 100
MAX_BATCH = 100


@dataclass(frozen=True)
class Page:
    """One page of a WooCommerce collection."""

    items: list[dict[str, Any]]
    page: int
    total: int
    total_pages: int
    has_next: bool
    server_time: datetime | None
    """The shop's clock when it answered (the Date header), if it sent one."""


def _int_header(response: httpx.Response, name: str) -> int:
    value = response.headers.get(name)
    if value is None:
        return -1
    try:
        return int(value)
    except ValueError:
        raise PartnerUnreadable(f"{response.request.url}: header {name} is not a number: {value!r}") from None


def _server_time(response: httpx.Response) -> datetime | None:
    values = response.headers.get_list("date")
    if not values:
        return None
    try:
        parsed = parsedate_to_datetime(values[0])
    except (TypeError, ValueError, IndexError):
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def gmt(moment: datetime) -> str:
    """A datetime as WooCommerce writes GMT dates: ``YYYY-MM-DDTHH:MM:SS``, no offset."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat()


def auth_for(url: str, consumer_key: str, consumer_secret: str) -> httpx.Auth:
    """How requests to the shop at ``url`` authenticate: HTTP Basic over https, OAuth 1.0a
    signatures (in the query string) over http."""
    if url.lower().startswith("https://"):
        return httpx.BasicAuth(consumer_key, consumer_secret)
    return OAuth1(consumer_key, consumer_secret, signature_method="HMAC-SHA256", placement="query")


class WooCommerceClient:
    """A client of one shop's REST API. Use as an async context manager, or call ``close()``."""

    def __init__(
        self,
        url: str,
        consumer_key: str,
        consumer_secret: str,
        *,
        trusted_certificate: str | None = None,
        rate: float = 5.0,
        burst: int | None = None,
        **http_options: Any,
    ) -> None:
        self.http = PartnerHttp(
            url.rstrip("/") + API_PATH,
            rate=rate,
            burst=burst if burst is not None else max(1, int(rate)),
            auth=auth_for(url, consumer_key, consumer_secret),
            verify=tls_context(trusted_certificate),
            headers={"Accept": "application/json", "User-Agent": "orderdeck-woocommerce"},
            **http_options,
        )

    async def __aenter__(self) -> WooCommerceClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self.http.close()

    # Orders

    async def list_orders(
        self,
        statuses: list[str],
        *,
        modified_after: datetime | None = None,
        modified_before: datetime | None = None,
        orderby: str = "modified",
        order: str = "asc",
        page: int = 1,
        per_page: int = MAX_PER_PAGE,
    ) -> Page:
        """One page of orders in ``statuses``, modified strictly after / before the given GMT times
        (one-second resolution), sorted by ``orderby`` (then by id) in ``order``."""
        params: dict[str, Any] = {
            "orderby": orderby,
            "order": order,
            "page": page,
            "per_page": max(1, min(per_page, MAX_PER_PAGE)),
            "dates_are_gmt": "true",
        }
        if statuses:  # none: WooCommerce's default, "any"
            params["status"] = ",".join(statuses)
        if modified_after is not None:
            params["modified_after"] = gmt(modified_after)
        if modified_before is not None:
            params["modified_before"] = gmt(modified_before)
        return await self._page("/orders", params)

    async def get_order(self, order_id: str) -> dict[str, Any]:
        response = await self.http.request("GET", f"/orders/{order_id}")
        return self.http.json(response, dict)

    async def update_order(self, order_id: str, changes: dict[str, Any]) -> dict[str, Any]:
        response = await self.http.request("PUT", f"/orders/{order_id}", json=changes)
        return self.http.json(response, dict)

    async def list_order_notes(self, order_id: str) -> list[dict[str, Any]]:
        response = await self.http.request("GET", f"/orders/{order_id}/notes")
        return self.http.json(response, list)

    async def add_order_note(self, order_id: str, note: str, *, customer_note: bool) -> dict[str, Any]:
        response = await self.http.request(
            "POST", f"/orders/{order_id}/notes", json={"note": note, "customer_note": customer_note}
        )
        return self.http.json(response, dict)

    # Products

    async def find_products_by_sku(self, skus: list[str]) -> list[dict[str, Any]]:
        """The products (and variations) whose SKU is exactly one of ``skus`` (at most 100)."""
        if not skus:
            return []
        if len(skus) > MAX_PER_PAGE:
            raise ValueError(f"at most {MAX_PER_PAGE} SKUs at once")
        page = await self._page("/products", {"sku": ",".join(skus), "per_page": MAX_PER_PAGE, "page": 1})
        return page.items

    async def batch_update_stock(self, quantities: list[tuple[int, int]]) -> list[dict[str, Any]]:
        """Set stock (product id, quantity) for at most 100 products in one call; the answer has
        one entry per item, in order (an ``error`` object for items WooCommerce refused)."""
        if len(quantities) > MAX_BATCH:
            raise ValueError(f"at most {MAX_BATCH} products a batch")
        body = {"update": [{"id": pid, "stock_quantity": qty, "manage_stock": True} for pid, qty in quantities]}
        response = await self.http.request("POST", "/products/batch", json=body)
        answer = self.http.json(response, dict)
        updated = answer.get("update", [])
        if not isinstance(updated, list) or not all(isinstance(item, dict) for item in updated):
            raise PartnerUnreadable(f"/products/batch: 'update' is not a list of objects: {str(updated)[:200]}")
        return updated

    # Plumbing

    async def _page(self, path: str, params: dict[str, Any]) -> Page:
        response = await self.http.request("GET", path, params=params)
        items = self.http.json(response, list)
        if not all(isinstance(item, dict) for item in items):
            raise PartnerUnreadable(f"{path}: expected a JSON list of objects")
        page = int(params.get("page", 1))
        total = _int_header(response, "x-wp-total")
        total_pages = _int_header(response, "x-wp-totalpages")
        if "next" in response.links:
            has_next = True
        elif total_pages >= 0:
            has_next = page < total_pages
        else:  # neither header: a full page may have a successor
            has_next = len(items) >= int(params.get("per_page", 10))
        return Page(items, page, total, total_pages, has_next, _server_time(response))

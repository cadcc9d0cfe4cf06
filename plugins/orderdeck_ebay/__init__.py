"""orderdeck's eBay channel (Sell Fulfillment and Sell Inventory REST APIs), a plugin package like
any third-party one.

Registered in pyproject.toml as ``[project.entry-points.orderdeck] ebay = "orderdeck_ebay"``;
this module holds the settings and the hook implementations, ``client`` the API calls (OAuth,
errors, operations), ``mapping`` eBay's order JSON and statuses, ``download`` the cursor,
``outbound`` quantities and dispatches, ``sandbox`` an emulated eBay seller account (offered
through ``orderdeck_register_sandboxes``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from orderdeck.plugins.connectors import ChannelConnector, Connection
from orderdeck.plugins.dto import ChannelOrder, ConnectionResult, DispatchNote, ItemResult, OrderPage, StatusMapping, StockUpdate
from orderdeck.plugins.errors import PartnerAuthError, PartnerDataError, PartnerError, PartnerUnreadable
from orderdeck.plugins.hookspecs import hookimpl
from orderdeck.plugins.sandbox import Sandbox
from orderdeck.plugins.toolkit import http_address
from orderdeck_ebay import download, mapping, outbound
from orderdeck_ebay.client import MAX_PRICE_QUANTITY_REQUESTS, TOKEN_PATH, EbayClient, Limits
from orderdeck_ebay.sandbox import SANDBOX

__version__ = "0.1.0"

API_URLS = {"production": "https://api.ebay.com", "sandbox": "https://api.sandbox.ebay.com"}
"""eBay's API hosts by environment (the token endpoint is ``/identity/v1/oauth2/token`` on each)."""
DAY = 86_400


class EbaySettings(BaseModel):
    """An eBay seller account: the application's keys (developer.ebay.com) and the seller's
    refresh token (from the consent flow, with the sell.fulfillment and sell.inventory scopes)."""

    environment: Literal["production", "sandbox"] = Field("production", description="eBay's production or sandbox environment")
    api_url: str = Field("", description="Another API address (e.g. orderdeck's eBay sandbox); empty: the environment's")
    token_url: str = Field("", description="Another token endpoint; empty: <API address>/identity/v1/oauth2/token")
    marketplace_id: str = Field("EBAY_GB", description="The marketplace (X-EBAY-C-MARKETPLACE-ID), e.g. EBAY_GB, EBAY_US, EBAY_DE")
    content_language: str = Field("en-GB", description="The Content-Language of inventory calls, e.g. en-GB, en-US, de-DE")
    client_id: str = Field(min_length=1, description="The application's client id (App ID)")
    client_secret: SecretStr = Field(description="The application's client secret (Cert ID)")
    refresh_token: SecretStr = Field(description="The seller's OAuth refresh token (valid 18 months)")
    unshipped_only: bool = Field(False, description="Ask eBay only for orders not shipped yet (orderfulfillmentstatus:"
                                 "{NOT_STARTED|IN_PROGRESS}): less traffic, but orders shipped outside orderdeck are not seen")
    settle_seconds: float = Field(60.0, ge=0, le=3600, description="Orders changed this recently wait for the next run "
                                  "(eBay may still list others changed at that time)")
    fulfillment_calls_per_day: int = Field(100_000, ge=100, description="Sell Fulfillment calls a day (eBay's call limit), spread evenly")
    inventory_calls_per_day: int = Field(2_000_000, ge=100, description="Sell Inventory calls a day (eBay's call limit), spread evenly")
    burst: int = Field(10, ge=1, le=100, description="Calls that may go at once before the daily pace applies")
    max_rate_limit_wait_seconds: float = Field(30.0, ge=0, le=600, description="Longest wait for eBay's 429s in one call; "
                                               "longer and the work is retried later")
    timeout_seconds: float = Field(30.0, gt=0, le=120, description="Longest wait for one answer from eBay")
    carrier_codes: dict[str, str] = Field(default_factory=dict, description="orderdeck carrier name -> eBay shippingCarrierCode, "
                                          "beyond the common ones (Royal Mail -> RoyalMail, ...)")

    @field_validator("api_url", "token_url")
    @classmethod
    def _address(cls, value: str) -> str:
        return http_address(value, "an http(s) address, e.g. https://api.ebay.com", required=False)

    @field_validator("marketplace_id")
    @classmethod
    def _marketplace(cls, value: str) -> str:
        if not re.fullmatch(r"EBAY_[A-Z_]{2,10}", value.strip()):
            raise ValueError("must be an eBay marketplace id, e.g. EBAY_GB")
        return value.strip()

    @field_validator("content_language")
    @classmethod
    def _language(cls, value: str) -> str:
        if not re.fullmatch(r"[a-z]{2}-[A-Z]{2}", value.strip()):
            raise ValueError("must be a language and country, e.g. en-GB")
        return value.strip()

    def api(self) -> str:
        return self.api_url or API_URLS[self.environment]

    def token_endpoint(self) -> str:
        return self.token_url or self.api() + TOKEN_PATH

    def limits(self) -> Limits:
        return Limits(fulfillment=(self.fulfillment_calls_per_day / DAY, self.burst),
                      inventory=(self.inventory_calls_per_day / DAY, self.burst))  # fmt: skip


def _client(connection: Connection[EbaySettings]) -> EbayClient:
    settings = connection.settings
    return EbayClient(connection_id=connection.connection_id, api_url=settings.api(), token_url=settings.token_endpoint(),
                      client_id=settings.client_id.strip(), client_secret=settings.client_secret.get_secret_value(),
                      refresh_token=settings.refresh_token.get_secret_value(), marketplace_id=settings.marketplace_id,
                      content_language=settings.content_language, limits=settings.limits(),
                      timeout=settings.timeout_seconds, max_wait=settings.max_rate_limit_wait_seconds)  # fmt: skip


class Ebay(ChannelConnector):
    """eBay seller accounts: orders (Sell Fulfillment), quantities (Sell Inventory) and dispatch
    (shipping fulfillments with tracking)."""

    name = "ebay"
    title = "eBay"
    version = __version__
    description = "eBay seller accounts over the Sell Fulfillment and Inventory APIs: orders, quantities, dispatch."
    settings = EbaySettings
    source = "EBAY"
    stock_batch_size = 4 * MAX_PRICE_QUANTITY_REQUESTS
    dispatch_batch_size = 20

    async def test_connection(self, connection: Connection[EbaySettings]) -> ConnectionResult:
        """A token for the refresh token, then one getOrders of the last day."""
        since = datetime.now(UTC) - timedelta(days=1)
        try:
            async with _client(connection) as client:
                page = await client.get_orders(download.order_filter(since, None, False), limit=1)
        except PartnerAuthError as exc:
            return ConnectionResult(False, f"eBay refused the credentials: {exc}")
        except (PartnerDataError, PartnerUnreadable) as exc:
            return ConnectionResult(False, f"This does not answer as eBay's Sell Fulfillment API: {exc}")
        except PartnerError as exc:
            return ConnectionResult(False, f"Could not reach eBay: {exc}")
        return ConnectionResult(True, f"Connected to eBay ({connection.settings.marketplace_id}): "
                                      f"{page.total} orders changed in the last day.")  # fmt: skip

    async def download_orders(self, connection: Connection[EbaySettings], cursor: str | None, page_size: int) -> OrderPage:
        """The next orders after the cursor (``orderdeck_ebay.download``)."""
        settings = connection.settings
        async with _client(connection) as client:
            return await download.download(client, cursor, page_size, settle=timedelta(seconds=settings.settle_seconds),
                                           unshipped_only=settings.unshipped_only)  # fmt: skip

    def map_status(self, connection: Connection[EbaySettings], order: ChannelOrder) -> StatusMapping:
        """eBay's payment, fulfillment and cancel states (``mapping.map_status``)."""
        return mapping.map_status(order.status)

    async def push_stock(self, connection: Connection[EbaySettings], updates: list[StockUpdate]) -> list[ItemResult]:
        """Quantities by SKU, 25 a call (``outbound.push_quantities``)."""
        async with _client(connection) as client:
            return await outbound.push_quantities(client, updates)

    async def send_dispatches(self, connection: Connection[EbaySettings], notes: list[DispatchNote]) -> list[ItemResult]:
        """A shipping fulfillment per note, never twice (``outbound.dispatch``)."""
        async with _client(connection) as client:
            return [await outbound.dispatch(client, note, connection.settings.carrier_codes) for note in notes]


@hookimpl
def orderdeck_register_connectors() -> list[ChannelConnector]:
    """The eBay channel."""
    return [Ebay()]


@hookimpl
def orderdeck_register_sandboxes() -> list[Sandbox]:
    """The emulated eBay seller account (``orderdeck sandbox ebay``, the tests)."""
    return [SANDBOX]

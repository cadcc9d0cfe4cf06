"""Amazon FBA (Fulfilment by Amazon) as a fulfilment centre: ``amazon_fba``.

Amazon ships the orders it sells with FBA (``FulfillmentChannel`` AFN) from its own fulfilment
centres. orderdeck models that as a centre the Amazon channel runs itself: the channel names
``fulfilment_connector = "amazon_fba"``, so each new Amazon channel comes with an ``amazon_fba``
connection (the channel's credentials, region and marketplaces, kept in step) and a location it
serves, the channel's fulfilment location. The channel's downloads put AFN orders there, held
(BY_CHANNEL), and process or cancel them when Amazon reports them shipped or cancelled. This
connector does the centre's side:

- ``import_stock``: the FBA Inventory API v1 ``getInventorySummaries`` (Marketplace granularity,
  ``details=true``, every nextToken page) as one stock report: each SellerSKU's
  ``inventoryDetails.fulfillableQuantity``, the units Amazon can pick, pack and ship now. Not
  ``totalQuantity``: it counts units still inbound, reserved for orders and unsellable. A summary
  without that quantity (Amazon gave no details for it) is a row problem and its level is left
  as it was, rather than guessed from ``totalQuantity``. The report is named ``fba-inventory
  <marketplace> at <the latest lastUpdatedTime>`` and hashed over its normalised levels, so an
  inventory unchanged since the last import is not applied again, while one that changed and came
  back to earlier numbers (a later lastUpdatedTime) is.
- ``import_statuses``: none. Amazon reports an AFN order shipped or cancelled through the Orders
  API, which the channel's own downloads read: that is what processes (no dispatch note owed) or
  cancels the held order. A second reading here would only race the channel's.
- ``export_orders``: every order refused. FBA ships what Amazon sells; handing it orders of other
  channels is Multi-Channel Fulfillment, which this connector does not do. An order moved to the
  FBA location by hand gets the refusal as its label error.
- ``test_connection``: a token, then one page of inventory summaries (without details).

Every call goes through the Amazon channel's ``AmazonClient`` (Login with Amazon tokens, the
shared ``PartnerHttp``: pacing by the operation's usage plan, 429, retries, typed errors).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator

from orderdeck.plugins.connectors import Connection, FulfilmentConnector
from orderdeck.plugins.dto import (
    ConnectionResult,
    ExportBatch,
    ExportResult,
    ImportedFile,
    ItemResult,
    RowProblem,
    StatusReport,
    StockLine,
    StockReport,
)
from orderdeck.plugins.errors import PartnerAuthError, PartnerDataError, PartnerError, PartnerUnavailable, PartnerUnreadable
from orderdeck_amazon import AmazonSettings, OperationRate, __version__
from orderdeck_amazon.client import REGIONS, TOKEN_URL, AmazonClient, Credentials

INVENTORY = "/fba/inventory/v1/summaries"
FBA_RATES: dict[str, tuple[float, int]] = {"getInventorySummaries": (2.0, 2)}
"""Amazon's default usage plan of getInventorySummaries (requests a second, burst), as the FBA
Inventory model gives it (a test compares them)."""
MAX_PAGES = 2_000
"""The most nextToken pages one import reads (Amazon answers 50 summaries a page: 100,000 SKUs)."""
REFUSAL = ("Amazon FBA ships only the orders Amazon sells with FBA (they come from the Amazon channel): it "
           "takes no orders from orderdeck, as Multi-Channel Fulfillment is not supported. Move the order to a "
           "location you ship from.")  # fmt: skip
"""Why every order handed to the FBA centre is refused (its label error)."""


class FbaSettings(BaseModel):
    """The Amazon seller account whose FBA inventory is read: the channel's credentials, region
    and marketplaces (copied from the Amazon channel, same names), and the FBA centre's own
    choices."""

    region: Literal["na", "eu", "fe"] = Field("na", description="Selling region: na (North America), eu (Europe), fe (Far East)")
    marketplace_ids: list[str] = Field(min_length=1, description="The seller's marketplaces, e.g. A1F83G8C2ARO7P (UK)")
    client_id: str = Field(min_length=1, description="LWA client identifier (amzn1.application-oa2-client...)")
    client_secret: SecretStr = Field(description="LWA client secret")
    refresh_token: SecretStr = Field(description="The seller's LWA refresh token (Atzr|...)")
    endpoint: str | None = Field(None, description="SP-API endpoint instead of the region's (e.g. a sandbox)")
    token_url: str | None = Field(None, description="LWA token URL instead of Amazon's (e.g. a sandbox)")
    timeout_seconds: float = Field(30.0, gt=0, le=120, description="Longest wait for one answer from Amazon")
    fba_marketplace_id: str | None = Field(
        None, description="The marketplace whose FBA inventory sets the levels (else the first of marketplace_ids)")
    inventory_rate: OperationRate | None = Field(
        None, description="getInventorySummaries' usage plan, if Amazon raised it for this seller (else 2 a second, burst 2)")

    @field_validator("marketplace_ids")
    @classmethod
    def _marketplaces(cls, value: list[str]) -> list[str]:
        return AmazonSettings._marketplaces(value)  # the channel's rule, so whatever it takes, FBA takes

    @field_validator("endpoint", "token_url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return AmazonSettings._url(value)

    @field_validator("fba_marketplace_id")
    @classmethod
    def _marketplace(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        if not re.fullmatch(r"[A-Z0-9]{5,20}", value.strip()):
            raise ValueError("must be an Amazon marketplace id, e.g. A1F83G8C2ARO7P")
        return value.strip()

    @property
    def marketplace(self) -> str:
        """The marketplace whose FBA inventory is read."""
        return self.fba_marketplace_id or self.marketplace_ids[0]


def _client(connection: Connection[FbaSettings]) -> AmazonClient:
    settings = connection.settings
    credentials = Credentials(settings.client_id, settings.client_secret.get_secret_value(),
                              settings.refresh_token.get_secret_value())  # fmt: skip
    rates = dict(FBA_RATES)
    if settings.inventory_rate is not None:
        rates["getInventorySummaries"] = (settings.inventory_rate.rate, settings.inventory_rate.burst)
    return AmazonClient(settings.endpoint or REGIONS[settings.region], settings.token_url or TOKEN_URL, credentials,
                        cache_key=connection.connection_id, timeout=settings.timeout_seconds, rates=rates)  # fmt: skip


# The FBA Inventory API


@dataclass(frozen=True)
class SummaryPage:
    """One page of getInventorySummaries: its summaries and the nextToken of the next, if any."""

    summaries: list[dict[str, Any]]
    next_token: str | None


async def inventory_page(client: AmazonClient, marketplace: str, *, details: bool = True,
                         next_token: str | None = None) -> SummaryPage:  # fmt: skip
    """getInventorySummaries: one page of the marketplace's inventory summaries."""
    params = {"granularityType": "Marketplace", "granularityId": marketplace, "marketplaceIds": marketplace,
              "details": "true" if details else "false"}  # fmt: skip
    if next_token:
        params["nextToken"] = next_token
    body = await client.call_json("getInventorySummaries", "GET", INVENTORY, params=params)
    payload = body.get("payload")
    if not isinstance(payload, dict) or not isinstance(payload.get("inventorySummaries"), list):
        errors = f" (errors: {str(body.get('errors'))[:200]})" if body.get("errors") else ""
        raise PartnerUnreadable(f"getInventorySummaries: no payload.inventorySummaries list in the answer{errors}")
    pagination = body.get("pagination")
    following = pagination.get("nextToken") if isinstance(pagination, dict) else None
    if following is not None and not isinstance(following, str):
        raise PartnerUnreadable(f"getInventorySummaries: pagination.nextToken is not a string: {following!r}")
    return SummaryPage(payload["inventorySummaries"], following or None)


async def inventory(client: AmazonClient, marketplace: str) -> list[Any]:
    """Every inventory summary of the marketplace (with details), through the nextToken pages. A
    nextToken Amazon no longer takes (it lives 30 seconds) starts the reading again, once."""
    for attempt in (1, 2):
        summaries: list[Any] = []
        next_token: str | None = None
        try:
            for _ in range(MAX_PAGES):
                page = await inventory_page(client, marketplace, next_token=next_token)
                summaries += page.summaries
                next_token = page.next_token
                if next_token is None:
                    return summaries
        except PartnerDataError as exc:
            if next_token is None:
                raise
            if attempt == 2:
                raise PartnerUnavailable(f"getInventorySummaries: Amazon refused a nextToken twice: {exc}") from None
            continue
        raise PartnerUnreadable(f"getInventorySummaries: more than {MAX_PAGES} pages of inventory")
    raise AssertionError("unreachable")  # pragma: no cover


def _quantity(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def stock_report(marketplace: str, summaries: list[Any]) -> StockReport:
    """The summaries as one stock report (see the module docstring): each SellerSKU's fulfillable
    quantity, a row problem for a summary that does not give it; named by the marketplace and the
    latest change, hashed over the normalised levels."""
    levels: dict[str, StockLine] = {}
    problems: list[RowProblem] = []
    latest = ""
    for row, summary in enumerate(summaries, 1):
        if not isinstance(summary, dict):
            problems.append(RowProblem(row, "", f"the inventory summary is not an object: {str(summary)[:100]}"))
            continue
        sku = summary.get("sellerSku")
        if not isinstance(sku, str) or not sku.strip():
            problems.append(RowProblem(row, "sellerSku", f"no seller SKU (ASIN {summary.get('asin') or '?'})"))
            continue
        details = summary.get("inventoryDetails")
        quantity = _quantity(details.get("fulfillableQuantity")) if isinstance(details, dict) else None
        if quantity is None:
            problems.append(RowProblem(row, "inventoryDetails.fulfillableQuantity",
                                       f"SKU {sku}: Amazon gave no fulfillable quantity; its level is left as it was"))  # fmt: skip
            continue
        levels[sku.strip()] = StockLine(row, sku.strip(), quantity)
        updated = summary.get("lastUpdatedTime")
        if isinstance(updated, str) and updated > latest:  # ISO 8601 in UTC: text order is time order
            latest = updated
    normalised = json.dumps(sorted((line.sku, line.quantity) for line in levels.values()))
    name = f"fba-inventory {marketplace}" + (f" at {latest}" if latest else "")
    file = ImportedFile(name, hashlib.sha256(normalised.encode()).hexdigest())
    return StockReport(file, list(levels.values()), problems)


class AmazonFba(FulfilmentConnector):
    """Amazon's own fulfilment centres (FBA) for an Amazon seller account: the stock Amazon holds
    in them; the orders it ships come and go through the Amazon channel."""

    name = "amazon_fba"
    title = "Amazon FBA"
    version = __version__
    description = ("Fulfilment by Amazon: the FBA inventory (fulfillable units per SKU) as the levels of the Amazon "
                   "channel's FBA location; Amazon ships the FBA orders itself.")  # fmt: skip
    settings = FbaSettings

    async def test_connection(self, connection: Connection[FbaSettings]) -> ConnectionResult:
        """A token from LWA, then one page of the marketplace's inventory summaries."""
        marketplace = connection.settings.marketplace
        try:
            async with _client(connection) as client:
                await inventory_page(client, marketplace, details=False)
        except PartnerAuthError as exc:
            return ConnectionResult(False, f"Amazon refused the credentials (LWA app or refresh token): {exc}")
        except (PartnerDataError, PartnerUnreadable) as exc:
            return ConnectionResult(False, f"Amazon refused the FBA inventory request (check the marketplace and "
                                           f"endpoint): {exc}")  # fmt: skip
        except PartnerError as exc:
            return ConnectionResult(False, f"Could not reach Amazon: {exc}")
        return ConnectionResult(True, f"Connected to Amazon FBA inventory in marketplace {marketplace}.")

    async def export_orders(self, connection: Connection[FbaSettings], batch: ExportBatch) -> ExportResult:
        """Every order refused (see the module docstring): FBA takes no orders from orderdeck."""
        return ExportResult(batch.file_name, [ItemResult(order.order_id, False, REFUSAL) for order in batch.orders])

    async def import_statuses(self, connection: Connection[FbaSettings]) -> list[StatusReport]:
        """None: the Amazon channel's downloads report its FBA orders shipped or cancelled."""
        return []

    async def import_stock(self, connection: Connection[FbaSettings]) -> list[StockReport]:
        """The marketplace's FBA inventory as one report (none when Amazon holds nothing)."""
        marketplace = connection.settings.marketplace
        async with _client(connection) as client:
            summaries = await inventory(client, marketplace)
        if not summaries:
            return []
        return [stock_report(marketplace, summaries)]

"""An eBay client orderdeck did not write speaks to the eBay sandbox: ebay-rest's generated API
modules (swagger-codegen clients of eBay's own contracts, built on urllib3), with their
Configuration.host pointed at the sandbox, get orders, create a shipping fulfillment and bulk
update quantities; what they send and get keeps eBay's OpenAPI 3 contracts."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

ebay_rest_fulfillment = pytest.importorskip("ebay_rest.api.sell_fulfillment")
ebay_rest_inventory = pytest.importorskip("ebay_rest.api.sell_inventory")

from tests.plugins.ebay import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, EbayControl, assert_kept, ebay_sandbox, past  # noqa: E402


@pytest.fixture
def ebay() -> Iterator[EbayControl]:
    with ebay_sandbox() as control:
        yield control
        assert assert_kept(control.checked) > 0


def configured(module, ebay: EbayControl, base_path: str):
    """An ApiClient of one ebay-rest API module, pointed at the sandbox with a user token."""
    token = httpx.post(f"{ebay.url}/identity/v1/oauth2/token", auth=(CLIENT_ID, CLIENT_SECRET),
                       data={"grant_type": "refresh_token", "refresh_token": REFRESH_TOKEN}).json()["access_token"]  # fmt: skip
    configuration = module.Configuration()
    configuration.host = f"{ebay.url}{base_path}"
    configuration.access_token = token
    return module.ApiClient(configuration)


def test_ebay_rest_gets_orders_and_ships_one(ebay):
    [order] = ebay.orders({"orderId": "30-00000-00001", "lastModifiedDate": past(300),
                           "lines": [{"sku": "MUG-RED", "quantity": 2, "price": "9.99"}]})  # fmt: skip
    client = configured(ebay_rest_fulfillment, ebay, "/sell/fulfillment/v1")
    orders = ebay_rest_fulfillment.OrderApi(client)
    page = orders.get_orders(filter=f"lastmodifieddate:[{past(600)}..],orderfulfillmentstatus:{{NOT_STARTED|IN_PROGRESS}}",
                             limit="200", offset="0")  # fmt: skip
    assert page.total == 1 and page.orders[0].order_id == "30-00000-00001"
    line = page.orders[0].line_items[0]
    assert (line.sku, line.quantity, line.line_item_cost.value, line.line_item_cost.currency) == ("MUG-RED", 2, "19.98", "GBP")
    assert page.orders[0].fulfillment_start_instructions[0].shipping_step.ship_to.contact_address.country_code == "GB"

    shipping = ebay_rest_fulfillment.ShippingFulfillmentApi(client)
    details = ebay_rest_fulfillment.ShippingFulfillmentDetails(
        line_items=[ebay_rest_fulfillment.LineItemReference(line_item_id=order["lineItems"][0]["lineItemId"], quantity=2)],
        shipped_date=past(60), shipping_carrier_code="RoyalMail", tracking_number="RM987654321GB")  # fmt: skip
    _, status, headers = shipping.create_shipping_fulfillment_with_http_info(details, "application/json", "30-00000-00001",
                                                                             _return_http_data_only=False)  # fmt: skip
    assert status == 201 and headers["Location"].endswith("/shipping_fulfillment/RM987654321GB")
    assert orders.get_order("30-00000-00001").order_fulfillment_status == "FULFILLED"
    listed = shipping.get_shipping_fulfillments("30-00000-00001")
    assert listed.total == 1 and listed.fulfillments[0].shipment_tracking_number == "RM987654321GB"


def test_ebay_rest_bulk_updates_quantities(ebay):
    client = configured(ebay_rest_inventory, ebay, "/sell/inventory/v1")
    inventory = ebay_rest_inventory.InventoryItemApi(client)
    body = ebay_rest_inventory.BulkPriceQuantity(requests=[
        ebay_rest_inventory.PriceQuantity(sku="MUG-RED", ship_to_location_availability=ebay_rest_inventory.ShipToLocationAvailability(quantity=11)),
        ebay_rest_inventory.PriceQuantity(sku="NOT-LISTED", ship_to_location_availability=ebay_rest_inventory.ShipToLocationAvailability(quantity=1)),
    ])  # fmt: skip
    answer, status, _ = inventory.bulk_update_price_quantity_with_http_info(body, "application/json", _return_http_data_only=False)
    assert status == 207
    assert [(r.sku, r.status_code) for r in answer.responses] == [("MUG-RED", 200), ("NOT-LISTED", 404)]
    assert answer.responses[1].errors[0].error_id == 25702
    assert ebay.state()["inventory"]["MUG-RED"] == 11

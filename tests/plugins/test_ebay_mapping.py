"""eBay order JSON to ChannelOrder and eBay's states to orderdeck's (no network)."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from orderdeck.plugins.dto import StatusMapping
from orderdeck.plugins.errors import PartnerAuthError, PartnerDataError, PartnerRateLimited
from orderdeck_ebay import mapping
from orderdeck_ebay.client import ebay_error, token_error
from orderdeck_ebay.outbound import carrier_code

PAID, UNPAID = StatusMapping(paid=True), StatusMapping(paid=False)
SHIPPED, CANCELLED = StatusMapping(paid=True, shipped=True), StatusMapping(paid=False, cancelled=True)


@pytest.mark.parametrize(("payment", "fulfillment", "cancel", "status", "meaning"), [
    ("PAID", "NOT_STARTED", "NONE_REQUESTED", "PAID/NOT_STARTED", PAID),
    ("PAID", "IN_PROGRESS", "NONE_REQUESTED", "PAID/IN_PROGRESS", PAID),  # partly shipped: the rest ships
    ("PARTIALLY_REFUNDED", "NOT_STARTED", "NONE_REQUESTED", "PARTIALLY_REFUNDED/NOT_STARTED", PAID),
    ("PAID", "FULFILLED", "NONE_REQUESTED", "PAID/FULFILLED", SHIPPED),
    ("FULLY_REFUNDED", "FULFILLED", "NONE_REQUESTED", "FULLY_REFUNDED/FULFILLED", SHIPPED),
    ("PENDING", "FULFILLED", "NONE_REQUESTED", "PENDING/FULFILLED", StatusMapping(paid=False, shipped=True)),
    ("PENDING", "NOT_STARTED", "NONE_REQUESTED", "PENDING/NOT_STARTED", UNPAID),
    ("FAILED", "NOT_STARTED", "NONE_REQUESTED", "FAILED/NOT_STARTED", UNPAID),
    ("FULLY_REFUNDED", "NOT_STARTED", "NONE_REQUESTED", "FULLY_REFUNDED/NOT_STARTED", CANCELLED),
    ("PAID", "NOT_STARTED", "IN_PROGRESS", "PAID/NOT_STARTED", PAID),  # a cancellation asked for, not made
    ("PAID", "NOT_STARTED", "CANCELED", "CANCELED", CANCELLED),
    ("ON_HOLD_SOMEDAY", "NOT_STARTED", "NONE_REQUESTED", "ON_HOLD_SOMEDAY/NOT_STARTED", UNPAID),
])  # fmt: skip
def test_status_is_payment_and_fulfillment_and_means_what_the_table_says(payment, fulfillment, cancel, status, meaning):
    raw = {"orderPaymentStatus": payment, "orderFulfillmentStatus": fulfillment, "cancelStatus": {"cancelState": cancel}}
    assert mapping.order_status(raw) == status
    assert mapping.map_status(status) == meaning


def order(**changes) -> dict:
    base = {
        "orderId": "12-34567-89012", "creationDate": "2026-05-01T10:00:00.000Z", "lastModifiedDate": "2026-05-01T11:00:00.000Z",
        "orderPaymentStatus": "PAID", "orderFulfillmentStatus": "NOT_STARTED", "cancelStatus": {"cancelState": "NONE_REQUESTED"},
        "pricingSummary": {"total": {"value": "27.97", "currency": "GBP"}, "deliveryCost": {"value": "2.99", "currency": "GBP"}},
        "paymentSummary": {"payments": [{"paymentMethod": "EBAY", "paymentDate": "2026-05-01T10:00:05.000Z"}]},
        "fulfillmentStartInstructions": [{"shippingStep": {"shippingServiceCode": "UK_RoyalMailTracked24", "shipTo": {
            "fullName": "Ada Lovelace", "companyName": "Engines Ltd", "email": "ada@members.ebay.com",
            "primaryPhone": {"phoneNumber": "07000000000"},
            "contactAddress": {"addressLine1": "1 Analytical Row", "addressLine2": "Flat 2", "city": "London",
                               "stateOrProvince": "Greater London", "postalCode": "N1 1AA", "countryCode": "GB"}}}}],
        "lineItems": [
            {"lineItemId": "1001", "sku": "MUG-RED", "title": "Red mug", "quantity": 2, "lineItemFulfillmentStatus": "NOT_STARTED",
             "lineItemCost": {"value": "19.98", "currency": "GBP"},
             "appliedPromotions": [{"discountAmount": {"value": "2.00", "currency": "GBP"}}],
             "taxes": [{"amount": {"value": "3.33", "currency": "GBP"}}]},
            {"lineItemId": "1002", "legacyItemId": "110554462374", "legacyVariationId": "7", "title": "Tee", "quantity": 1,
             "lineItemFulfillmentStatus": "NOT_STARTED", "lineItemCost": {"value": "5.00", "currency": "GBP"},
             "discountedLineItemCost": {"value": "4.50", "currency": "GBP"}},
        ],
    }  # fmt: skip
    return {**base, **changes}


def test_an_order_maps_to_a_channel_order():
    mapped = mapping.map_order(order())
    assert (mapped.reference, mapped.external_reference, mapped.status) == ("12-34567-89012", "12-34567-89012", "PAID/NOT_STARTED")
    assert (mapped.currency, mapped.total, mapped.postage, mapped.payment_method) == ("GBP", Decimal("27.97"), Decimal("2.99"), "EBAY")
    assert mapped.received_at.isoformat() == "2026-05-01T10:00:00+00:00" and mapped.paid_at.second == 5
    assert (mapped.buyer_name, mapped.email, mapped.shipping_service) == ("Ada Lovelace", "ada@members.ebay.com", "UK_RoyalMailTracked24")
    address = mapped.shipping_address
    assert (address.company, address.address1, address.address2, address.town, address.region, address.postcode, address.country,
            address.phone) == ("Engines Ltd", "1 Analytical Row", "Flat 2", "London", "Greater London", "N1 1AA", "GB", "07000000000")  # fmt: skip
    mug, tee = mapped.lines
    assert (mug.line_id, mug.channel_sku, mug.quantity, mug.unit_price, mug.discount, mug.tax) == (
        "1001", "MUG-RED", 2, Decimal("9.99"), Decimal("2.00"), Decimal("3.33"))  # fmt: skip
    assert (tee.channel_sku, tee.unit_price, tee.discount) == ("110554462374-7", Decimal("5.00"), Decimal("0.50")), "no SKU: the item number"


def test_a_partly_shipped_order_brings_the_lines_still_to_ship():
    raw = order(orderFulfillmentStatus="IN_PROGRESS")
    raw["lineItems"][0]["lineItemFulfillmentStatus"] = "FULFILLED"
    mapped = mapping.map_order(raw)
    assert [line.line_id for line in mapped.lines] == ["1002"]
    assert mapping.map_status(mapped.status) == PAID


@pytest.mark.parametrize(("change", "reason"), [
    ({"orderId": ""}, "the order has no orderId"),
    ({"creationDate": "01/05/2026"}, "creationDate is not an ISO 8601 date: '01/05/2026'"),
    ({"lineItems": []}, "the order has no lineItems"),
    ({"lineItems": [{"sku": "X", "quantity": 1}]}, "lineItems[0] has no lineItemId"),
    ({"lineItems": [{"lineItemId": "9", "sku": "X", "quantity": -1}]}, "line item 9 (X): quantity must be a positive integer, got -1"),
    ({"lineItems": [{"lineItemId": "9", "sku": "X", "quantity": 1, "lineItemCost": {"value": "cheap"}}]},
     "line item 9 lineItemCost.value is not an amount: 'cheap'"),
    ({"lineItems": [{"lineItemId": "9", "quantity": 1}]}, "line item 9 has neither sku nor legacyItemId"),
    ({"pricingSummary": {}, "lineItems": [{"lineItemId": "9", "sku": "X", "quantity": 1}]}, "the order has no currency"),
])  # fmt: skip
def test_an_unreadable_order_is_rejected_with_the_field(change, reason):
    with pytest.raises(mapping.RejectedOrder) as rejected:
        mapping.map_order(order(**change))
    assert reason in rejected.value.reason
    assert rejected.value.reference == (change.get("orderId", "12-34567-89012") or "")


def response(status: int, body: object, headers: dict | None = None) -> httpx.Response:
    return httpx.Response(status, json=body, headers=headers, request=httpx.Request("GET", "https://api.ebay.com/x"))


def test_ebays_errors_become_typed_errors():
    invalid = {"errors": [{"errorId": 1001, "domain": "OAuth", "category": "REQUEST", "message": "Invalid access token"}]}
    assert isinstance(ebay_error(response(401, invalid), "GET x"), PartnerAuthError)
    assert isinstance(ebay_error(response(403, {"errors": [{"errorId": 1100, "message": "Access denied"}]}), "GET x"), PartnerAuthError)
    quota = ebay_error(response(400, {"errors": [{"errorId": 2001, "message": "Too many requests"}]}), "GET x")
    assert isinstance(quota, PartnerRateLimited) and quota.retry_after == 60
    assert ebay_error(response(429, {"errors": [{"errorId": 2001}]}), "GET x") is None, "PartnerHttp waits out 429s"
    assert ebay_error(response(500, {"errors": [{"errorId": 30500}]}), "GET x") is None, "and retries 5xx"
    refused = ebay_error(response(400, {"errors": [{"errorId": 32100, "domain": "API_FULFILLMENT", "category": "REQUEST",
                                                    "message": "Invalid order ID", "parameters": [{"name": "orderId", "value": "1"}]}]}), "GET x")  # fmt: skip
    assert isinstance(refused, PartnerDataError)
    assert str(refused) == "GET x: HTTP 400: errorId 32100 (API_FULFILLMENT/REQUEST): Invalid order ID [orderId=1]"
    grant = token_error(response(400, {"error": "invalid_grant", "error_description": "refresh token revoked"}), "POST token")
    assert isinstance(grant, PartnerAuthError) and "invalid_grant: refresh token revoked" in str(grant)
    assert token_error(response(503, {}), "POST token") is None


def test_carriers_are_ebays_codes():
    assert [carrier_code(name, {}) for name in ("Royal Mail", "royal-mail", "DPD", "Evri", "Acme Freight")] == [
        "RoyalMail", "RoyalMail", "DPD", "Hermes", "AcmeFreight"]  # fmt: skip
    assert carrier_code("Acme Freight", {"Acme Freight": "Other"}) == "Other"

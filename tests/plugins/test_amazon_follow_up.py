"""The Amazon channel's follow-up on a sale (Solicitations API) against its sandbox over real HTTP,
every request and answer checked against Amazon's API models: the review request made when Amazon
offers it, refusals (too early, too late, asked before, unknown order, a 403 right after the
offer) as results, what fails the call as a whole raised; then end to end through orderdeck's
follow-up service: downloaded, processed, confirmed to Amazon, followed up once per order."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from orderdeck.models import AuditEntry, AuditKind, Dispatch, DispatchState, Order, SyncOutcome
from orderdeck.plugins.dto import FollowUp
from orderdeck.plugins.errors import PartnerAuthError, PartnerUnavailable
from orderdeck.services import channels, dispatches, follow_ups, orders, sync
from orderdeck_amazon.sandbox.account import iso
from tests.plugins.test_amazon_client import Amazon, amazon, calls, hooks, sandbox_options  # noqa: F401 - fixtures
from tests.plugins.test_amazon_contract import CLIENT_ID, CLIENT_SECRET, FAST, MARKETPLACE, REFRESH_TOKEN, SELLER
from tests.services.helpers import make_item
from tests.services.test_follow_ups import age_dispatches

REVIEW = "productReviewAndSellerFeedback"


def shipped(amazon: Amazon, reference: str, days_ago: float, **spec: Any) -> FollowUp:
    """An order Amazon shows shipped ``days_ago`` (by the sandbox's clock), and its follow-up request."""
    when = datetime.now(UTC) - timedelta(days=days_ago)
    amazon.order(reference, "Shipped", ship_date=iso(when), **spec)
    return FollowUp(f"d-{reference}", reference, when, reference)


def solicitation_calls(amazon: Amazon) -> list[tuple[str, int]]:
    return [(r["method"], r["status"]) for r in calls(amazon, "/solicitations/")]


async def test_an_eligible_order_is_asked_for_a_review_once(amazon, hooks):
    request = shipped(amazon, "204-0000000-0000001", 6)
    [result] = await hooks.follow_up(amazon.connection(), [request])
    assert (result.id, result.ok, result.error) == ("d-204-0000000-0000001", True, "")
    assert [s["name"] for s in amazon.account.orders["204-0000000-0000001"].solicitations] == [REVIEW]
    get, post = calls(amazon, "/solicitations/")
    assert (get["method"], get["path"], get["query"]) == ("GET", "/solicitations/v1/orders/204-0000000-0000001",
                                                          f"marketplaceIds={MARKETPLACE}")  # fmt: skip
    assert (post["method"], post["path"], post["status"]) == ("POST", f"{get['path']}/solicitations/{REVIEW}", 201)

    [again] = await hooks.follow_up(amazon.connection(), [request])  # after a crash before orderdeck's commit
    assert not again.ok and "was made before" in again.error
    assert len(amazon.account.orders["204-0000000-0000001"].solicitations) == 1
    assert solicitation_calls(amazon) == [("GET", 200), ("POST", 201), ("GET", 200)], "not offered: not asked"


@pytest.mark.parametrize(("days_ago", "says"), [
    (1, "too early: it shipped 1.0 days ago, and Amazon takes the request 5 to 30 days after delivery"),
    (45, "too late (it shipped 45 days ago"),
])  # fmt: skip
async def test_an_order_out_of_amazons_days_is_refused_saying_so(amazon, hooks, days_ago, says):
    request = shipped(amazon, "204-1000000-0000001", days_ago)
    [result] = await hooks.follow_up(amazon.connection(), [request])
    assert not result.ok and result.error.startswith("Amazon does not offer a review request for order 204-1000000-0000001: ")
    assert says in result.error
    assert solicitation_calls(amazon) == [("GET", 200)] and amazon.account.orders["204-1000000-0000001"].solicitations == []


async def test_each_order_has_its_own_result_and_an_unknown_one_is_refused(amazon, hooks):
    good, early = shipped(amazon, "204-2000000-0000001", 7), shipped(amazon, "204-2000000-0000002", 2)
    unknown = FollowUp("d-unknown", "204-2999999-0000001", datetime.now(UTC) - timedelta(days=7), "204-2999999-0000001")
    nameless = FollowUp("d-nameless", "", datetime.now(UTC) - timedelta(days=7))
    results = await hooks.follow_up(amazon.connection(), [good, unknown, early, nameless])
    assert [(r.id, r.ok) for r in results] == [("d-204-2000000-0000001", True), ("d-unknown", False),
                                               ("d-204-2000000-0000002", False), ("d-nameless", False)]  # fmt: skip
    assert results[1].error.startswith("Amazon cannot follow up order 204-2999999-0000001: ") and "404" in results[1].error
    assert results[3].error == "the order has no Amazon order id"


async def test_a_403_right_after_the_offer_is_a_refusal_of_that_order_not_of_the_token(amazon, hooks):
    """Amazon answers a review request it does not take (asked meanwhile, in Seller Central) with 403
    Unauthorized: the order is refused; the token, just accepted, is not renewed."""
    request = shipped(amazon, "204-3000000-0000001", 8)
    connection = amazon.connection()
    await hooks.test_connection(connection)  # the token first
    amazon.fault("forbidden", after=1)  # the actions are answered, then the request is refused
    [result] = await hooks.follow_up(connection, [request])
    assert not result.ok and result.error.startswith("Amazon refused the review request for order 204-3000000-0000001: ")
    assert "HTTP 403" in result.error
    assert len(calls(amazon, "/auth/o2/token")) == 1


async def test_a_refused_token_on_the_actions_fails_the_call(amazon, hooks):
    """No Solicitations role for the app (or a revoked grant): 403 on the actions, again with a new
    token, is an auth error for the whole call."""
    request = shipped(amazon, "204-4000000-0000001", 8)
    connection = amazon.connection()
    await hooks.test_connection(connection)
    amazon.fault("forbidden", count=2)
    with pytest.raises(PartnerAuthError):
        await hooks.follow_up(connection, [request])
    assert amazon.account.orders["204-4000000-0000001"].solicitations == []


async def test_a_429_is_retried_after_its_retry_after(amazon, hooks):
    request = shipped(amazon, "204-5000000-0000001", 10)
    connection = amazon.connection()
    await hooks.test_connection(connection)
    amazon.fault("rate_limit", retry_after=0.4, after=1)  # the request itself
    [result] = await hooks.follow_up(connection, [request])
    assert result.ok
    log = calls(amazon, "/solicitations/")
    assert [(r["method"], r["status"]) for r in log] == [("GET", 200), ("POST", 429), ("POST", 201)]
    assert log[2]["at"] - log[1]["at"] >= 0.4
    assert len(amazon.account.orders["204-5000000-0000001"].solicitations) == 1


async def test_a_500_that_persists_fails_the_call(amazon, hooks):
    request = shipped(amazon, "204-6000000-0000001", 10)
    connection = amazon.connection()
    await hooks.test_connection(connection)
    amazon.fault("server_error", status=500, count=3)  # the first try and both retries
    with pytest.raises(PartnerUnavailable):
        await hooks.follow_up(connection, [request])
    assert [r["status"] for r in calls(amazon, "/solicitations/")] == [500, 500, 500]
    assert amazon.account.orders["204-6000000-0000001"].solicitations == []


@pytest.mark.parametrize("sandbox_options", [{"marketplace_ids": [MARKETPLACE, "A1PA6795UKMFR9"]}])
async def test_with_several_marketplaces_the_orders_own_is_asked(amazon, hooks):
    request = shipped(amazon, "204-7000000-0000001", 6, marketplace_id="A1PA6795UKMFR9")
    connection = amazon.connection(marketplace_ids=[MARKETPLACE, "A1PA6795UKMFR9"])
    [result] = await hooks.follow_up(connection, [request])
    assert result.ok
    assert [(r["path"].rsplit("/", 1)[-1], r["query"]) for r in calls(amazon, "204-7000000-0000001")] == [
        ("204-7000000-0000001", ""), ("204-7000000-0000001", "marketplaceIds=A1PA6795UKMFR9"),
        (REVIEW, "marketplaceIds=A1PA6795UKMFR9")]  # fmt: skip


@pytest.mark.parametrize("sandbox_options", [{"rates": {**FAST, "getSolicitationActionsForOrder": (20.0, 2),
                                                         "createProductReviewAndSellerFeedbackSolicitation": (20.0, 2)}}])
async def test_the_solicitations_usage_plans_are_kept_to(amazon, hooks):
    """The connection's plan for both operations is the sandbox's (20 a second, burst 2): six
    orders go through without a 429, paced."""
    requests = [shipped(amazon, f"204-8000000-000000{n}", 6) for n in range(6)]
    plans = {op: {"rate": rate, "burst": burst} for op, (rate, burst) in FAST.items()}
    plans |= {op: {"rate": 20, "burst": 2} for op in ("getSolicitationActionsForOrder",
                                                      "createProductReviewAndSellerFeedbackSolicitation")}  # fmt: skip
    started = time.monotonic()
    results = await hooks.follow_up(amazon.connection(rate_overrides=plans), requests)
    assert all(r.ok for r in results)
    assert [r["status"] for r in calls(amazon, "/solicitations/")] == [200, 201] * 6
    assert time.monotonic() - started >= 0.15  # four of each operation past its burst, at 20 a second


# End to end: orderdeck's follow-up service with an Amazon channel


def channel_settings(url: str) -> dict[str, Any]:
    return {"marketplace_ids": [MARKETPLACE], "seller_id": SELLER, "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN, "endpoint": url, "token_url": f"{url}/auth/o2/token",
            "rate_overrides": {op: {"rate": rate, "burst": burst} for op, (rate, burst) in FAST.items()}}  # fmt: skip


async def test_an_amazon_channel_follows_each_sale_up_once(amazon, default_location, actor):
    await make_item("AMZ-MUG", actor, level=20, location_id=default_location.id)
    channel = await channels.create_channel({"name": "Amazon UK", "plugin": "amazon", "download_location_id": default_location.id,
                                             "settings": channel_settings(amazon.url)}, actor)  # fmt: skip
    await follow_ups.set_channel_follow_up(channel.id, True, 7, actor)
    an_hour_ago = iso(datetime.now(UTC) - timedelta(hours=1))
    references = [f"204-900000{n}-0000001" for n in range(4)]
    for reference in references:
        amazon.order(reference, purchase_date=an_hour_ago, last_update_date=an_hour_ago)
    await sync.download_channel(channel.id)
    found = await Order.filter(channel_id=channel.id).order_by("reference")
    assert [o.reference for o in found] == references
    processed = await orders.process_orders([{"order_id": o.id, "tracking_number": f"RM{n}", "shipping_vendor": "Royal Mail"}
                                             for n, o in enumerate(found)], actor)  # fmt: skip
    assert not processed.failures
    await dispatches.send_dispatches(channel.id)
    assert await Dispatch.filter(order__channel_id=channel.id, state=DispatchState.SENT).count() == 4
    assert {amazon.account.orders[r].status for r in references} == {"Shipped"}
    assert await follow_ups.follow_up(channel.id) is None, "not due for a week"

    await age_dispatches(channel, 7.5)
    httpx.post(f"{amazon.url}/__sandbox/clock", json={"advance": 7.5 * 86400}).raise_for_status()
    token = amazon.account.issue_token()[0]  # the last order's buyer was asked in Seller Central meanwhile
    httpx.post(f"{amazon.url}/solicitations/v1/orders/{references[3]}/solicitations/{REVIEW}",
               params={"marketplaceIds": MARKETPLACE}, headers={"x-amz-access-token": token}).raise_for_status()  # fmt: skip
    run = await follow_ups.follow_up(channel.id)

    assert (run.outcome, run.followed_up, run.failed) == (SyncOutcome.PARTIAL, 3, 1)
    state = httpx.get(f"{amazon.url}/__sandbox/state").json()
    asked = {o["AmazonOrderId"]: [s["name"] for s in o["solicitations"]] for o in state["orders"]}
    assert asked == {reference: [REVIEW] for reference in references}, "one solicitation an order"
    assert await AuditEntry.filter(kind=AuditKind.FOLLOWED_UP).count() == 3
    refused = await Dispatch.get(order_id=found[3].id)
    assert refused.follow_up_error.startswith(f"Amazon does not offer a review request for order {references[3]}: ")
    assert await AuditEntry.filter(subject_id=found[3].id, kind=AuditKind.FOLLOW_UP_REFUSED).count() == 1

    asked_before = len(calls(amazon, "/solicitations/"))
    assert await follow_ups.follow_up(channel.id) is None, "a second run has nothing to ask"
    assert len(calls(amazon, "/solicitations/")) == asked_before

"""The follow-up on a sale, through Amazon's Solicitations API: per order,
``getSolicitationActionsForOrder`` in the order's marketplace (the connection's one marketplace,
else getOrder's ``MarketplaceId``) and, when Amazon offers ``productReviewAndSellerFeedback``,
``createProductReviewAndSellerFeedbackSolicitation``: Amazon sends the buyer its own message
asking for a product review and seller feedback.

Amazon offers the request once per order, 5 to 30 days after delivery, and not for orders it
does not allow (cancelled, refunded...). When it offers nothing the result is a refusal (final:
orderdeck never asks again) that says what is likely, as Amazon gives no reason: too early (under
5 days since dispatch), too late (over 30), or asked before. An order Amazon does not know (404),
or a request refused with 403 right after it was offered (asked meanwhile), is a refusal too.
What fails the call as a whole raises: 429 (waited out, else PartnerRateLimited), 5xx and
timeouts (PartnerUnavailable), an unreadable answer, a 403 on the actions (the app lacks the
Solicitations role, or the token was refused: PartnerAuthError).
"""

from __future__ import annotations

from datetime import UTC, datetime

from orderdeck.plugins.dto import FollowUp, ItemResult
from orderdeck.plugins.errors import PartnerAuthError, PartnerDataError
from orderdeck_amazon.client import REVIEW_REQUEST, AmazonClient

REVIEW_DAYS = (5, 30)
"""Amazon takes a review request from 5 to 30 days after the order's delivery."""


def not_offered(request: FollowUp, order_id: str, now: datetime) -> str:
    """The refusal when Amazon offers no review request for the order. Amazon gives no reason:
    the days since dispatch tell what is likely."""
    days = (now - request.shipped_at).total_seconds() / 86400
    if days < REVIEW_DAYS[0]:
        why = (f"too early: it shipped {days:.1f} days ago, and Amazon takes the request 5 to 30 days after "
               "delivery (set the channel's follow-up to 7 days or more)")  # fmt: skip
    elif days > REVIEW_DAYS[1]:
        why = (f"too late (it shipped {days:.0f} days ago, and Amazon takes the request up to 30 days after "
               "delivery), or it was made before")  # fmt: skip
    else:
        why = ("the request was made before (by orderdeck or in Seller Central), the order is not delivered yet, "
               "or Amazon does not allow it for this order")  # fmt: skip
    return f"Amazon does not offer a review request for order {order_id}: {why}"


async def _marketplace(client: AmazonClient, order_id: str, marketplaces: list[str]) -> str:
    """Where the order was sold: the connection's one marketplace, else getOrder's MarketplaceId."""
    if len(marketplaces) == 1:
        return marketplaces[0]
    return str((await client.get_order(order_id)).get("MarketplaceId") or marketplaces[0])


async def follow_up(client: AmazonClient, request: FollowUp, marketplaces: list[str]) -> ItemResult:
    """One order's follow-up: the review request when Amazon offers it, else a failed result
    saying why (see the module docstring)."""
    order_id = request.external_reference or request.order_reference
    if not order_id:
        return ItemResult(request.dispatch_id, False, "the order has no Amazon order id")
    try:
        marketplace = await _marketplace(client, order_id, marketplaces)
        offered = await client.solicitation_actions(order_id, marketplace)
    except PartnerDataError as exc:  # 400 / 404: this order alone (unknown to Amazon, another marketplace)
        return ItemResult(request.dispatch_id, False, f"Amazon cannot follow up order {order_id}: {exc}")
    if REVIEW_REQUEST not in offered:
        return ItemResult(request.dispatch_id, False, not_offered(request, order_id, datetime.now(UTC)))
    try:
        await client.request_review(order_id, marketplace)
    except (PartnerAuthError, PartnerDataError) as exc:  # 403 right after the offer: asked meanwhile, or out of days
        return ItemResult(request.dispatch_id, False, f"Amazon refused the review request for order {order_id}: {exc}")
    return ItemResult(request.dispatch_id, True)

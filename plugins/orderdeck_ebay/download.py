"""Downloading eBay orders from a restartable cursor (the ``download_orders`` hook).

Cursor
------
``"<lastModifiedDate>|<orderId>"`` of the last order handed to orderdeck, e.g.
``"2026-05-01T10:00:00.000Z|12-34567-89012"``: every order at or before that position, in the
order (lastModifiedDate, orderId), has been handed over. An empty orderId
(``"2026-05-01T10:00:00.000Z|"``) means every order modified before that moment.

getOrders lists orders in an order of eBay's choosing (not by modification) and pages by offset,
so one call of the hook:
1. asks for the orders modified at or after the cursor's moment
   (``filter=lastmodifieddate:[<moment>..]``, with ``orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS}``
   when the channel downloads unshipped orders only), 200 a page, following ``next``;
2. when that window holds more than ``WINDOW_ORDERS`` orders, halves it
   (``lastmodifieddate:[<from>..<to>]``) until it does not, reads it, and goes on with the window
   after it while fewer than ``page_size`` orders were found;
3. sorts what it read by position, drops what is at or before the cursor, and holds back orders
   modified within ``settle_seconds`` of eBay's clock (its Date header): eBay may still list
   other orders changed in that time later;
4. hands over at most ``page_size`` orders; the cursor is the position of the last one (when
   everything up to the held-back moment was handed over, at least ``QUIET_LAG`` before that
   moment, so a quiet channel's cursor keeps within the 90 days); has_more says whether more are
   ready now. Orders without a readable lastModifiedDate are rejected on the run's last page.

The same cursor always gives the same page (while nothing changes on eBay), and an order changed
after it was handed over moves behind the cursor and is handed over again (an update).

90 days: getOrders looks back 90 days at most. A first download starts 90 days back; a cursor
older than that (a channel left disabled for months) starts there too, and the page's notices say
which changes may have been missed (the run's log shows it).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from orderdeck.plugins.dto import ChannelOrder, OrderPage
from orderdeck.plugins.errors import PartnerDataError
from orderdeck_ebay import mapping
from orderdeck_ebay.client import MAX_ORDERS_PER_PAGE, EbayClient

Position = tuple[datetime, str]
WINDOW_ORDERS = 1000
"""The most orders one time window may hold (5 pages of 200); a larger one is halved."""
LOOK_BACK = timedelta(days=90)
LOOK_BACK_MARGIN = timedelta(minutes=10)
"""How far inside eBay's 90 days a download starts (clocks differ; a slow run must not cross it)."""
UNSHIPPED = "orderfulfillmentstatus:{NOT_STARTED|IN_PROGRESS}"
TICK = timedelta(milliseconds=1)
QUIET_LAG = timedelta(days=1)
"""Once every order up to the horizon is handed over, the cursor moves on to this long before it
(never back): a quiet channel's cursor keeps within eBay's 90 days."""


def _millisecond(moment: datetime) -> datetime:
    """``moment`` to the millisecond (eBay's resolution), down."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def encode_cursor(position: Position) -> str:
    return f"{mapping.format_date(position[0])}|{position[1]}"


def decode_cursor(cursor: str) -> Position:
    moment, separator, order_id = cursor.partition("|")
    try:
        if not separator:
            raise ValueError(cursor)
        return mapping.parse_date(moment, "cursor"), order_id
    except ValueError:
        raise PartnerDataError(f"unreadable eBay download cursor: {cursor!r}") from None


def order_filter(start: datetime, end: datetime | None, unshipped_only: bool) -> str:
    """getOrders' filter for orders modified from ``start`` to ``end`` (inclusive; open: None)."""
    window = f"lastmodifieddate:[{mapping.format_date(start)}..{mapping.format_date(end) if end else ''}]"
    return f"{window},{UNSHIPPED}" if unshipped_only else window


async def _read_window(client: EbayClient, start: datetime, end: datetime | None, unshipped_only: bool,
                       now: datetime | None) -> tuple[list[dict[str, Any]], datetime | None, datetime | None]:  # fmt: skip
    """Every order of the first window from ``start`` that holds at most WINDOW_ORDERS (halving
    ``end``), that window's end (None: open) and eBay's clock."""
    while True:
        page = await client.get_orders(order_filter(start, end, unshipped_only), limit=MAX_ORDERS_PER_PAGE)
        now = now or page.server_time or datetime.now(UTC)
        upper = end or now
        if page.total > WINDOW_ORDERS and upper - start > TICK:
            end = _millisecond(start + (upper - start) / 2)
            continue
        orders = list(page.orders)
        following, pages = page.next, max(page.total, WINDOW_ORDERS) // MAX_ORDERS_PER_PAGE + 1
        while following and pages > 0:  # orders added meanwhile may add a page; never more
            more = await client.follow(following)
            orders += more.orders
            following, pages = more.next, pages - 1
        return orders, end, now


async def download(client: EbayClient, cursor: str | None, page_size: int, *, settle: timedelta,
                   unshipped_only: bool) -> OrderPage:  # fmt: skip
    """One page of orders after ``cursor`` (see the module docstring)."""
    limit = max(1, page_size)
    position = decode_cursor(cursor) if cursor else None
    earliest = _millisecond(datetime.now(UTC) - LOOK_BACK + LOOK_BACK_MARGIN)
    notices = []
    if position is None:
        position = (earliest, "")
    elif position[0] < earliest:
        notices.append(f"The download cursor ({mapping.format_date(position[0])}) is older than the 90 days eBay's "
                       f"getOrders looks back: downloading from {mapping.format_date(earliest)}; changes to orders "
                       f"made before then were not downloaded (check such orders in Seller Hub)")  # fmt: skip
        position = (earliest, "")

    found: dict[str, dict[str, Any]] = {}
    unplaced: list[dict[str, Any]] = []  # orders without a readable position: rejected at the end
    start, now, reached_end, horizon = position[0], None, False, position[0]
    while len(found) <= limit:
        orders, end, now = await _read_window(client, start, None, unshipped_only, now)
        horizon = (now or datetime.now(UTC)) - settle - timedelta(seconds=1)
        for raw in orders:
            place = mapping.order_position(raw)
            if place is None:
                unplaced.append(raw)
            elif position < place and place[0] < horizon:  # later ones are held back
                found[place[1]] = raw
        if end is None or end >= horizon:
            reached_end = True
            break
        start = end + TICK  # the window held every order modified up to ``end`` (to the millisecond)
    ready = sorted(found.values(), key=lambda raw: mapping.order_position(raw) or position)
    chosen = ready[:limit]
    has_more = len(ready) > limit or not reached_end
    last = mapping.order_position(chosen[-1]) if chosen else None
    cursor = last or position
    if not has_more:  # everything before the horizon was handed over
        cursor = max(cursor, (horizon - QUIET_LAG, ""))
    return _page(chosen, [] if has_more else unplaced, encode_cursor(cursor), has_more, notices)


def _page(chosen: list[dict[str, Any]], unplaced: list[dict[str, Any]], cursor: str, has_more: bool,
          notices: list[str]) -> OrderPage:  # fmt: skip
    orders: list[ChannelOrder] = []
    rejected: list[tuple[str, str]] = []
    for raw in [*unplaced, *chosen]:
        try:
            orders.append(mapping.map_order(raw))
            if mapping.order_position(raw) is None:
                raise mapping.RejectedOrder(orders.pop().reference, "unreadable lastModifiedDate: "
                                            f"{raw.get('lastModifiedDate')!r}")  # fmt: skip
        except mapping.RejectedOrder as exc:
            rejected.append((exc.reference, exc.reason))
    return OrderPage(orders=orders, cursor=cursor, has_more=has_more, rejected=rejected, notices=notices)

"""Order operations, one module for each reason to change: ``create`` (direct orders and bulk
batches, with ``intake`` building their rows from ``inputs``), ``edit``, ``actions`` (status,
flags, tags, move, cancel, delete), ``process``, ``notes`` (notes and properties), ``returns``
(returns and resends), all on the shared steps of ``common``.

Each public function is one transaction and writes its audit entries in it. Orders are locked
(SELECT ... FOR UPDATE, in id order) before stock rows, everywhere, so concurrent operations on the
same orders serialise and never deadlock.

Stock policy: an order is accepted even when its location has too little stock (as in Linnworks):
its lines are allocated, available may go negative, and the order is shown as insufficient. An
order is processed only when its location physically holds its quantities: processing never drives
a level below zero.
"""

from orderdeck.services.orders.actions import (
    add_tags,
    cancel_by_channel,
    cancel_orders,
    delete_orders,
    move_orders,
    remove_tags,
    set_locked,
    set_on_hold,
    set_parked,
    set_status,
)
from orderdeck.services.orders.common import BatchResult, OrderFailure
from orderdeck.services.orders.create import BULK_LIMIT, create_direct_order, create_orders
from orderdeck.services.orders.edit import update_order
from orderdeck.services.orders.process import process_orders

__all__ = [
    "BULK_LIMIT", "BatchResult", "OrderFailure", "add_tags", "cancel_by_channel", "cancel_orders", "create_direct_order", "create_orders",
    "delete_orders", "move_orders", "process_orders", "remove_tags", "set_locked", "set_on_hold", "set_parked",
    "set_status", "update_order",
]  # fmt: skip

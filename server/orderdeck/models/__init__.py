"""ORM models, one module per aggregate. Only services write them."""

from orderdeck.models.audit import AuditEntry, AuditKind, AuditSubject
from orderdeck.models.auth import ApiToken, Role
from orderdeck.models.base import ActorKind
from orderdeck.models.channels import Channel, Listing, SubmitStatus
from orderdeck.models.connections import (
    Connection,
    ConnectionKind,
    FailedJob,
    ImportedReport,
    RunClaim,
    SyncIssue,
    SyncKind,
    SyncOutcome,
    SyncRun,
)
from orderdeck.models.events import Event, EventTopic
from orderdeck.models.locations import Location
from orderdeck.models.orders import (
    ADDRESS_FIELDS,
    TAGGED_ORDER_KEYS,
    Counter,
    DeletedOrder,
    Dispatch,
    DispatchState,
    FulfilmentState,
    LOCKED_IN,
    Order,
    OrderItem,
    OrderNote,
    OrderProperty,
    OrderReturn,
    OrderReturnItem,
    OrderState,
    OrderStatus,
    OrderTag,
    Source,
)
from orderdeck.models.stock import Allocation, StockChangeReason, StockItem, StockLedgerEntry, StockLevel

__all__ = [
    "ADDRESS_FIELDS", "TAGGED_ORDER_KEYS", "ActorKind", "Allocation", "Channel", "Connection", "ConnectionKind", "ImportedReport", "FailedJob", "Listing", "RunClaim", "SubmitStatus", "SyncIssue", "SyncKind",
    "SyncOutcome", "SyncRun", "ApiToken", "AuditEntry", "AuditKind", "AuditSubject", "Counter",
    "DeletedOrder", "Dispatch", "DispatchState", "FulfilmentState", "LOCKED_IN", "Event", "EventTopic", "Location", "Order", "OrderItem", "OrderNote",
    "OrderProperty", "OrderReturn", "OrderReturnItem", "OrderState", "OrderStatus", "OrderTag",
    "Role", "Source", "StockChangeReason", "StockItem", "StockLedgerEntry", "StockLevel",
]  # fmt: skip

"""Connectors: what a plugin provides, one for each partner it connects orderdeck to.

A plugin's ``orderdeck_register_connectors`` hook returns connector objects. A connector is an
instance of one kind's base class, which declares that kind's hooks (its typed protocol):

- ``ChannelConnector``: a sales channel (orders in; stock levels and dispatch notes out);
- ``FulfilmentConnector``: a fulfilment centre or drop shipper (orders out; statuses and stock in).

The subclass names itself and its settings model and overrides the kind's required hooks (and
any optional ones it supports)::

    class Shop(ChannelConnector):
        name = "myshop"                 # what a connection is configured with: unique
        title = "My Shop"
        settings = MyShopSettings       # a pydantic model; SecretStr fields are stored encrypted
        source = "MYSHOP"               # the order source its orders get

        async def test_connection(self, connection: Connection[MyShopSettings]) -> ConnectionResult: ...
        async def download_orders(self, connection, cursor, page_size) -> OrderPage: ...
        ...

Every hook receives the ``Connection`` it works for, whose ``settings`` are already validated as
the connector's settings model (secrets decrypted). orderdeck checks each connector when plugins
load (``orderdeck.plugins.manager``): a missing required hook, a hook that should be async and is
not, a settings model that is not a pydantic model, a name taken twice... are reported by name at
start-up and by ``orderdeck plugins``, and that connector is left out; the others work. A new kind
is a new base class here: the existing kinds do not change.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, ClassVar, Generic, TypeVar

from pydantic import BaseModel

from orderdeck.plugins.dto import (
    ChannelOrder,
    ConnectionResult,
    DispatchNote,
    ExportBatch,
    FollowUp,
    ExportResult,
    ImportedFile,
    ItemResult,
    OrderPage,
    StatusMapping,
    StatusReport,
    StockReport,
    StockUpdate,
)

SettingsT = TypeVar("SettingsT", bound=BaseModel)
NAME = re.compile(r"[a-z][a-z0-9_]{1,49}")
"""A connector's name: lower case letters, digits and underscores, 2 to 50 characters."""


class ConnectorKind(str, Enum):
    """What a connector connects orderdeck to."""

    CHANNEL = "CHANNEL"
    FULFILMENT_CENTRE = "FULFILMENT_CENTRE"


@dataclass(frozen=True)
class Connection(Generic[SettingsT]):
    """The configured account a hook is called for: its id and name, and its settings validated
    as the connector's settings model (secrets decrypted)."""

    connection_id: str
    name: str
    settings: SettingsT


F = TypeVar("F", bound=Callable[..., Any])


def hook(required: bool = True) -> Callable[[F], F]:
    """Mark a base class's method as a hook of its kind (``required``: every connector of the kind
    must implement it)."""

    def mark(function: F) -> F:
        function.__orderdeck_hook__ = required  # type: ignore[attr-defined]
        return function

    return mark


@dataclass(frozen=True)
class Hook:
    """A hook of a kind: its name, whether it is a coroutine, whether every connector needs it."""

    name: str
    is_async: bool
    required: bool


class Connector:
    """What every connector declares (class attributes of the subclass) and its common hook."""

    kind: ClassVar[ConnectorKind]
    name: ClassVar[str]
    """Unique among installed connectors; what a connection is configured with, e.g. "woocommerce"."""
    title: ClassVar[str]
    """The human name, e.g. "WooCommerce"."""
    settings: ClassVar[type[BaseModel]]
    """A connection's settings: a pydantic model; SecretStr fields are secrets (stored encrypted,
    never returned by the API)."""
    version: ClassVar[str] = "0"
    description: ClassVar[str] = ""

    attributes: ClassVar[dict[str, type]] = {}
    """The kind's own class attributes and their types, checked at load (besides the above)."""

    @hook()
    async def test_connection(self, connection: Connection[Any]) -> ConnectionResult:
        """Check the connection's credentials and reachability with one cheap call; an ok result
        or one saying what is wrong (never raise for a refused login: say so)."""
        raise NotImplementedError


class ChannelConnector(Connector):
    """A sales channel: orderdeck downloads its orders, publishes stock levels to its listings and
    tells it when orders ship."""

    kind = ConnectorKind.CHANNEL
    source: ClassVar[str]
    """The order source its orders get, e.g. "WOOCOMMERCE"."""
    stock_batch_size: ClassVar[int] = 50
    """The most updates one push_stock call takes (the channel's own limit)."""
    dispatch_batch_size: ClassVar[int] = 20
    """The most notes one send_dispatches call takes."""
    follow_up_batch_size: ClassVar[int] = 20
    """The most orders one follow_up call takes."""
    fulfilment_connector: ClassVar[str] = ""
    """The fulfilment connector of the centre the channel runs itself (e.g. "amazon_fba"), if any:
    each new channel gets one, a connection with the channel's settings (those its model has) and a
    location it serves, where the orders the channel fulfils itself go."""
    attributes = {"source": str, "stock_batch_size": int, "dispatch_batch_size": int, "follow_up_batch_size": int}

    @hook()
    async def download_orders(self, connection: Connection[Any], cursor: str | None, page_size: int) -> OrderPage:
        """Download one page of orders changed since ``cursor`` (None: the first download).

        Return at most ``page_size`` orders and the cursor to continue from. Ask the channel for
        the statuses orderdeck may download (paid or payment pending, not shipped) and for those
        that tell it of changes to orders it already has (shipped or cancelled elsewhere).
        orderdeck maps each status and skips what it must (logging each skip). Raise
        PartnerUnreadable for a page that cannot be read at all (retried); put single unreadable
        orders in OrderPage.rejected.
        """
        raise NotImplementedError

    @hook()
    def map_status(self, connection: Connection[Any], order: ChannelOrder) -> StatusMapping:
        """What the channel's status of ``order`` means: paid, already shipped, cancelled. The
        connection's own status overrides (configured in orderdeck) are applied before."""
        raise NotImplementedError

    @hook()
    async def push_stock(self, connection: Connection[Any], updates: list[StockUpdate]) -> list[ItemResult]:
        """Publish quantities (at most ``stock_batch_size`` at once); one result per update.

        A failed result is an item the channel refused (it waits for a change). When the call as
        a whole fails, raise: PartnerUnavailable, PartnerUnreadable or PartnerRateLimited and the
        whole batch is sent again with backoff; PartnerAuthError or PartnerDataError and it waits.
        """
        raise NotImplementedError

    @hook()
    async def send_dispatches(self, connection: Connection[Any], notes: list[DispatchNote]) -> list[ItemResult]:
        """Tell the channel these orders shipped (at most ``dispatch_batch_size``); one result per
        note (a failed one is tried again, then waits for retryDispatches). Raise as push_stock
        does when the call as a whole fails."""
        raise NotImplementedError

    @hook(required=False)
    async def follow_up(self, connection: Connection[Any], requests: list[FollowUp]) -> list[ItemResult]:
        """Follow up these shipped orders with their buyers, once each (at most
        ``follow_up_batch_size``), e.g. Amazon's request for a review and seller feedback; one
        result per request. A failed result is final (the channel refused it, e.g. the order is
        not eligible): it is recorded and never tried again. Raise as push_stock does when the
        call as a whole fails (a passing failure is tried again at the next run). Channels that
        offer no follow-up leave the hook out: the seller cannot switch it on for them."""
        raise NotImplementedError


class FulfilmentConnector(Connector):
    """A fulfilment centre or drop shipper: orderdeck exports the orders allocated to its
    location, and imports the statuses (shipped with tracking, cancelled, in error) and stock
    levels it reports."""

    kind = ConnectorKind.FULFILMENT_CENTRE
    export_batch_size: ClassVar[int] = 500
    """The most orders one export_orders call takes (one file or one POST)."""
    attributes = {"export_batch_size": int}

    @hook()
    async def export_orders(self, connection: Connection[Any], batch: ExportBatch) -> ExportResult:
        """Hand ``batch.orders`` to the centre as one file (named ``batch.file_name``, the same
        name for the same batch, so a centre can recognise a repeat; ``batch.rows()`` are its rows
        under the location's export columns) or one request. Raise a Partner* error when nothing
        was handed over; the result says which orders the centre refused."""
        raise NotImplementedError

    @hook()
    async def import_statuses(self, connection: Connection[Any]) -> list[StatusReport]:
        """The status reports waiting at the centre (one per file or answer), read but not yet
        consumed: orderdeck applies each, then calls ``consume`` for it."""
        raise NotImplementedError

    @hook()
    async def import_stock(self, connection: Connection[Any]) -> list[StockReport]:
        """The stock reports waiting at the centre, read but not yet consumed (as import_statuses)."""
        raise NotImplementedError

    @hook(required=False)
    async def consume(self, connection: Connection[Any], imported: ImportedFile) -> None:
        """Mark a report orderdeck has applied as consumed at the centre (e.g. move the file to an
        archive folder). orderdeck also records each report by name and content hash, so a report
        read again is never applied twice."""
        return None


KINDS: dict[ConnectorKind, type[Connector]] = {
    ConnectorKind.CHANNEL: ChannelConnector,
    ConnectorKind.FULFILMENT_CENTRE: FulfilmentConnector,
}
"""Each kind's base class."""


def hooks(base: type[Connector]) -> dict[str, Hook]:
    """The hooks a kind's base class declares (its own and Connector's)."""
    found: dict[str, Hook] = {}
    for cls in reversed(base.__mro__):
        for name, value in vars(cls).items():
            if hasattr(value, "__orderdeck_hook__"):
                found[name] = Hook(name, inspect.iscoroutinefunction(value), value.__orderdeck_hook__)
    return found


def implements(connector: Connector, name: str) -> bool:
    """Whether ``connector`` implements the optional hook ``name`` of its kind."""
    return getattr(type(connector), name) is not getattr(KINDS[connector.kind], name)


def problems(connector: object) -> list[str]:
    """What is wrong with ``connector`` against its kind's contract (empty: nothing)."""
    base = next((b for b in KINDS.values() if isinstance(connector, b)), None)
    if base is None:
        kinds = ", ".join(b.__name__ for b in KINDS.values())
        return [f"{type(connector).__name__} is not a connector: subclass one of {kinds}"]
    found: list[str] = []
    name = getattr(connector, "name", None)
    if not isinstance(name, str) or not NAME.fullmatch(name):
        found.append(f"name {name!r} must be 2-50 lower case letters, digits or underscores, starting with a letter")
    if not isinstance(getattr(connector, "title", None), str) or not connector.title.strip():  # type: ignore[attr-defined]
        found.append("title must be a non-empty string")
    settings = getattr(connector, "settings", None)
    if not (isinstance(settings, type) and issubclass(settings, BaseModel)):
        found.append(f"settings must be a pydantic model class, not {settings!r}")
    for attribute, kind in base.attributes.items():
        value = getattr(connector, attribute, None)
        if not isinstance(value, kind) or isinstance(value, bool) or (kind is str and not value.strip()) or (
                kind is int and value < 1):  # fmt: skip
            found.append(f"{attribute} must be a {'positive ' if kind is int else 'non-empty '}{kind.__name__}")
    missing = [h.name for h in hooks(base).values() if h.required and getattr(type(connector), h.name) is getattr(base, h.name)]
    if missing:
        found.append(f"missing hooks: {', '.join(missing)}")
    for spec in hooks(base).values():
        implementation = getattr(type(connector), spec.name)
        if spec.name not in missing and inspect.iscoroutinefunction(implementation) != spec.is_async:
            found.append(f"hook {spec.name} must be {'async' if spec.is_async else 'a plain function (not async)'}")
    return found

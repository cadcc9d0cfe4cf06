"""Sending dispatch notes from the outbox (services/dispatches.py) to the WooCommerce sandbox over
real HTTP: what a note carries, what the shop shows, refused notes and their attempts, user
retries, channel failures, dead jobs and concurrent runs."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from orderdeck.models import (
    AuditEntry,
    AuditKind,
    Channel,
    Dispatch,
    DispatchState,
    Order,
    RunClaim,
    SyncIssue,
    SyncKind,
    SyncOutcome,
    SyncRun,
)
from orderdeck.plugins.dto import DispatchLine
from orderdeck.services import channels, claims, dispatches, orders, sync
from orderdeck.services.dispatches import MAX_ATTEMPTS
from orderdeck.services.errors import ErrorCode
from orderdeck.services.runs import backoff
from orderdeck_woocommerce.sandbox import create_app
from tests.plugins.support import serve
from tests.services.helpers import make_item, make_order
from tests.services.shop import KEY, SECRET, HookSpy, Shop, connect


@pytest.fixture
def shop() -> Iterator[Shop]:
    with serve(create_app(skus=["MUG", "CUP"], key=KEY, secret=SECRET, seed=5)) as running:
        shop = Shop(running)
        yield shop
        shop.close()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> HookSpy:
    """Record every send_dispatches call the service makes (the calls still reach the sandbox)."""
    spy = HookSpy()
    spy.install(monkeypatch, dispatches)
    return spy


@pytest.fixture
async def channel(shop, default_location, actor) -> Channel:
    """The shop's channel, with plenty of MUG and CUP at its location."""
    await make_item("MUG", actor, level=500, location_id=default_location.id)
    await make_item("CUP", actor, level=500, location_id=default_location.id)
    return await connect(shop, actor, [default_location.id])


async def ship(shop: Shop, channel: Channel, actor, count: int = 1, **shipment) -> list[tuple[Order, dict]]:
    """``count`` orders placed in the shop, downloaded and processed (each with its shop order)."""
    placed = [shop.place(("MUG", 2), ("CUP", 1), shipping_method="Royal Mail Tracked 24") for _ in range(count)]
    await sync.download_channel(channel.id)
    found = {o.external_reference: o for o in await Order.filter(channel_id=channel.id)}
    shipped = [(found[str(p["id"])], p) for p in placed]
    shipment = {"tracking_number": "TRK-42", "shipping_vendor": "DPD", **shipment}
    result = await orders.process_orders([{"order_id": o.id, **shipment} for o, _ in shipped], actor)
    assert not result.failures, result.failures
    return shipped


async def dispatch_of(order: Order) -> Dispatch:
    return await Dispatch.get(order_id=order.id)


def notes_posted(shop: Shop, shop_order: dict) -> int:
    return len(shop.requests("POST", f"/orders/{shop_order['id']}/notes"))


async def wait_over(order: Order) -> None:
    """Let time pass until the dispatch's next attempt is due."""
    await Dispatch.filter(order_id=order.id).update(next_attempt_at=datetime.now(timezone.utc) - timedelta(seconds=1))


# --- sent --------------------------------------------------------------------------------------


async def test_a_processed_channel_order_is_sent_and_the_shop_completes_it(shop, spy, channel, actor):
    [(order, placed)] = await ship(shop, channel, actor)
    dispatch = await dispatch_of(order)
    assert (dispatch.state, dispatch.carrier, dispatch.tracking_number) == (DispatchState.PENDING, "DPD", "TRK-42")

    run = await dispatches.send_dispatches(channel.id)

    [[note]] = spy.dispatch_calls
    assert (note.dispatch_id, note.order_reference, note.external_reference) == (
        str(dispatch.id), placed["number"], str(placed["id"]))  # fmt: skip
    assert note.lines == [DispatchLine(str(line["id"]), line["quantity"]) for line in placed["line_items"]]
    assert (note.carrier, note.service, note.tracking_number) == ("DPD", "Royal Mail Tracked 24", "TRK-42")
    assert note.shipped_at == (await Order.get(id=order.id)).processed_at

    dispatch = await dispatch_of(order)
    assert (dispatch.state, dispatch.attempts, dispatch.claimed_at, dispatch.last_error) == (
        DispatchState.SENT, 1, None, None)  # fmt: skip
    assert dispatch.sent_at is not None
    [entry] = await AuditEntry.filter(subject_id=order.id, kind=AuditKind.DESPATCH_NOTE)
    assert entry.actor == "sync:Sandbox shop" and "TRK-42" in entry.note and entry.after["trackingNumber"] == "TRK-42"
    assert (run.kind, run.outcome, run.dispatched, run.failed, run.pages) == (
        SyncKind.DISPATCH, SyncOutcome.SUCCEEDED, 1, 0, 1)  # fmt: skip

    in_shop = shop.order(placed["id"])
    assert in_shop["status"] == "completed"
    assert in_shop["notes"] == [{"note": "Shipped with DPD, tracking TRK-42", "customer_note": True}]

    shop.clear_requests()
    assert await dispatches.send_dispatches(channel.id) is None  # nothing pending: nothing sent or logged
    assert shop.requests() == [] and await SyncRun.filter(kind=SyncKind.DISPATCH).count() == 1


async def test_direct_orders_owe_no_dispatch_note(shop, channel, default_location, actor):
    order = await make_order(actor, ("MUG", 1), location_id=default_location.id)
    result = await orders.process_orders([{"order_id": order.id, "tracking_number": "TRK-1"}], actor)
    assert not result.failures
    assert (await dispatch_of(order)).state == DispatchState.NOT_REQUIRED
    assert await dispatches.send_dispatches(channel.id) is None
    assert shop.requests("POST") == [] and not await SyncRun.filter(kind=SyncKind.DISPATCH).exists()


async def test_a_disabled_channel_sends_nothing(shop, channel, actor):
    [(order, _)] = await ship(shop, channel, actor)
    await channels.set_channel_enabled(channel.id, False, actor)
    shop.clear_requests()
    assert await dispatches.send_dispatches(channel.id) is None
    assert shop.requests() == [] and (await dispatch_of(order)).state == DispatchState.PENDING


# --- refused notes and retries -------------------------------------------------------------------


async def test_an_order_the_shop_refuses_waits_for_its_next_attempt(shop, spy, channel, actor):
    [(binned, binned_in_shop), (good, good_in_shop)] = await ship(shop, channel, actor, count=2)
    shop.set_status(binned_in_shop["id"], "trash")  # deleted in the shop's back office

    started = datetime.now(timezone.utc)
    run = await dispatches.send_dispatches(channel.id)

    assert (run.outcome, run.dispatched, run.failed) == (SyncOutcome.PARTIAL, 1, 1)
    assert (await dispatch_of(good)).state == DispatchState.SENT  # the refused order fails alone
    assert shop.order(good_in_shop["id"])["status"] == "completed"
    refused = await dispatch_of(binned)
    assert (refused.state, refused.attempts, refused.claimed_at, refused.sent_at) == (
        DispatchState.PENDING, 1, None, None)  # fmt: skip
    assert "trash" in refused.last_error
    assert started + backoff(1) <= refused.next_attempt_at <= datetime.now(timezone.utc) + backoff(1)
    assert await dispatches.next_attempt(channel.id) == refused.next_attempt_at
    [issue] = await SyncIssue.filter(run_id=run.id)
    assert issue.reference == binned.reference and issue.kind == "RETRYING" and "attempt 1:" in issue.message
    assert shop.order(binned_in_shop["id"])["notes"] == []

    shop.clear_requests()
    assert await dispatches.send_dispatches(channel.id) is None  # not claimable before next_attempt_at
    assert shop.requests() == [] and (await dispatch_of(binned)).attempts == 1

    await wait_over(binned)
    started = datetime.now(timezone.utc)
    await dispatches.send_dispatches(channel.id)
    refused = await dispatch_of(binned)
    assert (refused.state, refused.attempts) == (DispatchState.PENDING, 2)
    assert started + backoff(2) <= refused.next_attempt_at <= datetime.now(timezone.utc) + backoff(2)
    assert backoff(2) > backoff(1)


async def test_after_the_last_attempt_the_note_is_failed(shop, spy, channel, actor):
    [(order, in_shop)] = await ship(shop, channel, actor)
    shop.set_status(in_shop["id"], "cancelled")

    for attempt in range(1, MAX_ATTEMPTS + 1):
        run = await dispatches.send_dispatches(channel.id)
        assert run is not None and run.failed == 1
        dispatch = await dispatch_of(order)
        assert dispatch.attempts == attempt
        assert dispatch.state == (DispatchState.PENDING if attempt < MAX_ATTEMPTS else DispatchState.FAILED)
        await wait_over(order)

    assert len(spy.dispatch_calls) == MAX_ATTEMPTS
    assert "cancelled" in dispatch.last_error
    [entry] = await AuditEntry.filter(subject_id=order.id, kind=AuditKind.DESPATCH_NOTE_FAILED)
    assert entry.actor == "sync:Sandbox shop" and f"after {MAX_ATTEMPTS} attempts" in entry.note
    assert not await AuditEntry.filter(subject_id=order.id, kind=AuditKind.DESPATCH_NOTE).exists()
    assert await dispatches.send_dispatches(channel.id) is None  # failed: left alone until a user retries
    assert await dispatches.next_attempt(channel.id) is None


async def test_a_user_retries_failed_notes(shop, channel, default_location, actor):
    [(failed, failed_in_shop), (sent, _)] = await ship(shop, channel, actor, count=2)
    shop.set_status(failed_in_shop["id"], "cancelled")
    await dispatches.send_dispatches(channel.id)
    await Dispatch.filter(order_id=failed.id).update(state=DispatchState.FAILED, attempts=MAX_ATTEMPTS)
    direct = await make_order(actor, ("MUG", 1), location_id=default_location.id)
    unknown = uuid.uuid4()

    result = await dispatches.retry_dispatches([failed.id, sent.id, direct.id, unknown], actor)

    assert [o.id for o in result.orders] == [failed.id]
    assert {(f.order_id, f.code) for f in result.failures} == {
        (sent.id, ErrorCode.INVALID_TRANSITION), (direct.id, ErrorCode.INVALID_TRANSITION),
        (unknown, ErrorCode.NOT_FOUND)}  # fmt: skip
    retried = await dispatch_of(failed)
    assert (retried.state, retried.attempts, retried.claimed_at, retried.next_attempt_at) == (
        DispatchState.PENDING, 0, None, None)  # fmt: skip
    [entry] = await AuditEntry.filter(subject_id=failed.id, kind=AuditKind.DESPATCH_NOTE_RETRIED)
    assert entry.actor == "tester"
    assert (await dispatch_of(sent)).state == DispatchState.SENT

    shop.set_status(failed_in_shop["id"], "processing")  # put right in the shop
    run = await dispatches.send_dispatches(channel.id)
    assert run.dispatched == 1
    assert (await dispatch_of(failed)).state == DispatchState.SENT
    assert shop.order(failed_in_shop["id"])["status"] == "completed"


# --- channel failures ------------------------------------------------------------------------------


async def test_a_failing_shop_counts_as_an_attempt_and_the_note_waits_for_its_next(shop, channel, actor):
    """Not raised for the job to retry: the note's own attempts pace it (the job sends itself
    again, delayed, for the next one: tests/jobs)."""
    [(order, in_shop)] = await ship(shop, channel, actor)
    shop.fault("server_error", count=3)  # the first try and both of the client's retries

    await dispatches.send_dispatches(channel.id)

    dispatch = await dispatch_of(order)
    assert (dispatch.state, dispatch.attempts, dispatch.claimed_at) == (DispatchState.PENDING, 1, None)
    assert "PartnerUnavailable" in dispatch.last_error and dispatch.next_attempt_at is not None
    assert await dispatches.send_dispatches(channel.id) is None  # not before its next attempt
    run = await SyncRun.get(connection_id=channel.id, kind=SyncKind.DISPATCH)
    assert (run.outcome, run.failed) == (SyncOutcome.FAILED, 1) and "PartnerUnavailable" in run.error
    assert shop.order(in_shop["id"])["status"] == "processing"

    await wait_over(order)
    assert (await dispatches.send_dispatches(channel.id)).dispatched == 1
    assert (await dispatch_of(order)).state == DispatchState.SENT


async def test_refused_credentials_fail_the_note_until_a_user_retries_it(shop, channel, actor):
    [(order, in_shop)] = await ship(shop, channel, actor)
    await channels.update_channel(channel.id, {"settings": {"consumer_secret": "cs_wrong"}}, actor)

    run = await dispatches.send_dispatches(channel.id)  # not raised: retrying will not help

    assert run.outcome == SyncOutcome.FAILED and "PartnerAuthError" in run.error
    assert (run.failed, run.retrying, run.waiting) == (1, 0, 1)
    dispatch = await dispatch_of(order)
    assert (dispatch.state, dispatch.attempts, dispatch.next_attempt_at) == (DispatchState.FAILED, 1, None)
    assert "PartnerAuthError" in dispatch.last_error
    assert await AuditEntry.filter(subject_id=order.id, kind=AuditKind.DESPATCH_NOTE_FAILED).exists()
    assert shop.order(in_shop["id"])["status"] == "processing"
    assert await dispatches.send_dispatches(channel.id) is None  # waits for a change

    await channels.update_channel(channel.id, {"settings": {"consumer_secret": SECRET}}, actor)
    await dispatches.retry_dispatches([order.id], actor)
    assert (await dispatches.send_dispatches(channel.id)).dispatched == 1
    assert shop.order(in_shop["id"])["status"] == "completed"


async def test_an_unreadable_answer_is_retried_until_the_note_is_sent(shop, channel, actor):
    [(order, in_shop)] = await ship(shop, channel, actor)
    for attempt in range(1, MAX_ATTEMPTS + 2):  # passing failures never make the note FAILED
        shop.fault("malformed", count=1)
        run = await dispatches.send_dispatches(channel.id)
        assert "PartnerUnreadable" in run.error and (run.retrying, run.waiting) == (1, 0)
        dispatch = await dispatch_of(order)
        assert (dispatch.state, dispatch.attempts) == (DispatchState.PENDING, attempt)
        await wait_over(order)
    assert (await dispatches.send_dispatches(channel.id)).dispatched == 1
    assert shop.order(in_shop["id"])["status"] == "completed"


# --- claims --------------------------------------------------------------------------------------


async def test_a_live_run_keeps_the_channel_a_dead_one_is_closed_and_its_notes_taken_over(shop, spy, channel, actor):
    [(left, left_in_shop), (new, _)] = await ship(shop, channel, actor, count=2)
    other = await claims.take(channel.id, SyncKind.DISPATCH)  # a run that claimed one note
    dead = await SyncRun.create(connection_id=channel.id, kind=SyncKind.DISPATCH, claim_token=other.token)
    now = datetime.now(timezone.utc)
    await Dispatch.filter(order_id=left.id).update(claimed_at=now)

    assert await dispatches.send_dispatches(channel.id) is None  # its claim is live: hands off
    assert spy.dispatch_calls == []

    await RunClaim.filter(token=other.token).update(lease_until=now - timedelta(seconds=1))  # no heartbeat
    run = await dispatches.send_dispatches(channel.id)

    assert sorted(note.order_reference for call in spy.dispatch_calls for note in call) == sorted(
        [left.reference, new.reference])  # fmt: skip
    assert run.dispatched == 2 and shop.order(left_in_shop["id"])["status"] == "completed"
    dead = await SyncRun.get(id=dead.id)
    assert (dead.outcome, dead.abandoned) == (SyncOutcome.FAILED, True)


async def test_concurrent_runs_send_each_note_once(shop, spy, channel, actor, postgres_only, monkeypatch):
    spy.dispatch_batch_size = 3  # many claims, to race
    shipped = await ship(shop, channel, actor, count=30)
    shop.clear_requests()

    runs = await asyncio.gather(*(dispatches.send_dispatches(channel.id) for _ in range(4)))

    sent = Counter(note.order_reference for call in spy.dispatch_calls for note in call)
    assert sent == Counter(order.reference for order, _ in shipped)  # each note handed to the plugin once
    assert sum(run.dispatched for run in runs if run is not None) == 30
    for order, in_shop in shipped:
        assert notes_posted(shop, in_shop) == 1
        assert len(shop.order(in_shop["id"])["notes"]) == 1
        assert await AuditEntry.filter(subject_id=order.id, kind=AuditKind.DESPATCH_NOTE).count() == 1
    assert not await Dispatch.filter(state__not=DispatchState.SENT).exists()

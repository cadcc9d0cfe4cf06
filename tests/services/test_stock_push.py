"""Publishing listings' quantities from the outbox (services/stock_push.py) to the WooCommerce
sandbox over real HTTP: what quantity a listing gets, that only changes are sent, in batches, and
what channel failures, dead jobs and concurrent runs leave behind."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest

from orderdeck.config import get_settings
from orderdeck.models import Listing, RunClaim, SubmitStatus, SyncIssue, SyncKind, SyncOutcome, SyncRun
from orderdeck.plugins.errors import PartnerRateLimited, PartnerUnavailable, PartnerUnreadable
from orderdeck.services import channels, claims, listings, locations, outbox, stock, stock_push
from orderdeck.services.runs import backoff
from orderdeck.services.stock_push import listed_quantity
from orderdeck_woocommerce.sandbox import create_app
from tests.plugins.support import serve
from tests.services.helpers import assert_stock_consistent, make_item, make_order
from tests.services.shop import KEY, SECRET, HookSpy, Shop, connect

BATCH = "/products/batch"


@pytest.fixture
def shop() -> Iterator[Shop]:
    with serve(create_app(skus=["MUG", "CUP", "TEE", "CAP"], key=KEY, secret=SECRET, seed=3)) as running:
        shop = Shop(running)
        yield shop
        shop.close()


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> HookSpy:
    """Record every push_stock call the service makes (the calls still reach the sandbox)."""
    spy = HookSpy()
    spy.install(monkeypatch, stock_push)
    return spy


async def listed(channel, sku: str, actor, **options) -> Listing:
    """List the stock item ``sku`` on the channel under the same SKU."""
    return await listings.link_listing({"channel_id": channel.id, "channel_sku": sku, "sku": sku, **options}, actor)


async def adjust(sku: str, location, quantity: int, actor) -> None:
    await stock.adjust_stock_levels({"levels": [{"sku": sku, "location_id": location.id, "quantity": quantity}]}, actor)


async def listing(channel, sku: str) -> Listing:
    return await Listing.get(channel_id=channel.id, channel_sku=sku)


# --- the quantity ------------------------------------------------------------------------------


def test_listed_quantity_floors_caps_and_ends():
    plain = Listing(channel_sku="X")
    assert [listed_quantity(plain, n) for n in (-4, 0, 7)] == [0, 0, 7]
    capped = Listing(channel_sku="X", max_listed_quantity=5)
    assert [listed_quantity(capped, n) for n in (-1, 3, 5, 6, 500)] == [0, 3, 5, 5, 5]
    ending = Listing(channel_sku="X", end_when_stock_at=3)
    assert [listed_quantity(ending, n) for n in (-2, 2, 3, 4, 10)] == [0, 0, 0, 4, 10]
    both = Listing(channel_sku="X", end_when_stock_at=2, max_listed_quantity=10)
    assert [listed_quantity(both, n) for n in (2, 3, 50)] == [0, 3, 10]
    zero_cap = Listing(channel_sku="X", max_listed_quantity=0)
    assert listed_quantity(zero_cap, 9) == 0


async def test_the_quantity_is_what_the_channels_locations_have_available(shop, spy, default_location, actor):
    floor = await locations.create_location("Shop floor", actor)
    elsewhere = await locations.create_location("Other warehouse", actor)
    channel = await connect(shop, actor, [default_location.id, floor.id])
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    await adjust("MUG", floor, 5, actor)
    await adjust("MUG", elsewhere, 100, actor)  # not offered on this channel
    await make_order(actor, ("MUG", 3), location_id=default_location.id)  # 3 allocated
    await make_item("CUP", actor, level=2, location_id=default_location.id)
    await make_order(actor, ("CUP", 5), location_id=default_location.id)  # oversold: available -3
    await make_item("TEE", actor, level=100, location_id=default_location.id)
    await make_item("CAP", actor, level=3, location_id=default_location.id)
    await listed(channel, "MUG", actor)
    await listed(channel, "CUP", actor)
    await listed(channel, "TEE", actor, max_listed_quantity=20)
    await listed(channel, "CAP", actor, end_when_stock_at=3)

    run = await stock_push.push_stock(channel.id)

    expected = {"MUG": 10 - 3 + 5, "CUP": 0, "TEE": 20, "CAP": 0}
    assert {sku: shop.stock(sku) for sku in expected} == expected
    assert {sku: sent for sku, [sent] in spy.pushed().items()} == expected
    for sku, quantity in expected.items():
        row = await listing(channel, sku)
        assert (row.submitted_quantity, row.submit_status, row.push_due, row.push_claimed_at) == (
            quantity, SubmitStatus.OK, False, None)  # fmt: skip
        assert row.submitted_at is not None
    assert run.kind == SyncKind.STOCK_PUSH and run.outcome == SyncOutcome.SUCCEEDED and run.finished_at
    assert (run.pushed, run.failed, run.pages) == (4, 0, 1)
    assert len(shop.requests("POST", BATCH)) == 1
    await assert_stock_consistent()


async def test_end_when_stock_applies_at_or_below_the_level(shop, spy, default_location, actor):
    channel = await connect(shop, actor, [default_location.id])
    await make_item("CAP", actor, level=4, location_id=default_location.id)
    await listed(channel, "CAP", actor, end_when_stock_at=3)
    await stock_push.push_stock(channel.id)
    assert shop.stock("CAP") == 4
    await adjust("CAP", default_location, -1, actor)
    await stock_push.push_stock(channel.id)
    assert shop.stock("CAP") == 0 and spy.pushed() == {"CAP": [4, 0]}


async def test_a_channel_without_stock_locations_publishes_nothing(shop, spy, default_location, actor):
    channel = await connect(shop, actor, [])
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    await listed(channel, "MUG", actor)
    before = shop.stock("MUG")

    assert await stock_push.push_stock(channel.id) is None
    assert spy.stock_calls == [] and shop.requests() == []
    assert shop.stock("MUG") == before
    row = await listing(channel, "MUG")
    assert (row.push_due, row.submit_status) == (False, SubmitStatus.NEVER)

    await channels.update_channel(channel.id, {"stock_location_ids": [default_location.id]}, actor)
    await stock_push.push_stock(channel.id)
    assert shop.stock("MUG") == 10


# --- only changes, in batches --------------------------------------------------------------


async def test_only_changed_quantities_are_sent(shop, spy, default_location, actor):
    channel = await connect(shop, actor, [default_location.id])
    for sku in ("MUG", "CUP", "TEE"):
        await make_item(sku, actor, level=10, location_id=default_location.id)
    await listed(channel, "MUG", actor)
    await listed(channel, "CUP", actor)
    await listed(channel, "TEE", actor, max_listed_quantity=5)
    await stock_push.push_stock(channel.id)
    shop.clear_requests()

    assert await stock_push.push_stock(channel.id) is None  # nothing due: nothing sent, nothing logged
    assert shop.requests() == []

    await adjust("TEE", default_location, -2, actor)  # 8 available, still listed as 5: due, unchanged
    assert (await listing(channel, "TEE")).push_due
    assert await stock_push.push_stock(channel.id) is None
    assert shop.requests() == [] and not (await listing(channel, "TEE")).push_due

    await adjust("CUP", default_location, -4, actor)
    run = await stock_push.push_stock(channel.id)
    assert [(update.channel_sku, update.quantity) for update in spy.stock_calls[-1]] == [("CUP", 6)]
    assert (run.pushed, run.pages) == (1, 1) and len(shop.requests("POST", BATCH)) == 1
    assert shop.stock("CUP") == 6
    assert await SyncRun.filter(kind=SyncKind.STOCK_PUSH).count() == 2


async def test_ignore_sync_listings_are_never_sent(shop, spy, default_location, actor):
    channel = await connect(shop, actor, [default_location.id])
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    await make_item("CUP", actor, level=10, location_id=default_location.id)
    await listed(channel, "MUG", actor, ignore_sync=True)
    await listed(channel, "CUP", actor)
    before = shop.stock("MUG")

    await stock_push.push_stock(channel.id)
    await adjust("MUG", default_location, 5, actor)
    assert await stock_push.push_stock(channel.id) is None

    assert "MUG" not in spy.pushed() and shop.stock("MUG") == before
    row = await listing(channel, "MUG")
    assert (row.push_due, row.submit_status, row.submitted_quantity) == (False, SubmitStatus.NEVER, None)


async def test_listings_go_out_in_batches_of_the_plugins_size(shop, spy, default_location, actor, monkeypatch):
    spy.stock_batch_size = 50
    channel = await connect(shop, actor, [default_location.id])
    skus = [f"SKU-{n:03}" for n in range(120)]
    shop.add_products(*skus)
    for sku in skus:
        await stock.create_stock_item({"sku": sku, "title": sku}, actor)
    for start in (0, 100):
        await stock.set_stock_levels({"levels": [{"sku": sku, "location_id": default_location.id, "quantity": 7}
                                                 for sku in skus[start:start + 100]]}, actor)  # fmt: skip
    for sku in skus:
        await listed(channel, sku, actor)

    run = await stock_push.push_stock(channel.id)

    assert [len(call) for call in spy.stock_calls] == [50, 50, 20]
    assert len(shop.requests("POST", BATCH)) == 3
    assert (run.pushed, run.failed, run.pages, run.outcome) == (120, 0, 3, SyncOutcome.SUCCEEDED)
    assert {p["stock_quantity"] for p in shop.state()["products"] if p["sku"] in skus} == {7}
    assert not await Listing.filter(channel_id=channel.id, push_due=True).exists()


async def test_a_batch_needing_nothing_does_not_end_the_run(shop, spy, default_location, actor, monkeypatch):
    spy.stock_batch_size = 2
    channel = await connect(shop, actor, [default_location.id])
    for sku in ("TEE", "CAP", "MUG", "CUP"):
        await make_item(sku, actor, level=10, location_id=default_location.id)
        await listed(channel, sku, actor, max_listed_quantity=5)
    await stock_push.push_stock(channel.id)
    spy.stock_calls.clear()
    await adjust("TEE", default_location, -1, actor)  # due first, still listed as 5
    await adjust("CAP", default_location, -1, actor)
    await adjust("MUG", default_location, -8, actor)  # due later, now 2
    await adjust("CUP", default_location, -7, actor)

    run = await stock_push.push_stock(channel.id)

    assert [[update.channel_sku for update in call] for call in spy.stock_calls] == [["MUG", "CUP"]]
    assert (run.pushed, run.pages) == (2, 1) and (shop.stock("MUG"), shop.stock("CUP")) == (2, 3)
    assert not await Listing.filter(channel_id=channel.id, push_due=True).exists()


async def test_a_burst_of_changes_goes_out_in_one_call(shop, spy, default_location, actor):
    channel = await connect(shop, actor, [default_location.id])
    for sku in ("MUG", "CUP"):
        await make_item(sku, actor, level=10, location_id=default_location.id)
        await listed(channel, sku, actor)
    for _ in range(5):
        await adjust("MUG", default_location, -1, actor)
        await adjust("CUP", default_location, 2, actor)
    await make_order(actor, ("MUG", 2), ("CUP", 1), location_id=default_location.id)

    run = await stock_push.push_stock(channel.id)

    assert spy.pushed() == {"MUG": [3], "CUP": [19]}
    assert len(spy.stock_calls) == 1 and len(shop.requests("POST", BATCH)) == 1
    assert (run.pushed, run.pages) == (2, 1)
    assert (shop.stock("MUG"), shop.stock("CUP")) == (3, 19)


# --- channel failures ------------------------------------------------------------------------


async def test_a_sku_the_shop_lacks_fails_alone(shop, spy, default_location, actor):
    channel = await connect(shop, actor, [default_location.id])
    for sku in ("MUG", "GHOST", "CUP"):
        await make_item(sku, actor, level=4, location_id=default_location.id)
        await listed(channel, sku, actor)

    run = await stock_push.push_stock(channel.id)

    assert (run.outcome, run.pushed, run.failed) == (SyncOutcome.PARTIAL, 2, 1)
    ghost = await listing(channel, "GHOST")
    assert ghost.submit_status == SubmitStatus.FAILED and "no WooCommerce product has SKU GHOST" in ghost.submit_error
    assert (ghost.push_due, ghost.push_claimed_at, ghost.submitted_quantity) == (False, None, None)
    [issue] = await SyncIssue.filter(run_id=run.id)
    assert (issue.reference, issue.kind) == ("GHOST", "FAILED")
    assert "no WooCommerce product has SKU GHOST" in issue.message
    for sku in ("MUG", "CUP"):
        assert (await listing(channel, sku)).submit_status == SubmitStatus.OK and shop.stock(sku) == 4

    shop.add_products("GHOST")  # the product is created in the shop; the next change reaches it
    await adjust("GHOST", default_location, 1, actor)
    again = await stock_push.push_stock(channel.id)
    assert (again.outcome, again.pushed, again.failed) == (SyncOutcome.SUCCEEDED, 1, 0)
    assert shop.stock("GHOST") == 5
    ghost = await listing(channel, "GHOST")
    assert (ghost.submit_status, ghost.submit_error, ghost.submitted_quantity) == (SubmitStatus.OK, "", 5)


@pytest.mark.parametrize(
    ("fault", "error"),
    [({"kind": "rate_limit", "retry_after": 120}, PartnerRateLimited),
     ({"kind": "server_error", "count": 3}, PartnerUnavailable),
     ({"kind": "malformed", "count": 1}, PartnerUnreadable)],
    ids=["429", "500", "malformed"],
)  # fmt: skip
async def test_a_busy_failing_or_unreadable_shop_leaves_the_listings_due_with_backoff(
    shop, default_location, actor, fault, error, monkeypatch
):
    # A backoff long enough that the second push below always comes before the next attempt (the
    # suite's 0.2 s can pass between the two calls on a busy machine).
    monkeypatch.setattr(get_settings(), "retry_min_backoff_seconds", 60.0)
    monkeypatch.setattr(get_settings(), "retry_max_backoff_seconds", 600.0)
    channel = await connect(shop, actor, [default_location.id])
    for sku in ("MUG", "CUP"):
        await make_item(sku, actor, level=6, location_id=default_location.id)
        await listed(channel, sku, actor)
    shop.fault(**fault)

    before = datetime.now(timezone.utc)
    run = await stock_push.push_stock(channel.id)  # not raised: the listings' next attempts pace it

    assert run.outcome == SyncOutcome.FAILED and error.__name__ in run.error and run.finished_at
    assert (run.failed, run.retrying, run.waiting) == (2, 2, 0)
    wait = backoff(1, fault.get("retry_after", 0))
    for sku in ("MUG", "CUP"):
        row = await listing(channel, sku)
        assert (row.push_due, row.push_claimed_at, row.submit_status, row.push_attempts) == (
            True, None, SubmitStatus.RETRYING, 1)  # fmt: skip
        assert error.__name__ in row.submit_error
        assert before + wait <= row.next_push_at <= datetime.now(timezone.utc) + wait
    assert await stock_push.push_stock(channel.id) is None  # not before the next attempt

    await Listing.filter(channel_id=channel.id).update(next_push_at=datetime.now(timezone.utc))  # time passes
    retry = await stock_push.push_stock(channel.id)
    assert (retry.outcome, retry.pushed) == (SyncOutcome.SUCCEEDED, 2)
    assert (shop.stock("MUG"), shop.stock("CUP")) == (6, 6)
    row = await listing(channel, "MUG")
    assert (row.submit_status, row.push_attempts, row.next_push_at, row.submit_error) == (SubmitStatus.OK, 0, None, "")


async def test_the_backoff_grows_with_each_failure_in_a_row_up_to_its_cap(shop, default_location, actor):
    channel = await connect(shop, actor, [default_location.id])
    await make_item("MUG", actor, level=6, location_id=default_location.id)
    await listed(channel, "MUG", actor)
    for attempt in range(1, 7):
        shop.fault("server_error", count=3)  # the client's own retries, then the run's failure
        start = datetime.now(timezone.utc)
        await Listing.filter(channel_id=channel.id).update(next_push_at=start)
        await stock_push.push_stock(channel.id)
        row = await listing(channel, "MUG")
        assert (row.push_attempts, row.submit_status) == (attempt, SubmitStatus.RETRYING)
        assert start + backoff(attempt) <= row.next_push_at <= datetime.now(timezone.utc) + backoff(attempt)
    waits = [backoff(n) for n in range(1, 8)]
    assert waits[0] < waits[1] < waits[2] < waits[3] and waits[-1] == waits[-2]  # doubles, then capped


async def test_refused_credentials_fail_the_listings_without_a_retry(shop, default_location, actor):
    channel = await connect(shop, actor, [default_location.id], secret="cs_wrong")
    await make_item("MUG", actor, level=6, location_id=default_location.id)
    await listed(channel, "MUG", actor)

    run = await stock_push.push_stock(channel.id)  # not raised: retrying will not help

    assert run.outcome == SyncOutcome.FAILED and "PartnerAuthError" in run.error
    row = await listing(channel, "MUG")
    assert (row.push_due, row.push_claimed_at, row.submit_status) == (False, None, SubmitStatus.FAILED)
    assert "PartnerAuthError" in row.submit_error
    assert await stock_push.push_stock(channel.id) is None  # not due until the channel or stock changes

    await channels.update_channel(channel.id, {"settings": {"consumer_secret": SECRET}}, actor)
    run = await stock_push.push_stock(channel.id)
    assert (run.outcome, run.pushed) == (SyncOutcome.SUCCEEDED, 1) and shop.stock("MUG") == 6


async def test_a_disabled_channel_publishes_nothing(shop, default_location, actor):
    channel = await connect(shop, actor, [default_location.id])
    await make_item("MUG", actor, level=6, location_id=default_location.id)
    await listed(channel, "MUG", actor)
    await channels.set_channel_enabled(channel.id, False, actor)

    assert await stock_push.push_stock(channel.id) is None
    assert shop.requests() == [] and not await SyncRun.exists()
    assert (await listing(channel, "MUG")).push_due  # published once enabled again


# --- claims --------------------------------------------------------------------------------


async def test_a_live_run_keeps_the_channel_a_dead_one_is_closed_and_its_listings_taken_over(
    shop, spy, default_location, actor
):
    channel = await connect(shop, actor, [default_location.id])
    for sku in ("MUG", "CUP", "TEE"):
        await make_item(sku, actor, level=8, location_id=default_location.id)
        await listed(channel, sku, actor)
    # A run that claimed MUG and CUP (push_due cleared, push_claimed_at set); TEE changed since.
    other = await claims.take(channel.id, SyncKind.STOCK_PUSH)
    dead = await SyncRun.create(connection_id=channel.id, kind=SyncKind.STOCK_PUSH, claim_token=other.token)
    now = datetime.now(timezone.utc)
    await Listing.filter(channel_sku__in=["MUG", "CUP"]).update(push_due=False, push_claimed_at=now)

    assert await stock_push.push_stock(channel.id) is None  # its claim is live: hands off
    assert spy.pushed() == {}

    await RunClaim.filter(token=other.token).update(lease_until=now - timedelta(seconds=1))  # no heartbeat
    run = await stock_push.push_stock(channel.id)

    assert spy.pushed() == {"MUG": [8], "CUP": [8], "TEE": [8]} and run.pushed == 3
    dead = await SyncRun.get(id=dead.id)
    assert (dead.outcome, dead.abandoned) == (SyncOutcome.FAILED, True) and "ABANDONED" in dead.error
    assert not await Listing.filter(channel_id=channel.id, push_claimed_at__isnull=False).exists()
    with pytest.raises(claims.ClaimLost):
        await other.renew()  # the dead run's fence: it can write nothing more


async def test_a_change_while_claimed_goes_out_in_the_next_batch(shop, spy, default_location, actor):
    channel = await connect(shop, actor, [default_location.id])
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    await listed(channel, "MUG", actor)

    async def sell_two_during_the_first_call(call: int) -> None:
        if call == 1:
            row = await listing(channel, "MUG")
            assert row.push_claimed_at is not None and not row.push_due
            await make_order(actor, ("MUG", 2), location_id=default_location.id)
            assert (await listing(channel, "MUG")).push_due

    spy.before = sell_two_during_the_first_call
    run = await stock_push.push_stock(channel.id)

    assert spy.pushed() == {"MUG": [10, 8]} and shop.stock("MUG") == 8
    assert (run.pushed, run.pages) == (2, 2)
    row = await listing(channel, "MUG")
    assert (row.submitted_quantity, row.submit_status, row.push_due, row.push_claimed_at) == (
        8, SubmitStatus.OK, False, None)  # fmt: skip


async def test_concurrent_runs_send_each_listing_once(shop, spy, default_location, actor, postgres_only, monkeypatch):
    spy.stock_batch_size = 4  # many claims, to race
    channel = await connect(shop, actor, [default_location.id])
    skus = [f"SKU-{n:02}" for n in range(60)]
    shop.add_products(*skus)
    for n, sku in enumerate(skus):
        await stock.create_stock_item({"sku": sku, "title": sku}, actor)
    await stock.set_stock_levels({"levels": [{"sku": sku, "location_id": default_location.id, "quantity": n + 1}
                                             for n, sku in enumerate(skus)]}, actor)  # fmt: skip
    for sku in skus:
        await listed(channel, sku, actor)

    runs = await asyncio.gather(*(stock_push.push_stock(channel.id) for _ in range(4)))

    sent = Counter(update.channel_sku for call in spy.stock_calls for update in call)
    assert sent == Counter(skus)  # each listing exactly once
    assert sum(run.pushed for run in runs if run is not None) == 60
    assert len(shop.requests("POST", BATCH)) == len(spy.stock_calls)
    assert {p["sku"]: p["stock_quantity"] for p in shop.state()["products"] if p["sku"] in skus} == {
        sku: n + 1 for n, sku in enumerate(skus)}  # fmt: skip
    assert not await Listing.filter(channel_id=channel.id, submit_status__not=SubmitStatus.OK).exists()


async def test_a_stock_change_committed_while_a_push_claims_its_listing_is_pushed_after_it(
    postgres_only, shop, default_location, actor, monkeypatch
):
    """The changing transaction locks the (already due) listing: a push running meanwhile skips
    it rather than publishing the level from before the change and clearing the flag."""
    channel = await connect(shop, actor, [default_location.id])
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    await listed(channel, "MUG", actor)
    await stock_push.push_stock(channel.id)
    await adjust("MUG", default_location, 1, actor)  # due (11), not yet pushed
    marked, gate = asyncio.Event(), asyncio.Event()
    original = outbox.stock_changed

    async def held_open(keys):
        await original(keys)
        marked.set()
        await gate.wait()  # the change's transaction stays open here

    monkeypatch.setattr(outbox, "stock_changed", held_open)
    change = asyncio.create_task(adjust("MUG", default_location, 5, actor))  # 11 -> 16
    await marked.wait()
    await stock_push.push_stock(channel.id)  # runs while the change is uncommitted
    monkeypatch.setattr(outbox, "stock_changed", original)
    gate.set()
    await change

    assert (await listing(channel, "MUG")).push_due
    await stock_push.push_stock(channel.id)
    assert (await listing(channel, "MUG")).submitted_quantity == 16 and shop.stock("MUG") == 16

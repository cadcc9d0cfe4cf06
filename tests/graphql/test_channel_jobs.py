"""The sync engine over GraphQL (both backends): testing a channel's connection, asking for its work
now, sending failed dispatch notes again, failed jobs (listed and retried), and the automation log a
page at a time. The work really happens: the in-process worker (``jobs``) runs it against a
WooCommerce sandbox shop served over real HTTP."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest

from orderdeck.graphql.common import encode_id
from orderdeck.jobs import actors
from orderdeck.models import (
    Connection,
    Channel,
    Dispatch,
    DispatchState,
    FailedJob,
    Listing,
    Order,
    Role,
    SubmitStatus,
    SyncIssue,
    SyncKind,
    SyncOutcome,
    SyncRun,
)
from orderdeck.services import auth, channels, listings, orders
from orderdeck.services.context import Actor
from orderdeck.services.failed_jobs import record_failed_job
from tests.plugins.support import RunningApp
from tests.services.helpers import assert_unchanged_by, db_state, make_item, make_order

ERRORS = "errors { field code message }"
TEST = f"mutation($id: ID!) {{ testChannelConnection(id: $id) {{ ok message {ERRORS} }} }}"
SYNC = f"""mutation($id: ID!, $download: Boolean, $stockPush: Boolean, $dispatch: Boolean) {{
  syncChannel(id: $id, download: $download, stockPush: $stockPush, dispatch: $dispatch) {{
    channel {{ id name enabled }} {ERRORS} }} }}"""
RETRY_DISPATCHES = f"""mutation($ids: [ID!]!) {{ retryDispatches(orderIds: $ids) {{
  orders {{ id number dispatch {{ state attempts }} }} failures {{ orderId number message code }} {ERRORS} }} }}"""
FAILED_JOB = "id actor queue error failedAt retriedAt channel { name }"
RETRY_JOB = f"mutation($id: ID!) {{ retryFailedJob(id: $id) {{ failedJob {{ {FAILED_JOB} }} {ERRORS} }} }}"
FAILED_JOBS = f"""query($filter: FailedJobFilter, $first: Int, $after: String) {{
  failedJobs(filter: $filter, first: $first, after: $after) {{
    totalCount pageInfo {{ hasNextPage hasPreviousPage endCursor }} nodes {{ {FAILED_JOB} }} }} }}"""
SYNC_RUNS = """query($filter: SyncRunFilter, $first: Int, $after: String) {
  syncRuns(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage hasPreviousPage endCursor }
    nodes { id kind outcome startedAt pushed dispatched channel { name } issues(limit: 2) { reference message } } } }"""
DISPATCH = "dispatch { state carrier trackingNumber attempts lastError nextAttemptAt sentAt }"
ORDER = f"query($id: ID!) {{ order(id: $id) {{ number {DISPATCH} }} }}"
LISTING = """query($id: ID!) { node(id: $id) { ... on Listing {
  pushDue lastSubmittedQuantity lastSubmittedAt submitStatus submitError } } }"""

KEY, SECRET = "ck_a", "cs_a"  # shop_a's credentials
PAST = "2026-11-20T10:00:00"
"""A modification date old enough that a download takes the order at once."""


def gid(kind: str, value: Any) -> str:
    return encode_id(kind, value)


def place(shop: RunningApp, sku: str, quantity: int) -> None:
    """A paid order in the shop."""
    spec = {"status": "processing", "date_created_gmt": PAST, "date_modified_gmt": PAST,
            "lines": [{"sku": sku, "quantity": quantity, "price": "5.00"}]}  # fmt: skip
    response = httpx.post(f"{shop.url}/__sandbox/orders", json={"orders": [spec]}, timeout=10)
    assert response.status_code < 300, response.text


def shop_state(shop: RunningApp) -> dict[str, Any]:
    return httpx.get(f"{shop.url}/__sandbox/state", timeout=10).json()


def shop_stock(shop: RunningApp, sku: str) -> int:
    return next(p["stock_quantity"] for p in shop_state(shop)["products"] if p["sku"] == sku)


def set_shop_stock(shop: RunningApp, sku: str, quantity: int) -> None:
    """A change made in the shop's back office."""
    products = {"products": [{"sku": sku, "stock_quantity": quantity}]}
    response = httpx.post(f"{shop.url}/__sandbox/products", json=products, timeout=10)
    assert response.status_code < 300, response.text


async def connect(shop: RunningApp, actor: Actor, location, *, name: str = "Shop A", secret: str = SECRET) -> Channel:
    """A WooCommerce channel on the shop offering the location's stock, with MUG listed."""
    channel = await channels.create_channel({
        "name": name, "plugin": "woocommerce", "stock_location_ids": [location.id],
        "settings": {"url": shop.url, "consumer_key": KEY, "consumer_secret": secret, "requests_per_second": 50},
    }, actor)  # fmt: skip
    await listings.link_listing({"channel_id": channel.id, "channel_sku": "MUG", "sku": "MUG"}, actor)
    return channel


async def token(role: Role) -> str:
    _, secret = await auth.create_token(f"{role.value.lower()}-{uuid.uuid4().hex[:6]}", Actor.system(), role)
    return secret


async def refused(client, query: str, variables: dict[str, Any], field: str | None, code: str) -> dict[str, Any]:
    """Run a mutation that must be refused with (field, code) and change nothing; return its payload."""
    before = await db_state()
    (payload,) = (await client.gql(query, variables)).values()
    assert (field, code) in [(e["field"], e["code"]) for e in payload["errors"]], payload["errors"]
    await assert_unchanged_by(before)
    return payload


async def forbidden(client, query: str, variables: dict[str, Any], secret: str) -> None:
    """The mutation is refused to this token (FORBIDDEN), changing nothing."""
    before = await db_state()
    body = (await client.post(query, variables, token=secret)).json()
    assert body["data"] is None or set(body["data"].values()) == {None}, body
    assert [e["extensions"]["code"] for e in body["errors"]] == ["FORBIDDEN"], body["errors"]
    await assert_unchanged_by(before)


async def runs_of(channel: Channel, kind: SyncKind) -> list[SyncRun]:
    return await SyncRun.filter(connection_id=channel.id, kind=kind).order_by("started_at")


# --- testChannelConnection ----------------------------------------------------------------------


async def test_a_connection_test_reports_ok_or_what_is_wrong(client, shop_a, default_location, actor):
    await make_item("MUG", actor)
    good = await connect(shop_a, actor, default_location)
    wrong = await connect(shop_a, actor, default_location, name="Shop A (old secret)", secret="cs_wrong")
    before = await db_state()

    passed = (await client.gql(TEST, {"id": gid("Channel", good.id)}))["testChannelConnection"]
    assert passed["ok"] is True and passed["errors"] == [], passed
    assert "Connected to WooCommerce" in passed["message"]
    failed = (await client.gql(TEST, {"id": gid("Channel", wrong.id)}))["testChannelConnection"]
    assert failed["ok"] is False and failed["errors"] == [], failed
    assert "refused the consumer key and secret" in failed["message"]
    await assert_unchanged_by(before)  # a test changes nothing

    await channels.set_channel_enabled(good.id, False, actor)
    disabled = (await client.gql(TEST, {"id": gid("Channel", good.id)}))["testChannelConnection"]
    assert disabled["ok"] is True, disabled


async def test_a_connection_test_of_no_channel_is_refused(client, default_location):
    for variables, field, code in [
        ({"id": gid("Channel", uuid.uuid4())}, "id", "NOT_FOUND"),
        ({"id": gid("Listing", uuid.uuid4())}, "id", "INVALID"),
        ({"id": "not-an-id"}, "id", "INVALID"),
    ]:
        payload = await refused(client, TEST, variables, field, code)
        assert (payload["ok"], payload["message"]) == (None, None)


# --- syncChannel --------------------------------------------------------------------------------


async def test_sync_channel_downloads_pushes_and_dispatches_now(client, jobs, shop_a, default_location, actor):
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    channel = await connect(shop_a, actor, default_location)
    await jobs.drain()
    assert shop_stock(shop_a, "MUG") == 10
    channel_id = gid("Channel", channel.id)

    # download (the default; null means the default too)
    place(shop_a, "MUG", 3)
    payload = (await client.gql(SYNC, {"id": channel_id, "download": None, "stockPush": None}))["syncChannel"]
    assert payload == {"channel": {"id": channel_id, "name": "Shop A", "enabled": True}, "errors": []}
    await jobs.drain()
    [order] = await Order.filter(channel_id=channel.id)
    [download] = await runs_of(channel, SyncKind.DOWNLOAD)
    assert (download.outcome, download.downloaded) == (SyncOutcome.SUCCEEDED, 1)
    assert shop_stock(shop_a, "MUG") == 7  # the reservation was pushed (the outbox, not syncChannel)

    # stock push: a listing the channel refused before, and the shop's stock edited meanwhile
    listing = await Listing.get(channel_id=channel.id)
    await Listing.filter(id=listing.id).update(submit_status=SubmitStatus.FAILED, submit_error="AuthError: 401")
    set_shop_stock(shop_a, "MUG", 99)
    pushes = len(await runs_of(channel, SyncKind.STOCK_PUSH))
    payload = (await client.gql(SYNC, {"id": channel_id, "download": False, "stockPush": True}))["syncChannel"]
    assert payload["errors"] == []
    await jobs.drain()
    assert shop_stock(shop_a, "MUG") == 7
    assert len(await runs_of(channel, SyncKind.STOCK_PUSH)) == pushes + 1
    assert len(await runs_of(channel, SyncKind.DOWNLOAD)) == 1  # download: false
    shown = (await client.gql(LISTING, {"id": gid("Listing", listing.id)}))["node"]
    assert {k: shown[k] for k in ("pushDue", "lastSubmittedQuantity", "submitStatus", "submitError")} == {
        "pushDue": False, "lastSubmittedQuantity": 7, "submitStatus": "OK", "submitError": ""}  # fmt: skip
    assert datetime.fromisoformat(shown["lastSubmittedAt"]) > datetime.now(timezone.utc) - timedelta(minutes=1)

    # dispatch: a note recorded while no job was sent for it
    actors.stop_sending()
    try:
        await orders.process_orders([{"order_id": order.id, "tracking_number": "TRK-7", "shipping_vendor": "DPD"}],
                                    actor)  # fmt: skip
    finally:
        actors.start_sending()
    await jobs.drain()
    assert (await Dispatch.get(order_id=order.id)).state == DispatchState.PENDING
    payload = (await client.gql(SYNC, {"id": channel_id, "download": False, "dispatch": True}))["syncChannel"]
    assert payload["errors"] == []
    await jobs.drain()
    shown = (await client.gql(ORDER, {"id": gid("Order", order.id)}))["order"]["dispatch"]
    assert {k: shown[k] for k in ("state", "trackingNumber", "attempts", "lastError", "nextAttemptAt")} == {
        "state": "SENT", "trackingNumber": "TRK-7", "attempts": 1, "lastError": None, "nextAttemptAt": None,
    }
    assert shown["sentAt"] is not None
    [run] = await runs_of(channel, SyncKind.DISPATCH)
    assert (run.outcome, run.dispatched) == (SyncOutcome.SUCCEEDED, 1)
    shop_order = next(o for o in shop_state(shop_a)["orders"] if o["number"] == order.reference)
    assert shop_order["status"] == "completed"
    assert any("TRK-7" in note["note"] for note in shop_order["notes"])


async def test_sync_channel_refusals(client, jobs, shop_a, default_location, actor):
    await make_item("MUG", actor)
    channel = await connect(shop_a, actor, default_location)
    await jobs.drain()
    channel_id = gid("Channel", channel.id)
    await channels.set_channel_enabled(channel.id, False, actor)
    place(shop_a, "MUG", 1)

    await refused(client, SYNC, {"id": channel_id, "stockPush": True, "dispatch": True}, "id", "INVALID_TRANSITION")
    await refused(client, SYNC, {"id": gid("Channel", uuid.uuid4())}, "id", "NOT_FOUND")
    await refused(client, SYNC, {"id": "Q2hhbm5lbDpub3BlCg=="}, "id", "INVALID")
    await channels.set_channel_enabled(channel.id, True, actor)
    await jobs.drain()
    await refused(client, SYNC, {"id": channel_id, "download": False}, "download", "INVALID")
    await jobs.drain()
    assert await runs_of(channel, SyncKind.DOWNLOAD) == []  # nothing asked for a download
    assert not await Order.exists()


# --- retryDispatches ----------------------------------------------------------------------------


async def test_failed_dispatch_notes_are_sent_again(client, jobs, shop_a, default_location, actor):
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    channel = await connect(shop_a, actor, default_location)
    place(shop_a, "MUG", 2)
    (await client.gql(SYNC, {"id": gid("Channel", channel.id)}))
    await jobs.drain()
    [order] = await Order.filter(channel_id=channel.id)
    actors.stop_sending()
    try:
        await orders.process_orders([{"order_id": order.id, "tracking_number": "TRK-9"}], actor)
    finally:
        actors.start_sending()
    # As the dispatch job leaves a note the channel refused MAX_ATTEMPTS times:
    await Dispatch.filter(order_id=order.id).update(state=DispatchState.FAILED, attempts=5,
                                                    last_error="PartnerUnavailable: 503",
                                                    next_attempt_at=datetime.now(timezone.utc))  # fmt: skip
    shown = (await client.gql(ORDER, {"id": gid("Order", order.id)}))["order"]["dispatch"]
    assert (shown["state"], shown["attempts"], shown["lastError"]) == ("FAILED", 5, "PartnerUnavailable: 503")
    assert (shown["nextAttemptAt"], shown["sentAt"]) == (None, None)  # not waiting: FAILED

    open_order = await make_order(actor, ("MUG", 1))
    missing = uuid.uuid4()
    ids = [gid("Order", order.id), gid("Order", open_order.id), gid("Order", missing)]
    operator = await token(Role.OPERATOR)  # PROCESS_ORDERS is enough
    payload = (await client.gql(RETRY_DISPATCHES, {"ids": ids}, token=operator))["retryDispatches"]
    assert payload["errors"] == []
    retried = {"id": ids[0], "number": order.number, "dispatch": {"state": "PENDING", "attempts": 0}}
    assert payload["orders"] == [retried]
    assert [(f["orderId"], f["number"], f["code"]) for f in payload["failures"]] == [
        (ids[1], open_order.number, "INVALID_TRANSITION"), (ids[2], None, "NOT_FOUND")]  # fmt: skip
    await jobs.drain()

    shown = (await client.gql(ORDER, {"id": gid("Order", order.id)}))["order"]["dispatch"]
    assert (shown["state"], shown["attempts"], shown["lastError"]) == ("SENT", 1, None)
    assert shown["trackingNumber"] == "TRK-9"
    shop_order = next(o for o in shop_state(shop_a)["orders"] if o["number"] == order.reference)
    assert shop_order["status"] == "completed"

    again = (await client.gql(RETRY_DISPATCHES, {"ids": ids[:1]}))["retryDispatches"]
    assert again["orders"] == [] and again["failures"][0]["code"] == "INVALID_TRANSITION"


async def test_retry_dispatches_refusals(client, default_location, actor):
    await make_item("MUG", actor)
    order = await make_order(actor, ("MUG", 1))
    await refused(client, RETRY_DISPATCHES, {"ids": []}, "orderIds", "INVALID")
    await refused(client, RETRY_DISPATCHES, {"ids": [gid("Order", order.id), "bad"]}, "orderIds.1", "INVALID")
    await refused(client, RETRY_DISPATCHES, {"ids": [gid("Location", order.location_id)]}, "orderIds.0", "INVALID")
    await refused(client, RETRY_DISPATCHES, {"ids": [gid("Order", uuid.uuid4())] * 101}, "orderIds", "TOO_MANY")
    await forbidden(client, RETRY_DISPATCHES, {"ids": [gid("Order", order.id)]}, await token(Role.READER))


# --- failed jobs ----------------------------------------------------------------------------------


async def fail_job(channel: Channel | None, *, queue: str = "download", actor: str = "download_orders",
                   error: str = "PartnerUnavailable: the shop answered 503") -> FailedJob:  # fmt: skip
    """A job that exhausted its retries, recorded as the broker's middleware records it."""
    message_id = uuid.uuid4().hex
    args = [str(channel.id)] if channel is not None else []
    await record_failed_job(actor=actor, queue=queue, message_id=message_id, args=args, kwargs={}, error=error)
    return await FailedJob.get(message_id=message_id)


async def test_a_failed_download_is_retried_and_downloads(client, jobs, shop_a, default_location, actor):
    await make_item("MUG", actor, level=5, location_id=default_location.id)
    channel = await connect(shop_a, actor, default_location)
    await jobs.drain()
    place(shop_a, "MUG", 1)
    job = await fail_job(channel)
    job_id = gid("FailedJob", job.id)

    [listed] = (await client.gql(FAILED_JOBS))["failedJobs"]["nodes"]
    assert {k: v for k, v in listed.items() if k != "failedAt"} == {
        "id": job_id, "actor": "download_orders", "queue": "download", "retriedAt": None,
        "error": "PartnerUnavailable: the shop answered 503", "channel": {"name": "Shop A"}}  # fmt: skip

    payload = (await client.gql(RETRY_JOB, {"id": job_id}))["retryFailedJob"]
    assert payload["errors"] == [] and payload["failedJob"]["id"] == job_id
    assert payload["failedJob"]["retriedAt"] is not None
    await jobs.drain()
    assert await Order.filter(channel_id=channel.id).count() == 1  # the download ran
    [run] = await runs_of(channel, SyncKind.DOWNLOAD)
    assert run.outcome == SyncOutcome.SUCCEEDED

    retried = (await client.gql(FAILED_JOBS, {"filter": {"retried": True}}))["failedJobs"]["nodes"]
    assert [j["id"] for j in retried] == [job_id]
    assert (await client.gql(FAILED_JOBS, {"filter": {"retried": False}}))["failedJobs"]["nodes"] == []
    await refused(client, RETRY_JOB, {"id": job_id}, "id", "INVALID_TRANSITION")  # once only


async def test_retry_failed_job_refusals(client, default_location, actor):
    await make_item("MUG", actor)
    channel = await channels.create_channel({"name": "Shop", "plugin": "woocommerce", "settings": {
        "url": "https://shop.example.com/", "consumer_key": "ck", "consumer_secret": "cs"}}, actor)  # fmt: skip
    unknown_work = await fail_job(None, queue="imports", actor="import_file")
    job = await fail_job(channel)
    payload = await refused(client, RETRY_JOB, {"id": gid("FailedJob", unknown_work.id)}, "id", "INVALID_TRANSITION")
    assert payload["failedJob"] is None
    await refused(client, RETRY_JOB, {"id": gid("FailedJob", uuid.uuid4())}, "id", "NOT_FOUND")
    await refused(client, RETRY_JOB, {"id": gid("Channel", job.id)}, "id", "INVALID")
    await refused(client, RETRY_JOB, {"id": "%%%"}, "id", "INVALID")


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.READER])
async def test_channel_work_is_for_tokens_that_manage_channels(client, default_location, actor, role):
    channel = await channels.create_channel({"name": "Shop", "plugin": "woocommerce", "settings": {
        "url": "https://shop.example.com/", "consumer_key": "ck", "consumer_secret": "cs"}}, actor)  # fmt: skip
    job = await fail_job(channel)
    secret = await token(role)
    await forbidden(client, TEST, {"id": gid("Channel", channel.id)}, secret)
    await forbidden(client, SYNC, {"id": gid("Channel", channel.id)}, secret)
    await forbidden(client, RETRY_JOB, {"id": gid("FailedJob", job.id)}, secret)
    listed = await client.gql(FAILED_JOBS, token=secret)  # reading them takes READ only
    assert [j["id"] for j in listed["failedJobs"]["nodes"]] == [gid("FailedJob", job.id)]


async def test_failed_jobs_are_listed_newest_first_a_page_at_a_time(client, default_location, actor, count_queries):
    shops = [await channels.create_channel({"name": name, "plugin": "woocommerce", "settings": {
        "url": "https://shop.example.com/", "consumer_key": "ck", "consumer_secret": "cs"}}, actor)
        for name in ("North shop", "South shop")]  # fmt: skip
    base = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)

    async def add_jobs(count: int) -> None:
        start = await FailedJob.all().count()
        for n in range(start, start + count):
            job = await fail_job(shops[n % 2], queue="stock_push", actor="push_stock", error=f"failure {n}")
            # pairs fail at the same moment: the id keeps the order stable
            await FailedJob.filter(id=job.id).update(failed_at=base + timedelta(minutes=n // 2))

    async def listing(variables: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with count_queries() as counter:
            data = (await client.gql(FAILED_JOBS, variables))["failedJobs"]
        return counter.count, data

    await add_jobs(5)
    expected = [gid("FailedJob", j.id) for j in
                sorted(await FailedJob.all(), key=lambda j: (j.failed_at, str(j.id)), reverse=True)]  # fmt: skip
    seen, after = [], None
    while True:
        _, page = await listing({"first": 2, "after": after})
        seen += [j["id"] for j in page["nodes"]]
        assert page["totalCount"] == 5 and page["pageInfo"]["hasPreviousPage"] == (after is not None)
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert seen == expected

    north = (await listing({"filter": {"channelId": gid("Channel", shops[0].id)}}))[1]
    assert north["totalCount"] == 3 and {j["channel"]["name"] for j in north["nodes"]} == {"North shop"}
    await FailedJob.filter(error="failure 4").update(retried_at=datetime.now(timezone.utc))
    retried = (await listing({"filter": {"retried": True}}))[1]["nodes"]
    assert [j["error"] for j in retried] == ["failure 4"]

    few, _ = await listing({"first": 100})
    await add_jobs(30)
    many, page = await listing({"first": 100})
    assert len(page["nodes"]) == 35 and many == few, (few, many)


# --- syncRuns -----------------------------------------------------------------------------------


async def add_runs(channel: Channel, count: int, *, issues: int = 0, at: datetime | None = None) -> list[SyncRun]:
    """Runs of alternating kinds, three at each minute from ``at`` (ties broken by id), with issues."""
    at = at or datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
    made = []
    for n in range(count):
        kind = [SyncKind.DOWNLOAD, SyncKind.STOCK_PUSH, SyncKind.DISPATCH][n % 3]
        run = await SyncRun.create(connection_id=channel.id, kind=kind, outcome=SyncOutcome.SUCCEEDED, pushed=n, dispatched=n)
        await SyncRun.filter(id=run.id).update(started_at=at + timedelta(minutes=n // 3))
        await SyncIssue.bulk_create([SyncIssue(run=run, reference=f"{n}-{i}", kind="FAILED", message=f"issue {i}")
                                     for i in range(issues)])  # fmt: skip
        made.append(await SyncRun.get(id=run.id))
    return made


async def page_through(client, variables: dict[str, Any], size: int) -> list[dict[str, Any]]:
    """Every run matching, ``size`` at a time, checking each page's cursors."""
    seen, after = [], None
    while True:
        page = (await client.gql(SYNC_RUNS, {**variables, "first": size, "after": after}))["syncRuns"]
        assert len(page["nodes"]) <= size and page["pageInfo"]["hasPreviousPage"] == (after is not None)
        seen += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return seen
        after = page["pageInfo"]["endCursor"]


async def test_sync_runs_page_newest_first_in_a_stable_order(client, default_location, actor):
    shop = await channels.create_channel({"name": "Shop", "plugin": "woocommerce", "settings": {
        "url": "https://shop.example.com/", "consumer_key": "ck", "consumer_secret": "cs"}}, actor)  # fmt: skip
    other = await channels.create_channel({"name": "Other", "plugin": "woocommerce", "settings": {
        "url": "https://other.example.com/", "consumer_key": "ck", "consumer_secret": "cs"}}, actor)  # fmt: skip
    runs = await add_runs(shop, 11, issues=3)
    await add_runs(other, 4)
    expected = [gid("SyncRun", r.id) for r in sorted(runs, key=lambda r: (r.started_at, str(r.id)), reverse=True)]

    only_shop = {"filter": {"channelId": gid("Channel", shop.id)}}
    for size in (1, 2, 3, 11):
        nodes = await page_through(client, only_shop, size)
        assert [n["id"] for n in nodes] == expected, size
    nodes = await page_through(client, only_shop, 4)
    newest = nodes[0]
    n = next(r.pushed for r in runs if gid("SyncRun", r.id) == newest["id"])  # the 10th or 11th run (a tie)
    assert n in (9, 10) and (newest["pushed"], newest["dispatched"], newest["channel"]) == (n, n, {"name": "Shop"})
    assert newest["issues"] == [{"reference": f"{n}-{i}", "message": f"issue {i}"} for i in (0, 1)]

    pushes = await page_through(client, {"filter": {"kind": "STOCK_PUSH"}}, 2)
    assert [n["kind"] for n in pushes] == ["STOCK_PUSH"] * 5  # 4 of shop's 11, 1 of other's 4
    assert [n["startedAt"] for n in pushes] == sorted((n["startedAt"] for n in pushes), reverse=True)
    all_runs = await client.gql(SYNC_RUNS, {"filter": {"outcome": "SUCCEEDED"}, "first": 0})
    assert all_runs["syncRuns"]["totalCount"] == 15 and all_runs["syncRuns"]["nodes"] == []
    assert (await client.gql(SYNC_RUNS, {"filter": {"outcome": "FAILED"}}))["syncRuns"]["totalCount"] == 0

    for bad in ("nope", gid("SyncRun", runs[0].id)):
        body = (await client.post(SYNC_RUNS, {"after": bad})).json()
        assert "is not a valid cursor" in body["errors"][0]["message"]
    body = (await client.post(SYNC_RUNS, {"first": 101})).json()
    assert "between 0 and 100" in body["errors"][0]["message"]


async def test_sync_runs_with_issues_cost_the_same_for_3_or_30_runs(client, default_location, actor, count_queries):
    channels_ = [await channels.create_channel({"name": f"Shop {n}", "plugin": "woocommerce", "settings": {
        "url": "https://shop.example.com/", "consumer_key": "ck", "consumer_secret": "cs"}}, actor)
        for n in range(3)]  # fmt: skip

    async def cost() -> tuple[int, list[dict[str, Any]]]:
        with count_queries() as counter:
            data = await client.gql(SYNC_RUNS, {"first": 100})
        return counter.count, data["syncRuns"]["nodes"]

    for channel in channels_:
        await add_runs(channel, 1, issues=3)
    few, three = await cost()
    assert len(three) == 3 and all(len(r["issues"]) == 2 for r in three)
    for channel in channels_:
        await add_runs(channel, 9, issues=3, at=datetime(2026, 11, 2, tzinfo=timezone.utc))
    many, thirty = await cost()
    assert len(thirty) == 30 and all(len(r["issues"]) == 2 for r in thirty)
    assert many == few, (few, many)


async def test_a_run_shows_its_first_issues_up_to_a_limit(client, default_location, actor):
    channel = await channels.create_channel({"name": "Shop", "plugin": "woocommerce", "settings": {
        "url": "https://shop.example.com/", "consumer_key": "ck", "consumer_secret": "cs"}}, actor)  # fmt: skip
    await add_runs(channel, 1, issues=25)
    query = "query($limit: Int!) { syncRuns { nodes { issues(limit: $limit) { reference } } } }"
    shown = (await client.gql("{ syncRuns { nodes { issues { reference } } } }"))["syncRuns"]["nodes"][0]["issues"]
    assert [i["reference"] for i in shown] == [f"0-{i}" for i in range(20)]  # the default: the first 20
    many = (await client.gql(query, {"limit": 100}))["syncRuns"]["nodes"][0]["issues"]
    assert len(many) == 25
    body = (await client.post(query, {"limit": 101})).json()
    assert "limit must be between 0 and 100" in body["errors"][0]["message"]

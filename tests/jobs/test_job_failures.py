"""Channel failures seen through the jobs (in-process worker, both backends): what is retried, what
is logged, and what becomes a failed job that a user can retry. Tests run with fast retries
(ORDERDECK_JOB_MAX_RETRIES=2, backoff 50-200 ms: tests/conftest.py)."""

from __future__ import annotations

import httpx

from tests.jobs.test_embedded_flow import PAST, connect, place
from tests.plugins.support import RunningApp
from tests.services.helpers import assert_stock_consistent, levels_of, make_item
from orderdeck.plugins.toolkit import PartnerHttp
from orderdeck.models import FailedJob, Order, OrderItem, SyncIssue, SyncKind, SyncOutcome, SyncRun
from orderdeck.services import failed_jobs, outbox


def fault(shop: RunningApp, kind: str, count: int = 1, **options) -> None:
    response = httpx.post(f"{shop.url}/__sandbox/faults", json={"kind": kind, "count": count, **options}, timeout=10)
    assert response.status_code < 300, response.text


async def download(jobs, channel_id) -> list[SyncRun]:
    """Send the channel's download job, wait for it (and its retries); its runs, oldest first."""
    outbox.wake(SyncKind.DOWNLOAD, [channel_id])
    await jobs.drain()
    return list(await SyncRun.filter(connection_id=channel_id, kind=SyncKind.DOWNLOAD).order_by("started_at"))


async def setup(jobs, shop, default_location, actor, **settings):
    """A channel for the shop with MUG listed, its first stock push done (faults come after)."""
    await make_item("MUG", actor, level=20, location_id=default_location.id)
    channel = await connect(shop, "Shop A", "ck_a", "cs_a", default_location, actor, **settings)
    await jobs.drain()
    return channel


async def test_a_rate_limit_is_retried_after_the_delay_the_shop_asked_for(jobs, shop_a, default_location, actor,
                                                                          monkeypatch):  # fmt: skip
    # The client waits out short Retry-After pauses itself (up to max_wait); a longer one goes to
    # the job, which is retried after it. Here "longer" is anything over 0.1 s.
    monkeypatch.setitem(PartnerHttp.__init__.__kwdefaults__, "max_wait", 0.1)
    channel = await setup(jobs, shop_a, default_location, actor)
    place(shop_a, "MUG", 2)
    fault(shop_a, "rate_limit", retry_after=0.3)

    runs = await download(jobs, channel.id)

    assert [run.outcome for run in runs] == [SyncOutcome.FAILED, SyncOutcome.SUCCEEDED]
    assert "PartnerRateLimited" in runs[0].error
    assert (runs[1].started_at - runs[0].finished_at).total_seconds() >= 0.3
    assert await Order.filter(channel_id=channel.id).count() == 1
    assert not await FailedJob.exists()


async def test_a_shop_that_keeps_failing_ends_in_a_failed_job_that_can_be_retried(jobs, shop_a, default_location, actor):
    channel = await setup(jobs, shop_a, default_location, actor)
    place(shop_a, "MUG", 2)
    fault(shop_a, "server_error", count=100, status=503)

    runs = await download(jobs, channel.id)

    assert [run.outcome for run in runs] == [SyncOutcome.FAILED] * 3  # the first try and 2 retries
    [job] = await FailedJob.all()
    assert (job.actor, job.queue, job.connection_id) == ("download_orders", "download", channel.id)
    assert "PartnerUnavailable" in job.error and "503" in job.error
    assert await Order.filter(channel_id=channel.id).count() == 0

    httpx.delete(f"{shop_a.url}/__sandbox/faults", timeout=10)  # the shop is back
    await failed_jobs.retry_failed_job(job.id, actor)
    await jobs.drain()

    assert (await FailedJob.get(id=job.id)).retried_at is not None
    assert await Order.filter(channel_id=channel.id).count() == 1
    assert (await SyncRun.filter(kind=SyncKind.DOWNLOAD).order_by("-started_at").first()).outcome == SyncOutcome.SUCCEEDED


async def test_a_shop_that_does_not_answer_in_time_is_retried(jobs, shop_a, default_location, actor):
    channel = await setup(jobs, shop_a, default_location, actor, timeout_seconds=1)
    place(shop_a, "MUG", 2)
    fault(shop_a, "delay", count=3, seconds=2)  # longer than the timeout, for the client's 3 tries

    runs = await download(jobs, channel.id)

    assert [run.outcome for run in runs] == [SyncOutcome.FAILED, SyncOutcome.SUCCEEDED]
    assert "PartnerUnavailable" in runs[0].error
    assert await Order.filter(channel_id=channel.id).count() == 1


async def test_refused_credentials_fail_the_run_once_with_no_retry(jobs, shop_a, default_location, actor):
    await make_item("MUG", actor, level=20, location_id=default_location.id)
    channel = await connect(shop_a, "Shop A", "ck_a", "cs_wrong", default_location, actor)
    await jobs.drain()
    place(shop_a, "MUG", 2)

    [run] = await download(jobs, channel.id)

    assert run.outcome == SyncOutcome.FAILED and "PartnerAuthError" in run.error
    assert not await FailedJob.exists()  # nothing to retry: the seller must fix the credentials


async def test_an_unreadable_answer_fails_the_run_and_the_retry_takes_the_orders(jobs, shop_a, default_location, actor):
    channel = await setup(jobs, shop_a, default_location, actor)
    place(shop_a, "MUG", 2)
    fault(shop_a, "malformed")  # e.g. a proxy's error page: a passing failure

    runs = await download(jobs, channel.id)

    assert [run.outcome for run in runs] == [SyncOutcome.FAILED, SyncOutcome.SUCCEEDED]
    assert "PartnerUnreadable" in runs[0].error
    assert await Order.filter(channel_id=channel.id).count() == 1 and not await FailedJob.exists()


async def test_bad_orders_are_logged_and_the_rest_of_the_page_goes_on(jobs, shop_a, default_location, actor):
    channel = await setup(jobs, shop_a, default_location, actor)
    specs = [{"status": "processing", "date_created_gmt": PAST, "date_modified_gmt": PAST,
              "lines": [{"sku": "MUG", "quantity": 1, "price": "5.00"}]}] * 3  # fmt: skip
    specs += [{"status": "processing", "date_modified_gmt": PAST, "defect": defect}
              for defect in ("missing_reference", "negative_quantity", "unknown_sku")]  # fmt: skip
    assert httpx.post(f"{shop_a.url}/__sandbox/orders", json={"orders": specs}, timeout=10).status_code < 300

    [run] = await download(jobs, channel.id)

    assert run.outcome == SyncOutcome.PARTIAL
    assert (run.downloaded, run.failed) == (4, 2)  # 3 good ones and the unknown SKU's (unlinked)
    issues = {issue.kind: issue for issue in await SyncIssue.filter(run_id=run.id)}
    assert set(issues) == {"REJECTED", "UNLINKED"}
    messages = " ".join(issue.message for issue in await SyncIssue.filter(run_id=run.id, kind="REJECTED"))
    assert "empty order number" in messages and "quantity must be positive" in messages
    assert "link it" in issues["UNLINKED"].message
    mugs = await OrderItem.filter(order__channel_id=channel.id, sku="MUG").values_list("quantity", flat=True)
    assert await levels_of("MUG", default_location.id) == (20, sum(mugs)) and sum(mugs) >= 3
    await assert_stock_consistent()

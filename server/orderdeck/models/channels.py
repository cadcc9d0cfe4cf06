"""Channels: the seller's accounts on sales channels, their listings, and the automation log."""

from __future__ import annotations

import uuid
from enum import Enum

from tortoise import fields
from tortoise.models import Model


class Channel(Model):
    """One account on a sales channel, served by a plugin (e.g. a WooCommerce shop).

    Orders download to download_location. The stock offered on the channel is the sum of what is
    available at its stock locations (none: nothing is pushed). Secret settings are kept encrypted
    in secrets and never returned by the API.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    name = fields.CharField(max_length=100, unique=True)
    plugin = fields.CharField(max_length=50)
    source = fields.CharField(max_length=50)
    settings = fields.JSONField(default=dict)
    secrets = fields.TextField(null=True)
    enabled = fields.BooleanField(default=True, db_default=True)
    download_location = fields.ForeignKeyField(
        "models.Location", related_name="download_channels", on_delete=fields.RESTRICT, db_index=True
    )
    stock_locations = fields.ManyToManyField(
        "models.Location", related_name="stock_channels", through="channel_stock_location"
    )
    download_unpaid = fields.BooleanField(default=False, db_default=False)
    status_overrides = fields.JSONField(default=dict)
    sync_interval_seconds = fields.IntField(default=300, db_default=300)
    download_cursor = fields.CharField(max_length=500, null=True)
    last_download_at = fields.DatetimeField(null=True)
    # When the scheduler next sends a download (claimed atomically, so several schedulers send one).
    next_download_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "channel"
        ordering = ["name"]


class SubmitStatus(str, Enum):
    """What became of the last quantity sent for a listing (RESEND: accepted, and to be sent
    again even if unchanged, as a user asked; RETRYING: the channel could not take it for a
    passing reason, sent again at next_push_at; FAILED: refused, waits for a change)."""

    NEVER = "NEVER"
    OK = "OK"
    FAILED = "FAILED"
    RESEND = "RESEND"
    RETRYING = "RETRYING"


class Listing(Model):
    """A stock item as listed on a channel, under the channel's SKU.

    The quantity published is the channel's available stock, floored at 0, capped at
    max_listed_quantity, and 0 at or below end_when_stock_at. push_due is the outbox flag: set in
    the same transaction as any change to the item's available stock, cleared when a stock job
    claims the listing (push_claimed_at) to publish the new quantity.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    channel = fields.ForeignKeyField("models.Channel", related_name="listings", on_delete=fields.CASCADE)
    stock_item = fields.ForeignKeyField(
        "models.StockItem", related_name="listings", on_delete=fields.RESTRICT, db_index=True
    )
    channel_sku = fields.CharField(max_length=100)
    channel_reference = fields.CharField(max_length=100, default="", db_default="")
    max_listed_quantity = fields.IntField(null=True)
    end_when_stock_at = fields.IntField(null=True)
    ignore_sync = fields.BooleanField(default=False, db_default=False)
    push_due = fields.BooleanField(default=False, db_default=False, db_index=True)
    due_since = fields.DatetimeField(null=True)
    # Set while a stock job publishes the listing (push_due is then cleared); the channel's
    # STOCK_PUSH run claim (RunClaim) is held meanwhile, so a listing claimed while nobody holds
    # it was left by a job that died, and is taken over.
    push_claimed_at = fields.DatetimeField(null=True)
    push_attempts = fields.IntField(default=0, db_default=0)
    next_push_at = fields.DatetimeField(null=True)
    submitted_quantity = fields.IntField(null=True)
    submitted_at = fields.DatetimeField(null=True)
    submit_status = fields.CharEnumField(SubmitStatus, max_length=16, default=SubmitStatus.NEVER)
    submit_error = fields.CharField(max_length=500, default="", db_default="")
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "listing"
        unique_together = (("channel", "channel_sku"),)
        ordering = ["channel_sku"]


class SyncKind(str, Enum):
    """What a sync run does."""

    DOWNLOAD = "DOWNLOAD"
    STOCK_PUSH = "STOCK_PUSH"
    DISPATCH = "DISPATCH"


class SyncOutcome(str, Enum):
    """How a sync run ended (RUNNING while it runs)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"


class SyncRun(Model):
    """One run of a channel's download, stock push or dispatch: the automation log."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    channel = fields.ForeignKeyField("models.Channel", related_name="runs", on_delete=fields.CASCADE, db_index=True)
    kind = fields.CharEnumField(SyncKind, max_length=16, db_index=True)
    outcome = fields.CharEnumField(SyncOutcome, max_length=16, default=SyncOutcome.RUNNING, db_index=True)
    started_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    finished_at = fields.DatetimeField(null=True)
    pages = fields.IntField(default=0, db_default=0)
    downloaded = fields.IntField(default=0, db_default=0)
    updated = fields.IntField(default=0, db_default=0)
    skipped_shipped = fields.IntField(default=0, db_default=0)
    skipped_unpaid = fields.IntField(default=0, db_default=0)
    skipped_cancelled = fields.IntField(default=0, db_default=0)
    duplicates = fields.IntField(default=0, db_default=0)
    pushed = fields.IntField(default=0, db_default=0)
    dispatched = fields.IntField(default=0, db_default=0)
    failed = fields.IntField(default=0, db_default=0)
    # Of the failed: those due again later (a passing failure), and those waiting for a change
    # (credentials or data the channel refused).
    retrying = fields.IntField(default=0, db_default=0)
    waiting = fields.IntField(default=0, db_default=0)
    error = fields.TextField(null=True)
    # Closed by the scheduler (or the next run) because its worker died: outcome FAILED.
    abandoned = fields.BooleanField(default=False, db_default=False)
    # The token of the RunClaim the run works under.
    claim_token = fields.CharField(max_length=32, null=True)

    class Meta:
        table = "sync_run"
        ordering = ["-started_at"]


class RunClaim(Model):
    """The right to run a kind of work (download, stock push, dispatch) for a channel: one row per
    (channel, kind), held by one run at a time under a random token until lease_until. The holder
    renews the lease by a heartbeat and in every write transaction (fenced by its token); a lease
    that lapsed means its worker died, and the claim may be taken over."""

    id = fields.BigIntField(primary_key=True)
    channel = fields.ForeignKeyField("models.Channel", related_name="claims", on_delete=fields.CASCADE)
    kind = fields.CharEnumField(SyncKind, max_length=16)
    token = fields.CharField(max_length=32, null=True)
    lease_until = fields.DatetimeField(null=True)

    class Meta:
        table = "run_claim"
        unique_together = (("channel", "kind"),)


class SyncIssue(Model):
    """One order skipped or failed in a run, by its reference, and why."""

    id = fields.BigIntField(primary_key=True)
    run = fields.ForeignKeyField("models.SyncRun", related_name="issues", on_delete=fields.CASCADE, db_index=True)
    reference = fields.CharField(max_length=100, default="", db_default="")
    kind = fields.CharField(max_length=32)
    message = fields.CharField(max_length=1000)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "sync_issue"
        ordering = ["id"]


class FailedJob(Model):
    """A background job that exhausted its retries: kept with its error until retried."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    actor = fields.CharField(max_length=100)
    queue = fields.CharField(max_length=50)
    message_id = fields.CharField(max_length=64, unique=True)
    args = fields.JSONField(default=list)
    kwargs = fields.JSONField(default=dict)
    error = fields.TextField()
    channel = fields.ForeignKeyField(
        "models.Channel", related_name="failed_jobs", null=True, on_delete=fields.CASCADE, db_index=True
    )
    failed_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    retried_at = fields.DatetimeField(null=True)

    class Meta:
        table = "failed_job"
        ordering = ["-failed_at"]

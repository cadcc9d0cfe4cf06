"""Connections: the seller's configured accounts with partners of every kind (sales channels,
fulfilment centres...), and the automation log of the work done for them."""

from __future__ import annotations

import uuid
from enum import Enum

from tortoise import fields
from tortoise.models import Model


class ConnectionKind(str, Enum):
    """What a connection connects to (the kind of its connector)."""

    CHANNEL = "CHANNEL"
    FULFILMENT_CENTRE = "FULFILMENT_CENTRE"


class Connection(Model):
    """A configured account of a connector: a shop on a channel, a fulfilment centre's FTP
    account... Settings are validated by the connector's settings model; its secret settings are
    kept encrypted in secrets and never returned by the API.

    The periodic work of the connection (a channel's download, a centre's status and stock
    imports) runs every sync_interval_seconds: the scheduler claims it by moving next_run_at on.
    cursor is where the last download stopped (channels). The kind's own parts are in its
    one-to-one row (Channel) or on the locations it serves (fulfilment centres).
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    name = fields.CharField(max_length=100, unique=True)
    kind = fields.CharEnumField(ConnectionKind, max_length=20, db_index=True)
    connector = fields.CharField(max_length=50)
    settings = fields.JSONField(default=dict)
    secrets = fields.TextField(null=True)
    enabled = fields.BooleanField(default=True, db_default=True)
    sync_interval_seconds = fields.IntField(default=300, db_default=300)
    cursor = fields.CharField(max_length=500, null=True)
    last_run_at = fields.DatetimeField(null=True)
    # When the scheduler next sends the periodic work (claimed atomically: several schedulers send one).
    next_run_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "connection"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SyncKind(str, Enum):
    """What a run of a connection's work does (channels: download, stock push, dispatch,
    follow-up; fulfilment centres: export, status import, stock import)."""

    DOWNLOAD = "DOWNLOAD"
    STOCK_PUSH = "STOCK_PUSH"
    DISPATCH = "DISPATCH"
    FOLLOW_UP = "FOLLOW_UP"
    EXPORT = "EXPORT"
    STATUS_IMPORT = "STATUS_IMPORT"
    STOCK_IMPORT = "STOCK_IMPORT"


class SyncOutcome(str, Enum):
    """How a sync run ended (RUNNING while it runs)."""

    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    PARTIAL = "PARTIAL"
    FAILED = "FAILED"


class SyncRun(Model):
    """One run of a kind of a connection's work: the automation log."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    connection = fields.ForeignKeyField("models.Connection", related_name="runs", on_delete=fields.CASCADE, db_index=True)
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
    followed_up = fields.IntField(default=0, db_default=0)
    exported = fields.IntField(default=0, db_default=0)
    imported = fields.IntField(default=0, db_default=0)
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
    """The right to run a kind of work for a connection: one row per (connection, kind), held by one run at a time under a random token until lease_until. The holder
    renews the lease by a heartbeat and in every write transaction (fenced by its token); a lease
    that lapsed means its worker died, and the claim may be taken over."""

    id = fields.BigIntField(primary_key=True)
    connection = fields.ForeignKeyField("models.Connection", related_name="claims", on_delete=fields.CASCADE)
    kind = fields.CharEnumField(SyncKind, max_length=16)
    token = fields.CharField(max_length=32, null=True)
    lease_until = fields.DatetimeField(null=True)

    class Meta:
        table = "run_claim"
        unique_together = (("connection", "kind"),)


class SyncIssue(Model):
    """One order (or file row) skipped or failed in a run, by its reference, and why."""

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
    connection = fields.ForeignKeyField(
        "models.Connection", related_name="failed_jobs", null=True, on_delete=fields.CASCADE, db_index=True
    )
    failed_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    retried_at = fields.DatetimeField(null=True)

    class Meta:
        table = "failed_job"
        ordering = ["-failed_at"]


class ImportedReport(Model):
    """A report a fulfilment centre gave (a status or stock file, an answer), recorded by name and
    content hash when applied, so a report read again is never applied twice."""

    id = fields.BigIntField(primary_key=True)
    connection = fields.ForeignKeyField("models.Connection", related_name="imported_reports", on_delete=fields.CASCADE)
    kind = fields.CharEnumField(SyncKind, max_length=16)
    name = fields.CharField(max_length=255)
    content_hash = fields.CharField(max_length=64)
    run = fields.ForeignKeyField("models.SyncRun", related_name="reports", null=True, on_delete=fields.SET_NULL, db_index=True)
    imported_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "imported_report"
        unique_together = (("connection", "kind", "name", "content_hash"),)

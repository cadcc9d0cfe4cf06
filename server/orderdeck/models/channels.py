"""Channels: the channel part of a connection to a sales channel, and its listings."""

from __future__ import annotations

import uuid
from enum import Enum

from tortoise import fields
from tortoise.models import Model


class Channel(Model):
    """What a connection to a sales channel adds to the connection (models.Connection): where its
    orders download to, which locations' stock it offers, and how it reads the channel's statuses.

    One to one with its connection, under the same id. Orders download to download_location. The
    stock offered on the channel is the sum of what is available at its stock locations (none:
    nothing is pushed). Orders the channel fulfils itself (Amazon FBA) go to fulfilment_location
    (none: they are refused, each logged). Where the connector offers a follow-up on a sale (e.g. Amazon's review
    request), it is on since follow_up_since (null: off), follow_up_after_days after each dispatch
    sent from then on.
    """

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    connection = fields.OneToOneField("models.Connection", related_name="channel", on_delete=fields.CASCADE)
    source = fields.CharField(max_length=50)
    download_location = fields.ForeignKeyField(
        "models.Location", related_name="download_channels", on_delete=fields.RESTRICT, db_index=True
    )
    stock_locations = fields.ManyToManyField(
        "models.Location", related_name="stock_channels", through="channel_stock_location"
    )
    fulfilment_location = fields.ForeignKeyField(
        "models.Location", related_name="fulfilling_channels", on_delete=fields.RESTRICT, null=True, db_index=True
    )
    download_unpaid = fields.BooleanField(default=False, db_default=False)
    status_overrides = fields.JSONField(default=dict)
    follow_up_since = fields.DatetimeField(null=True)
    follow_up_after_days = fields.IntField(default=7, db_default=7)

    class Meta:
        table = "channel"


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

"""Channels: settings checked by the plugin, secrets encrypted and kept, locations, refusals, audit."""

from __future__ import annotations

import os
import stat
import uuid

import pytest

from tests.services.helpers import make_item, make_order, refused
from orderdeck import crypto, db
from orderdeck.config import Settings
from orderdeck.models import AuditEntry, AuditKind, Channel, Listing, Order, Connection
from orderdeck.services import channels, locations
from orderdeck.services.errors import ErrorCode

SHOP = {"url": "https://shop.example.com/", "consumer_key": "ck_live", "consumer_secret": "cs_top_secret"}


async def make_channel(actor, **fields) -> Channel:
    return await channels.create_channel({"name": "Web shop", "plugin": "woocommerce", "settings": SHOP, **fields}, actor)


async def test_a_channel_keeps_settings_and_only_an_encrypted_secret(default_location, actor):
    north = await locations.create_location("North", actor)
    channel = await make_channel(actor, stock_location_ids=[default_location.id, north.id])

    rows = await db.fetch("SELECT settings, secrets FROM connection", [])
    assert "cs_top_secret" not in str(rows[0])
    assert "consumer_secret" not in str(rows[0]["settings"])
    context = channels.channel_connection(await Connection.get(id=channel.id))[1]
    assert context.settings.consumer_secret.get_secret_value() == "cs_top_secret"
    assert context.settings.url == "https://shop.example.com"
    assert channel.source == "WOOCOMMERCE" and channel.download_location_id == default_location.id
    assert {loc.name for loc in await channel.stock_locations.all()} == {"Default", "North"}
    entry = await AuditEntry.get(kind=AuditKind.CHANNEL_CREATED)
    assert entry.after["secretsSet"] == ["consumer_secret"] and "cs_top_secret" not in str(entry.after)


async def test_an_update_merges_settings_and_keeps_secrets_left_out(default_location, actor):
    channel = await make_channel(actor)
    await channels.update_channel(channel.id, {"settings": {"requests_per_second": 2}, "download_unpaid": True}, actor)
    context = channels.channel_connection(await Connection.get(id=channel.id))[1]
    assert context.settings.requests_per_second == 2
    assert context.settings.consumer_secret.get_secret_value() == "cs_top_secret"

    await channels.update_channel(channel.id, {"settings": {"consumer_secret": "cs_rotated"}}, actor)
    context = channels.channel_connection(await Connection.get(id=channel.id))[1]
    assert context.settings.consumer_secret.get_secret_value() == "cs_rotated"
    updates = await AuditEntry.filter(kind=AuditKind.CHANNEL_UPDATED).order_by("id")
    assert updates[0].after == {"settings": {**updates[0].before["settings"], "requests_per_second": 2.0},
                                "downloadUnpaid": True}  # fmt: skip
    assert "cs_rotated" not in str(updates[1].after)


@pytest.mark.parametrize(
    ("data", "field", "code"),
    [
        ({"plugin": "etsy"}, "plugin", ErrorCode.NOT_FOUND),
        ({"settings": {**SHOP, "url": "not a url"}}, "settings.url", ErrorCode.INVALID),
        ({"settings": {"url": "https://shop.example.com"}}, "settings.consumerKey", ErrorCode.INVALID),
        ({"settings": {**SHOP, "colour": "red"}}, None, None),  # extra settings are ignored by the plugin
        ({"download_location_id": uuid.uuid4()}, "downloadLocationId", ErrorCode.NOT_FOUND),
        ({"stock_location_ids": [uuid.uuid4()]}, "stockLocationIds.0", ErrorCode.NOT_FOUND),
        ({"sync_interval_seconds": 5}, "syncIntervalSeconds", ErrorCode.INVALID),
        ({"name": "x" * 101}, "name", ErrorCode.INVALID),
        ({"status_overrides": {"on-hold": {"paid": "maybe"}}}, "statusOverrides.on-hold.paid", ErrorCode.INVALID),
    ],
)
async def test_bad_channel_settings_are_refused(default_location, actor, data, field, code):
    if field is None:
        assert (await Connection.get(id=(await make_channel(actor, **data)).id)).name == "Web shop"
        return
    async with refused(field, code):
        await make_channel(actor, **data)


async def test_names_are_unique(default_location, actor):
    await make_channel(actor)
    async with refused("name", ErrorCode.DUPLICATE):
        await make_channel(actor)


async def test_disable_enable_and_delete(default_location, actor):
    channel = await make_channel(actor)
    await make_item("A", actor)
    item = await make_item("B", actor)
    await Listing.create(channel_id=channel.id, stock_item_id=item.id, channel_sku="B-1")
    await channels.set_channel_enabled(channel.id, False, actor)
    await channels.set_channel_enabled(channel.id, True, actor)
    assert (await Connection.get(id=channel.id)).enabled

    order = await make_order(actor, ("A", 1))
    await Order.filter(id=order.id).update(channel_id=channel.id)
    async with refused("id", ErrorCode.IN_USE):
        await channels.delete_channel(channel.id, actor)

    await Order.filter(id=order.id).update(channel_id=None)
    await channels.delete_channel(channel.id, actor)
    assert not await Channel.exists() and not await Listing.exists()
    kinds = [e.kind for e in await AuditEntry.filter(subject_id=channel.id).order_by("id")]
    assert kinds == [AuditKind.CHANNEL_CREATED, AuditKind.CHANNEL_DISABLED, AuditKind.CHANNEL_ENABLED,
                     AuditKind.CHANNEL_DELETED]  # fmt: skip


async def test_without_a_key_on_postgres_secrets_are_refused(default_location, actor, monkeypatch):
    monkeypatch.setattr(crypto, "get_settings", lambda: Settings(database_url="postgres://db/x", secret_key=None))
    crypto._box.cache_clear()
    try:
        async with refused("settings", ErrorCode.INVALID) as info:
            await make_channel(actor)
        assert "ORDERDECK_SECRET_KEY" in info.value.errors[0].message
    finally:
        crypto._box.cache_clear()


def test_the_embedded_default_keeps_a_generated_key_beside_the_database(tmp_path, monkeypatch):
    url = f"sqlite://{tmp_path / 'shop.sqlite3'}"
    monkeypatch.setattr(crypto, "get_settings", lambda: Settings(database_url=url, secret_key=None))
    crypto._box.cache_clear()
    try:
        token = crypto.encrypt({"consumer_secret": "cs"})
        key = tmp_path / "shop.sqlite3.key"
        assert key.exists() and stat.S_IMODE(os.stat(key).st_mode) == 0o600
        crypto._box.cache_clear()
        assert crypto.decrypt(token) == {"consumer_secret": "cs"}
        key.write_text("x" * 44)
        crypto._box.cache_clear()
        with pytest.raises(crypto.SecretUnreadable):
            crypto.decrypt(token)
    finally:
        crypto._box.cache_clear()

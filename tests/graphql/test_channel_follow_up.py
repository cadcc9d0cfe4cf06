"""A channel's follow-up on a sale over GraphQL: offered or not by its connector, switched on and
off with setChannelFollowUp (refusals by field, changing nothing), and each order's dispatch
showing when it was followed up."""

from __future__ import annotations

import json
from pathlib import Path

from orderdeck.models import AuditEntry, AuditKind
from orderdeck.services import channels, follow_ups
from tests.graphql.test_channel_jobs import gid
from tests.services.test_follow_ups import entry, ship_all
from tests.services.helpers import make_item

SET = """mutation($id: ID!, $enabled: Boolean!, $afterDays: Int) {
  setChannelFollowUp(id: $id, enabled: $enabled, afterDays: $afterDays) {
    channel { followUp { offered enabled since afterDays } }
    errors { field code message }
  }
}"""
CHANNELS = "{ channels { name followUp { offered enabled afterDays } } }"
DISPATCHES = "{ orders(first: 10) { nodes { reference dispatch { followedUpAt followUpError } } } }"


async def test_a_seller_switches_the_follow_up_and_sees_each_order_followed_up(client, tmp_path: Path, shop_a,
                                                                               default_location, actor):  # fmt: skip
    orders_file = tmp_path / "orders.json"
    orders_file.write_text(json.dumps([entry("S-1"), entry("S-2")]))
    await make_item("MUG", actor, level=10, location_id=default_location.id)
    sample = await channels.create_channel({"name": "Sample shop", "plugin": "sample", "download_location_id": default_location.id,
                                            "settings": {"orders_file": str(orders_file), "api_key": "sk_1"}}, actor)  # fmt: skip
    woo = await channels.create_channel({"name": "Woo", "plugin": "woocommerce", "download_location_id": default_location.id,
                                         "settings": {"url": shop_a.url, "consumer_key": "ck", "consumer_secret": "cs"}}, actor)  # fmt: skip
    listed = {c["name"]: c["followUp"] for c in (await client.gql(CHANNELS))["channels"]}
    assert listed == {"Sample shop": {"offered": True, "enabled": False, "afterDays": 7},
                      "Woo": {"offered": False, "enabled": False, "afterDays": 7}}  # fmt: skip

    refused = (await client.gql(SET, {"id": gid("Channel", woo.id), "enabled": True}))["setChannelFollowUp"]
    assert refused["channel"] is None
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("enabled", "INVALID_TRANSITION")]
    bad = (await client.gql(SET, {"id": gid("Channel", sample.id), "enabled": True, "afterDays": 61}))["setChannelFollowUp"]
    assert [(e["field"], e["code"]) for e in bad["errors"]] == [("afterDays", "INVALID")]
    assert await AuditEntry.filter(kind=AuditKind.CHANNEL_FOLLOW_UP_SET).count() == 0

    on = (await client.gql(SET, {"id": gid("Channel", sample.id), "enabled": True, "afterDays": 0}))["setChannelFollowUp"]
    assert on["errors"] == [] and on["channel"]["followUp"]["enabled"] and on["channel"]["followUp"]["since"]
    assert on["channel"]["followUp"]["afterDays"] == 0
    await ship_all(sample, actor)
    orders_file.with_suffix(".follow_ups.json").write_text(json.dumps({"S-2": "earlier"}))
    await follow_ups.follow_up(sample.id)
    shown = {o["reference"]: o["dispatch"] for o in (await client.gql(DISPATCHES))["orders"]["nodes"]}
    assert shown["S-1"]["followedUpAt"] and shown["S-1"]["followUpError"] is None
    assert shown["S-2"]["followedUpAt"] and shown["S-2"]["followUpError"] == "order S-2 was already asked"

    off = (await client.gql(SET, {"id": gid("Channel", sample.id), "enabled": False}))["setChannelFollowUp"]
    assert off["channel"]["followUp"] == {"offered": True, "enabled": False, "since": None, "afterDays": 0}
    assert await AuditEntry.filter(kind=AuditKind.CHANNEL_FOLLOW_UP_SET).count() == 2

"""Channels over GraphQL: plugins, channels with secrets that never come back, listings, sync runs,
refusals, permissions, and a constant number of SQL statements for nested lists."""

from __future__ import annotations

import uuid

from orderdeck.graphql.common import encode_id
from orderdeck.models import Channel, Listing, Order, Role, SyncIssue, SyncKind, SyncOutcome, SyncRun, Connection
from orderdeck.services import auth, channels, locations
from orderdeck.services.context import Actor
from tests.services.helpers import assert_unchanged_by, db_state, make_item, make_order

SHOP = {"url": "https://shop.example.com/", "consumer_key": "ck_live", "consumer_secret": "cs_top_secret"}
ERRORS = "errors { field code message }"
CHANNEL = ("id name plugin source enabled settings secretsSet downloadUnpaid statusOverrides syncIntervalSeconds "
           "lastDownloadAt createdAt downloadLocation { name } stockLocations { name }")  # fmt: skip
CREATE = f"mutation($input: CreateChannelInput!) {{ createChannel(input: $input) {{ channel {{ {CHANNEL} }} {ERRORS} }} }}"
UPDATE = f"""mutation($id: ID!, $input: UpdateChannelInput!) {{
  updateChannel(id: $id, input: $input) {{ channel {{ {CHANNEL} }} {ERRORS} }} }}"""
ONE = f"query($id: ID!) {{ channel(id: $id) {{ {CHANNEL} }} }}"
DELETE = f"mutation($id: ID!) {{ deleteChannel(id: $id) {{ deletedId {ERRORS} }} }}"
LISTING = ("id channelSku channelReference maxListedQuantity endWhenStockAt ignoreSync pushDue lastSubmittedQuantity "
           "submitStatus submitError channel { name } stockItem { sku }")  # fmt: skip
LINK = f"mutation($input: LinkListingInput!) {{ linkListing(input: $input) {{ listing {{ {LISTING} }} {ERRORS} }} }}"
UPDATE_LISTING = f"""mutation($id: ID!, $input: UpdateListingInput!) {{
  updateListing(id: $id, input: $input) {{ listing {{ {LISTING} }} {ERRORS} }} }}"""
UNLINK = f"mutation($id: ID!) {{ unlinkListing(id: $id) {{ deletedId {ERRORS} }} }}"
LISTINGS = """query($filter: ListingFilter, $first: Int, $after: String) {
  listings(filter: $filter, first: $first, after: $after) {
    totalCount pageInfo { hasNextPage endCursor } nodes { channelSku stockItem { sku } channel { name } } } }"""


def web_shop(**fields) -> dict:
    return {"name": "Web shop", "plugin": "woocommerce", "settings": SHOP, **fields}


async def create(client, **fields) -> tuple[dict, str]:
    """(payload, raw response text) of createChannel."""
    response = await client.post(CREATE, {"input": web_shop(**fields)})
    assert response.status_code == 200 and "errors" not in response.json(), response.text
    return response.json()["data"]["createChannel"], response.text


async def refused(client, query: str, variables: dict, field: str | None, code: str) -> dict:
    """Run a mutation that must be refused with (field, code) and change nothing; return its payload."""
    before = await db_state()
    data = await client.gql(query, variables)
    (payload,) = data.values()
    assert (field, code) in [(e["field"], e["code"]) for e in payload["errors"]], payload["errors"]
    await assert_unchanged_by(before)
    return payload


async def test_a_channel_is_created_and_read_back_without_its_secret(client, default_location, actor):
    north = await locations.create_location("North", actor)
    payload, raw = await create(
        client, stockLocationIds=[encode_id("Location", north.id), encode_id("Location", default_location.id)],
        statusOverrides={"on-hold": {"paid": True}}, syncIntervalSeconds=600,
    )  # fmt: skip
    assert payload["errors"] == []
    channel = await Channel.get(connection__name="Web shop")
    created = payload["channel"]
    assert created["id"] == encode_id("Channel", channel.id)
    assert created["settings"] == {"url": "https://shop.example.com", "consumer_key": "ck_live",
                                   "trusted_certificate": None, "requests_per_second": 5.0, "timeout_seconds": 20.0}  # fmt: skip
    assert created["secretsSet"] == ["consumer_secret"]
    assert (created["plugin"], created["source"], created["enabled"]) == ("woocommerce", "WOOCOMMERCE", True)
    assert created["downloadLocation"] == {"name": "Default"}
    assert created["stockLocations"] == [{"name": "Default"}, {"name": "North"}]
    assert created["statusOverrides"] == {"on-hold": {"paid": True, "shipped": False, "cancelled": False}}
    assert created["syncIntervalSeconds"] == 600 and created["lastDownloadAt"] is None

    texts = [raw]
    for query, variables in [
        (ONE, {"id": created["id"]}),
        (f"{{ channels {{ {CHANNEL} }} }}", {}),
        ("query($id: ID!) { node(id: $id) { ... on Channel { name settings secretsSet } } }", {"id": created["id"]}),
    ]:
        response = await client.post(query, variables)
        assert response.status_code == 200 and "errors" not in response.json(), response.text
        texts.append(response.text)
    assert all("cs_top_secret" not in text for text in texts)
    assert (await client.gql(ONE, {"id": created["id"]}))["channel"] == created
    assert (await client.gql(ONE, {"id": encode_id("Channel", uuid.uuid4())}))["channel"] is None


async def test_an_update_merges_settings_and_keeps_the_secret(client, default_location):
    created, _ = await create(client)
    gid = created["channel"]["id"]
    response = await client.post(UPDATE, {"id": gid, "input": {"settings": {"requests_per_second": 2},
                                                               "downloadUnpaid": True}})  # fmt: skip
    assert "cs_top_secret" not in response.text
    updated = response.json()["data"]["updateChannel"]
    assert updated["errors"] == []
    assert updated["channel"]["settings"]["requests_per_second"] == 2
    assert updated["channel"]["settings"]["consumer_key"] == "ck_live"
    assert updated["channel"]["secretsSet"] == ["consumer_secret"] and updated["channel"]["downloadUnpaid"]
    context = channels.channel_connection(await Connection.get(name="Web shop"))[1]
    assert context.settings.consumer_secret.get_secret_value() == "cs_top_secret"

    disabled = await client.gql(f"mutation($id: ID!) {{ disableChannel(id: $id) {{ channel {{ enabled }} {ERRORS} }} }}",
                                {"id": gid})  # fmt: skip
    assert disabled["disableChannel"] == {"channel": {"enabled": False}, "errors": []}
    enabled = await client.gql(f"mutation($id: ID!) {{ enableChannel(id: $id) {{ channel {{ enabled }} {ERRORS} }} }}",
                               {"id": gid})  # fmt: skip
    assert enabled["enableChannel"] == {"channel": {"enabled": True}, "errors": []}


async def test_bad_settings_and_unknown_plugins_are_refused_and_write_nothing(client, default_location):
    bad_url = {"input": web_shop(settings={**SHOP, "url": "not a url"})}
    await refused(client, CREATE, bad_url, "settings.url", "INVALID")
    no_key = {"input": web_shop(settings={"url": "https://shop.example.com", "consumer_secret": "x"})}
    payload = await refused(client, CREATE, no_key, "settings.consumerKey", "INVALID")
    assert payload["channel"] is None
    await refused(client, CREATE, {"input": web_shop(plugin="nonesuch")}, "plugin", "NOT_FOUND")

    created, _ = await create(client)
    gid = created["channel"]["id"]
    await refused(client, UPDATE, {"id": gid, "input": {"settings": {"url": "ftp://x"}}}, "settings.url", "INVALID")
    await refused(client, UPDATE, {"id": gid, "input": {"stockLocationIds": ["garbage"]}}, "stockLocationIds.0",
                  "INVALID")  # fmt: skip
    await refused(client, UPDATE, {"id": encode_id("Channel", uuid.uuid4()), "input": {"name": "x"}}, "id",
                  "NOT_FOUND")  # fmt: skip


async def test_a_channel_with_orders_cannot_be_deleted(client, default_location, actor):
    created, _ = await create(client)
    gid = created["channel"]["id"]
    channel = await Channel.get(connection__name="Web shop")
    await make_item("MUG", actor, 5, default_location.id)
    order = await make_order(actor, ("MUG", 1))
    await Order.filter(id=order.id).update(channel_id=channel.id)
    await refused(client, DELETE, {"id": gid}, "id", "IN_USE")

    await Order.filter(id=order.id).update(channel_id=None)
    deleted = await client.gql(DELETE, {"id": gid})
    assert deleted["deleteChannel"] == {"deletedId": gid, "errors": []}
    assert not await Channel.exists(id=channel.id)


async def test_channel_plugins_describe_their_settings_and_mark_secrets(client, default_location):
    data = await client.gql("{ channelPlugins { name title kind source settingsSchema } }")
    (woo,) = [p for p in data["channelPlugins"] if p["name"] == "woocommerce"]
    assert (woo["title"], woo["kind"], woo["source"]) == ("WooCommerce", "CHANNEL", "WOOCOMMERCE")
    properties = woo["settingsSchema"]["properties"]
    assert properties["consumer_secret"]["format"] == "password"
    assert properties["consumer_secret"]["writeOnly"] is True
    assert "format" not in properties["consumer_key"]
    assert set(woo["settingsSchema"]["required"]) >= {"url", "consumer_key", "consumer_secret"}


async def test_listings_are_linked_listed_updated_and_unlinked(client, default_location, actor):
    shop, _ = await create(client)
    market, _ = await create(client, name="Market")
    shop_id, market_id = shop["channel"]["id"], market["channel"]["id"]
    await make_item("MUG", actor)
    await make_item("CAP", actor)
    for channel_id, channel_sku, sku in [(shop_id, "W-MUG", "MUG"), (shop_id, "W-CAP", "CAP"), (market_id, "W-MUG", "MUG")]:
        linked = await client.gql(LINK, {"input": {"channelId": channel_id, "channelSku": channel_sku, "sku": sku}})
        assert linked["linkListing"]["errors"] == []
    listing = linked["linkListing"]["listing"]
    assert listing["channel"] == {"name": "Market"} and listing["stockItem"] == {"sku": "MUG"}
    assert listing["pushDue"] is True and listing["submitStatus"] == "NEVER" and listing["maxListedQuantity"] is None

    duplicate = {"input": {"channelId": shop_id, "channelSku": "W-MUG", "sku": "CAP"}}
    await refused(client, LINK, duplicate, "channelSku", "DUPLICATE")
    await refused(client, LINK, {"input": {"channelId": shop_id, "channelSku": "X", "sku": "NOPE"}}, "sku", "NOT_FOUND")

    def names(data: dict) -> list[tuple[str, str, str]]:
        return sorted((n["channel"]["name"], n["channelSku"], n["stockItem"]["sku"]) for n in data["listings"]["nodes"])

    everything = await client.gql(LISTINGS)
    assert everything["listings"]["totalCount"] == 3
    assert names(await client.gql(LISTINGS, {"filter": {"channelId": shop_id}})) == [
        ("Web shop", "W-CAP", "CAP"), ("Web shop", "W-MUG", "MUG")]  # fmt: skip
    assert names(await client.gql(LISTINGS, {"filter": {"sku": "MUG"}})) == [
        ("Market", "W-MUG", "MUG"), ("Web shop", "W-MUG", "MUG")]  # fmt: skip
    assert names(await client.gql(LISTINGS, {"filter": {"channelSku": "W-CAP", "pushDue": True}})) == [
        ("Web shop", "W-CAP", "CAP")]  # fmt: skip
    assert names(await client.gql(LISTINGS, {"filter": {"pushDue": False}})) == []

    seen: list[tuple[str, str, str]] = []
    after = None
    while True:  # two listings share a channel SKU: paging by id still sees each once
        page = await client.gql(LISTINGS, {"first": 1, "after": after})
        seen += names(page)
        if not page["listings"]["pageInfo"]["hasNextPage"]:
            break
        after = page["listings"]["pageInfo"]["endCursor"]
    assert sorted(seen) == names(everything)

    gid = listing["id"]
    await Listing.filter(id=(await Listing.get(channel__connection__name="Market")).id).update(push_due=False)
    updated = await client.gql(UPDATE_LISTING, {"id": gid, "input": {"maxListedQuantity": 5, "ignoreSync": True}})
    assert updated["updateListing"]["errors"] == []
    changed = updated["updateListing"]["listing"]
    assert (changed["maxListedQuantity"], changed["ignoreSync"], changed["pushDue"]) == (5, True, True)
    cleared = await client.gql(UPDATE_LISTING, {"id": gid, "input": {"maxListedQuantity": None}})
    assert cleared["updateListing"]["listing"]["maxListedQuantity"] is None
    await refused(client, UPDATE_LISTING, {"id": gid, "input": {"ignoreSync": None}}, "ignoreSync", "INVALID")

    unlinked = await client.gql(UNLINK, {"id": gid})
    assert unlinked["unlinkListing"] == {"deletedId": gid, "errors": []}
    assert await Listing.filter(channel__connection__name="Market").count() == 0
    await refused(client, UNLINK, {"id": gid}, "id", "NOT_FOUND")


async def test_sync_runs_are_listed_newest_first_with_their_issues(client, default_location, actor):
    created, _ = await create(client)
    channel = await Channel.get(connection__name="Web shop")
    old = await SyncRun.create(connection_id=channel.id, kind=SyncKind.DOWNLOAD, outcome=SyncOutcome.SUCCEEDED, downloaded=3)
    new = await SyncRun.create(connection_id=channel.id, kind=SyncKind.STOCK_PUSH, outcome=SyncOutcome.PARTIAL, pushed=2, failed=1)
    await SyncRun.filter(id=old.id).update(started_at=new.started_at.replace(year=2020))
    await SyncIssue.create(run=new, reference="1001", kind="FAILED", message="SKU unknown")
    query = """query($filter: SyncRunFilter) { syncRuns(filter: $filter) { nodes {
      kind outcome downloaded pushed failed channel { name } issues { reference kind message } } } }"""
    runs = (await client.gql(query))["syncRuns"]["nodes"]
    assert [(r["kind"], r["outcome"]) for r in runs] == [("STOCK_PUSH", "PARTIAL"), ("DOWNLOAD", "SUCCEEDED")]
    assert runs[0]["issues"] == [{"reference": "1001", "kind": "FAILED", "message": "SKU unknown"}]
    assert runs[1]["downloaded"] == 3 and runs[1]["channel"] == {"name": "Web shop"}
    only = await client.gql(query, {"filter": {"channelId": created["channel"]["id"], "kind": "DOWNLOAD"}})
    assert [r["kind"] for r in only["syncRuns"]["nodes"]] == ["DOWNLOAD"]
    assert (await client.gql(query, {"filter": {"outcome": "FAILED"}}))["syncRuns"]["nodes"] == []
    nested = await client.gql(ONE.replace("stockLocations { name }", "runs(limit: 1) { kind }"),
                              {"id": created["channel"]["id"]})  # fmt: skip
    assert nested["channel"]["runs"] == [{"kind": "STOCK_PUSH"}]


async def test_only_tokens_that_manage_channels_may_change_them(client, default_location):
    _, operator = await auth.create_token("operator", Actor.system(), Role.OPERATOR)
    response = await client.post(CREATE, {"input": web_shop()}, token=operator)
    body = response.json()
    assert body["data"] is None or body["data"]["createChannel"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert not await Channel.exists()
    assert (await client.gql("{ channels { name } }", token=operator))["channels"] == []


async def test_nested_channel_lists_cost_the_same_for_3_or_40_channels(client, default_location, actor, count_queries):
    north = await locations.create_location("North", actor)
    mug = await make_item("MUG", actor)
    query = """{ channels { name downloadLocation { name } stockLocations { name }
      listings(limit: 2) { channelSku stockItem { sku } } runs(limit: 2) { kind issues { message } } } }"""

    async def add_channels(count: int) -> None:
        start = await Channel.all().count()
        for n in range(start, start + count):
            channel = await channels.create_channel(
                {"name": f"Shop {n:02}", "plugin": "woocommerce", "settings": SHOP,
                 "stock_location_ids": [default_location.id, north.id]}, actor)  # fmt: skip
            for sku in ("A", "B", "C"):
                await Listing.create(channel=channel, stock_item=mug, channel_sku=f"{sku}{n}")
            for kind in (SyncKind.DOWNLOAD, SyncKind.STOCK_PUSH, SyncKind.DISPATCH):
                run = await SyncRun.create(connection_id=channel.id, kind=kind)
                await SyncIssue.create(run=run, reference=str(n), kind="SKIPPED", message="unpaid")

    async def cost() -> tuple[int, list]:
        with count_queries() as counter:
            data = await client.gql(query)
        return counter.count, data["channels"]

    await add_channels(3)
    few, three = await cost()
    assert len(three) == 3 and all(len(c["listings"]) == 2 and len(c["runs"]) == 2 for c in three)
    assert three[0]["stockLocations"] == [{"name": "Default"}, {"name": "North"}]
    assert three[0]["runs"][0]["issues"] == [{"message": "unpaid"}]
    await add_channels(37)
    many, forty = await cost()
    assert len(forty) == 40 and all(len(c["listings"]) == 2 and len(c["runs"]) == 2 for c in forty)
    assert many == few, (few, many)

"""Unexpected failures are masked for the client and logged once; client mistakes are only answered."""

import base64
import json
import logging
import uuid

import pytest

from orderdeck import models
from orderdeck.graphql.common import encode_id
from tests.graphql.test_orders_support import CREATE_ORDER
from tests.services.helpers import assert_unchanged_by, db_state


async def test_an_unexpected_error_is_masked_and_logged(client, monkeypatch, caplog):
    def broken(*args, **kwargs):
        raise RuntimeError("internal detail: password=hunter2")

    monkeypatch.setattr(models.Location, "all", broken)
    with caplog.at_level(logging.ERROR, logger="orderdeck.graphql"):
        body = (await client.post("{ locations { name } }")).json()
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "hunter2" not in str(body)
    logged = [r for r in caplog.records if r.name == "orderdeck.graphql"]
    assert len(logged) == 1 and "hunter2" in str(logged[0].exc_info[1])


async def test_client_mistakes_are_answered_but_not_logged(client, caplog):
    with caplog.at_level(logging.DEBUG):
        bad_id = (await client.post('{ location(id: "nonsense") { name } }')).json()
        bad_query = (await client.post("{ locations { nosuchfield } }")).json()
        bad_page = (await client.post("{ stockItems(first: 1000) { totalCount } }")).json()
    assert "not a valid Location id" in bad_id["errors"][0]["message"]
    assert "nosuchfield" in bad_query["errors"][0]["message"]
    assert "between 0 and 100" in bad_page["errors"][0]["message"]
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]


NUL_ERROR = "Text must not contain NUL characters (\\u0000)"


async def test_nul_characters_are_refused_before_anything_runs(client, default_location, caplog):
    """PostgreSQL cannot store NUL: a literal, a variable or an input holding one is a clear GraphQL error."""
    before = await db_state()
    with caplog.at_level(logging.DEBUG):
        bodies = [
            (await client.post('{ searchOrders(query: "a\\u0000") { __typename } }')).json(),
            (await client.post("query($q: String!) { searchOrders(query: $q) { __typename } }", {"q": "a\x00"})).json(),
            (await client.post(CREATE_ORDER, {"input": {"items": [{"sku": "MUG", "quantity": 1}],
                                                         "notes": [{"text": "fine"}, {"text": "bad\x00"}]}})).json(),
            (await client.post('mutation { createLocation(name: "North\\u0000") { errors { field } } }')).json(),
        ]  # fmt: skip
    for body in bodies:
        assert body == {"data": None, "errors": [{"message": NUL_ERROR}]}
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    await assert_unchanged_by(before)
    # NUL is refused, other control characters pass.
    assert (await client.gql('{ searchOrders(query: "a\\u0001") { __typename } }'))["searchOrders"] == []


@pytest.mark.parametrize(
    ("where", "argument"),
    [({"receivedFrom": "9999-12-31T23:00:00-05:00"}, "filter.receivedFrom"),
     ({"processedTo": "0001-01-01T00:00:00+01:00"}, "filter.processedTo")],
)  # fmt: skip
async def test_dates_beyond_the_calendar_in_utc_are_errors(client, default_location, where, argument):
    body = (await client.post("query($f: OrderFilter) { orders(filter: $f) { totalCount } }", {"f": where})).json()
    assert body["data"] is None
    assert body["errors"][0]["message"].startswith(f"{argument}: "), body
    assert "out of range" in body["errors"][0]["message"]


def cursor(*values: object) -> str:
    return base64.b64encode(json.dumps(list(values)).encode()).decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("orders", cursor("x")),  # a text cursor on the integer order number
        ("orders", cursor(2**63)),  # beyond a 64-bit integer
        ("orders", cursor(-(2**63) - 1)),
        ("orders", cursor(True)),
        ("orders", cursor(1.5)),
        ("orders", cursor(1, 2)),
        ("stockItems", cursor(1)),  # an integer cursor on the SKU
        ("stockItems", cursor("A\x00")),
        ("auditTrail", cursor("1")),
        ("stockLedger", cursor(2**64)),
    ],
)
async def test_cursors_must_fit_the_key_they_page_by(client, default_location, field, value):
    for argument in ("after", "before"):
        query = f"query($c: String) {{ {field}({argument}: $c) {{ totalCount }} }}"
        body = (await client.post(query, {"c": value})).json()
        assert body["data"] is None
        assert [(e["message"], e["path"]) for e in body["errors"]] == [
            (f"Argument '{argument}' is not a valid cursor", [field])
        ]


async def test_cursors_at_the_ends_of_the_key_range_are_valid(client, default_location):
    for value in (2**63 - 1, -(2**63)):
        data = await client.gql("query($c: String) { orders(after: $c) { totalCount } }", {"c": cursor(value)})
        assert data["orders"]["totalCount"] == 0


@pytest.mark.parametrize("raw", ["xyz", "", "12", "00000000-0000-0000-0000-00000000000g"])
async def test_node_with_a_malformed_uuid_is_an_error(client, default_location, raw):
    global_id = encode_id("Order", raw)
    body = (await client.post("query($id: ID!) { node(id: $id) { id } }", {"id": global_id})).json()
    assert body["data"] == {"node": None}
    assert [e["message"] for e in body["errors"]] == [f"id: {global_id!r} is not a valid Order id"]


async def test_node_of_an_unknown_type_or_a_missing_object_is_null(client, default_location):
    for global_id in (encode_id("Nothing", "xyz"), encode_id("Order", uuid.uuid4())):
        assert (await client.gql("query($id: ID!) { node(id: $id) { id } }", {"id": global_id}))["node"] is None
    location = encode_id("Location", default_location.id)
    assert (await client.gql("query($id: ID!) { node(id: $id) { id } }", {"id": location}))["node"] == {"id": location}

"""Unexpected failures are masked for the client and logged once; client mistakes are only answered."""

import logging

from orderdeck import models


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

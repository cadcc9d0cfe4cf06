"""The README's five-minute tour runs as written."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def tour_documents() -> list[str]:
    """The GraphQL documents of the README's tour, in order."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## A five-minute tour", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^gql '(.+)'$", section, re.M)


async def test_the_readme_tour_works(client):
    """Each tour step runs; ids the README asks to paste come from the steps before."""
    ids: dict[str, str] = {}
    documents = tour_documents()
    assert len(documents) >= 8
    for n, document in enumerate(documents):
        for placeholder, value in ids.items():
            document = document.replace(placeholder, value)
        body = (await client.post(document)).json()
        assert "errors" not in body, (document, body)
        data = body["data"]
        if "locations" in data:
            ids["LOCATION_ID"] = next(loc["id"] for loc in data["locations"] if loc["isDefault"])
        if "createOrder" in data and data["createOrder"]["order"]:
            ids["ORDER_ID"] = data["createOrder"]["order"]["id"]
        payload_errors = [e for v in data.values() if isinstance(v, dict) for e in v.get("errors", [])]
        if n == len(documents) - 1:
            assert {e["field"] for e in payload_errors} == {"items.0.sku"}, payload_errors
        else:
            assert payload_errors == [], (document, payload_errors)
    assert {"LOCATION_ID", "ORDER_ID"} <= set(ids)

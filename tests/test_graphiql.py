"""GraphiQL works with no internet: the page and every asset it loads come from orderdeck itself."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
from urllib.parse import urljoin, urlsplit

import httpx

from orderdeck.app import GRAPHIQL, create_app
from orderdeck.config import Settings
from tests.support import CHROMIUM, CHROMIUM_ARGS, free_port, require_chromium, start_server, stop

TOKEN = re.compile(r"\bod_[A-Za-z0-9_-]{20,}\b")

ASSET = re.compile(r'(?:src|href)="([^"]+)"\s+integrity="(sha384-[^"]+)"')


async def test_the_graphiql_page_loads_its_assets_from_orderdeck_itself(tmp_path):
    app = create_app(Settings(database_url=f"sqlite://{tmp_path / 'unused.sqlite3'}"))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://orderdeck.test") as http:
        page = await http.get("/graphql", headers={"Accept": "text/html"})
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        html = page.text
        assert "GraphiQL.createFetcher" in html
        assert not re.search(r"(?:https?:)?//[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+", html), "no external host"
        references = re.findall(r'(?:src|href)="([^"]+)"', html)
        assets = dict(ASSET.findall(html))
        assert set(references) == set(assets), "every asset is pinned by its hash"
        assert {urljoin("/graphql", ref).removeprefix("/graphiql/") for ref in assets} == {
            path.name for path in GRAPHIQL.iterdir() if path.suffix in (".js", ".css")
        }, "the page loads every shipped asset, and only those"
        for reference, integrity in assets.items():
            asset = await http.get(urljoin("/graphql", reference))
            assert asset.status_code == 200, reference
            digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
            assert integrity == f"sha384-{digest}", reference
            assert b"unpkg.com" not in asset.content, reference


def test_graphiql_runs_a_query_in_a_browser_cut_off_from_the_internet(tmp_path):
    require_chromium()
    from playwright.sync_api import expect, sync_playwright

    env = {**os.environ, "ORDERDECK_DATABASE_URL": f"sqlite://{tmp_path / 'orderdeck.sqlite3'}"}
    server = start_server(env, tmp_path, free_port())
    elsewhere: list[str] = []
    try:
        [token] = TOKEN.findall(server.log.read_text())
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page.on("request", lambda r: elsewhere.append(r.url)
                        if urlsplit(r.url).netloc != urlsplit(server.url).netloc and not r.url.startswith(("data:", "blob:"))
                        else None)  # fmt: skip
                page.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/]).*"), lambda route: route.abort())  # no internet
                headers = json.dumps(json.dumps({"Authorization": f"Bearer {token}"}))
                page.add_init_script(f"localStorage.setItem('graphiql:headers', {headers})")
                page.goto(f"{server.url}/graphql")
                page.locator(".graphiql-execute-button").click(timeout=20_000)
                expect(page.locator(".graphiql-response")).to_contain_text('"name": "admin"', timeout=20_000)
            finally:
                browser.close()
    finally:
        stop(server)
    assert elsewhere == [], f"requests to other hosts: {elsewhere}"

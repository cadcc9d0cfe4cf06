"""GraphQL test fixtures (registered for the whole suite by tests/conftest.py): the app over ASGI (no network), a token, a query helper, a query counter."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from orderdeck.app import create_app
from orderdeck.config import Settings
from orderdeck.models import Role
from orderdeck.services import auth
from orderdeck.services.context import Actor


class GraphQLClient:
    """Posts GraphQL to the app with a bearer token; ``gql`` asserts there were no GraphQL errors."""

    def __init__(self, http: httpx.AsyncClient, token: str) -> None:
        self.http = http
        self.token = token

    async def post(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}"}
        return await self.http.post("/graphql", json={"query": query, "variables": variables or {}}, headers=headers)

    async def gql(self, query: str, variables: dict[str, Any] | None = None, token: str | None = None) -> dict[str, Any]:
        """The ``data`` of a successful query (fails the test on HTTP or GraphQL errors)."""
        response = await self.post(query, variables, token)
        assert response.status_code == 200, response.text
        body = response.json()
        assert "errors" not in body, body["errors"]
        return body["data"]


@pytest.fixture
async def app(database: str):
    """The ASGI app on the test database (the database is opened by the session fixture)."""
    return create_app(Settings(database_url="sqlite://unused", cors_origins=["http://spa.example"]))


@pytest.fixture
async def admin_token(default_location) -> str:
    _, secret = await auth.create_token("test-admin", Actor.system(), Role.ADMIN)
    return secret


@pytest.fixture
async def client(app, admin_token: str) -> AsyncIterator[GraphQLClient]:
    """A GraphQL client authenticated as an admin token named test-admin."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http, admin_token)


class QueryCounter(logging.Handler):
    """Counts SQL statements Tortoise sends (it logs each one at DEBUG on tortoise.db_client)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.statements.append(record.getMessage())

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries():
    """A context manager yielding a QueryCounter of the SQL sent inside it."""
    from contextlib import contextmanager

    @contextmanager
    def counting():
        logger = logging.getLogger("tortoise.db_client")
        counter = QueryCounter()
        old_level = logger.level
        logger.setLevel(logging.DEBUG)
        logger.addHandler(counter)
        try:
            yield counter
        finally:
            logger.removeHandler(counter)
            logger.setLevel(old_level)

    return counting

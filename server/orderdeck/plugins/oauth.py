"""OAuth 2 access tokens for partner APIs that hand out short-lived tokens for a long-lived
credential (a refresh token): eBay, Amazon's Login with Amazon, ...

    async def fetch() -> AccessToken:         # the plugin's call of its partner's token endpoint
        answer = ...                          # raise PartnerAuthError when the credential is refused
        return AccessToken.lasting(answer["access_token"], answer["expires_in"])

    auth = RefreshingTokenAuth(token_key(connection.connection_id, client_id, refresh_token), fetch)
    http = PartnerHttp(base_url, auth=auth)   # every request carries "Authorization: Bearer <token>"

- The token is cached per key (``token_key``: the connection and a hash of the credentials, so a
  changed credential never gets an old token) in this process, shared by every client of the key,
  and used until ``margin`` seconds before it expires; then a new one is fetched.
- An answer that says the token was refused (``refused(response)``; default: HTTP 401) drops
  the cached token, fetches a new one and sends the request once more. A second refusal is the
  answer (PartnerHttp raises PartnerAuthError for it).
- Two requests that find no token at the same moment may both fetch one: both tokens are valid,
  the later one is kept.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncGenerator, Awaitable, Callable, Generator
from dataclasses import dataclass

import httpx


@dataclass(frozen=True)
class AccessToken:
    """An access token and when it expires (seconds since the epoch)."""

    value: str
    expires_at: float

    @classmethod
    def lasting(cls, value: str, expires_in: float) -> AccessToken:
        """A token valid for ``expires_in`` seconds from now."""
        return cls(value, time.time() + expires_in)

    def fresh(self, margin: float) -> bool:
        """Whether the token is still good for at least ``margin`` seconds."""
        return time.time() < self.expires_at - margin


class TokenCache:
    """Access tokens by key (one per connection and credential), in this process."""

    def __init__(self) -> None:
        self._tokens: dict[str, AccessToken] = {}

    def get(self, key: str, margin: float) -> AccessToken | None:
        """The key's token if it is good for ``margin`` more seconds."""
        token = self._tokens.get(key)
        return token if token is not None and token.fresh(margin) else None

    def put(self, key: str, token: AccessToken) -> None:
        self._tokens[key] = token

    def drop(self, key: str, token: AccessToken | None = None) -> None:
        """Forget the key's token (only if it is still ``token``, when given: a token fetched
        meanwhile by another request stays)."""
        if token is None or self._tokens.get(key) == token:
            self._tokens.pop(key, None)

    def clear(self) -> None:
        self._tokens.clear()


TOKENS = TokenCache()
"""The process's token cache, which every RefreshingTokenAuth uses unless given another."""


def token_key(connection_id: str, *credentials: str) -> str:
    """A cache key for a connection's token: its id and a hash of the credentials that get it."""
    digest = hashlib.sha256("\x00".join(credentials).encode()).hexdigest()[:24]
    return f"{connection_id}:{digest}"


def _unauthorised(response: httpx.Response) -> bool:
    return response.status_code == 401


class RefreshingTokenAuth(httpx.Auth):
    """httpx authentication with a cached access token, refreshed before it expires and once
    when the partner refuses it (see the module docstring). Async clients only."""

    def __init__(
        self,
        key: str,
        fetch: Callable[[], Awaitable[AccessToken]],
        *,
        cache: TokenCache = TOKENS,
        margin: float = 120.0,
        header: str = "Authorization",
        scheme: str = "Bearer",
        refused: Callable[[httpx.Response], bool] = _unauthorised,
    ) -> None:
        self.key, self.fetch, self.cache, self.margin = key, fetch, cache, margin
        self.header, self.scheme, self.refused = header, scheme, refused

    async def token(self) -> AccessToken:
        """The cached token, or a new one."""
        token = self.cache.get(self.key, self.margin)
        if token is None:
            token = await self.fetch()
            self.cache.put(self.key, token)
        return token

    def _sign(self, request: httpx.Request, token: AccessToken) -> None:
        request.headers[self.header] = f"{self.scheme} {token.value}" if self.scheme else token.value

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        token = await self.token()
        self._sign(request, token)
        response = yield request
        if self.refused(response):
            self.cache.drop(self.key, token)
            self._sign(request, await self.token())
            yield request

    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        raise RuntimeError("RefreshingTokenAuth works with httpx.AsyncClient (PartnerHttp) only")

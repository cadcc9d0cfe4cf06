"""Errors plugins raise, which the sync engine turns into retries or logged failures.

- ChannelAuthError: credentials refused; the run fails and says so (retrying will not help).
- ChannelRateLimited: over the channel's limit; retried after ``retry_after`` seconds.
- ChannelUnavailable: a timeout, a 5xx or a dropped connection; retried with backoff.
- ChannelDataError: the channel answered something orderdeck cannot use; logged, not retried.
"""

from __future__ import annotations


class ChannelError(Exception):
    """Base of the errors a channel plugin raises."""


class ChannelAuthError(ChannelError):
    """The channel refused the credentials (HTTP 401/403)."""


class ChannelRateLimited(ChannelError):
    """The channel asked to slow down (HTTP 429)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ChannelUnavailable(ChannelError):
    """A passing failure: timeout, connection error, HTTP 5xx."""


class ChannelDataError(ChannelError):
    """The channel's answer is malformed or not what its API promises."""

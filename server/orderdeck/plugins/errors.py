"""Errors plugins raise, which the sync engine turns into retries or logged failures.

- ChannelAuthError: credentials refused; the run fails and says so (retrying will not help).
- ChannelRateLimited: over the channel's limit; retried after ``retry_after`` seconds.
- ChannelUnavailable: a timeout, a 5xx or a dropped connection; retried with backoff.
- ChannelUnreadable (a ChannelUnavailable): an answer that cannot be read (broken JSON, not the
  shape the API promises; often a proxy's error page); retried with backoff.
- ChannelDataError: the channel refused what was sent (an item's data, a 4xx); logged, not
  retried until the data changes or a user retries.
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


class ChannelUnreadable(ChannelUnavailable):
    """An answer that cannot be read (not JSON, not the promised shape): likely a proxy's error
    page or a cut-off body, so a later attempt may succeed."""

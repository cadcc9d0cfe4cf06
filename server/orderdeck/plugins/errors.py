"""Errors a connector raises, of any partner (a sales channel, a fulfilment centre, ...), which the
work engine turns into retries or into failures that wait for a change.

- PartnerAuthError: credentials refused; the run fails and says so (retrying will not help).
- PartnerRateLimited: over the partner's limit; retried after ``retry_after`` seconds.
- PartnerUnavailable: a timeout, a 5xx, a refused or dropped connection; retried with backoff.
- PartnerUnreadable (a PartnerUnavailable): an answer or a file that cannot be read (broken JSON,
  not the promised shape; often a proxy's error page or a cut-off file); retried with backoff.
- PartnerDataError: the partner refused what was sent (an item's data, a 4xx); logged, not
  retried until the data changes or a user retries.
"""

from __future__ import annotations


class PartnerError(Exception):
    """Base of the errors a connector raises."""


class PartnerAuthError(PartnerError):
    """The partner refused the credentials (HTTP 401/403, an FTP login refused)."""


class PartnerRateLimited(PartnerError):
    """The partner asked to slow down (HTTP 429)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PartnerUnavailable(PartnerError):
    """A passing failure: timeout, refused or dropped connection, HTTP 5xx."""


class PartnerDataError(PartnerError):
    """The partner refused what was sent, or its answer breaks its own rules in a way a retry
    will not mend."""


class PartnerUnreadable(PartnerUnavailable):
    """An answer or file that cannot be read (not JSON, not the promised shape): likely a proxy's
    error page or a cut-off body, so a later attempt may succeed."""


class RejectedOrder(ValueError):
    """A channel order a connector's mapping cannot read: the reference it had (or "") and why.
    The download hook puts it in ``OrderPage.rejected`` (logged; the rest of the page goes on)."""

    def __init__(self, reference: str, reason: str) -> None:
        super().__init__(reason)
        self.reference, self.reason = reference, reason

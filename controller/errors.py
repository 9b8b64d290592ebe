"""The root of relctl's error hierarchy and the classification the loop acts on.

Every layer raises a subclass of `RelctlError`. Its disposition says what the caller
does next, from least to most severe:

- TRANSIENT (the default): retry with exponential back-off (a timeout, a 5xx);
- WAITING: requeue after a delay the system named (`requeue_after`: a Retry-After) or,
  naming none, soon (a 409 conflict, a workload changed since it was observed);
- STALLED: a person must change something (credentials, a permission, relctl.yaml, a
  manifest): retrying changes nothing, so the next pass waits for the interval, a
  change in git or a webhook.

`for_status` is the one table both HTTP adapters classify a response status by. This
module must not import anything from relctl.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Disposition(StrEnum):
    """What the reconcile loop does with an error; ordered, least severe first."""

    TRANSIENT = "transient"
    WAITING = "waiting"
    STALLED = "stalled"

    @property
    def severity(self) -> int:
        return list(Disposition).index(self)

    def is_worse(self, other: Disposition) -> bool:
        return self.severity > other.severity

    @staticmethod
    def worst(found: Iterable[Disposition]) -> Disposition | None:
        """The most severe of `found`; None when there is none."""
        return max(found, key=lambda d: d.severity, default=None)


STATUS_DISPOSITIONS: dict[int, Disposition] = {
    400: Disposition.STALLED,  # the request is wrong: relctl or its configuration
    401: Disposition.STALLED,  # the credentials are wrong
    403: Disposition.STALLED,  # the account lacks a permission
    404: Disposition.STALLED,  # a project, issue, namespace or Deployment is missing
    409: Disposition.WAITING,  # a conflict: someone else changed it; re-read, try again
    410: Disposition.WAITING,  # a watch or list expired: start over
    422: Disposition.STALLED,  # the server refuses the value
    429: Disposition.WAITING,  # too many requests: as long as Retry-After says
}
"""HTTP status → disposition, for Jira and Kubernetes alike; 5xx is TRANSIENT, any
other 4xx STALLED."""


def for_status(status: int) -> Disposition:
    """How to treat an HTTP error status."""
    if status in STATUS_DISPOSITIONS:
        return STATUS_DISPOSITIONS[status]
    if status >= 500 or status == 0:
        return Disposition.TRANSIENT  # 0: no answer at all
    return Disposition.STALLED


class RelctlError(Exception):
    """Root of every error relctl raises on purpose."""

    disposition: Disposition = Disposition.TRANSIENT
    requeue_after: float | None = None
    """Seconds the system asked to wait before the next attempt (a Retry-After)."""

    def __init__(
        self,
        message: str = "",
        *,
        disposition: Disposition | None = None,
        requeue_after: float | None = None,
    ) -> None:
        super().__init__(message)
        if disposition is not None:
            self.disposition = disposition
        if requeue_after is not None:
            self.requeue_after = requeue_after

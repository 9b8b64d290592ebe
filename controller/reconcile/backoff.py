"""When the next pass runs, from what the last one met: a pure function of the pass
report, the failures in a row and the timing, so the whole table is tested without a
clock (tests/unit/test_backoff.py).

| the pass                      | the next pass                                         |
|-------------------------------|-------------------------------------------------------|
| ok                            | after the interval (or at once on a webhook)          |
| a system named a wait         | after it (capped), and not before, webhook or not     |
| STALLED (a person must act)   | after the interval, or on a webhook: the change in    |
|                               | git or the fix it announces; retrying sooner changes  |
|                               | nothing                                               |
| WAITING, no wait named        | after the first back-off step, without growing        |
| TRANSIENT                     | exponential back-off from `backoff`, capped by        |
|                               | `backoff_max` and by the interval                     |

The disposition of a pass is the worst of its error's and its failed actions'; a
cluster it could not observe counts as TRANSIENT.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from controller.errors import Disposition

if TYPE_CHECKING:
    from controller.reconcile.loop import Timing
    from controller.reconcile.passes import PassReport


@dataclass(frozen=True)
class Delay:
    seconds: float
    disposition: Disposition | None
    """The pass's worst disposition; None when it was ok."""
    firm: bool = False
    """A system asked for the wait: a webhook does not cut it short."""


def disposition_of(report: PassReport) -> Disposition | None:
    """The worst disposition the pass met; None when it was ok."""
    found = [o.disposition or Disposition.TRANSIENT for o in report.outcomes if o.failed]
    if report.error is not None:
        found.append(report.error.disposition)
    if report.unobserved:
        found.append(Disposition.TRANSIENT)
    return Disposition.worst(found)


def requeue_of(report: PassReport) -> float | None:
    """The longest wait a system asked for in this pass (a Retry-After), if any."""
    asked = [o.requeue_after for o in report.outcomes if o.requeue_after is not None]
    if report.error is not None and report.error.requeue_after is not None:
        asked.append(report.error.requeue_after)
    return max(asked, default=None)


def next_delay(report: PassReport, failures: int, timing: Timing, interval: float) -> Delay:
    """Seconds until the next pass. `failures`: passes in a row that were not ok,
    this one included."""
    disposition = disposition_of(report)
    if disposition is None:
        return Delay(interval, None)
    asked = requeue_of(report)
    if asked is not None:
        return Delay(max(min(asked, timing.retry_after_max), timing.backoff), disposition, True)
    if disposition is Disposition.STALLED:
        return Delay(interval, disposition)
    if disposition is Disposition.WAITING:
        return Delay(min(timing.backoff, interval), disposition)
    wait = timing.backoff * 2 ** max(failures - 1, 0)
    return Delay(min(wait, timing.backoff_max, max(interval, timing.backoff)), disposition)

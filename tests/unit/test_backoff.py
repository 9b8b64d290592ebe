"""The loop's next delay for each disposition, as a table (`reconcile.backoff`)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from controller.adapters.jira import JiraError
from controller.adapters.kube import KubeError
from controller.errors import STATUS_DISPOSITIONS, Disposition, RelctlError, for_status
from controller.plan.actions import EnsureVersion
from controller.reconcile.backoff import disposition_of, next_delay
from controller.reconcile.executor import Outcome, Result
from controller.reconcile.loop import Timing
from controller.reconcile.passes import PassReport

T, W, S = Disposition.TRANSIENT, Disposition.WAITING, Disposition.STALLED
TIMING = Timing(backoff=5, backoff_max=300, retry_after_max=3600)
ACTION = EnsureVersion("r", "why", "SHOP", "1.0", datetime(2026, 12, 8, tzinfo=UTC).date(), "")


def failed(disposition: Disposition, requeue: float | None = None) -> Outcome:
    return Outcome(ACTION, Result.FAILED, "boom", disposition, requeue)


def report(
    error: RelctlError | None = None,
    outcomes: tuple[Outcome, ...] = (),
    unobserved: frozenset[str] = frozenset(),
) -> PassReport:
    return PassReport(
        1, datetime.now(UTC), error=error, outcomes=list(outcomes), unobserved=unobserved
    )


@pytest.mark.parametrize(
    ("case", "failures", "interval", "seconds", "firm"),
    [
        # an ok pass: the interval
        (report(), 0, 60, 60, False),
        # TRANSIENT: 5, 10, 20, ... capped by backoff_max and by the interval
        (report(RelctlError("timeout")), 1, 3600, 5, False),
        (report(RelctlError("timeout")), 2, 3600, 10, False),
        (report(RelctlError("timeout")), 3, 3600, 20, False),
        (report(RelctlError("timeout")), 7, 3600, 300, False),
        (report(RelctlError("timeout")), 9, 3600, 300, False),
        (report(RelctlError("timeout")), 4, 30, 30, False),
        (report(unobserved=frozenset({"prod-eu"})), 2, 3600, 10, False),
        # STALLED, from the pass or from an action (a 403): the interval, however many
        (report(RelctlError("bad manifest", disposition=S)), 1, 600, 600, False),
        (report(RelctlError("bad manifest", disposition=S)), 5, 600, 600, False),
        (report(outcomes=(failed(S),)), 3, 600, 600, False),
        # STALLED is worse than TRANSIENT: a pass meeting both waits for a person
        (report(RelctlError("timeout"), (failed(S),)), 3, 600, 600, False),
        # WAITING without a named wait: soon, not growing
        (report(outcomes=(failed(W),)), 1, 600, 5, False),
        (report(outcomes=(failed(W),)), 6, 600, 5, False),
        # a named wait (Retry-After) is honoured, capped, and firm
        (report(outcomes=(failed(W, 120),)), 1, 60, 120, True),
        (report(JiraError("429", disposition=W, requeue_after=10**9)), 1, 60, 3600, True),
        (report(JiraError("429", disposition=W, requeue_after=0.5)), 1, 60, 5, True),
        (report(RelctlError("timeout"), (failed(W, 30), failed(T, 90))), 1, 600, 90, True),
    ],
)
def test_next_delay(
    case: PassReport, failures: int, interval: float, seconds: float, firm: bool
) -> None:
    delay = next_delay(case, failures, TIMING, interval)
    assert (delay.seconds, delay.firm) == (seconds, firm)


def test_a_failed_action_makes_the_pass_not_ok_with_its_disposition() -> None:
    assert disposition_of(report()) is None
    assert disposition_of(report(outcomes=(failed(W), failed(T)))) is W
    assert disposition_of(report(RelctlError("x"), (failed(S),))) is S


def test_disposition_order() -> None:
    assert list(Disposition) == [T, W, S]
    assert S.is_worse(W) and W.is_worse(T) and not T.is_worse(T)
    assert Disposition.worst([T, S, W]) is S and Disposition.worst([]) is None


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (400, S),
        (401, S),
        (403, S),
        (404, S),
        (409, W),
        (410, W),
        (418, S),
        (422, S),
        (429, W),
        (500, T),
        (502, T),
        (503, T),
        (504, T),
        (0, T),
    ],
)
def test_one_status_table_for_both_adapters(status: int, expected: Disposition) -> None:
    assert for_status(status) is expected
    assert set(STATUS_DISPOSITIONS) <= {400, 401, 403, 404, 409, 410, 422, 429}


def test_the_default_is_transient() -> None:
    assert RelctlError("x").disposition is T
    assert KubeError("x").disposition is T and JiraError("x").disposition is T

"""The controller loop: a pass every `interval`, at once on a verified webhook, with
exponential backoff after a failed pass; leader election so that only one replica acts.

Threads: the loop runs passes; the elector renews the Lease on its own thread every
`retry` seconds, so a long pass never lets the lease lapse, and a replica that loses it
stops acting before the next action and records nothing. The HTTP server (see
`server`) reads the loop's `View`, replaced whole after each pass, never mutated.

On `stop()` (SIGTERM): the action under way finishes, the rest are skipped, the pass
records what it did, the lease is released (a standby takes over at its next step, not
a lease duration later) and the connections are closed.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from controller.adapters.lease import Elector
from controller.errors import Disposition, RelctlError
from controller.manifests.state import DesiredState
from controller.plan.records import ReleaseStatus
from controller.reconcile import logs
from controller.reconcile.backoff import next_delay
from controller.reconcile.executor import Outcome, Result
from controller.reconcile.metrics import Metrics
from controller.reconcile.passes import PassReport, Reconciler, findings_of, next_pass_id

log = logging.getLogger(logs.LOGGER)
WARNINGS = frozenset({"error", "trigger", "drift", "flag-drift"})
"""Finding kinds logged as warnings; the others (blocked, readiness, ...) as info."""


def system_clock() -> datetime:
    return datetime.now(UTC)


def file_clock(path: Path) -> Callable[[], datetime]:
    """A simulated clock for demos and tests: the instant written in `path` (ISO 8601 with
    an offset), read afresh at every pass; the system clock while the file is absent."""

    def now() -> datetime:
        try:
            text = path.read_text(encoding="utf-8").strip()
        except FileNotFoundError:
            return system_clock()
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            raise RelctlError(f"the clock file {path} holds {text!r}, with no UTC offset")
        return parsed.astimezone(UTC)

    return now


@dataclass(frozen=True)
class View:
    """What the HTTP endpoints serve: replaced whole, never changed in place."""

    state: DesiredState | None = None
    statuses: dict[str, ReleaseStatus] = field(default_factory=dict)
    report: PassReport | None = None
    at: datetime | None = None


@dataclass
class Timing:
    interval: float | None = None
    """Seconds between passes; None: the ControllerConfig's `interval`."""
    retry: float = 2.0
    """Seconds between leader-election steps (and standby refreshes at most this often)."""
    backoff: float = 5.0
    """First wait after a failed pass; doubles with each failure in a row."""
    backoff_max: float = 300.0
    retry_after_max: float = 3600.0
    """The longest Retry-After honoured; a system asking for more is asked again then.
    What each disposition waits: `backoff.next_delay`."""
    pass_deadline: float = 600.0
    """Seconds a pass may act; past it the actions left are skipped (planned again next)."""
    give_up_after: int = 3
    """Failed passes in a row after which the replica reports not ready and, with leader
    election, gives its lease up for `stand_down` seconds so that a standby takes over."""
    stand_down: float = 60.0


class Controller:
    def __init__(
        self,
        reconciler: Reconciler,
        *,
        clock: Callable[[], datetime] = system_clock,
        elector: Elector | None = None,
        metrics: Metrics | None = None,
        timing: Timing | None = None,
        identity: str | None = None,
    ) -> None:
        self.reconciler = reconciler
        self.clock = clock
        self.elector = elector
        self.metrics = metrics or Metrics()
        self.timing = timing or Timing()
        self.identity = identity or (elector.identity if elector else socket.gethostname())
        self.view = View()
        self.ready = False
        self.alive = True
        self.stopping = threading.Event()
        self._wake = threading.Event()
        self._failures = 0
        self._not_before = 0.0
        """No pass before this monotonic instant, webhook or not (Retry-After)."""
        self._standing_down_until = 0.0
        self._election = threading.Lock()
        """Held by an election step and by a stand-down: one never undoes the other."""
        self._pass_started: float | None = None
        self.heartbeat = time.monotonic()
        """When the loop last went round (or a pass started): /healthz's evidence."""
        self._findings: set[tuple[str, str, str]] = set()
        self._leading = elector is None
        reported = reconciler.on_outcome

        def on_outcome(outcome: Outcome) -> None:
            _log_outcome(outcome)
            reported(outcome)

        reconciler.on_outcome = on_outcome

    # -- control, from other threads -------------------------------------------------

    @property
    def leading(self) -> bool:
        return self._leading

    def request_pass(self, why: str) -> str:
        """A pass now: here when this replica leads, else asked of the leader."""
        if self.elector is None or self.leading:
            self._wake.set()
            return "pass triggered"
        self.elector.request_pass()
        log.info("asked the leader for a pass", extra=logs.fields(reason=why))
        return "pass requested from the leader"

    def stop(self) -> None:
        self.stopping.set()
        self._wake.set()

    # -- the loop --------------------------------------------------------------------

    def run(self) -> None:
        """Until `stop()`. Returns after the lease is released and connections closed."""
        elector_thread = None
        if self.elector is not None:
            elector_thread = threading.Thread(target=self._elect, name="elector", daemon=True)
            elector_thread.start()
        log.info(
            "controller started",
            extra=logs.fields(identity=self.identity, leaderElection=self.elector is not None),
        )
        due = time.monotonic()
        refreshed = float("-inf")
        try:
            while not self.stopping.is_set():
                self.heartbeat = time.monotonic()
                leading = self._leading
                self.metrics.leader.set(1 if leading else 0)
                woken = self._wake.is_set() and time.monotonic() >= self._not_before
                if leading and (woken or time.monotonic() >= due):
                    self._wake.clear()
                    report = self._pass()
                    delay = next_delay(report, self._failures, self.timing, self._interval())
                    due = time.monotonic() + delay.seconds
                    if delay.firm:
                        self._not_before = due
                    self._maybe_stand_down()
                elif not leading and time.monotonic() - refreshed >= self._interval():
                    self._refresh()
                    refreshed = time.monotonic()
                wait = max(0.0, due - time.monotonic()) if leading else self.timing.retry
                if self._wake.is_set() and time.monotonic() < self._not_before:
                    self.stopping.wait(min(wait, self._not_before - time.monotonic()))
                    continue
                self._wake.wait(min(wait, self.timing.retry) if self.elector else wait)
        except Exception:
            self.alive = False
            log.exception("the controller loop died")
            raise
        finally:
            if elector_thread is not None:
                elector_thread.join(timeout=self.timing.retry + 5)
            if self.elector is not None:
                self.elector.release()
                log.info("lease released", extra=logs.fields(identity=self.identity))
            self._leading = False
            self.metrics.leader.set(0)
            self.reconciler.close()
            if self.elector is not None:
                self.elector.cluster.close()
            log.info("controller stopped", extra=logs.fields(identity=self.identity))

    @property
    def live(self) -> bool:
        """The loop is alive and not stuck: it went round, or its pass started, recently
        enough (a pass's actions are bounded by `pass_deadline`, every call by its own)."""
        limit = self.timing.pass_deadline + self._interval() + 120.0
        return self.alive and time.monotonic() - self.heartbeat < limit

    @property
    def healthy(self) -> bool:
        """Ready to serve as leader: passes are not failing `give_up_after` times in a row."""
        return self._failures < self.timing.give_up_after

    def _maybe_stand_down(self) -> None:
        """A leader whose passes keep failing gives the lease up, so that a standby (which
        may reach what this one cannot) takes over; it campaigns again later."""
        if self.elector is None or self._failures < self.timing.give_up_after:
            return
        log.warning(
            "giving the lease up: passes keep failing",
            extra=logs.fields(failures=self._failures, seconds=self.timing.stand_down),
        )
        with self._election:  # never while the elector thread is mid-step
            self._standing_down_until = time.monotonic() + self.timing.stand_down
            self._leading = False
            self.elector.release()
        self._failures = 0

    def _elect(self) -> None:
        assert self.elector is not None
        while not self.stopping.is_set():
            with self._election:
                if time.monotonic() < self._standing_down_until:
                    leading = False
                else:
                    try:
                        leading = self.elector.try_acquire_or_renew()
                    except RelctlError as exc:
                        leading = False
                        log.warning("leader election failed", extra=logs.fields(error=str(exc)))
                changed = leading != self._leading
                self._leading = leading
            if changed:
                log.info(
                    "became the leader" if leading else "standing by",
                    extra=logs.fields(identity=self.identity, leader=leading),
                )
                self._wake.set()
            if leading and self.elector.take_request():
                log.info("a standby asked for a pass")
                self._wake.set()
            self.stopping.wait(self.timing.retry)

    def _proceed(self) -> bool:
        started = self._pass_started
        late = started is not None and time.monotonic() - started > self.timing.pass_deadline
        return self._leading and not self.stopping.is_set() and not late

    def _pass(self) -> PassReport:
        pass_id = next_pass_id()
        now = self.clock()
        errors_before = self.reconciler.request_errors()
        with logs.in_pass(pass_id):
            log.info("pass started", extra=logs.fields(at=now.isoformat()))
            self._pass_started = self.heartbeat = time.monotonic()
            report = self.reconciler.run(
                now, proceed=self._proceed, may_record=lambda: self._leading, pass_id=pass_id
            )
            if (
                report.error is None
                and time.monotonic() - self._pass_started > self.timing.pass_deadline
            ):
                report.error = RelctlError(
                    f"the pass went past its deadline of {self.timing.pass_deadline:g} s; "
                    "the actions left are planned again by the next pass",
                    disposition=Disposition.TRANSIENT,
                )
            self._pass_started = None
            errors_after = self.reconciler.request_errors()
            errors = (errors_after[0] - errors_before[0], errors_after[1] - errors_before[1])
            invalid = self.reconciler.invalid is not None
            self.metrics.record(report, errors, time.time(), invalid=invalid)
            self._log_report(report)
        if report.ok:
            self._failures = 0
            self.ready = True
        else:
            self._failures += 1
            self.ready = self.ready and self.healthy
        state = self.reconciler.last_good
        statuses = dict(report.plan.statuses) if report.plan is not None else self.view.statuses
        self.view = View(state, statuses, report, now)
        return report

    def _refresh(self) -> None:
        now = self.clock()
        try:
            state, statuses = self.reconciler.refresh(now)
        except RelctlError as exc:
            log.warning("standby refresh failed", extra=logs.fields(error=str(exc)))
            return
        self.view = View(state, statuses, self.view.report, now)

    def _interval(self) -> float:
        if self.timing.interval is not None:
            return self.timing.interval
        state = self.reconciler.last_good
        return state.config.spec.interval.total_seconds() if state is not None else 60.0

    def _log_report(self, report: PassReport) -> None:
        jira, kube = report.requests
        summary = logs.fields(
            ok=report.ok,
            revision=report.revision,
            seconds=round(report.seconds, 3),
            actions=len(report.outcomes),
            failed=sum(o.result is Result.FAILED for o in report.outcomes),
            jiraRequests=jira,
            kubernetesRequests=kube,
            commit=report.commit.sha if report.commit else None,
            decisions=[
                f"{r} {d.decision}" for r, d in (report.plan.decisions if report.plan else ())
            ],
        )
        # A finding is logged when it appears, not again each pass while it holds.
        found = {(f.kind.value, f.subject, f.message) for f in findings_of(report)}
        for kind, subject, message in sorted(found - self._findings):
            level = logging.WARNING if kind in WARNINGS else logging.INFO
            log.log(level, message, extra=logs.fields(finding=kind, subject=subject))
        self._findings = found
        summary["fields"]["findings"] = len(found)
        if report.error is not None:
            summary["fields"]["error"] = str(report.error)
            summary["fields"]["disposition"] = report.error.disposition.value
            log.error("pass failed", extra=summary)
        else:
            log.info("pass finished", extra=summary)


def _log_outcome(outcome: Outcome) -> None:
    level = logging.WARNING if outcome.result is Result.FAILED else logging.INFO
    log.log(
        level,
        f"{outcome.result.value} {outcome.action.describe()}",
        extra=logs.fields(
            action=outcome.action.kind.value,
            key=outcome.action.key,
            result=outcome.result.value,
            detail=outcome.detail,
        ),
    )

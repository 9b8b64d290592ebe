"""`plan(desired, observed, recorded, now) -> Plan`: a release's whole life as a pure
function (DESIGN.md §4).

Each release moves through its phases by what is true now: Jira versions ensured ahead
of time and moved with the release; readiness from code freeze; the go/no-go verdict
from the goNoGo milestone (a record only when the verdict or its evidence changes);
at departure DELAY or HOLD when not GO, a wait while a window blocks, else the rollout
in dependency order, one component complete before the next starts; rollback triggers
until monitoringEnd; then RELEASED with the Jira versions released and one comment per
issue. Image drift and feature flags are planned across releases (see `drift`).

Purely computational: no clock, no I/O. A converged world plans nothing, so running
the plan on the world it produces is a fixed point.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime, timedelta

from controller.manifests.documents import Manifest
from controller.manifests.models import Release
from controller.manifests.state import DesiredState
from controller.plan import drift, gonogo, jql, notes, readiness, rollouts
from controller.plan.plans import (
    Action,
    ActionKind,
    Finding,
    FindingKind,
    ImageChange,
    Observed,
    Plan,
)
from controller.plan.records import (
    VERDICTS,
    DecisionKind,
    DecisionRecord,
    Evidence,
    Phase,
    ReleaseStatus,
    workload_key,
)
from controller.schedule import departures, trains, windows
from controller.schedule.departures import Hold, exceptions_of
from controller.schedule.zones import day_bounds, to_instant, to_local, wall

DATED_MILESTONES: dict[str, timedelta] = {
    "codeFreeze": timedelta(days=-7),
    "goNoGo": timedelta(days=-1),
    "departure": timedelta(0),
    "monitoringEnd": timedelta(days=1),
}
"""Milestones of a release with an explicit `date` (it rides no train)."""

COMMENT_MARKER = "relctl release {release}"


def plan(
    desired: DesiredState,
    observed: Observed,
    recorded: Mapping[str, ReleaseStatus],
    now: datetime,
) -> Plan:
    """What should happen now, and why. Pure: same inputs, same plan."""
    return _Planner(desired, observed, recorded, now).run()


class _Planner:
    def __init__(
        self,
        desired: DesiredState,
        observed: Observed,
        recorded: Mapping[str, ReleaseStatus],
        now: datetime,
    ) -> None:
        self.desired = desired
        self.observed = observed
        self.recorded = recorded
        self.now = now
        self.components = {n: m.model for n, m in desired.components.items()}
        self.evaluator = windows.Evaluator(
            [windows.Window(n, m.model.spec) for n, m in sorted(desired.windows.items())]
        )
        self.actions: list[Action] = []
        self.keys: set[str] = set()
        self.findings: list[Finding] = []
        self.decisions: list[tuple[str, DecisionRecord]] = []
        self.statuses: dict[str, ReleaseStatus] = dict(recorded)
        self.notes: dict[str, str] = {}
        self.zones: dict[str, str] = {}
        self.in_flight = self._in_flight()

    def run(self) -> Plan:
        for name in sorted(self.desired.releases):
            _ReleasePlanner(self, name, self.desired.releases[name]).run()
        busy = {a.image.workload for a in self.actions if a.image is not None}
        for actions, findings in (
            drift.images(self.desired, self.observed, self.statuses, busy, self._held),
            drift.flags(self.desired, self.observed, self.statuses, self.now),
        ):
            for action in actions:
                self.act(action)
                if action.kind is ActionKind.RESTORE_IMAGE:
                    self._record_repair(action)
            self.findings.extend(findings)
        return Plan(
            self.now,
            tuple(self.actions),
            tuple(self.findings),
            tuple(self.decisions),
            dict(sorted(self.statuses.items())),
            dict(sorted(self.notes.items())),
            dict(self.recorded),
            dict(sorted(self.zones.items())),
            self.desired.config.spec.timezone,
        )

    def _held(self, component: str, cluster: str) -> str | None:
        """Why a window keeps `component` on `cluster` from changing now, or None."""
        spec = self.components[component].spec if component in self.components else None
        target = windows.Target(component, cluster, spec.jira_project if spec else "")
        held = departures.hold_of([self.evaluator.evaluate(target, self.now)], self.now)
        if held is None:
            return None
        specs = {n: m.model.spec for n, m in self.desired.windows.items()}
        opens = wall(held.opens, self.desired.config.spec.timezone) if held.opens else "later"
        return f"{held.describe(specs)}; opens {opens}"

    def _record_repair(self, action: Action) -> None:
        """A drift repair is a decision too: recorded on the release whose image it puts
        back (once per repair: a failed one is retried, not recorded again)."""
        change = action.image
        status = self.statuses.get(action.release)
        if change is None or status is None:
            return
        key = workload_key(change.cluster, change.namespace, change.deployment, change.container)
        evidence = Evidence(images={key: change.image}, triggers=(f"{key} ran {change.current}",))
        last = status.last()
        if last is not None and (last.decision, last.evidence) == (DecisionKind.REPAIRED, evidence):
            return
        record = DecisionRecord(
            DecisionKind.REPAIRED,
            self.now,
            f"{key} ran {change.current or 'an unknown image'}, not the image "
            f"{action.release} put there; self-heal restored {change.image}",
            (),
            evidence,
        )
        self.statuses[action.release] = replace(status, decisions=(*status.decisions, record))
        self.decisions.append((action.release, record))

    def act(self, action: Action) -> None:
        if action.key not in self.keys:
            self.keys.add(action.key)
            self.actions.append(action)

    def find(
        self, kind: FindingKind, subject: str, message: str, until: datetime | None = None
    ) -> None:
        self.findings.append(Finding(kind, subject, message, until))

    def _in_flight(self) -> dict[str, set[str]]:
        """Component → releases rolling it out now (or about to): a component that
        dependsOn one of them waits until that rollout completes."""
        found: dict[str, set[str]] = {}
        for name, status in self.recorded.items():
            manifest = self.desired.releases.get(name)
            if manifest is None:
                continue
            rolling = status.phase in (Phase.ROLLING_OUT, Phase.WAITING) or (
                not status.phase.deployed
                and not status.phase.final
                and status.departure is not None
                and status.departure <= self.now
                and (last := status.last(*VERDICTS)) is not None
                and last.decision is not DecisionKind.NO_GO
            )
            if rolling:
                for item in manifest.model.spec.components:
                    found.setdefault(item.name, set()).add(name)
        return found

    def units(self, release: Release, name: str) -> dict[str, list[rollouts.Unit]]:
        mine = self.departure_of(name)

        def newer(other: str) -> bool:
            theirs = self.departure_of(other)
            return mine is not None and theirs is not None and (theirs, other) > (mine, name)

        return rollouts.units_of(
            release, name, self.components, self.observed.workloads or {}, newer
        )

    def departure_of(self, release: str) -> datetime | None:
        status = self.statuses.get(release) or self.recorded.get(release)
        return None if status is None else status.departure


class _ReleasePlanner:
    """One release's step through its life in this pass."""

    def __init__(self, planner: _Planner, name: str, manifest: Manifest[Release]) -> None:
        self.p = planner
        self.name = name
        self.manifest = manifest
        self.release = manifest.model
        self.spec = manifest.model.spec
        self.now = planner.now
        self.old = planner.recorded.get(name)
        self.status = self.old or ReleaseStatus(name, self.spec.version)
        train = planner.desired.trains.get(self.spec.train) if self.spec.train else None
        self.train = train.model.spec if train is not None else None
        self.timezone = (
            self.train.timezone if self.train is not None else planner.desired.config.spec.timezone
        )
        self.projects = readiness.projects_of(planner.desired, self.release)
        planner.zones[name] = self.timezone
        self.milestones: dict[str, datetime] = {}
        self.judged: tuple[DecisionKind | None] | None = None
        """This pass's go/no-go verdict, once judged (`(None,)`: it could not be)."""

    # --- bookkeeping -----------------------------------------------------------------

    def record(
        self,
        kind: DecisionKind,
        rationale: str,
        evidence: Evidence | None = None,
        criteria: tuple[readiness.Criterion, ...] = (),
    ) -> None:
        entry = DecisionRecord(kind, self.now, rationale, criteria, evidence or Evidence())
        self.status = replace(self.status, decisions=(*self.status.decisions, entry))
        self.p.decisions.append((self.name, entry))

    def find(self, kind: FindingKind, message: str, until: datetime | None = None) -> None:
        self.p.find(kind, self.name, message, until)

    def act(self, kind: ActionKind, key: str, reason: str, **fields: object) -> None:
        self.p.act(Action(kind, key, reason, self.name, release=self.name, **fields))  # type: ignore[arg-type]

    # --- the life ----------------------------------------------------------------------

    def run(self) -> None:
        planned = self._planned()
        if planned is None:
            self.find(
                FindingKind.SCHEDULE,
                f"train '{self.spec.train}' has no departure on "
                f"{self.spec.departure}; run relctl validate",
            )
            self.p.statuses[self.name] = self.status
            return
        self._schedule(planned)
        phase = self.status.phase
        if phase is Phase.RELEASED:
            self._released()
        elif phase is Phase.ROLLED_BACK:
            self._rolled_back()
        elif phase.deployed:
            self._deployed()
        else:
            self._before_rollout()
        if not self.status.phase.final:
            self._versions()
        self.p.statuses[self.name] = self.status

    def _planned(self) -> datetime | None:
        """The departure the manifest asks for now."""
        spec = self.spec
        if self.train is None:
            when = spec.date
            assert when is not None
            if isinstance(when, datetime):
                return when
            return day_bounds(when, self.timezone)[0]
        if spec.departure is not None:
            departure = trains.departure_on(self.train, spec.departure)
            return None if departure is None else departure.at
        if self.old is not None and self.old.planned is not None:
            return self.old.planned  # "the next departure" was fixed when first seen
        upcoming = trains.next_departure(self.train, self.now)
        return None if upcoming is None else upcoming.at

    def _schedule(self, planned: datetime) -> None:
        old = self.old
        effective = planned
        if old is not None and old.planned == planned and old.departure is not None:
            effective = old.departure
        elif (
            old is not None
            and old.departure is not None
            and (old.phase.deployed or old.phase.final)
        ):
            effective = old.departure  # it departed: a move now changes nothing
            if old.planned != planned:
                self.find(
                    FindingKind.SCHEDULE,
                    f"the manifest asks for {_local(planned, self.timezone)}, but the release "
                    f"departed {_local(old.departure, self.timezone)}; the move changes nothing",
                )
        elif (
            old is not None
            and old.planned is not None
            and not old.phase.deployed
            and not old.phase.final
        ):
            self.status = replace(self.status, verdict_digest="")
            self.record(
                DecisionKind.RESCHEDULED,
                f"the manifest moved the release from {_local(old.planned, self.timezone)} "
                f"to {_local(planned, self.timezone)}",
                Evidence(departure=old.departure, until=planned),
            )
        moved = old is not None and old.planned is not None and old.planned != planned
        self.status = replace(
            self.status,
            version=self.spec.version,
            planned=planned,
            departure=effective,
            delayed=None if moved else self.status.delayed,
        )
        if not self.status.phase.deployed and not self.status.phase.final:
            effective = self._clear_of_windows(effective)
        self._set_milestones(effective)

    def _clear_of_windows(self, departure: datetime) -> datetime:
        """The effective departure: what was asked (the manifest's, or the last DELAY's),
        moved past windows that would hold it for longer than the go/no-go lead time,
        to the first departure after they open; judged afresh each pass until then, so
        an override or a window removed brings it back. Recorded when it changes; the
        go/no-go milestone moves with it. At or past the departure it only moves later."""
        asked = self.status.delayed or self.status.planned or departure
        start = asked if asked > self.now else departure
        found = departures.effective(
            start,
            train=self.train,
            evaluator=self.p.evaluator,
            where=departures.targets(self.p.desired, self.release),
            exceptions=exceptions_of(self.release),
            now=self.now,
        )
        if found.at is None:
            self.find(
                FindingKind.BLOCKED,
                f"departure {self._local(start)} is {self._describe(found.passed[0])} "
                "and no later departure opens within five years",
            )
            return departure
        if found.at == departure or (found.at < departure and found.at <= self.now):
            return departure
        if found.passed:
            why = (
                f"{self._passed_over(found.passed)}; it departs {self._local(found.at)} "
                f"instead, the first departure after "
                f"{'they open' if len(found.passed) > 1 else 'it opens'}"
            )
        else:
            why = (
                f"no window holds {self._local(found.at)} any longer; it departs then, "
                f"not {self._local(departure)}"
            )
        self.record(
            DecisionKind.RESCHEDULED,
            f"{why}, and go/no-go moves with it",
            Evidence(
                windows=tuple(sorted({n for h in found.passed for n in h.windows})),
                departure=departure,
                until=found.at,
            ),
        )
        self.status = replace(
            self.status, departure=found.at, verdict_digest="", phase=Phase.SCHEDULED
        )
        return found.at

    def _describe(self, held: Hold) -> str:
        specs = {n: m.model.spec for n, m in self.p.desired.windows.items()}
        return held.describe(specs)

    def _passed_over(self, passed: tuple[Hold, ...]) -> str:
        """ "departure 2026-12-22 09:00 Europe/Berlin falls inside 'holiday-freeze' (…)
        until 2027-01-04 00:00 Europe/Berlin", for each departure passed over."""
        return "; ".join(
            f"departure {self._local(h.at)} falls {self._describe(h)}"
            + (f" until {self._local(h.opens)}" if h.opens is not None else "")
            for h in passed
        )

    def _local(self, instant: datetime) -> str:
        return _local(instant, self.timezone)

    def _set_milestones(self, departure: datetime) -> None:
        local = to_local(departure, self.timezone)
        offsets = (
            trains.milestone_offsets(self.train) if self.train is not None else DATED_MILESTONES
        )
        self.milestones = {
            name: to_instant(local + offset, self.timezone) for name, offset in offsets.items()
        }

    def _milestone(self, name: str) -> datetime:
        return self.milestones.get(name, self.milestones["departure"])

    def _pre_phase(self) -> Phase:
        if self.now < self._milestone("codeFreeze"):
            return Phase.SCHEDULED
        if self.now < self._milestone("goNoGo"):
            return Phase.READINESS
        return Phase.DECIDING

    # --- before departure ------------------------------------------------------------

    def _before_rollout(self) -> None:
        departure = self.milestones["departure"]
        if self.status.phase not in (Phase.HELD, Phase.WAITING):
            self.status = replace(self.status, phase=self._pre_phase())
        jira = self.p.observed.jira
        if self.now >= self._milestone("codeFreeze") and jira is not None:
            assessed = readiness.assess(self.p.desired, self.release, jira)
            self.find(
                FindingKind.READINESS,
                f"{assessed.status}: {assessed.done}/{assessed.total} issues done "
                f"({assessed.completion:.0f}%), {len(assessed.blockers)} blockers, "
                f"{len(assessed.critical_bugs)} critical bugs"
                + (
                    f", missing approvals: {', '.join(assessed.missing_approvals)}"
                    if assessed.missing_approvals
                    else ""
                ),
            )
        judged = self._verdict() if self.now >= self._milestone("goNoGo") else None
        if self.now < departure:
            self._forecast(departure)
            return
        last = self.status.last(*VERDICTS)
        if last is None or judged is None:
            self.find(FindingKind.WAITING, "departure reached; no go/no-go verdict this pass")
            return
        if last.decision is DecisionKind.NO_GO:
            self._not_go(last)
            return
        self._start()

    def _forecast(self, departure: datetime) -> None:
        """Before departure: when it goes, and whether a window will hold it."""
        held = self._hold(departure)
        when = self._local(departure)
        if held is None:
            self.find(
                FindingKind.SCHEDULE,
                f"departs {when}; go/no-go {self._local(self._milestone('goNoGo'))}",
            )
            return
        opens = self._local(held.opens) if held.opens else "no opening within five years"
        self.find(
            FindingKind.BLOCKED,
            f"departure {when} falls {self._describe(held)}; it would go at {opens}",
            held.opens,
        )

    def _verdict(self) -> DecisionKind | None:
        """Judge go/no-go now (recorded when the verdict or its evidence changed); None
        when it cannot be judged this pass (Jira not observed). Judged once a pass."""
        if self.judged is not None:
            return self.judged[0]
        self.judged = (None,)
        jira = self.p.observed.jira
        if jira is None:
            return None
        assessed = readiness.assess(self.p.desired, self.release, jira)
        gates = readiness.gates_of(self.p.desired, self.release)
        signals = self.p.observed.signals.get(self.name, {})
        decision = gonogo.decide(assessed, gates, signals)
        # The manifest is part of the evidence: a release changed after its verdict (a
        # component added, an approval withdrawn) is judged, and recorded, afresh.
        manifest = self.spec.model_dump_json(by_alias=True)
        digest = hashlib.sha256(repr((decision.evidence_key, manifest)).encode()).hexdigest()[:16]
        self.find(FindingKind.VERDICT, f"{decision.verdict}: {decision.rationale}")
        verdict = DecisionKind(decision.verdict.value)
        self.judged = (verdict,)
        if digest == self.status.verdict_digest:
            return verdict
        self.status = replace(self.status, verdict_digest=digest)
        evidence = Evidence(
            jql=jql.version_issues(self.projects, self.spec.version),
            issues=assessed.total,
            done=assessed.done,
            blockers=tuple(i.key for i in assessed.blockers),
            critical_bugs=tuple(i.key for i in assessed.critical_bugs),
            approvals=tuple(f"{a.role} {a.by}" for a in self.spec.approvals),
            signals=tuple(f"{k}={v}" for k, v in sorted(signals.items())),
            departure=self.milestones["departure"],
        )
        self.record(verdict, decision.rationale, evidence, decision.criteria)
        return verdict

    def _not_go(self, last: DecisionRecord) -> None:
        departure = self.milestones["departure"]
        if self.train is not None and self.spec.on_no_go == "delay":
            after = max(departure + timedelta(seconds=1), self.now)
            upcoming = departures.following(after, self.train)
            found = (
                departures.effective(
                    upcoming,
                    train=self.train,
                    evaluator=self.p.evaluator,
                    where=departures.targets(self.p.desired, self.release),
                    exceptions=exceptions_of(self.release),
                )
                if upcoming is not None
                else None
            )
            if found is not None and found.at is not None:
                named = trains.departure_on(self.train, found.at)
                version = f" ({named.version})" if named is not None else ""
                skipped = f"; passed over {self._passed_over(found.passed)}" if found.passed else ""
                self.status = replace(
                    self.status, departure=found.at, delayed=upcoming, verdict_digest=""
                )
                self._set_milestones(found.at)
                self.record(
                    DecisionKind.DELAY,
                    f"not GO at departure ({last.rationale}); moved to the next departure, "
                    f"{self._local(found.at)}{version}{skipped}; go/no-go "
                    f"{self._local(self._milestone('goNoGo'))}",
                    Evidence(
                        departure=departure,
                        until=found.at,
                        windows=tuple(sorted({n for h in found.passed for n in h.windows})),
                    ),
                )
                self.status = replace(self.status, phase=self._pre_phase())
                return
        if self.status.phase is not Phase.HELD:
            self.record(
                DecisionKind.HOLD,
                f"not GO at departure ({last.rationale}); held until the verdict is GO",
                Evidence(departure=departure),
            )
            self.status = replace(self.status, phase=Phase.HELD)
        self.find(FindingKind.WAITING, "held: waiting for a GO verdict")

    def _hold(self, at: datetime) -> Hold | None:
        """What holds this release's deploy at `at`, if anything."""
        return departures.hold_of(self._window_verdicts(at), at)

    def _window_verdicts(self, at: datetime) -> list[windows.Verdict]:
        exceptions = exceptions_of(self.release)
        return [
            self.p.evaluator.evaluate(target, at, exceptions)
            for target in departures.targets(self.p.desired, self.release)
        ]

    def _blocked(self, verdicts: list[windows.Verdict], what: str) -> bool:
        """Report windows blocking `what`; True when blocked."""
        held = departures.hold_of(verdicts, self.now)
        if held is None:
            return False
        names, until = held.windows, held.opens
        opens = self._local(until) if until else "no opening within five years"
        reasons = self._describe(held)
        self.find(FindingKind.BLOCKED, f"{what} blocked: {reasons}; opens {opens}", until)
        last = self.status.decisions[-1] if self.status.decisions else None
        if (
            last is None
            or last.decision is not DecisionKind.BLOCKED
            or last.evidence.windows != names
        ):
            self.record(
                DecisionKind.BLOCKED,
                f"{what} blocked: {reasons}; it goes when the window opens, {opens}",
                Evidence(windows=names, until=until),
            )
        return True

    def _unobserved(self, units: dict[str, list[rollouts.Unit]], what: str) -> bool:
        """Report clusters of this release that could not be observed; True if any."""
        clusters = sorted(
            {u.workload.cluster for us in units.values() for u in us}
            & set(self.p.observed.unobserved)
        )
        for cluster in clusters:
            self.find(
                FindingKind.WAITING,
                f"cluster {cluster} could not be observed; {what} waits until it can be",
            )
        return bool(clusters)

    def _start(self) -> None:
        if self.p.observed.workloads is None:
            self.find(FindingKind.WAITING, "GO: would roll out now (cluster not observed)")
            return
        units = self.p.units(self.release, self.name)
        if self._unobserved(units, "the rollout"):
            return
        missing = [u for us in units.values() for u in us if u.seen is None]
        if missing:
            for u in missing:
                w = u.workload
                self.find(
                    FindingKind.ERROR,
                    f"Deployment {w.cluster}/{w.namespace}/{w.deployment} not found; "
                    "cannot roll out",
                )
            return
        verdicts = self._window_verdicts(self.now)
        if self._blocked(verdicts, "rollout"):
            self.status = replace(self.status, phase=Phase.WAITING)
            return
        if any(v.override_used for v in verdicts):
            self._override(verdicts)
        order = rollouts.order(list(units), self.p.components)
        images = {u.key: u.running or "" for us in units.values() for u in us}
        self.record(
            DecisionKind.ROLLOUT,
            f"GO and no window blocks: rolling out {', '.join(order)} in dependency order",
            Evidence(components=tuple(order), images=images),
        )
        self.status = replace(self.status, phase=Phase.ROLLING_OUT, images=images)
        self._deployed()

    def _override(self, verdicts: list[windows.Verdict]) -> None:
        override = self.spec.override
        assert override is not None
        passed = tuple(sorted({n for v in verdicts if v.override_used for n in v.passed}))
        self.record(
            DecisionKind.OVERRIDE,
            f"override by {override.by} passes {', '.join(passed)}: {override.reason} "
            f"(expires {self._local(override.expires)})",
            Evidence(windows=passed, until=override.expires),
        )

    # --- deployed --------------------------------------------------------------------

    def _deployed(self) -> None:
        if self.p.observed.workloads is None:
            return
        units = self.p.units(self.release, self.name)
        if self._unobserved(units, "watching the rollout"):
            return  # no health is known there: no rollback, no progress, no release
        monitoring = self.status.phase is not Phase.ROLLING_OUT
        fired: list[rollouts.Trigger] = []
        since: dict[str, datetime] = {}
        if not monitoring or self.now < self._monitoring_end():
            fired, since = rollouts.triggers(
                self.release, units, self.status.unhealthy_since, self.now, self.timezone
            )
        self.status = replace(self.status, unhealthy_since=since)
        if fired:
            self._trigger(fired, units)
            return
        if self.status.phase is Phase.ROLLBACK_RECOMMENDED:
            self.find(FindingKind.TRIGGER, "rollback recommended; waiting for a person")
            return
        if self.status.phase is Phase.ROLLING_OUT and not self._roll(units):
            return
        if self.status.phase is Phase.ROLLING_OUT:
            self.record(
                DecisionKind.DEPLOYED,
                "every component rolled out and available; monitoring until "
                + _local(
                    self.now + (self._milestone("monitoringEnd") - self.milestones["departure"]),
                    self.timezone,
                ),
                Evidence(components=tuple(rollouts.order(list(units), self.p.components))),
            )
            self.status = replace(self.status, phase=Phase.MONITORING)
        if self.now < self._monitoring_end():
            self.find(
                FindingKind.ROLLOUT,
                f"monitoring until {_local(self._monitoring_end(), self.timezone)}",
            )
            return
        self._release()

    def _monitoring_end(self) -> datetime:
        """monitoringEnd, or as long after the rollout finished if it finished late (a
        window held it): a release is always watched for the whole monitoring span."""
        planned = self._milestone("monitoringEnd")
        deployed = self.status.last(DecisionKind.DEPLOYED)
        finished = deployed.at if deployed is not None else self.now
        return max(planned, finished + (planned - self.milestones["departure"]))

    def _roll(self, units: dict[str, list[rollouts.Unit]]) -> bool:
        """Advance the rollout by one component; True when every component is done."""
        for component in rollouts.order(list(units), self.p.components):
            state = rollouts.progress(units[component])
            if state is rollouts.Progress.COMPLETE:
                continue
            if state is rollouts.Progress.MISSING:
                self.find(FindingKind.ERROR, f"a Deployment of {component} is missing")
                return False
            later = sorted(r for r in self.p.in_flight.get(component, set()) if self._newer(r))
            if later:
                self.find(
                    FindingKind.ROLLOUT,
                    f"{component} is left to release {', '.join(later)}, which departs later",
                )
                continue
            pending = [u for u in units[component] if not u.at_target and not u.superseded]
            if not pending:
                message = "; ".join(
                    f"{u.workload.cluster}/{u.workload.deployment}: {u.seen.message}"
                    for u in units[component]
                    if u.seen is not None
                )
                self.find(FindingKind.ROLLOUT, f"{component} rolling out ({message})")
                return False
            spec = self.p.components[component].spec
            for dependency in spec.depends_on:
                elsewhere = self.p.in_flight.get(dependency, set()) - {self.name}
                if elsewhere and not self._complete_elsewhere(dependency, elsewhere):
                    self.find(
                        FindingKind.WAITING,
                        f"{component} waits for {dependency} "
                        f"(release {', '.join(sorted(elsewhere))}) to finish rolling out",
                    )
                    return False
            targets = sorted({u.workload.cluster for u in pending})
            exceptions = exceptions_of(self.release)
            verdicts = [
                self.p.evaluator.evaluate(
                    windows.Target(component, cluster, spec.jira_project), self.now, exceptions
                )
                for cluster in targets
            ]
            if self._blocked(verdicts, f"rollout of {component}"):
                return False
            # Each component goes on a verdict judged in the pass that starts it: a veto
            # that arrives mid-rollout (a blocker, a failed scan) pauses the rest.
            judged = self._verdict()
            if judged not in (DecisionKind.GO, DecisionKind.GO_WITH_CONDITIONS):
                self.find(
                    FindingKind.WAITING,
                    f"rollout of {component} paused: "
                    + ("no verdict this pass" if judged is None else f"the verdict is {judged}")
                    + "; it goes when the verdict is GO again",
                )
                return False
            for unit in pending:
                w = unit.workload
                self.act(
                    ActionKind.SET_IMAGE,
                    f"image:{self.name}:{unit.key}:{unit.target}",
                    f"roll out {component} {unit.target.rpartition(':')[2]} "
                    f"({self.name}, in dependency order)",
                    image=ImageChange(
                        w.cluster,
                        w.namespace,
                        w.deployment,
                        w.container,
                        unit.target,
                        unit.running or "",
                    ),
                )
            self.find(FindingKind.ROLLOUT, f"rolling out {component}")
            return False
        return True

    def _newer(self, other: str) -> bool:
        mine, theirs = self.p.departure_of(self.name), self.p.departure_of(other)
        return (
            other != self.name
            and mine is not None
            and theirs is not None
            and (theirs, other) > (mine, self.name)
        )

    def _complete_elsewhere(self, component: str, releases: set[str]) -> bool:
        for other in releases:
            manifest = self.p.desired.releases[other]
            units = self.p.units(manifest.model, other).get(component, [])
            if rollouts.progress(units) is not rollouts.Progress.COMPLETE:
                return False
        return True

    def _trigger(
        self, fired: list[rollouts.Trigger], units: dict[str, list[rollouts.Unit]]
    ) -> None:
        reasons = tuple(f"{t.component}: {t.reason}" for t in fired)
        for reason in reasons:
            self.find(FindingKind.TRIGGER, reason)
        policy = self.spec.rollback
        observed_rollback = any(u.rolled_back for us in units.values() for u in us)
        if not policy.auto and not observed_rollback:
            if self.status.phase is not Phase.ROLLBACK_RECOMMENDED:
                self.record(
                    DecisionKind.ROLLBACK_RECOMMENDED,
                    "rollback triggers fired and rollback.auto is off: a person decides",
                    Evidence(triggers=reasons),
                )
                self.status = replace(self.status, phase=Phase.ROLLBACK_RECOMMENDED)
            return
        started = [c for c, us in units.items() if any(u.at_target or u.ours for u in us)]
        affected = sorted({t.component for t in fired}) if policy.partial else sorted(started)
        previous = {
            u.key: self.status.images.get(u.key) or u.previous or ""
            for c in affected
            for u in units[c]
        }
        self.record(
            DecisionKind.ROLLBACK,
            f"rollback triggers fired; rolling back {', '.join(affected)} to the images "
            "recorded before the rollout"
            + (" (partial: only the affected components)" if policy.partial else ""),
            Evidence(triggers=reasons, components=tuple(affected), images=previous),
        )
        self.status = replace(self.status, phase=Phase.ROLLED_BACK, rolled_back=tuple(affected))
        self._rolled_back()

    def _rolled_back(self) -> None:
        """Restore the recorded images (never rolled back again)."""
        if self.p.observed.workloads is None:
            return
        units = self.p.units(self.release, self.name)
        ordered = rollouts.order(list(units), self.p.components)
        for component in reversed(ordered):
            if component not in self.status.rolled_back:
                continue
            for unit in units[component]:
                previous = self.status.images.get(unit.key) or unit.previous
                if not previous or unit.seen is None or unit.running == previous or unit.superseded:
                    continue
                w = unit.workload
                self.act(
                    ActionKind.ROLLBACK_IMAGE,
                    f"rollback:{self.name}:{unit.key}:{previous}",
                    f"roll back {component} to {previous} ({self.name})",
                    image=ImageChange(
                        w.cluster,
                        w.namespace,
                        w.deployment,
                        w.container,
                        previous,
                        unit.running or "",
                    ),
                )

    # --- released --------------------------------------------------------------------

    def _release(self) -> None:
        jira = self.p.observed.jira
        if jira is None:
            self.find(FindingKind.WAITING, "monitoring ended healthy; Jira not observed")
            return
        self.record(
            DecisionKind.RELEASED,
            "healthy through monitoringEnd: Jira versions released, issues commented, "
            "notes written",
            Evidence(components=tuple(c.name for c in self.spec.components)),
        )
        self.status = replace(self.status, phase=Phase.RELEASED)
        jira_config = self.p.desired.config.spec.jira
        browse = (jira_config.url or "") if jira_config else ""
        self.p.notes[self.name] = notes.to_markdown(
            notes.build(self.p.desired, self.release, jira, browse)
        )
        self._released()

    def _released(self) -> None:
        jira = self.p.observed.jira
        if jira is None:
            return
        day = to_local(self.now, self.timezone).date()
        for project in self.projects:
            version = jira.version(project, self.spec.version)
            if version is not None and not version.released:
                self.act(
                    ActionKind.RELEASE_VERSION,
                    f"release-version:{project}:{self.spec.version}",
                    f"{self.name} is RELEASED",
                    project=project,
                    version=self.spec.version,
                    day=day,
                )
        marker = COMMENT_MARKER.format(release=self.name)
        for issue in jira.issues_of(self.projects, self.spec.version):
            key = f"comment:{issue.key}"
            if key in self.status.done:
                continue
            self.act(
                ActionKind.COMMENT,
                f"comment:{self.name}:{issue.key}",
                f"{self.name} is RELEASED",
                issue=issue.key,
                text=(
                    f"Released in {self.spec.version} on {day.isoformat()}.\n\n"
                    f"Recorded by {marker}."
                ),
                marker=marker,
            )

    # --- Jira versions ---------------------------------------------------------------

    def _versions(self) -> None:
        jira = self.p.observed.jira
        departure = self.status.departure
        if jira is None or departure is None:
            return
        day = to_local(departure, self.timezone).date()
        for project in self.projects:
            version = jira.version(project, self.spec.version)
            if version is not None and (version.released or version.release_date == day):
                continue
            verb = "create" if version is None else f"move from {version.release_date} to"
            self.act(
                ActionKind.ENSURE_VERSION,
                f"version:{project}:{self.spec.version}:{day.isoformat()}",
                f"{verb} {day.isoformat()}: the departure of {self.name}",
                project=project,
                version=self.spec.version,
                day=day,
                description=(self.spec.description or f"Release {self.spec.version}")
                + f" (relctl release {self.name})",
            )


def _local(instant: datetime, timezone: str) -> str:
    return wall(instant, timezone)

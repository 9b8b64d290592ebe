"""Deciding, before the rollout: readiness from code freeze, the go/no-go verdict from
the goNoGo milestone (a record only when the verdict or its evidence changes), and at
departure DELAY (to the train's next departure a window does not hold) or HOLD when the
verdict is not GO. Stops the release before its departure, and when it is not GO."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import timedelta

from controller.plan import analysis, gonogo, jql, readiness
from controller.plan.approvals import declared
from controller.plan.measurements import Measurement
from controller.plan.phases import Context, Draft, Judged, Step
from controller.plan.plans import FindingKind
from controller.plan.records import (
    VERDICTS,
    DecisionKind,
    DecisionRecord,
    Evidence,
    Phase,
    ReleaseStatus,
)
from controller.schedule import departures, trains


def pre_phase(context: Context) -> Phase:
    if context.now < context.milestone("codeFreeze"):
        return Phase.SCHEDULED
    if context.now < context.milestone("goNoGo"):
        return Phase.READINESS
    return Phase.DECIDING


def step(context: Context, status: ReleaseStatus) -> Step:
    draft = Draft(context, status)
    if status.phase.deployed or status.phase.final:
        return draft.done()
    if not status.phase.waiting:
        draft.update(phase=pre_phase(context))
    jira = context.fleet.observed.jira
    if context.now >= context.milestone("codeFreeze") and jira is not None:
        assessed = readiness.assess(context.fleet.desired, context.release, jira, context.approvals)
        draft.find(
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
    judged = judge(draft) if context.now >= context.milestone("goNoGo") else None
    if context.now < context.departure:
        _forecast(draft)
        return draft.stop()
    last = draft.status.last(*VERDICTS)
    if last is None or judged is None:
        draft.find(FindingKind.WAITING, "departure reached; no go/no-go verdict this pass")
        return draft.stop()
    if last.decision is DecisionKind.NO_GO:
        _not_go(draft, last)
        return draft.stop()
    return draft.done()


def judge(draft: Draft) -> DecisionKind | None:
    """The go/no-go verdict now, judged once a pass (recorded when the verdict or its
    evidence changed); None when it cannot be judged this pass (Jira not observed)."""
    context = draft.context
    if context.judged is not None:
        return context.judged.verdict
    if draft.judged is not None:
        return draft.judged.verdict
    draft.judged = Judged(None)
    jira = context.fleet.observed.jira
    if jira is None:
        return None
    desired, spec = context.fleet.desired, context.spec
    approvals = context.approvals
    assessed = readiness.assess(desired, context.release, jira, approvals)
    gates = readiness.gates_of(desired, context.release)
    signals = context.fleet.observed.signals.get(context.name, {})
    metrics: list[readiness.Criterion] = []
    measured: tuple[Measurement, ...] = ()
    if gates.metrics:
        analyses = desired.analyses
        units = context.fleet.units(context.release, context.name, context.attempt)
        found = analysis.gate_targets(context.name, analyses, units, gates, spec.version)
        metrics, measured = analysis.gate_criteria(
            found, context.fleet.observed.readings, context.now
        )
    decision = gonogo.decide(assessed, gates, signals, metrics)
    # The manifest is part of the evidence: a release changed after its verdict (a
    # component added, an approval withdrawn) is judged, and recorded, afresh.
    manifest = spec.model_dump_json(by_alias=True)
    judged = tuple(a.describe() for a in approvals) if approvals is not None else ()
    key = repr((decision.evidence_key, manifest, judged))
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    draft.find(FindingKind.VERDICT, f"{decision.verdict}: {decision.rationale}")
    verdict = decision.verdict
    draft.judged = Judged(verdict)
    if digest == draft.status.verdict_digest:
        return verdict
    draft.update(verdict_digest=digest)
    evidence = Evidence(
        jql=jql.version_issues(context.projects, spec.version),
        issues=assessed.total,
        done=assessed.done,
        blockers=tuple(i.key for i in assessed.blockers),
        critical_bugs=tuple(i.key for i in assessed.critical_bugs),
        approvals=tuple(
            a.describe()
            for a in (approvals if approvals is not None else declared(context.release))
        ),
        signals=tuple(f"{k}={v}" for k, v in sorted(signals.items())),
        departure=context.departure,
        measurements=measured,
    )
    draft.record(verdict, decision.rationale, evidence, decision.criteria)
    return verdict


def _forecast(draft: Draft) -> None:
    """Before departure: when it goes, and whether a window will hold it."""
    context = draft.context
    departure = context.departure
    held = departures.hold_of(context.window_verdicts(departure), departure)
    when = context.local(departure)
    if held is None:
        draft.find(
            FindingKind.SCHEDULE,
            f"departs {when}; go/no-go {context.local(context.milestone('goNoGo'))}",
        )
        return
    opens = context.local(held.opens) if held.opens else "no opening within five years"
    draft.find(
        FindingKind.BLOCKED,
        f"departure {when} falls {context.describe(held)}; it would go at {opens}",
        held.opens,
    )


def _not_go(draft: Draft, last: DecisionRecord) -> None:
    context = draft.context
    departure = context.departure
    if context.train is not None and context.spec.on_no_go == "delay":
        after = max(departure + timedelta(seconds=1), context.now)
        upcoming = departures.following(after, context.train)
        found = (
            departures.effective(
                upcoming,
                train=context.train,
                evaluator=context.fleet.evaluator,
                where=departures.targets(context.fleet.desired, context.release),
                exceptions=context.exceptions,
            )
            if upcoming is not None
            else None
        )
        if found is not None and found.at is not None:
            named = trains.departure_on(context.train, found.at)
            version = f" ({named.version})" if named is not None else ""
            skipped = f"; passed over {context.passed_over(found.passed)}" if found.passed else ""
            moved = departures.milestones(found.at, context.train, context.timezone)
            draft.update(departure=found.at, delayed=upcoming, verdict_digest="")
            draft.record(
                DecisionKind.DELAY,
                f"not GO at departure ({last.rationale}); moved to the next departure, "
                f"{context.local(found.at)}{version}{skipped}; go/no-go "
                f"{context.local(moved.get('goNoGo', found.at))}",
                Evidence(
                    departure=departure,
                    until=found.at,
                    windows=tuple(sorted({n for h in found.passed for n in h.windows})),
                ),
            )
            draft.milestones = moved
            draft.update(phase=pre_phase(replace(context, milestones=moved)))
            return
    if draft.status.phase is not Phase.HELD:
        draft.record(
            DecisionKind.HOLD,
            f"not GO at departure ({last.rationale}); held until the verdict is GO",
            Evidence(departure=departure),
        )
        draft.update(phase=Phase.HELD)
    draft.find(FindingKind.WAITING, "held: waiting for a GO verdict")

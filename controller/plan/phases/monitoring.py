"""Monitoring a deployed release: the rollback triggers, evaluated from the rollout's
start until monitoringEnd (`watch`), analyses among them (`plan.analysis`: their
measurements are recorded every pass); a fired trigger rolls back (ROLLBACK, with the
images recorded before the rollout and the measurements that failed) or, with
`rollback.auto` off, asks a person (ROLLBACK_RECOMMENDED). `monitor` keeps the release
until monitoringEnd, and after it while an analysis is Inconclusive or in Error."""

from __future__ import annotations

from datetime import datetime

from controller.plan import analysis, rollouts
from controller.plan.measurements import Measurement
from controller.plan.phases import Context, Draft, Step, stepping
from controller.plan.phases.gating import unobserved
from controller.plan.plans import FindingKind
from controller.plan.records import DecisionKind, Evidence, Phase, ReleaseStatus


def watch(context: Context, status: ReleaseStatus) -> Step:
    draft = Draft(context, status)
    if not status.phase.deployed:
        return draft.done()
    if context.fleet.observed.workloads is None:
        return draft.stop()
    units = context.fleet.units(context.release, context.name, context.attempt)
    if unobserved(draft, units, "watching the rollout"):
        return draft.stop()  # no health is known there: no rollback, no progress, no release
    if context.spec.abort and not context.spec.suspend:
        return _abort(draft, units)
    monitoring = status.phase is not Phase.ROLLING_OUT
    fired: list[rollouts.Trigger] = []
    since: dict[str, datetime] = {}
    if not monitoring or context.now < context.monitoring_end(status):
        fired, since = rollouts.triggers(
            context.release, units, status.unhealthy_since, context.now, context.timezone
        )
    draft.update(unhealthy_since=since)
    for component in sorted(units):
        for record in stepping.failed(status, component):
            fired.append(rollouts.Trigger(component, f"step {record.describe()}"))
    measured: tuple[Measurement, ...] = ()
    targets = _targets(context, units)
    _, holding = analysis.verdicts(targets, status)
    if targets and (not monitoring or context.now < context.monitoring_end(status) or holding):
        evaluation = analysis.evaluate(
            targets, draft.status, context.now, context.fleet.observed.readings
        )
        draft.update(measurements=evaluation.status.measurements)
        draft.update(baselines=evaluation.status.baselines)
        for target, failed in evaluation.failed:
            fired.append(
                rollouts.Trigger(target.component, f"analysis {target.key}: {failed[-1].reason}")
            )
            measured += failed
        for why in evaluation.holding:
            draft.find(FindingKind.ANALYSIS, why)
    if fired:
        return _trigger(draft, fired, units, measured)
    if status.phase is Phase.ROLLBACK_RECOMMENDED:
        draft.find(FindingKind.TRIGGER, "rollback recommended; waiting for a person")
        return draft.stop()
    return draft.done()


def _abort(draft: Draft, units: dict[str, list[rollouts.Unit]]) -> Step:
    """`abort` during a rollout: ABORTED once; every component started is a trigger, so
    the rollback policy decides what happens to it; nothing more rolls out."""
    context = draft.context
    reason = " ".join(context.spec.reason.split())
    started = sorted(
        c
        for c, us in units.items()
        if any(u.touched for u in us) or stepping.migrated(draft.status, c)
    )
    if draft.status.last(DecisionKind.ABORTED) is None:
        draft.record(
            DecisionKind.ABORTED,
            f"aborted by a person: {reason}; nothing more rolls out"
            + (f"; rolled out so far: {', '.join(started)}" if started else ""),
            Evidence(
                components=tuple(started),
                triggers=(f"aborted: {reason}",),
                by=context.fleet.observed.controls.get(context.name, {}).get("abort", ""),
            ),
        )
    if draft.status.phase is Phase.ROLLBACK_RECOMMENDED:
        draft.find(FindingKind.TRIGGER, "aborted; rollback recommended: waiting for a person")
        return draft.stop()
    if not started:
        draft.update(phase=Phase.ROLLED_BACK, rolled_back=())
        return draft.done()
    fired = [rollouts.Trigger(c, f"aborted: {reason}") for c in started]
    return _trigger(draft, fired, units)


def _targets(context: Context, units: dict[str, list[rollouts.Unit]]) -> list[analysis.Target]:
    wanted = context.spec.rollback.triggers.analysis
    if not wanted:
        return []
    analyses = context.fleet.desired.analyses
    return analysis.targets(context.name, analyses, units, wanted, context.spec.version)


def _trigger(
    draft: Draft,
    fired: list[rollouts.Trigger],
    units: dict[str, list[rollouts.Unit]],
    measured: tuple[Measurement, ...] = (),
) -> Step:
    reasons = tuple(f"{t.component}: {t.reason}" for t in fired)
    for reason in reasons:
        draft.find(FindingKind.TRIGGER, reason)
    context = draft.context
    policy = context.spec.rollback
    observed_rollback = any(u.rolled_back for us in units.values() for u in us)
    started = [
        c
        for c, us in units.items()
        if any(u.touched for u in us) or stepping.migrated(draft.status, c)
    ]
    affected = sorted({t.component for t in fired}) if policy.partial else sorted(started)
    forward = stepping.irreversible(context, draft.status, affected)
    if (not policy.auto or forward) and not observed_rollback:
        if draft.status.phase is not Phase.ROLLBACK_RECOMMENDED:
            why = (
                f"it ran the irreversible step {'; '.join(forward)}: restoring the previous "
                "images would run old code against what the step changed; roll forward "
                "with a fixed release"
                if forward
                else "rollback.auto is off: a person decides"
            )
            draft.record(
                DecisionKind.ROLLBACK_RECOMMENDED,
                f"rollback triggers fired; {why}",
                Evidence(
                    triggers=reasons,
                    measurements=measured,
                    steps=stepping.checklist(context, draft.status),
                ),
            )
            draft.update(phase=Phase.ROLLBACK_RECOMMENDED)
        return draft.stop()
    previous = {
        u.key: draft.status.images.get(u.key) or u.previous or ""
        for c in affected
        for u in units[c]
    }
    draft.record(
        DecisionKind.ROLLBACK,
        f"rollback triggers fired; rolling back "
        f"{', '.join(affected) or 'nothing (no component was rolled out yet)'} to the images "
        "recorded before the rollout"
        + (" (partial: only the affected components)" if policy.partial else ""),
        Evidence(
            triggers=reasons,
            components=tuple(affected),
            images=previous,
            measurements=measured,
            steps=stepping.checklist(context, draft.status, *affected),
        ),
    )
    draft.update(phase=Phase.ROLLED_BACK, rolled_back=tuple(affected))
    return draft.done()


def monitor(context: Context, status: ReleaseStatus) -> Step:
    draft = Draft(context, status)
    if status.phase is not Phase.MONITORING:
        return draft.done()
    end = context.monitoring_end(status)
    if context.now < end:
        draft.find(FindingKind.ROLLOUT, f"monitoring until {context.local(end)}")
        return draft.stop()
    units = context.fleet.units(context.release, context.name, context.attempt)
    targets = _targets(context, units)
    grace = context.spec.rollback.triggers.inconclusive_grace
    within = grace is None or context.now < end + grace
    _, holding = analysis.verdicts(targets, status, inconclusive_holds=within)
    if holding:
        draft.find(
            FindingKind.ANALYSIS, "monitoring is over, but not released: " + "; ".join(holding)
        )
        return draft.stop()
    return draft.done()


def unsettled(context: Context, status: ReleaseStatus) -> tuple[str, ...]:
    """Why the release's analyses are still Inconclusive (their grace over), if they are:
    what its RELEASED record must say."""
    units = context.fleet.units(context.release, context.name, context.attempt)
    return analysis.verdicts(_targets(context, units), status)[1]

"""Monitoring a deployed release: the rollback triggers, evaluated from the rollout's
start until monitoringEnd (`watch`); a fired trigger rolls back (ROLLBACK, with the
images recorded before the rollout) or, with `rollback.auto` off, asks a person
(ROLLBACK_RECOMMENDED). `monitor` keeps the release until monitoringEnd."""

from __future__ import annotations

from datetime import datetime

from controller.plan import rollouts
from controller.plan.phases import Context, Draft, Step
from controller.plan.phases.gating import unobserved
from controller.plan.plans import FindingKind
from controller.plan.records import DecisionKind, Evidence, Phase, ReleaseStatus


def watch(context: Context, status: ReleaseStatus) -> Step:
    draft = Draft(context, status)
    if not status.phase.deployed:
        return draft.done()
    if context.fleet.observed.workloads is None:
        return draft.stop()
    units = context.fleet.units(context.release, context.name)
    if unobserved(draft, units, "watching the rollout"):
        return draft.stop()  # no health is known there: no rollback, no progress, no release
    monitoring = status.phase is not Phase.ROLLING_OUT
    fired: list[rollouts.Trigger] = []
    since: dict[str, datetime] = {}
    if not monitoring or context.now < context.monitoring_end(status):
        fired, since = rollouts.triggers(
            context.release, units, status.unhealthy_since, context.now, context.timezone
        )
    draft.update(unhealthy_since=since)
    if fired:
        return _trigger(draft, fired, units)
    if status.phase is Phase.ROLLBACK_RECOMMENDED:
        draft.find(FindingKind.TRIGGER, "rollback recommended; waiting for a person")
        return draft.stop()
    return draft.done()


def _trigger(
    draft: Draft, fired: list[rollouts.Trigger], units: dict[str, list[rollouts.Unit]]
) -> Step:
    reasons = tuple(f"{t.component}: {t.reason}" for t in fired)
    for reason in reasons:
        draft.find(FindingKind.TRIGGER, reason)
    policy = draft.context.spec.rollback
    observed_rollback = any(u.rolled_back for us in units.values() for u in us)
    if not policy.auto and not observed_rollback:
        if draft.status.phase is not Phase.ROLLBACK_RECOMMENDED:
            draft.record(
                DecisionKind.ROLLBACK_RECOMMENDED,
                "rollback triggers fired and rollback.auto is off: a person decides",
                Evidence(triggers=reasons),
            )
            draft.update(phase=Phase.ROLLBACK_RECOMMENDED)
        return draft.stop()
    started = [c for c, us in units.items() if any(u.at_target or u.ours for u in us)]
    affected = sorted({t.component for t in fired}) if policy.partial else sorted(started)
    previous = {
        u.key: draft.status.images.get(u.key) or u.previous or ""
        for c in affected
        for u in units[c]
    }
    draft.record(
        DecisionKind.ROLLBACK,
        f"rollback triggers fired; rolling back {', '.join(affected)} to the images "
        "recorded before the rollout"
        + (" (partial: only the affected components)" if policy.partial else ""),
        Evidence(triggers=reasons, components=tuple(affected), images=previous),
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
    return draft.done()

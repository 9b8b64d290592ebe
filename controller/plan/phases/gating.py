"""Gating, at departure with a GO: the rollout starts when every cluster it touches was
observed, every Deployment exists and no window blocks (a block is a `Hold`: deny
windows, or allow windows none of which is open, and when they open). A window passed
by the release's override is recorded (OVERRIDE); the start is recorded (ROLLOUT, with
the images running before). Stops the release while it waits."""

from __future__ import annotations

from controller.plan import rollouts
from controller.plan.phases import Context, Draft, Step
from controller.plan.plans import FindingKind
from controller.plan.records import DecisionKind, Evidence, Phase, ReleaseStatus
from controller.schedule import departures, windows


def step(context: Context, status: ReleaseStatus) -> Step:
    draft = Draft(context, status)
    if status.phase.deployed or status.phase.final:
        return draft.done()
    if context.fleet.observed.workloads is None:
        draft.find(FindingKind.WAITING, "GO: would roll out now (cluster not observed)")
        return draft.stop()
    units = context.fleet.units(context.release, context.name, context.attempt)
    if unobserved(draft, units, "the rollout"):
        return draft.stop()
    missing = [u for us in units.values() for u in us if u.seen is None]
    for u in missing:
        w = u.workload
        draft.find(
            FindingKind.ERROR,
            f"Deployment {w.cluster}/{w.namespace}/{w.deployment} not found; cannot roll out",
        )
    if missing:
        return draft.stop()
    verdicts = context.window_verdicts(context.now)
    if blocked(draft, verdicts, "rollout"):
        draft.update(phase=Phase.WAITING)
        return draft.stop()
    if any(v.override_used for v in verdicts):
        _override(draft, verdicts)
    order = rollouts.order(list(units), context.fleet.components)
    images = {u.key: u.running or "" for us in units.values() for u in us}
    draft.record(
        DecisionKind.ROLLOUT,
        f"GO and no window blocks: rolling out {', '.join(order)} in dependency order",
        Evidence(components=tuple(order), images=images),
    )
    draft.update(phase=Phase.ROLLING_OUT, images=images)
    return draft.done()


def blocked(draft: Draft, verdicts: list[windows.Verdict], what: str) -> bool:
    """Report windows blocking `what` now (a BLOCKED record when they change); True when
    blocked."""
    context = draft.context
    held = departures.hold_of(verdicts, context.now)
    if held is None:
        return False
    names, until = held.windows, held.opens
    opens = context.local(until) if until else "no opening within five years"
    reasons = context.describe(held)
    draft.find(FindingKind.BLOCKED, f"{what} blocked: {reasons}; opens {opens}", until)
    last = draft.status.decisions[-1] if draft.status.decisions else None
    if last is None or last.decision is not DecisionKind.BLOCKED or last.evidence.windows != names:
        draft.record(
            DecisionKind.BLOCKED,
            f"{what} blocked: {reasons}; it goes when the window opens, {opens}",
            Evidence(windows=names, until=until),
        )
    return True


def unobserved(draft: Draft, units: dict[str, list[rollouts.Unit]], what: str) -> bool:
    """Report clusters of this release that could not be observed; True if any."""
    clusters = sorted(
        {u.workload.cluster for us in units.values() for u in us}
        & set(draft.context.fleet.observed.unobserved)
    )
    for cluster in clusters:
        draft.find(
            FindingKind.WAITING,
            f"cluster {cluster} could not be observed; {what} waits until it can be",
        )
    return bool(clusters)


def _override(draft: Draft, verdicts: list[windows.Verdict]) -> None:
    override = draft.context.spec.override
    assert override is not None
    passed = tuple(sorted({n for v in verdicts if v.override_used for n in v.passed}))
    draft.record(
        DecisionKind.OVERRIDE,
        f"override by {override.by} passes {', '.join(passed)}: {override.reason} "
        f"(expires {draft.context.local(override.expires)})",
        Evidence(windows=passed, until=override.expires),
    )

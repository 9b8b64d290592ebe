"""Steps around a rollout, within a release's life: `record` writes what the cluster says
of the release's step Jobs into its status (before the rollback triggers read them);
`run` is asked by the rollout (pre and post steps) and the rollback (onRollback steps)
whether a component's steps of one kind are done, and starts the ones due; `checklist`
is what the ROLLOUT, DEPLOYED and ROLLBACK records show of them; `irreversible` names
the steps that forbid an automatic rollback; `tag` asks for the release's git tag once
it rolled out."""

from __future__ import annotations

from collections.abc import Mapping

from controller.manifests.state import DesiredState
from controller.plan import flags, steps
from controller.plan.actions import RunJob, TagRelease
from controller.plan.phases import Context, Draft, Step
from controller.plan.plans import FindingKind
from controller.plan.records import VERDICTS, DecisionKind, Phase, ReleaseStatus
from controller.plan.steps import Gate, Item, JobState, StepRecord, When


def items(context: Context, when: When) -> dict[str, list[Item]]:
    return steps.items(
        context.name, context.release, context.fleet.components, when, context.attempt
    )


def record(context: Context, status: ReleaseStatus) -> Step:
    draft = Draft(context, status)
    if not (status.phase.deployed or status.phase is Phase.ROLLED_BACK):
        return draft.done()
    observed = context.fleet.observed
    whens = _watched(status.phase)
    wanted = [i for when in whens for group in items(context, when).values() for i in group]
    settled = steps.settle(
        status.steps, status.done, wanted, observed.jobs, observed.unobserved, context.now
    )
    if settled != status.steps:
        draft.update(steps=settled)
    return draft.done()


def run(draft: Draft, component: str, when: When) -> bool:
    """True when `component`'s `when` steps all succeeded (or it has none); otherwise
    the Jobs due are started and what it waits for (or why it failed) is reported."""
    context = draft.context
    group = items(context, when).get(component, [])
    if not group:
        return True
    observed = context.fleet.observed
    dark = sorted({i.job.cluster for i in group} & set(observed.unobserved))
    if observed.jobs is None or dark:
        draft.find(
            FindingKind.WAITING,
            f"{component}'s {when} steps wait: their Jobs could not be observed"
            + (f" (cluster {', '.join(dark)})" if dark else ""),
        )
        return False
    gate, start, why = steps.gate(group, draft.status.steps, draft.status.done, observed.jobs)
    if gate is Gate.DONE:
        return True
    if gate is Gate.FAILED:
        draft.find(FindingKind.TRIGGER, f"{component}'s {when} step failed: {why}")
        return False
    for item in start:
        draft.act(
            RunJob(
                context.name,
                f"{when} step {item.step.name} of {component} ({context.name})",
                item.job,
            )
        )
    draft.find(FindingKind.ROLLOUT, f"{component}: {why}")
    return False


def maintenance_on(draft: Draft, component: str) -> bool:
    """True when `component` needs no maintenance mode or its flag is on at its target.
    Otherwise the release's record switches it on (the flag path applies it this pass)
    and the component waits to see it applied before its first step."""
    context = draft.context
    mode = _mode(context, component)
    if mode is None:
        return True
    if component not in draft.status.maintenance:
        draft.update(maintenance=(*draft.status.maintenance, component))
        draft.find(FindingKind.ROLLOUT, f"{component}: maintenance mode on ({mode})")
        return False
    flag = context.fleet.desired.flags.get(mode)
    observed = context.fleet.observed.flags
    applied = None
    if flag is not None and observed is not None:
        held = observed.get(flags.target_of(flag.model.spec)) or {}
        applied = (held.get(mode) or {}).get("defaultVariant")
    if applied == "on":
        return True
    draft.find(FindingKind.WAITING, f"{component} waits for its maintenance flag {mode} to be on")
    return False


def maintenance_off(draft: Draft, component: str) -> None:
    """`component` is done (or restored): its maintenance flag goes off."""
    if component in draft.status.maintenance:
        left = tuple(c for c in draft.status.maintenance if c != component)
        draft.update(maintenance=left)
        draft.find(FindingKind.ROLLOUT, f"{component}: maintenance mode off")


def _mode(context: Context, component: str) -> str | None:
    for item in context.spec.components:
        found = context.fleet.desired.components.get(item.name)
        if item.name == component and found is not None:
            mode = steps.steps_of(item, found.model).maintenance
            return None if mode is None else mode.flag
    return None


def failed(status: ReleaseStatus, component: str) -> list[StepRecord]:
    """The component's failed pre and post steps: rollback triggers."""
    return steps.failures(status.steps, component, When.PRE, When.POST)


def migrated(status: ReleaseStatus, component: str) -> bool:
    """A pre step of the component succeeded: what it changed (a migration) is undone by
    its onRollback steps before its previous image is restored."""
    return bool(steps.succeeded(status.steps, component, When.PRE))


def checklist(context: Context, status: ReleaseStatus, *components: str) -> tuple[StepRecord, ...]:
    """Every step of `components` (all the release's when none are named), each with its
    outcome so far: Pending until it ran."""
    known = {r.key: r for r in status.steps}
    found: list[StepRecord] = []
    for when in When:
        for component, group in items(context, when).items():
            if components and component not in components:
                continue
            found.extend(known.get(i.key) or steps.record_of(i, JobState.PENDING) for i in group)
    return tuple(found)


def irreversible(context: Context, status: ReleaseStatus, components: list[str]) -> list[str]:
    """The irreversible steps (`reversible: false`) of `components` that ran."""
    ran = {r.key for r in status.steps} | {d.removeprefix("job:") for d in status.done}
    return [
        i.describe()
        for component, group in items(context, When.PRE).items()
        if component in components
        for i in group
        if not i.step.reversible and i.key in ran
    ]


def tag(context: Context, status: ReleaseStatus) -> Step:
    """Once the release rolled out: its annotated tag, at the revision of the GO it
    rolled out on, as recorded (a pass killed before recording leaves no tag that a
    re-decided GO could contradict)."""
    draft = Draft(context, status)
    template = context.fleet.desired.config.spec.git.release_tag
    rollout = status.last(DecisionKind.ROLLOUT)
    if template is None or rollout is None:
        return draft.done()
    name = template.replace("{release}", context.name).replace("{version}", context.spec.version)
    action_key = f"tag:{name}"
    if action_key in status.done:
        return draft.done()
    go = next(
        (d for d in reversed(status.decisions) if d.decision in VERDICTS and d.at <= rollout.at),
        None,
    )
    decided = go if go is not None else rollout
    if not decided.revision:
        return draft.done()  # decided this pass: tagged once its record holds the revision
    message = (
        f"relctl: {context.name} {context.spec.version}\n\n"
        f"{decided.decision} at {decided.at.isoformat()}: {decided.rationale}\n"
        f"ROLLOUT at {rollout.at.isoformat()}: {rollout.rationale}\n"
    )
    draft.act(
        TagRelease(
            context.name,
            f"tag {context.name} at the revision its {decided.decision} was decided on",
            name,
            decided.revision,
            message,
        )
    )
    return draft.done()


WATCHED = frozenset(
    {
        Phase.DECIDING,
        Phase.HELD,
        Phase.WAITING,
        Phase.ROLLING_OUT,
        Phase.MONITORING,
        Phase.ROLLBACK_RECOMMENDED,
        Phase.ROLLED_BACK,
    }
)


def _watched(phase: Phase) -> tuple[When, ...]:
    """The steps whose Jobs matter in `phase`: a rolled-back release's onRollback steps
    alone (a post step it left running is no longer its concern)."""
    return (When.ROLLBACK,) if phase is Phase.ROLLED_BACK else tuple(When)


def watched(
    desired: DesiredState, recorded: Mapping[str, ReleaseStatus]
) -> tuple[dict[str, set[str]], frozenset[str]]:
    """Where the shell lists step Jobs (cluster → namespaces) and which Jobs' outcomes are
    still unrecorded (their log is read when they failed): the steps of releases about
    to roll out, rolling out, monitored, or rolled back with onRollback steps to run."""
    where: dict[str, set[str]] = {}
    open_: set[str] = set()
    components = {n: m.model for n, m in desired.components.items()}
    for name, manifest in desired.releases.items():
        status = recorded.get(name)
        if status is None or status.phase not in WATCHED:
            continue
        known = {r.key: r for r in status.steps}
        for when in _watched(status.phase):
            found = steps.items(name, manifest.model, components, when, status.attempt)
            for group in found.values():
                for item in group:
                    finished = known.get(item.key)
                    if finished is not None and finished.state is not JobState.RUNNING:
                        continue
                    where.setdefault(item.job.cluster, set()).add(item.job.namespace)
                    open_.add(item.key)
    return where, frozenset(open_)

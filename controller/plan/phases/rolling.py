"""Rolling out, one component at a time in dependency order: a component waits for the
components it dependsOn that another release is rolling out, for its windows, and for
a GO judged in the pass that starts it (a veto mid-rollout pauses the rest); a
component a later-departing release also rolls out is left to it. A component's
maintenance flag goes on and its pre steps run before its image changes, its post steps
once its rollout is complete (`stepping`); with the git method, an image its environment
repository already holds is waited for, not committed again. When every component is
rolled out and available: DEPLOYED, and monitoring begins. `restore` puts back the
images recorded before the rollout of a rolled-back release, after its down-migrations."""

from __future__ import annotations

from controller.plan import rollouts
from controller.plan.actions import RollbackImage, SetImage
from controller.plan.phases import Context, Draft, Step, stepping
from controller.plan.phases.deciding import judge
from controller.plan.phases.gating import blocked
from controller.plan.plans import FindingKind
from controller.plan.records import DecisionKind, Evidence, Phase, ReleaseStatus
from controller.plan.steps import When
from controller.schedule import departures


def step(context: Context, status: ReleaseStatus) -> Step:
    draft = Draft(context, status)
    if status.phase is not Phase.ROLLING_OUT:
        return draft.done()
    units = context.fleet.units(context.release, context.name, context.attempt)
    if not _roll(draft, units):
        return draft.stop()
    span = context.milestone("monitoringEnd") - context.departure
    draft.record(
        DecisionKind.DEPLOYED,
        f"every component rolled out and available; monitoring until "
        f"{context.local(context.now + span)}",
        Evidence(
            components=tuple(rollouts.order(list(units), context.fleet.components)),
            steps=stepping.checklist(context, draft.status),
        ),
    )
    draft.update(phase=Phase.MONITORING)
    return draft.done()


def _roll(draft: Draft, units: dict[str, list[rollouts.Unit]]) -> bool:
    """Advance the rollout by one component; True when every component is done."""
    context = draft.context
    fleet = context.fleet
    for component in rollouts.order(list(units), fleet.components):
        state = rollouts.progress(units[component])
        if state is rollouts.Progress.COMPLETE:
            if not stepping.run(draft, component, When.POST):
                return False  # smoke tests after the rollout: a failure is a trigger
            stepping.maintenance_off(draft, component)
            continue
        if state is rollouts.Progress.MISSING:
            draft.find(FindingKind.ERROR, f"a Deployment of {component} is missing")
            return False
        later = sorted(
            r for r in fleet.in_flight.get(component, frozenset()) if fleet.newer(context.name, r)
        )
        if later:
            draft.find(
                FindingKind.ROLLOUT,
                f"{component} is left to release {', '.join(later)}, which departs later",
            )
            continue
        pending = [
            u for u in units[component] if not u.at_target and not u.superseded and not u.committed
        ]
        if not pending and any(u.committed and not u.at_target for u in units[component]):
            waiting = [u for u in units[component] if u.committed and not u.at_target]
            notes = "; ".join(rollouts.committed(u) for u in waiting)
            agent = _agent(context, component)
            draft.find(
                FindingKind.ROLLOUT, f"{component}: {notes}; waiting for the GitOps agent{agent}"
            )
            return False
        if not pending:
            message = "; ".join(
                f"{u.workload.cluster}/{u.workload.deployment}: {u.seen.message}"
                for u in units[component]
                if u.seen is not None
            )
            draft.find(FindingKind.ROLLOUT, f"{component} rolling out ({message})")
            return False
        for dependency in fleet.components[component].spec.depends_on:
            elsewhere = fleet.in_flight.get(dependency, frozenset()) - {context.name}
            if elsewhere and not _complete_elsewhere(context, dependency, elsewhere):
                draft.find(
                    FindingKind.WAITING,
                    f"{component} waits for {dependency} "
                    f"(release {', '.join(sorted(elsewhere))}) to finish rolling out",
                )
                return False
        where = departures.targets_of(
            fleet.desired, component, (u.workload.cluster for u in pending)
        )
        if blocked(draft, context.window_verdicts(context.now, where), f"rollout of {component}"):
            return False
        # Each component goes on a verdict judged in the pass that starts it: a veto
        # that arrives mid-rollout (a blocker, a failed scan) pauses the rest.
        judged = judge(draft)
        if judged not in (DecisionKind.GO, DecisionKind.GO_WITH_CONDITIONS):
            draft.find(
                FindingKind.WAITING,
                f"rollout of {component} paused: "
                + ("no verdict this pass" if judged is None else f"the verdict is {judged}")
                + "; it goes when the verdict is GO again",
            )
            return False
        if not stepping.maintenance_on(draft, component):
            return False  # maintenance mode on before the first step
        if not stepping.run(draft, component, When.PRE):
            return False  # migrations before the image changes
        for unit in pending:
            draft.act(
                SetImage(
                    context.name,
                    f"roll out {component} {unit.target.rpartition(':')[2]} "
                    f"({context.name}, in dependency order)",
                    unit.change(unit.target),
                    context.attempt,
                )
            )
        draft.find(FindingKind.ROLLOUT, f"rolling out {component}")
        return False
    return True


def _agent(context: Context, component: str) -> str:
    """What the component's GitOps agent object (Argo CD or Flux) says, when it names one
    and it was read."""
    state = context.fleet.observed.applications.get(component)
    spec = context.fleet.components[component].spec.deploy.application
    return f" ({spec.describe()}: {state.describe()})" if state and spec else ""


def _complete_elsewhere(context: Context, component: str, releases: frozenset[str]) -> bool:
    for other in releases:
        manifest = context.fleet.desired.releases[other]
        units = context.fleet.units(manifest.model, other).get(component, [])
        if rollouts.progress(units) is not rollouts.Progress.COMPLETE:
            return False
    return True


def restore(context: Context, status: ReleaseStatus) -> Step:
    """Restore the recorded images of a rolled-back release (never rolled back again), in
    reverse dependency order. A component one of whose pre steps succeeded first runs
    its onRollback steps, with the image of the release being rolled back (which has the
    down-migrations); the components before it wait for them."""
    draft = Draft(context, status)
    if status.phase is not Phase.ROLLED_BACK or context.fleet.observed.workloads is None:
        return draft.done()
    units = context.fleet.units(context.release, context.name, context.attempt)
    for component in reversed(rollouts.order(list(units), context.fleet.components)):
        if component not in status.rolled_back:
            stepping.maintenance_off(draft, component)  # not rolled back: it is over
            continue
        if stepping.migrated(status, component) and not stepping.run(
            draft, component, When.ROLLBACK
        ):
            return draft.done()
        restored = True
        for unit in units[component]:
            previous = status.images.get(unit.key) or unit.previous
            if not previous or unit.seen is None or unit.current == previous or unit.superseded:
                continue
            restored = False
            draft.act(
                RollbackImage(
                    context.name,
                    f"roll back {component} to {previous} ({context.name})",
                    unit.change(previous),
                    context.attempt,
                )
            )
        if restored:
            stepping.maintenance_off(draft, component)  # back on its previous image
    return draft.done()

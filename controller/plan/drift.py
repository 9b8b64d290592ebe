"""Image drift across releases: workloads running an image no release put there (flags
are `flag_rollout`'s).

An image is expected on a workload when a release that shipped it is deployed,
released or rolled back (then the recorded previous image is expected); workloads in a
rollout are left to the rollout. Drift is reported; a component with `selfHeal` gets its
image restored (the executor acts only in `enforce` mode).

Purely computational.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Set
from datetime import UTC, datetime

from controller.manifests.state import DesiredState
from controller.plan import rollouts, steps
from controller.plan.actions import Action, RestoreImage, WorkloadId
from controller.plan.plans import Finding, FindingKind, Observed
from controller.plan.records import DecisionKind, Phase, ReleaseStatus

_NEVER = datetime.min.replace(tzinfo=UTC)


def images(
    desired: DesiredState,
    observed: Observed,
    statuses: Mapping[str, ReleaseStatus],
    busy: Set[WorkloadId],
    held: Callable[[str, str], str | None] = lambda _component, _cluster: None,
) -> tuple[list[Action], list[Finding]]:
    """Drift findings and self-heal actions for workloads whose image changed by hand.
    `busy`: workloads this plan already changes; `held(component, cluster)`: why a
    window keeps that target from changing now (a repair waits for it), or None."""
    if observed.workloads is None:
        return [], []
    components = {n: m.model for n, m in desired.components.items()}
    expected: dict[str, tuple[str, str, rollouts.Unit]] = {}
    in_flux: set[str] = set()
    ordered = sorted(
        (s.departure or _NEVER, name) for name, s in statuses.items() if name in desired.releases
    )
    for _, name in ordered:
        status = statuses[name]
        if status.suspended or (not status.phase.settled and not status.phase.in_flux):
            continue  # a suspended release's workloads are left as they are
        manifest = desired.releases[name].model
        units = rollouts.units_of(
            manifest, name, components, observed.workloads, attempt=status.attempt
        )
        # A rollout that never completed (rolled back or stopped for a person) set only
        # the workloads its annotation is on: nothing else is the release's to expect.
        complete = status.last(DecisionKind.DEPLOYED) is not None
        for component, found in units.items():
            for unit in found:
                if status.phase.in_flux or (
                    status.phase is Phase.ROLLED_BACK
                    and component in status.rolled_back
                    and steps.undoing(name, manifest, components, status.steps, component)
                ):
                    in_flux.add(unit.key)  # changing, or waiting for its down-migration
                    continue
                image = unit.target
                if status.phase is Phase.ROLLED_BACK and component in status.rolled_back:
                    image = status.images.get(unit.key) or unit.previous or ""
                elif not complete and not unit.ours:
                    continue
                if image:
                    expected[unit.key] = (image, name, unit)
    actions: list[Action] = []
    findings: list[Finding] = []
    for key, (image, release, unit) in sorted(expected.items()):
        w = unit.workload
        source = observed.sources.get(key) if unit.source is not None else None
        current = source.image if source is not None else unit.running
        if key in in_flux or unit.seen is None or current == image:
            continue
        if (w.cluster, w.namespace, w.deployment) in busy:
            continue
        where = f"{w.cluster}/{w.namespace}/{w.deployment} container {w.container}"
        if source is not None and unit.source is not None:
            # The git method: the environment repository is what the cluster will run.
            file = f"{unit.source.environment}:{unit.source.locator.file}"
            said = f"{file} holds {current} since {source.commit[:12]} by {source.author}"
            message = f"{said}; release {release} put {image} there ({where})"
        else:
            message = f"{where} runs {current}; release {release} put {image} there"
        findings.append(Finding(FindingKind.DRIFT, unit.component, message))
        if components[unit.component].spec.self_heal:
            why = held(unit.component, w.cluster)
            if why is not None:
                findings.append(
                    Finding(
                        FindingKind.BLOCKED,
                        unit.component,
                        f"self-heal of {w.cluster}/{w.namespace}/{w.deployment} waits: {why}",
                    )
                )
                continue
            actions.append(
                RestoreImage(
                    release,
                    f"self-heal: restore {image} ({release}); the change was not a release's",
                    unit.change(image),
                    unit.attempt,
                )
            )
    return actions, findings

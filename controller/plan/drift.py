"""Drift across releases: workloads running an image no release put there, and feature
flags whose applied flagd JSON differs from the stage due now.

An image is expected on a workload when a release that shipped it is deployed,
released or rolled back (then the recorded previous image is expected); workloads in a
rollout are left to the rollout. Drift is reported; a component with `selfHeal` gets its
image restored (the executor acts only in `enforce` mode).

A flag whose applied JSON equals what relctl rendered for an earlier stage (its
`metadata.rolloutPercent` says which) is a stage advancing; any other difference was
made by hand and is drift. Either way the due document is applied.

Purely computational.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Set
from datetime import UTC, datetime
from typing import Any

from controller.manifests.models import FeatureFlagSpec
from controller.manifests.state import DesiredState
from controller.plan import flags as flagd
from controller.plan import rollouts
from controller.plan.actions import Action, ApplyFlags, RestoreImage, WorkloadId
from controller.plan.plans import Finding, FindingKind, Observed
from controller.plan.records import DecisionKind, Phase, ReleaseStatus

SETTLED = (Phase.MONITORING, Phase.RELEASED, Phase.ROLLED_BACK, Phase.ROLLBACK_RECOMMENDED)
IN_FLUX = (Phase.ROLLING_OUT, Phase.WAITING)
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
        if status.phase not in SETTLED and status.phase not in IN_FLUX:
            continue
        units = rollouts.units_of(
            desired.releases[name].model, name, components, observed.workloads
        )
        # A rollout that never completed (rolled back or stopped for a person) set only
        # the workloads its annotation is on: nothing else is the release's to expect.
        complete = status.last(DecisionKind.DEPLOYED) is not None
        for component, found in units.items():
            for unit in found:
                if status.phase in IN_FLUX:
                    in_flux.add(unit.key)
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
        if key in in_flux or unit.seen is None or unit.running == image:
            continue
        if (w.cluster, w.namespace, w.deployment) in busy:
            continue
        findings.append(
            Finding(
                FindingKind.DRIFT,
                unit.component,
                f"{w.cluster}/{w.namespace}/{w.deployment} container {w.container} runs "
                f"{unit.running}; release {release} put {image} there",
            )
        )
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
                )
            )
    return actions, findings


def flags(
    desired: DesiredState,
    observed: Observed,
    statuses: Mapping[str, ReleaseStatus],
    now: datetime,
) -> tuple[list[Action], list[Finding]]:
    """The stage due now applied to every flag target; drift and stale flags reported."""

    def released(name: str) -> bool:
        status = statuses.get(name)
        return status is not None and status.phase is Phase.RELEASED

    specs = {name: m.model.spec for name, m in desired.flags.items()}
    due = flagd.stages(specs, now, released, desired.config.spec.timezone)
    findings: list[Finding] = []
    stale_after = desired.config.spec.flags.stale_after_days
    for name in sorted(specs):
        reason = flagd.stale_reason(specs[name], due[name], now, stale_after)
        if reason is not None:
            findings.append(
                Finding(FindingKind.STALE_FLAG, name, f"stale: {reason}; remove it from code")
            )
    if observed.flags is None:
        for name in sorted(specs):
            if specs[name].rollout is not None:
                stage = due[name]
                findings.append(
                    Finding(
                        FindingKind.FLAG_STAGE, name, f"due: {stage.percent:g}% ({stage.reason})"
                    )
                )
        return [], findings
    actions: list[Action] = []
    for target, document in flagd.render(desired, now, released).items():
        if target not in observed.flags:
            continue
        actual = observed.flags[target]
        differences = flagd.drift(document["flags"], actual)
        if not differences:
            continue
        for name in sorted({d.flag for d in differences}):
            findings.append(_difference(name, specs.get(name), due, actual, target))
        actions.append(
            ApplyFlags(
                f"apply the flag stages due now to {target.describe()}",
                target,
                json.dumps(document, sort_keys=True, indent=2),
            )
        )
    return actions, findings


def _difference(
    name: str,
    spec: FeatureFlagSpec | None,
    due: Mapping[str, flagd.FlagStage],
    actual: Mapping[str, Any] | None,
    target: flagd.FlagTarget,
) -> Finding:
    have = (actual or {}).get(name)
    where = target.describe()
    if spec is None:
        return Finding(
            FindingKind.FLAG_DRIFT, name, f"{where} holds {name}, which no manifest declares"
        )
    stage = due[name]
    if have is None:
        return Finding(
            FindingKind.FLAG_STAGE, name, f"{name} is not at {where} yet: {stage.percent:g}%"
        )
    metadata = have.get("metadata") or {}
    was = metadata.get("rolloutPercent")
    if metadata.get("managedBy") == "relctl" and isinstance(was, int | float):
        rendered = flagd.flag_json(name, spec, flagd.FlagStage(name, float(was), 1, ""))
        if all(rendered.get(f) == have.get(f) for f in flagd.FIELDS):
            return Finding(
                FindingKind.FLAG_STAGE,
                name,
                f"{name} advances from {was:g}% to {stage.percent:g}% ({stage.reason})",
            )
    fields = sorted(
        f for f in flagd.FIELDS if flagd.flag_json(name, spec, stage).get(f) != have.get(f)
    )
    return Finding(
        FindingKind.FLAG_DRIFT,
        name,
        f"{name} at {where} was changed by hand ({', '.join(fields)}); restoring "
        f"{stage.percent:g}%",
    )

"""Feature flags' rollout, in one place for the planner and `relctl flags status`: the
stage due now at every target, and what a target's applied flagd JSON says of each flag.

A flag whose applied JSON equals what relctl rendered for an earlier stage (its
`metadata.rolloutPercent` says which) is a stage advancing; any other difference was
made by hand and is drift. Either way the planner applies the due document.

Purely computational (`flags` renders the flagd JSON).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from controller.manifests.models import FeatureFlagSpec
from controller.manifests.state import DesiredState
from controller.plan import flag_analysis, steps
from controller.plan import flags as flagd
from controller.plan.actions import Action, ApplyFlags
from controller.plan.flag_analysis import StageJudge
from controller.plan.plans import Finding, FindingKind, Observed
from controller.plan.records import Phase, ReleaseStatus


class Applied(StrEnum):
    """What a target's applied JSON says of one flag, against the stage due."""

    IN_SYNC = "in-sync"
    ADVANCING = "advancing"
    """Relctl's rendering of an earlier stage: the rollout moves on."""
    MISSING = "missing"
    """Not at its target yet."""
    DRIFT = "drift"
    """Changed by hand."""
    UNDECLARED = "undeclared"
    """At the target, but no manifest declares it."""


@dataclass(frozen=True)
class FlagState:
    flag: str
    applied: Applied
    message: str

    def finding(self) -> Finding:
        kind = (
            FindingKind.FLAG_DRIFT
            if self.applied in (Applied.DRIFT, Applied.UNDECLARED)
            else FindingKind.FLAG_STAGE
        )
        return Finding(kind, self.flag, self.message)


def released_by(statuses: Mapping[str, ReleaseStatus]) -> flagd.Released:
    """Whether a release is RELEASED, by its record: what gates an `afterRelease`."""

    def released(name: str) -> bool:
        status = statuses.get(name)
        return status is not None and status.phase is Phase.RELEASED

    return released


def maintenance_of(desired: DesiredState, statuses: Mapping[str, ReleaseStatus]) -> dict[str, str]:
    """Flag → the release whose maintenance mode holds it on now (its record lists the
    components in maintenance)."""
    found: dict[str, str] = {}
    for name in sorted(statuses):
        manifest = desired.releases.get(name)
        if manifest is None or not statuses[name].maintenance:
            continue
        for item in manifest.model.spec.components:
            component = desired.components.get(item.name)
            if component is None or item.name not in statuses[name].maintenance:
                continue
            mode = steps.steps_of(item, component.model).maintenance
            if mode is not None:
                found.setdefault(mode.flag, name)
    return found


def judge_of(desired: DesiredState, observed: Observed, now: datetime) -> StageJudge:
    """The stage analyses' verdicts from the range readings the shell took."""
    specs = {name: m.model.spec for name, m in desired.flags.items()}
    found = flag_analysis.windows(specs, desired.analyses, now)
    return flag_analysis.judge(found, observed.ranges)


def compare(
    desired: DesiredState,
    now: datetime,
    released: flagd.Released,
    target: flagd.FlagTarget,
    actual: Mapping[str, Any] | None,
    judge: StageJudge | None = None,
    maintenance: Mapping[str, str] | None = None,
) -> list[FlagState]:
    """Each flag due at `target`, and each one found there, against what it holds."""
    specs = {name: m.model.spec for name, m in desired.flags.items()}
    zone = desired.config.spec.timezone
    due = flagd.stages(specs, now, released, zone, judge, maintenance)
    rendered = flagd.render(desired, now, released, judge, maintenance)
    document = rendered.get(target, {"flags": {}})
    differing = {d.flag for d in flagd.drift(document["flags"], actual)}
    names = sorted(set(document["flags"]) | set(actual or {}))
    return [
        _state(name, specs.get(name), due, actual, target)
        if name in differing
        else FlagState(name, Applied.IN_SYNC, f"{name} at {target.describe()} is in sync")
        for name in names
    ]


def plan(
    desired: DesiredState,
    observed: Observed,
    statuses: Mapping[str, ReleaseStatus],
    now: datetime,
) -> tuple[list[Action], list[Finding]]:
    """The stage due now applied to every flag target; stages, drift and stale flags
    reported."""
    released = released_by(statuses)
    specs = {name: m.model.spec for name, m in desired.flags.items()}
    judge = judge_of(desired, observed, now)
    maintenance = maintenance_of(desired, statuses)
    due = flagd.stages(specs, now, released, desired.config.spec.timezone, judge, maintenance)
    findings: list[Finding] = [
        Finding(FindingKind.FLAG_STAGE, name, f"{name} is {due[name].reason}")
        for name in sorted(specs)
        if due[name].reason.startswith(("held at stage", "rolled back from stage"))
    ]
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
    for target, document in flagd.render(desired, now, released, judge, maintenance).items():
        if target not in observed.flags:
            continue
        actual = observed.flags[target]
        differences = flagd.drift(document["flags"], actual)
        if not differences:
            continue
        for name in sorted({d.flag for d in differences}):
            by = observed.flag_commits.get(target, "")
            findings.append(_state(name, specs.get(name), due, actual, target, by).finding())
        actions.append(
            ApplyFlags(
                f"apply the flag stages due now to {target.describe()}",
                target,
                json.dumps(document, sort_keys=True, indent=2),
            )
        )
    return actions, findings


def _state(
    name: str,
    spec: FeatureFlagSpec | None,
    due: Mapping[str, flagd.FlagStage],
    actual: Mapping[str, Any] | None,
    target: flagd.FlagTarget,
    by: str = "",
) -> FlagState:
    """A flag whose applied JSON differs from the stage due: why (`by`: the commit that
    last changed a target kept in git, and its author)."""
    have = (actual or {}).get(name)
    where = target.describe()
    if spec is None:
        return FlagState(
            name, Applied.UNDECLARED, f"{where} holds {name}, which no manifest declares"
        )
    stage = due[name]
    if have is None:
        return FlagState(name, Applied.MISSING, f"{name} is not at {where} yet: {stage.percent:g}%")
    metadata = have.get("metadata") or {}
    was = metadata.get("rolloutPercent")
    if metadata.get("managedBy") == "relctl" and isinstance(was, int | float):
        # relctl's rendering of the other side of a maintenance switch: a switch, not drift
        other = flagd.FlagStage(name, float(was), 1, "", not stage.maintenance)
        if stage.maintenance != bool(metadata.get("maintenance")) and all(
            flagd.flag_json(name, spec, other).get(f) == have.get(f) for f in flagd.FIELDS
        ):
            switch = "on" if stage.maintenance else "off"
            return FlagState(name, Applied.ADVANCING, f"{name} switches {switch} ({stage.reason})")
    if metadata.get("managedBy") == "relctl" and isinstance(was, int | float):
        rendered = flagd.flag_json(name, spec, flagd.FlagStage(name, float(was), 1, ""))
        if all(rendered.get(f) == have.get(f) for f in flagd.FIELDS):
            return FlagState(
                name,
                Applied.ADVANCING,
                f"{name} advances from {was:g}% to {stage.percent:g}% ({stage.reason})",
            )
    fields = sorted(
        f for f in flagd.FIELDS if flagd.flag_json(name, spec, stage).get(f) != have.get(f)
    )
    return FlagState(
        name,
        Applied.DRIFT,
        f"{name} at {where} was changed by hand ({', '.join(fields)})"
        + (f" in {by}" if by else "")
        + "; restoring "
        f"{stage.percent:g}%",
    )

"""Feature flags rendered to flagd's flag JSON for a given instant.

A flag's stage due at `at` is the last rollout stage whose time has come; a rollout
gated on a release (`afterRelease`) stays at 0% until that release is released; a flag
whose `dependsOn` flags are not all fully rolled out stays at 0% too. A stage of p% is a
flagd `fractional` rule giving the rollout variant to p% of targeting keys and the default
variant to the rest. Weights are integers (flagd's schema requires it) out of 100,000, so
stages keep three decimals. The rollout variant is listed first, so raising p only adds
keys: every key that had the variant keeps it (flagd buckets by flag key + targeting key).

Flags are grouped by target (an OpenFeature Operator FeatureFlag resource or a ConfigMap
key); each target gets one flagd document. Purely computational.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from controller.manifests.models import FeatureFlagSpec
from controller.manifests.state import DesiredState
from controller.plan.flag_analysis import StageJudge
from controller.plan.measurements import Outcome
from controller.schedule.zones import wall

FLAGD_SCHEMA = "https://flagd.dev/schema/v0/flags.json"
TOTAL_WEIGHT = 100_000

Released = Callable[[str], bool]
"""Whether the named release is RELEASED (the controller's record says so)."""


@dataclass(frozen=True, slots=True, order=True)
class FlagTarget:
    kind: str
    cluster: str
    namespace: str
    name: str
    key: str
    environment: str = ""
    """With the git method: the environment repository holding `file`."""
    file: str = ""

    def describe(self) -> str:
        where = f"{self.cluster}/{self.namespace}/{self.name}"
        what = (
            f"ConfigMap {where} key {self.key}"
            if self.kind == "ConfigMap"
            else f"FeatureFlag {where}"
        )
        return f"{self.environment}:{self.file} ({what})" if self.environment else what


@dataclass(frozen=True, slots=True)
class FlagStage:
    """What a flag serves at an instant, and why."""

    flag: str
    percent: float
    """Share of targeting keys getting the rollout variant (0 without a rollout)."""
    stage: int
    """1-based index of the stage in force; 0 when none is."""
    reason: str
    maintenance: bool = False
    """Switched on for a release's maintenance mode: everyone gets variant `on`."""


def target_of(spec: FeatureFlagSpec) -> FlagTarget:
    t = spec.target
    return FlagTarget(
        t.kind,
        t.cluster,
        t.namespace,
        t.name,
        t.key if t.kind == "ConfigMap" else "",
        t.environment or "",
        t.file or "",
    )


def stages(
    flags: Mapping[str, FeatureFlagSpec],
    at: datetime,
    released: Released,
    timezone: str = "UTC",
    judge: StageJudge | None = None,
    maintenance: Mapping[str, str] | None = None,
) -> dict[str, FlagStage]:
    """The stage due at `at` for every flag, stage analyses (`judge`: none judged, when
    omitted) and dependencies applied; times in reasons are written in `timezone`.
    `maintenance`: flag → the release whose maintenance mode switches it on now."""
    own = {
        name: _own_stage(name, spec, at, released, timezone, judge) for name, spec in flags.items()
    }
    for name, release in (maintenance or {}).items():
        if name in own:
            own[name] = FlagStage(name, 0.0, 0, f"on for {release}'s maintenance mode", True)
    result: dict[str, FlagStage] = {}

    def resolve(name: str, seen: frozenset[str]) -> FlagStage:
        if name in result:
            return result[name]
        stage = own[name]
        for dependency in flags[name].depends_on:
            if dependency not in flags or dependency in seen:
                continue
            parent = resolve(dependency, seen | {name})
            if parent.percent < 100 and stage.percent > 0:
                stage = FlagStage(
                    name, 0.0, 0, f"held: depends on {dependency}, which is at {parent.percent:g}%"
                )
                break
        result[name] = stage
        return stage

    for name in sorted(flags):
        resolve(name, frozenset())
    return result


def _own_stage(
    name: str,
    spec: FeatureFlagSpec,
    at: datetime,
    released: Released,
    timezone: str,
    judge: StageJudge | None,
) -> FlagStage:
    rollout = spec.rollout
    if rollout is None:
        return FlagStage(name, 0.0, 0, f"no rollout: everyone gets '{spec.default_variant}'")
    if rollout.after_release and not released(rollout.after_release):
        return FlagStage(name, 0.0, 0, f"waiting for release {rollout.after_release}")
    due = [(index, stage) for index, stage in enumerate(rollout.stages, start=1) if stage.at <= at]
    if not due:
        first = wall(rollout.stages[0].at, timezone)
        return FlagStage(name, 0.0, 0, f"before the first stage ({first})")
    index, stage = due[-1]
    for number, step in due:
        if step.analysis is None:
            continue
        outcome, why = judge(name, number) if judge else (None, "no Prometheus to ask")
        if outcome is Outcome.FAILED:
            back = rollout.stages[number - 2] if number >= 2 else None
            percent = back.percent if back is not None else 0.0
            return FlagStage(
                name, percent, number - 1, f"rolled back from stage {number}: analysis {why}"
            )
        if number < index and outcome is not Outcome.SUCCESSFUL:
            state = outcome.value if outcome is not None else "not judged"
            return FlagStage(
                name,
                step.percent,
                number,
                f"held at stage {number}: analysis {state} ({why}); stage {number + 1} was "
                f"due {wall(rollout.stages[number].at, timezone)}",
            )
    return FlagStage(name, stage.percent, index, f"stage {index} since {wall(stage.at, timezone)}")


def flag_json(name: str, spec: FeatureFlagSpec, stage: FlagStage) -> dict[str, Any]:
    """One flag in flagd's format."""
    body: dict[str, Any] = {
        "state": spec.state,
        "variants": dict(spec.variants),
        "defaultVariant": "on" if stage.maintenance else spec.default_variant,
    }
    rollout = spec.rollout
    if rollout is not None and stage.percent > 0 and rollout.variant != spec.default_variant:
        weight = round(stage.percent * TOTAL_WEIGHT / 100)
        body["targeting"] = {
            "fractional": [[rollout.variant, weight], [spec.default_variant, TOTAL_WEIGHT - weight]]
        }
    metadata: dict[str, Any] = {"managedBy": "relctl", "rolloutPercent": stage.percent}
    if stage.maintenance:
        metadata["maintenance"] = True
    if spec.owner:
        metadata["owner"] = spec.owner
    if spec.jira_issue:
        metadata["jiraIssue"] = spec.jira_issue
    if spec.remove_by is not None:
        metadata["removeBy"] = spec.remove_by.isoformat()
    body["metadata"] = metadata
    return body


def document(flags: Iterable[tuple[str, FeatureFlagSpec, FlagStage]]) -> dict[str, Any]:
    """A flagd flag-definition document holding `flags`, keys sorted."""
    return {
        "$schema": FLAGD_SCHEMA,
        "flags": {
            name: flag_json(name, spec, stage)
            for name, spec, stage in sorted(flags, key=lambda item: item[0])
        },
    }


Due = tuple[str, FeatureFlagSpec, FlagStage]


def _due(
    state: DesiredState,
    at: datetime,
    released: Released,
    judge: StageJudge | None = None,
    maintenance: Mapping[str, str] | None = None,
) -> list[Due]:
    specs = {name: m.model.spec for name, m in state.flags.items()}
    stage = stages(specs, at, released, judge=judge, maintenance=maintenance)
    return [(name, spec, stage[name]) for name, spec in specs.items()]


def render(
    state: DesiredState,
    at: datetime,
    released: Released,
    judge: StageJudge | None = None,
    maintenance: Mapping[str, str] | None = None,
) -> dict[FlagTarget, dict[str, Any]]:
    """One flagd document per target, for the stage due at `at`."""
    grouped: dict[FlagTarget, list[Due]] = {}
    for item in _due(state, at, released, judge, maintenance):
        grouped.setdefault(target_of(item[1]), []).append(item)
    return {target: document(items) for target, items in sorted(grouped.items())}


def render_all(
    state: DesiredState, at: datetime, released: Released, judge: StageJudge | None = None
) -> dict[str, Any]:
    """Every flag in one flagd document (for files and local evaluation)."""
    return document(_due(state, at, released, judge))


def stale_reason(
    spec: FeatureFlagSpec, stage: FlagStage, at: datetime, stale_after_days: int
) -> str | None:
    """Why a flag should be removed from code now, or None."""
    if spec.remove_by is not None and spec.remove_by < at.date():
        return f"past its removeBy date {spec.remove_by.isoformat()}"
    if spec.rollout is not None and stage.percent >= 100 and stage.stage:
        since = spec.rollout.stages[stage.stage - 1].at
        days = (at - since).days
        if days >= stale_after_days:
            return f"at 100% for {days} days (since {since.date().isoformat()})"
    return None


@dataclass(frozen=True, slots=True)
class FlagDrift:
    """One field of one flag that differs between what relctl renders and the cluster."""

    flag: str
    field: str
    desired: Any
    actual: Any


FIELDS = ("state", "variants", "defaultVariant", "targeting")


def drift(desired: Mapping[str, Any], actual: Mapping[str, Any] | None) -> list[FlagDrift]:
    """Flag-by-flag differences between two flagd `flags` maps (`metadata` is ignored: it
    is informational). A flag missing on either side is one drift of field `flag`."""
    actual = actual or {}
    found = []
    for name in sorted(set(desired) | set(actual)):
        want, have = desired.get(name), actual.get(name)
        if want is None or have is None:
            found.append(
                FlagDrift(
                    name, "flag", "present" if want else "absent", "present" if have else "absent"
                )
            )
            continue
        for field in FIELDS:
            if want.get(field) != have.get(field):
                found.append(FlagDrift(name, field, want.get(field), have.get(field)))
    return found

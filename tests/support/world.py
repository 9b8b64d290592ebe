"""A pure model of the world for planner tests: observations built from compact YAML
(Jira seed files, workloads) and `apply`, which makes a plan's actions come true the way
Jira and a healthy cluster would. The planner tests and the fixed-point property use it;
the adapters are tested against the real emulators elsewhere."""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from controller.manifests.config import IssueCategories
from controller.manifests.loading import load
from controller.manifests.state import DesiredState
from controller.plan import flags as flagd
from controller.plan.actions import (
    ApplyFlags,
    Comment,
    EnsureVersion,
    ReleaseVersion,
    RestoreImage,
    RollbackImage,
    RunJob,
    SetImage,
    TagRelease,
)
from controller.plan.observed import (
    ATTEMPT_ANNOTATION,
    PREVIOUS_IMAGE,
    RELEASE_ANNOTATION,
    JiraObservation,
    ObservedIssue,
    ObservedVersion,
    ObservedWorkload,
    RolloutState,
    StatusCategory,
    classify,
    index_by_version,
    is_blocker,
    is_critical,
)
from controller.plan.plans import Observed, Plan
from controller.plan.records import ReleaseStatus
from controller.plan.steps import JobState, ObservedJob
from controller.reconcile.passes import Reconciler
from controller.sandbox.world import World

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
DONE = {"done", "closed", "resolved", "released"}
PROGRESS = {"in progress", "in review"}


def desired(root: Path = SHOP) -> DesiredState:
    return load(root).states[0]


def jira_from_seed(seed: Mapping[str, Any], at: datetime) -> JiraObservation:
    categories = IssueCategories()
    versions: dict[str, tuple[ObservedVersion, ...]] = {}
    issues: dict[str, ObservedIssue] = {}
    for n, project in enumerate(seed.get("projects", [])):
        key = project["key"]
        versions[key] = tuple(
            ObservedVersion(
                id=f"{n}{m}",
                project=key,
                name=str(v["name"]),
                released=bool(v.get("released", False)),
                release_date=_date(v.get("releaseDate")),
            )
            for m, v in enumerate(project.get("versions", []))
        )
        for raw in project.get("issues", []):
            status = str(raw.get("status", "To Do"))
            category = (
                StatusCategory.DONE
                if status.lower() in DONE
                else StatusCategory.IN_PROGRESS
                if status.lower() in PROGRESS
                else StatusCategory.TODO
            )
            labels = tuple(raw.get("labels", ()))
            issuetype = raw.get("type", "Task")
            priority = raw.get("priority", "Medium")
            issues[raw["key"]] = ObservedIssue(
                key=raw["key"],
                project=key,
                summary=raw.get("summary", ""),
                issuetype=issuetype,
                status=status,
                status_category=category,
                priority=priority,
                labels=labels,
                fix_versions=tuple(str(v) for v in raw.get("fixVersions", ())),
                updated=at,
                category=classify(issuetype, labels, False, categories),
                blocker=is_blocker(priority, labels, categories),
                critical=is_critical(issuetype, priority, categories),
                internal="internal" in labels,
            )
    return JiraObservation(versions, issues, at, 0, index_by_version(issues))


def _date(value: Any) -> date | None:
    if value is None:
        return None
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def workload(
    cluster: str,
    namespace: str,
    deployment: str,
    images: Mapping[str, str],
    rollout: RolloutState = RolloutState.COMPLETE,
    annotations: Mapping[str, str] | None = None,
    unavailable: int = 0,
    replicas: int = 2,
) -> ObservedWorkload:
    return ObservedWorkload(
        cluster=cluster,
        namespace=namespace,
        deployment=deployment,
        images=dict(images),
        generation=1,
        observed_generation=1,
        replicas=replicas,
        updated_replicas=replicas,
        ready_replicas=replicas - unavailable,
        available_replicas=replicas - unavailable,
        unavailable_replicas=unavailable,
        rollout=rollout,
        message="deployment exceeded its progress deadline"
        if rollout is RolloutState.FAILED
        else "successfully rolled out",
        resource_version="1",
        annotations=dict(annotations or {}),
    )


def cluster_of(
    state: DesiredState, tag: str = "1.0.0"
) -> dict[tuple[str, str, str], ObservedWorkload]:
    """Every component's workloads, running `<image>:<tag>`, healthy."""
    found = {}
    for component in state.components.values():
        spec = component.model.spec
        for w in spec.workloads:
            found[(w.cluster, w.namespace, w.deployment)] = workload(
                w.cluster, w.namespace, w.deployment, {w.container: f"{spec.image}:{tag}"}
            )
    return found


def shop_observed(state: DesiredState, at: datetime) -> Observed:
    seed = yaml.safe_load((REPO / "tests/data/jira/shop.yaml").read_text(encoding="utf-8"))
    targets = {flagd.target_of(m.model.spec) for m in state.flags.values()}
    return Observed(
        jira=jira_from_seed(seed, at),
        workloads=cluster_of(state),
        flags=dict.fromkeys(targets),
        signals={},
    )


def apply(
    plan: Plan,
    observed: Observed,
    bad: frozenset[str] = frozenset(),
    failing: Mapping[str, tuple[str, int, str]] | None = None,
) -> tuple[Observed, dict[str, ReleaseStatus]]:
    """The world after every action of `plan` succeeded (rollouts complete at once,
    except to images in `bad`, which fail; step Jobs complete at once, except those whose
    name contains a key of `failing`, which fail with its (reason, exit code, log)), and
    the statuses the pass records."""
    jira = observed.jira
    workloads = dict(observed.workloads or {})
    flags = dict(observed.flags or {})
    jobs = dict(observed.jobs or {})
    statuses = dict(plan.statuses)
    for action in plan.actions:
        if isinstance(action, RunJob | TagRelease):
            statuses[action.release] = statuses[action.release].with_done((action.done,))
        if isinstance(action, RunJob):
            spec = action.job
            why = next((v for k, v in (failing or {}).items() if k in spec.name), None)
            state = JobState.SUCCEEDED if why is None else JobState.FAILED
            reason, code, log = why or ("", None, "")
            jobs[spec.key] = ObservedJob(
                spec.cluster, spec.namespace, spec.name, action.release, state, reason, code, log
            )
        if isinstance(action, EnsureVersion) and jira is not None:
            jira = _ensure(jira, action)
        elif isinstance(action, ReleaseVersion) and jira is not None:
            jira = _release(jira, action)
        elif isinstance(action, Comment):
            status = statuses[action.release]
            statuses[action.release] = status.with_done((action.done,))
        elif isinstance(action, SetImage | RollbackImage | RestoreImage):
            change = action.change
            seen = workloads[change.workload]
            annotations = dict(seen.annotations)
            if isinstance(action, SetImage):
                # As the cluster adapter annotates: the release and its attempt.
                mine = (
                    annotations.get(RELEASE_ANNOTATION),
                    annotations.get(ATTEMPT_ANNOTATION, "1"),
                )
                if mine != (action.release, str(action.attempt)):
                    annotations[PREVIOUS_IMAGE + change.container] = seen.images[change.container]
                annotations[RELEASE_ANNOTATION] = action.release
                annotations[ATTEMPT_ANNOTATION] = str(action.attempt)
            images = {**seen.images, change.container: change.image}
            state = RolloutState.FAILED if change.image in bad else RolloutState.COMPLETE
            workloads[change.workload] = replace(
                seen,
                images=images,
                annotations=annotations,
                rollout=state,
                message="deployment exceeded its progress deadline"
                if state is RolloutState.FAILED
                else "successfully rolled out",
            )
        elif isinstance(action, ApplyFlags):
            flags[action.target] = json.loads(action.document)["flags"]
    changed = replace(observed, jira=jira, workloads=workloads, flags=flags)
    if jobs or observed.jobs is not None:
        changed = replace(changed, jobs=jobs)
    return changed, statuses


def _ensure(jira: JiraObservation, action: EnsureVersion) -> JiraObservation:
    versions = dict(jira.versions)
    existing = list(versions.get(action.project, ()))
    for n, version in enumerate(existing):
        if version.name == action.version:
            existing[n] = replace(version, release_date=action.day)
            break
    else:
        existing.append(
            ObservedVersion(
                f"new-{action.project}-{action.version}",
                action.project,
                action.version,
                release_date=action.day,
            )
        )
    versions[action.project] = tuple(existing)
    return replace(jira, versions=versions)


def _release(jira: JiraObservation, action: ReleaseVersion) -> JiraObservation:
    versions = dict(jira.versions)
    versions[action.project] = tuple(
        replace(v, released=True, release_date=action.day) if v.name == action.version else v
        for v in versions.get(action.project, ())
    )
    return replace(jira, versions=versions)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def with_release(state: DesiredState, name: str, **spec: Any) -> DesiredState:
    """`state` with release `name`'s spec fields replaced (camelCase keys, as in YAML)."""
    from controller.manifests.models import Release

    return _with_spec(state, Release, name, spec)


def with_flag(state: DesiredState, name: str, **spec: Any) -> DesiredState:
    """`state` with flag `name`'s spec fields replaced (camelCase keys, as in YAML)."""
    from controller.manifests.models import FeatureFlag

    return _with_spec(state, FeatureFlag, name, spec)


def _with_spec(
    state: DesiredState, kind: type[Any], name: str, spec: Mapping[str, Any]
) -> DesiredState:
    from controller.manifests.state import build_state

    manifests = []
    for manifest in state.manifests:
        if isinstance(manifest.model, kind) and manifest.name == name:
            raw = manifest.model.model_dump(mode="json", by_alias=True, exclude_none=True)
            raw["spec"].update(spec)
            manifest = replace(manifest, model=kind.model_validate(raw))
        manifests.append(manifest)
    return build_state(state.root, manifests)


def with_issues(observed: Observed, **statuses: str) -> Observed:
    """Issues moved to new statuses (SHOP_106="Done" → SHOP-106 done)."""
    from controller.plan.observed import StatusCategory

    assert observed.jira is not None
    issues = dict(observed.jira.issues)
    for key, status in statuses.items():
        key = key.replace("_", "-")
        category = StatusCategory.DONE if status.lower() in DONE else StatusCategory.IN_PROGRESS
        issues[key] = replace(issues[key], status=status, status_category=category)
    return replace(observed, jira=replace(observed.jira, issues=issues))


def with_workload(observed: Observed, deployment: str, **fields: Any) -> Observed:
    workloads = dict(observed.workloads or {})
    for key, seen in workloads.items():
        if key[2] == deployment:
            workloads[key] = replace(seen, **fields)
    return replace(observed, workloads=workloads)


@contextlib.contextmanager
def reconciler(world: World) -> Iterator[Reconciler]:
    """A Reconciler over the world's controller clone (a process of its own), closed after."""
    one = Reconciler(world.controller, {**os.environ, **world.env})
    try:
        yield one
    finally:
        one.close()

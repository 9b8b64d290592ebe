"""A release's workloads as the planner sees them: the image each should run, what it
runs, how its rollout stands, the order components go in, and the rollback triggers.

Purely computational: observed workloads come in, judgements come out.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from controller.manifests.models import Component, Release, Workload
from controller.plan.actions import ImageChange, Source
from controller.plan.observed import (
    ATTEMPT_ANNOTATION,
    PREVIOUS_IMAGE,
    RELEASE_ANNOTATION,
    ObservedWorkload,
    RolloutState,
    SourceValue,
)
from controller.plan.records import workload_key
from controller.schedule.zones import wall


@dataclass(frozen=True)
class Unit:
    """One container of one workload that a release sets the image of."""

    release: str
    component: str
    project: str
    workload: Workload
    target: str
    """The image the release puts there."""
    seen: ObservedWorkload | None
    """None: the Deployment was not found (or the cluster was not observed)."""
    superseded: bool = False
    """A later release has since set this workload's image: it is no longer ours to
    roll out, watch or roll back."""
    source: Source | None = None
    """With the git method: where its image is committed."""
    held: SourceValue | None = None
    """With the git method: the environment repository's value and its last commit."""
    apply_deadline: timedelta | None = None
    """With the git method: how long the agent may take to apply a commit."""
    attempt: int = 1
    """The release's attempt under way: a change an earlier attempt made is not its own."""

    @property
    def key(self) -> str:
        w = self.workload
        return workload_key(w.cluster, w.namespace, w.deployment, w.container)

    @property
    def running(self) -> str | None:
        return None if self.seen is None else self.seen.images.get(self.workload.container)

    @property
    def at_target(self) -> bool:
        return self.running == self.target

    @property
    def committed(self) -> SourceValue | None:
        """With the git method: the repository's value when it is the target (the cluster
        may not run it yet)."""
        return self.held if self.held is not None and self.held.image == self.target else None

    @property
    def touched(self) -> bool:
        """The release's change reached it: it runs the target, carries the release's
        annotation, or (git method) its repository holds the target."""
        return self.at_target or self.ours or self.committed is not None

    @property
    def current(self) -> str | None:
        """What the workload is set to: the repository's value with the git method (what
        the agent applies), else the image the cluster runs."""
        return self.held.image if self.held is not None else self.running

    @property
    def ours(self) -> bool:
        """This attempt of the release changed this workload's image at some point."""
        if self.seen is None or self.seen.annotations.get(RELEASE_ANNOTATION) != self.release:
            return False
        return self.seen.annotations.get(ATTEMPT_ANNOTATION, "1") == str(self.attempt)

    @property
    def previous(self) -> str | None:
        """The image the release replaced, from the Deployment's annotation."""
        if not self.ours or self.seen is None:
            return None
        return self.seen.annotations.get(PREVIOUS_IMAGE + self.workload.container)

    @property
    def rolled_back(self) -> bool:
        """Annotated with the release, but running the image it replaced."""
        return self.ours and not self.at_target and self.running == self.previous

    def change(self, image: str) -> ImageChange:
        """Setting this container to `image`, from what it runs now."""
        w = self.workload
        return ImageChange(
            w.cluster, w.namespace, w.deployment, w.container, image, self.running or "",
            self.source,
        )  # fmt: skip


def units_of(
    release: Release,
    name: str,
    components: Mapping[str, Component],
    workloads: Mapping[tuple[str, str, str], ObservedWorkload],
    newer: Callable[[str], bool] = lambda _: False,
    sources: Mapping[str, SourceValue] | None = None,
    attempt: int = 1,
) -> dict[str, list[Unit]]:
    """Component → its units, for every component the release ships. `newer(release)`:
    whether another release departs after this one (its image change supersedes)."""
    found: dict[str, list[Unit]] = {}
    for item in release.spec.components:
        component = components.get(item.name)
        if component is None:
            continue
        spec = component.spec
        target = f"{spec.image}:{item.tag or item.version}"
        units = []
        several = len({w.locator.file for w in spec.workloads if w.locator is not None}) > 1
        for w in spec.workloads:
            seen = workloads.get((w.cluster, w.namespace, w.deployment))
            owner = seen.annotations.get(RELEASE_ANNOTATION, "") if seen is not None else ""
            superseded = bool(owner) and owner != name and newer(owner)
            source = (
                Source(spec.deploy.environment, w.locator, spec.image, item.name, several)
                if spec.deploy.environment is not None and w.locator is not None
                else None
            )
            key = workload_key(w.cluster, w.namespace, w.deployment, w.container)
            held = (sources or {}).get(key) if source is not None else None
            deadline = spec.deploy.apply_deadline if source is not None else None
            units.append(
                Unit(
                    name, item.name, spec.jira_project, w, target, seen, superseded, source,
                    held, deadline, attempt,
                )
            )  # fmt: skip
        found[item.name] = units
    return found


def order(names: Sequence[str], components: Mapping[str, Component]) -> list[str]:
    """`names` in dependency order (a component after the ones it dependsOn among
    `names`); ties by name. A cycle (rejected by validate) falls back to name order."""
    remaining = sorted(set(names))
    done: list[str] = []
    while remaining:
        ready = [
            n
            for n in remaining
            if all(
                d not in remaining or d == n
                for d in (components[n].spec.depends_on if n in components else ())
            )
        ]
        if not ready:
            return done + remaining
        done.append(ready[0])
        remaining.remove(ready[0])
    return done


class Progress(StrEnum):
    MISSING = "missing"
    NOT_STARTED = "not-started"
    ROLLING = "rolling"
    COMPLETE = "complete"
    FAILED = "failed"


def progress(units: Sequence[Unit]) -> Progress:
    units = [u for u in units if not u.superseded]
    if not units:
        return Progress.COMPLETE
    if any(u.seen is None for u in units):
        return Progress.MISSING
    at_target = [u for u in units if u.at_target]
    if any(u.seen is not None and u.seen.rollout is RolloutState.FAILED for u in at_target):
        return Progress.FAILED
    if not at_target:
        return Progress.NOT_STARTED
    if len(at_target) == len(units) and all(
        u.seen is not None and u.seen.rollout is RolloutState.COMPLETE for u in units
    ):
        return Progress.COMPLETE
    return Progress.ROLLING


def committed(unit: Unit) -> str:
    """ "…:4.3.0 is committed to shop-env:apps/…/kustomization.yaml (2c933f640a27)"."""
    assert unit.source is not None and unit.committed is not None
    where = f"{unit.source.environment}:{unit.source.locator.file}"
    return f"{unit.target} is committed to {where} ({unit.committed.commit[:12]})"


def unapplied(unit: Unit, since: datetime, timezone: str) -> str:
    """Why a git-method unit is not at its target: committed, not applied in time."""
    return f"{committed(unit)}; the GitOps agent has not applied it since {wall(since, timezone)}"


@dataclass(frozen=True)
class Trigger:
    component: str
    reason: str


def triggers(
    release: Release,
    units: Mapping[str, Sequence[Unit]],
    unhealthy_since: Mapping[str, datetime],
    now: datetime,
    timezone: str = "UTC",
) -> tuple[list[Trigger], dict[str, datetime]]:
    """Rollback triggers that fire now, and the updated record of when each workload's
    unavailable replicas first crossed the threshold."""
    policy = release.spec.rollback.triggers
    fired: list[Trigger] = []
    since: dict[str, datetime] = {}
    for component in sorted(units):
        for unit in units[component]:
            seen = unit.seen
            if seen is None or unit.superseded:
                continue
            where = f"{unit.workload.cluster}/{seen.namespace}/{seen.deployment}"
            if unit.rolled_back:
                fired.append(Trigger(component, f"{where} runs its previous image again"))
                continue
            if unit.committed is not None and not unit.at_target and unit.apply_deadline:
                # The git method: committed, not applied by the GitOps agent yet.
                mark = f"{unit.key}#unapplied"
                first = unhealthy_since.get(mark, now)
                since[mark] = first
                if now - first >= unit.apply_deadline:
                    fired.append(Trigger(component, f"{where}: {unapplied(unit, first, timezone)}"))
                continue
            if not unit.at_target:
                continue
            if policy.rollout_failed and seen.rollout is RolloutState.FAILED:
                fired.append(Trigger(component, f"{where}: {seen.message}"))
            limit = policy.unavailable_replicas
            if limit is None or seen.replicas == 0 or seen.rollout is RolloutState.PENDING:
                continue
            percent = 100.0 * seen.unavailable_replicas / seen.replicas
            if percent <= limit.above_percent:
                continue
            first = unhealthy_since.get(unit.key, now)
            since[unit.key] = first
            if now - first >= limit.for_:
                fired.append(
                    Trigger(
                        component,
                        f"{where}: {percent:.0f}% of replicas unavailable since "
                        f"{wall(first, timezone)} (limit {limit.above_percent:g}%)",
                    )
                )
    return fired, since

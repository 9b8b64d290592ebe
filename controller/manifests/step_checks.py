"""Semantic checks of the steps around a rollout: an onRollback list beside a step that
says it cannot be undone, a maintenance flag that is not declared or is not an on/off
flag, and a step that cannot finish in time — longer than its release's monitoring (a
post step would outlast the watch it belongs to) or than the shortest allow window the
component deploys in.

Purely computational: takes a `DesiredState`, returns diagnostics as values.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

from controller.manifests.diagnostics import Diagnostic
from controller.manifests.documents import Manifest
from controller.manifests.models import Component, Release
from controller.manifests.state import DesiredState
from controller.manifests.steps import JobStep, Steps
from controller.manifests.types import format_duration
from controller.manifests.yamlsource import PathPart

GROUPS = ("preRollout", "postRollout", "onRollback")


def check(state: DesiredState) -> Iterator[Diagnostic]:
    for manifest in state.of_kind(Component):
        steps = manifest.model.spec.steps
        if steps is not None:
            yield from _steps(state, manifest, steps, ("spec", "steps"))
            yield from _windows(state, manifest, steps)
    for release in state.of_kind(Release):
        for n, item in enumerate(release.model.spec.components):
            if item.steps is None:
                continue
            path: tuple[PathPart, ...] = ("spec", "components", n, "steps")
            yield from _steps(state, release, item.steps, path)
            component = state.components.get(item.name)
            if component is None or component.model.spec.steps is None:
                continue
            merged = component.model.spec.steps.over(item.steps)
            if _conflict(merged) and not _conflict(item.steps):
                yield release.diagnostic(
                    "RC218",
                    f"with component {item.name}'s onRollback steps, this release's steps "
                    "include one that is not reversible: a release that ran it is never "
                    "rolled back; give the release an empty onRollback list, or make the step "
                    "reversible",
                    path,
                )
        yield from _monitoring(state, release)


def _conflict(steps: Steps) -> bool:
    """An irreversible pre step beside onRollback steps."""
    irreversible = any(not s.reversible for s in steps.pre_rollout or ())
    return irreversible and bool(steps.on_rollback)


def _groups(steps: Steps) -> Iterator[tuple[str, int, JobStep]]:
    for name, group in zip(GROUPS, steps.groups(), strict=True):
        for n, step in enumerate(group):
            yield name, n, step


def _steps(
    state: DesiredState,
    manifest: Manifest[Component] | Manifest[Release],
    steps: Steps,
    path: tuple[PathPart, ...],
) -> Iterator[Diagnostic]:
    irreversible = [
        (n, s) for group, n, s in _groups(steps) if group == "preRollout" and not s.reversible
    ]
    if irreversible and steps.on_rollback:
        n, step = irreversible[0]
        yield manifest.diagnostic(
            "RC218",
            f"step '{step.name}' is not reversible, so a release that ran it is never rolled "
            "back and onRollback never runs; remove onRollback, or make the step reversible",
            (*path, "preRollout", n, "reversible"),
        )
    maintenance = steps.maintenance
    if maintenance is not None:
        where = (*path, "maintenance", "flag")
        flag = state.flags.get(maintenance.flag)
        if flag is None:
            yield manifest.diagnostic(
                "RC202",
                f"FeatureFlag '{maintenance.flag}' is not declared; declare a boolean "
                "FeatureFlag with variants 'on' and 'off' for maintenance mode",
                where,
            )
        elif set(flag.model.spec.variants) != {"on", "off"}:
            yield manifest.diagnostic(
                "RC219",
                f"FeatureFlag '{maintenance.flag}' has variants "
                f"{', '.join(sorted(flag.model.spec.variants))}; maintenance mode switches a "
                "flag with exactly the variants 'on' and 'off'",
                where,
            )
        elif flag.model.spec.rollout is not None:
            yield manifest.diagnostic(
                "RC219",
                f"FeatureFlag '{maintenance.flag}' has a staged rollout; maintenance mode "
                "switches a flag of its own, with none",
                where,
            )


def _monitoring(state: DesiredState, release: Manifest[Release]) -> Iterator[Diagnostic]:
    """A step longer than the monitoring of a release that runs it."""
    spec = release.model.spec
    train = state.trains.get(spec.train) if spec.train else None
    end = train.model.spec.milestones.monitoring_end if train is not None else None
    if end is None or end <= timedelta(0):
        return
    for n, item in enumerate(spec.components):
        component = state.components.get(item.name)
        if component is None:
            continue
        base = component.model.spec.steps or Steps()
        for group, m, step in _groups(base.over(item.steps)):
            if step.timeout <= end:
                continue
            own = item.steps is not None and getattr(item.steps, _attribute(group)) is not None
            where = release if own else component
            path: tuple[PathPart, ...] = (
                ("spec", "components", n, "steps", group, m, "timeout")
                if own
                else ("spec", "steps", group, m, "timeout")
            )
            yield where.diagnostic(
                "RC220",
                f"step '{step.name}' may run {format_duration(step.timeout)}, longer than "
                f"the {format_duration(end)} that release {release.name} is monitored "
                f"(train {spec.train}'s monitoringEnd); shorten its timeout",
                path,
            )


def _windows(
    state: DesiredState, manifest: Manifest[Component], steps: Steps
) -> Iterator[Diagnostic]:
    """A step longer than every allow window the component may deploy in."""
    allowed = [
        w.model.spec.duration
        for w in state.windows.values()
        if w.model.spec.kind == "allow"
        and w.model.spec.duration is not None
        and (not w.model.spec.scope.components or manifest.name in w.model.spec.scope.components)
    ]
    if not allowed:
        return
    longest = max(allowed)
    for group, n, step in _groups(steps):
        if group != "onRollback" and step.timeout > longest:
            yield manifest.diagnostic(
                "RC220",
                f"step '{step.name}' may run {format_duration(step.timeout)}, longer than the "
                f"longest allow window ({format_duration(longest)}) the component deploys in",
                ("spec", "steps", group, n, "timeout"),
            )


def _attribute(group: str) -> str:
    return {"preRollout": "pre_rollout", "postRollout": "post_rollout"}.get(group, "on_rollback")

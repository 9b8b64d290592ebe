"""Semantic checks that need no clock: names, references, cycles, milestone order, Jira
version names, flag variants and rollout stages, workloads and clusters.

Purely computational: takes a `DesiredState`, returns every diagnostic found (as values,
never raised). Time-dependent checks live in `controller.schedule.checks`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from controller.manifests import (
    control_checks,
    deploy_checks,
    notify_checks,
    step_checks,
    zone_checks,
)
from controller.manifests.analysis import FLAG_ARGUMENTS, RELEASE_ARGUMENTS, arguments_used
from controller.manifests.diagnostics import Diagnostic, Severity
from controller.manifests.documents import Manifest
from controller.manifests.models import (
    STANDARD_MILESTONES,
    BlackoutWindow,
    Component,
    FeatureFlag,
    MetricGate,
    Model,
    Release,
    ReleaseTrain,
)
from controller.manifests.state import DesiredState
from controller.manifests.types import format_duration
from controller.manifests.yamlsource import PathPart

MAX_JIRA_VERSION = 255


def check(state: DesiredState) -> list[Diagnostic]:
    """Every structural problem in `state`."""
    found: list[Diagnostic] = []
    for rule in (
        _duplicates,
        _references,
        _cycles,
        _milestones,
        _versions,
        _releases,
        _flags,
        _workloads,
        _clusters,
        step_checks.check,
        deploy_checks.check,
        notify_checks.check,
        control_checks.check,
        zone_checks.check,
    ):
        found.extend(rule(state))
    return found


def _duplicates(state: DesiredState) -> Iterator[Diagnostic]:
    first: dict[tuple[str, str], Manifest[Model]] = {}
    for manifest in state.manifests:
        key = (manifest.kind, manifest.name)
        if key in first:
            where = first[key]
            line, _ = where.document.position(("metadata", "name"))
            yield manifest.diagnostic(
                "RC201",
                f"{manifest.kind} '{manifest.name}' is already declared at {where.file}:{line}; "
                "rename one of them",
                ("metadata", "name"),
            )
        else:
            first[key] = manifest


def _missing(
    manifest: Manifest[Model],
    kind: str,
    name: str,
    known: Mapping[str, object],
    path: tuple[PathPart, ...],
) -> Diagnostic:
    guess = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    hint = f"; did you mean '{guess[0]}'?" if guess else f"; declare a {kind} named '{name}'"
    return manifest.diagnostic("RC202", f"{kind} '{name}' is not declared{hint}", path)


def _metric_gate(
    state: DesiredState, manifest: Manifest[Model], gate: MetricGate, path: tuple[PathPart, ...]
) -> Iterator[Diagnostic]:
    found = state.analyses.get(gate.analysis)
    if found is None:
        yield _missing(manifest, "Analysis", gate.analysis, state.analyses, (*path, "analysis"))
        return
    yield from _arguments(
        state, manifest, gate.analysis, RELEASE_ARGUMENTS, "a go/no-go gate", (*path, "analysis")
    )
    names = {m.name: m for m in found.model.spec.metrics}
    if gate.metric is not None and gate.metric not in names:
        yield _missing(
            manifest, f"metric of Analysis '{gate.analysis}'", gate.metric, names, (*path, "metric")
        )


def _arguments(
    state: DesiredState,
    manifest: Manifest[Model],
    name: str,
    allowed: Sequence[str],
    use: str,
    path: tuple[PathPart, ...],
) -> Iterator[Diagnostic]:
    found = state.analyses.get(name)
    if found is None:
        return
    extra = sorted(arguments_used(found.model) - set(allowed))
    if extra:
        named = ", ".join(f"{{{{ {a} }}}}" for a in extra)
        yield manifest.diagnostic(
            "RC217",
            f"Analysis '{name}' names {named}, which {use} does not have (it has "
            f"{', '.join(allowed)})",
            path,
        )


def _references(state: DesiredState) -> Iterator[Diagnostic]:
    def each(
        manifest: Manifest[Model],
        kind: str,
        known: Mapping[str, object],
        names: Sequence[str] | None,
        path: tuple[PathPart, ...],
    ) -> Iterator[Diagnostic]:
        for index, name in enumerate(names or ()):
            if name not in known:
                yield _missing(manifest, kind, name, known, (*path, index))

    for release in state.of_kind(Release):
        spec = release.model.spec
        if spec.train is not None and spec.train not in state.trains:
            yield _missing(release, "ReleaseTrain", spec.train, state.trains, ("spec", "train"))
        for index, item in enumerate(spec.components):
            if item.name not in state.components:
                yield _missing(
                    release,
                    "Component",
                    item.name,
                    state.components,
                    ("spec", "components", index, "name"),
                )
        yield from each(release, "FeatureFlag", state.flags, spec.flags, ("spec", "flags"))
        yield from each(
            release,
            "Analysis",
            state.analyses,
            spec.rollback.triggers.analysis,
            ("spec", "rollback", "triggers", "analysis"),
        )
        for index, gate in enumerate(spec.gates.metrics if spec.gates else ()):
            yield from _metric_gate(state, release, gate, ("spec", "gates", "metrics", index))
        for index, name in enumerate(spec.rollback.triggers.analysis):
            at: tuple[PathPart, ...] = ("spec", "rollback", "triggers", "analysis", index)
            yield from _arguments(state, release, name, RELEASE_ARGUMENTS, "a release", at)
    for train in state.of_kind(ReleaseTrain):
        gates = train.model.spec.gates
        for index, gate in enumerate(gates.metrics if gates else ()):
            yield from _metric_gate(state, train, gate, ("spec", "gates", "metrics", index))
    for flag in state.of_kind(FeatureFlag):
        rollout = flag.model.spec.rollout
        for index, stage in enumerate(rollout.stages if rollout else ()):
            if stage.analysis is None:
                continue
            place: tuple[PathPart, ...] = ("spec", "rollout", "stages", index, "analysis")
            if stage.analysis not in state.analyses:
                yield _missing(flag, "Analysis", stage.analysis, state.analyses, place)
                continue
            yield from _arguments(
                state, flag, stage.analysis, FLAG_ARGUMENTS, "a flag stage", place
            )
    for component in state.of_kind(Component):
        yield from each(
            component,
            "Component",
            state.components,
            component.model.spec.depends_on,
            ("spec", "dependsOn"),
        )
    for flag in state.of_kind(FeatureFlag):
        flag_spec = flag.model.spec
        yield from each(
            flag, "FeatureFlag", state.flags, flag_spec.depends_on, ("spec", "dependsOn")
        )
        after = flag_spec.rollout.after_release if flag_spec.rollout else None
        if after is not None and after not in state.releases:
            yield _missing(
                flag, "Release", after, state.releases, ("spec", "rollout", "afterRelease")
            )
    for train in state.of_kind(ReleaseTrain):
        yield from each(
            train,
            "Component",
            state.components,
            train.model.spec.components,
            ("spec", "components"),
        )
    for window in state.of_kind(BlackoutWindow):
        yield from each(
            window,
            "Component",
            state.components,
            window.model.spec.scope.components,
            ("spec", "scope", "components"),
        )


def _cycles(state: DesiredState) -> Iterator[Diagnostic]:
    components = {n: m.model.spec.depends_on for n, m in state.components.items()}
    flags = {n: m.model.spec.depends_on for n, m in state.flags.items()}
    for graph, index in ((components, state.components), (flags, state.flags)):
        for cycle in find_cycles(graph):
            manifest: Manifest[Any] = index[cycle[0]]
            following = cycle[1] if len(cycle) > 1 else cycle[0]
            position = list(graph[cycle[0]]).index(following)
            yield manifest.diagnostic(
                "RC203",
                f"dependsOn cycle: {' → '.join([*cycle, cycle[0]])}; remove one of these "
                "dependencies",
                ("spec", "dependsOn", position),
            )


def find_cycles(graph: Mapping[str, Sequence[str]]) -> list[list[str]]:
    """Each elementary cycle once, rotated to start at its smallest name (Tarjan-free DFS)."""
    cycles: set[tuple[str, ...]] = set()
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in graph:
                continue
            if state.get(target) == 1:
                cycle = stack[stack.index(target) :]
                pivot = cycle.index(min(cycle))
                cycles.add(tuple(cycle[pivot:] + cycle[:pivot]))
            elif target not in state:
                visit(target)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return [list(c) for c in sorted(cycles)]


def _milestones(state: DesiredState) -> Iterator[Diagnostic]:
    for train in state.of_kind(ReleaseTrain):
        milestones = train.model.spec.milestones
        # Before departure, in order; monitoringEnd (after departure) is checked below.
        values = {
            name: getattr(milestones, attribute)
            for name, attribute in STANDARD_MILESTONES.items()
            if name != "monitoringEnd"
        }
        previous: tuple[str, Any] | None = None
        for name, offset in values.items():
            if offset is None:
                continue
            path = ("spec", "milestones", name)
            if offset.total_seconds() > 0:
                yield train.diagnostic(
                    "RC205",
                    f"{name} must be at or before departure (a negative offset such as -2d)",
                    path,
                )
            elif previous is not None and offset < previous[1]:
                yield train.diagnostic(
                    "RC205",
                    f"{name} ({format_duration(offset)}) comes before "
                    f"{previous[0]}; milestones run codeFreeze → qaStart → "
                    "uatStart → goNoGo → departure → monitoringEnd",
                    path,
                )
            previous = (name, offset)
        end = milestones.monitoring_end
        if end is not None and end.total_seconds() < 0:
            yield train.diagnostic(
                "RC205",
                "monitoringEnd must be after departure (a positive offset such as +1d)",
                ("spec", "milestones", "monitoringEnd"),
            )
        for extra in milestones.model_extra or {}:
            guess = difflib.get_close_matches(extra, list(STANDARD_MILESTONES), n=1, cutoff=0.75)
            if guess:
                yield train.diagnostic(
                    "RC303",
                    f"custom milestone '{extra}' looks like "
                    f"'{guess[0]}'; rename it if that was meant",
                    ("spec", "milestones", extra),
                    key=True,
                    severity=Severity.WARNING,
                )


def jira_version_problem(name: str) -> str | None:
    """Why `name` cannot be a Jira version name, or None."""
    if len(name) > MAX_JIRA_VERSION:
        return f"is {len(name)} characters long; Jira allows at most {MAX_JIRA_VERSION}"
    if name != name.strip():
        return "starts or ends with whitespace, which Jira strips"
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        return "contains control characters"
    return None


def _versions(state: DesiredState) -> Iterator[Diagnostic]:
    owners: dict[tuple[str, str], Manifest[Release]] = {}
    for release in state.of_kind(Release):
        version = release.model.spec.version
        problem = jira_version_problem(version)
        if problem:
            yield release.diagnostic("RC206", f"Jira version name {problem}", ("spec", "version"))
        projects = sorted(
            {
                state.components[c.name].model.spec.jira_project
                for c in release.model.spec.components
                if c.name in state.components
            }
        )
        for project in projects:
            other = owners.setdefault((project, version), release)
            if other is not release and other.name != release.name:
                yield release.diagnostic(
                    "RC208",
                    f"version '{version}' in Jira project {project} already belongs to "
                    f"release '{other.name}'; give this release another version",
                    ("spec", "version"),
                )


def _releases(state: DesiredState) -> Iterator[Diagnostic]:
    for release in state.of_kind(Release):
        spec = release.model.spec
        seen: set[str] = set()
        for index, item in enumerate(spec.components):
            if item.name in seen:
                yield release.diagnostic(
                    "RC209",
                    f"component '{item.name}' is listed twice; keep one entry",
                    ("spec", "components", index, "name"),
                )
            seen.add(item.name)
        train = state.trains.get(spec.train) if spec.train else None
        if train is None:
            continue
        riding, projects = train.model.spec.components, train.model.spec.projects
        if not riding and not projects:
            continue
        for index, item in enumerate(spec.components):
            component = state.components.get(item.name)
            if component is None or item.name in riding:
                continue
            if component.model.spec.jira_project in projects:
                continue
            yield release.diagnostic(
                "RC215",
                f"component '{item.name}' does not ride train '{spec.train}'; add it to the "
                "train's components or projects, or release it with a 'date'",
                ("spec", "components", index, "name"),
                severity=Severity.WARNING,
            )


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "object"
    return "list" if isinstance(value, list) else "null"


def _flags(state: DesiredState) -> Iterator[Diagnostic]:
    for flag in state.of_kind(FeatureFlag):
        spec = flag.model.spec
        kinds = {name: _json_type(value) for name, value in spec.variants.items()}
        first = next(iter(kinds.values()))
        for name, kind in kinds.items():
            if kind in ("list", "null"):
                yield flag.diagnostic(
                    "RC210",
                    f"variant '{name}' is a {kind}; flagd variants "
                    "are booleans, strings, numbers or objects",
                    ("spec", "variants", name),
                )
            elif kind != first:
                yield flag.diagnostic(
                    "RC210",
                    f"variant '{name}' is a {kind} but the first "
                    f"variant is a {first}; all variants need one type",
                    ("spec", "variants", name),
                )
        names = ", ".join(spec.variants)
        if spec.default_variant not in spec.variants:
            yield flag.diagnostic(
                "RC210",
                f"defaultVariant '{spec.default_variant}' is not a variant; use one of: {names}",
                ("spec", "defaultVariant"),
            )
        if spec.rollout is None:
            continue
        if spec.rollout.variant not in spec.variants:
            yield flag.diagnostic(
                "RC210",
                f"rollout variant '{spec.rollout.variant}' is not a variant; use one of: {names}",
                ("spec", "rollout", "variant"),
            )
        stages = spec.rollout.stages
        for index in range(1, len(stages)):
            before, stage = stages[index - 1], stages[index]
            path = ("spec", "rollout", "stages", index)
            if stage.at <= before.at:
                yield flag.diagnostic(
                    "RC211",
                    f"stage {index + 1} starts at or before stage "
                    f"{index}; list stages in time order",
                    (*path, "at"),
                )
            if stage.percent < before.percent:
                yield flag.diagnostic(
                    "RC211",
                    f"stage {index + 1} lowers the rollout from "
                    f"{before.percent:g}% to {stage.percent:g}%; stages only "
                    "go up",
                    (*path, "percent"),
                )


def _workloads(state: DesiredState) -> Iterator[Diagnostic]:
    owners: dict[tuple[str, str, str, str], str] = {}
    for component in state.of_kind(Component):
        for index, workload in enumerate(component.model.spec.workloads):
            key = (workload.cluster, workload.namespace, workload.deployment, workload.container)
            owner = owners.setdefault(key, component.name)
            if owner != component.name:
                yield component.diagnostic(
                    "RC212",
                    f"container {workload.container} of deployment {workload.namespace}/"
                    f"{workload.deployment} on {workload.cluster} already belongs to component "
                    f"'{owner}'; a container is deployed by one component only",
                    ("spec", "workloads", index),
                )


def _clusters(state: DesiredState) -> Iterator[Diagnostic]:
    clusters = state.config.spec.clusters
    if not clusters:
        return  # no ControllerConfig declaring clusters: nothing to check against
    known = ", ".join(sorted(clusters))

    def unknown(manifest: Manifest[Model], name: str, path: tuple[PathPart, ...]) -> Diagnostic:
        return manifest.diagnostic(
            "RC214", f"cluster '{name}' is not declared in relctl.yaml (declared: {known})", path
        )

    for component in state.of_kind(Component):
        for index, workload in enumerate(component.model.spec.workloads):
            if workload.cluster not in clusters:
                yield unknown(component, workload.cluster, ("spec", "workloads", index, "cluster"))
    for flag in state.of_kind(FeatureFlag):
        if flag.model.spec.target.cluster not in clusters:
            yield unknown(flag, flag.model.spec.target.cluster, ("spec", "target", "cluster"))
    for window in state.of_kind(BlackoutWindow):
        for index, name in enumerate(window.model.spec.scope.clusters):
            if name not in clusters:
                yield unknown(window, name, ("spec", "scope", "clusters", index))

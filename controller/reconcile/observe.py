"""What a pass sees: the Jira versions and issues of every release, the Deployments of
every namespace a component runs in (one LIST per namespace), the flagd JSON at every
flag target (one LIST of FeatureFlags per cluster, one of the managed ConfigMaps per
namespace), and the signals CI committed. Observation only: nothing is changed here.

A cluster that cannot be observed is reported and left out (`Observed.unobserved`): the
releases deploying there wait, the others go on."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from controller.adapters.kube import KubeError, read_all_flags
from controller.manifests import signals
from controller.manifests.state import DesiredState
from controller.plan import flags as flagd
from controller.plan.actions import WorkloadId
from controller.plan.observed import JiraObservation, ObservedWorkload
from controller.plan.plans import Observed
from controller.plan.readiness import projects_of
from controller.reconcile.connect import Adapters


def watched_versions(desired: DesiredState) -> dict[str, list[str]]:
    """Project → the fixVersions of the releases touching it."""
    found: dict[str, set[str]] = {}
    for manifest in desired.releases.values():
        for project in projects_of(desired, manifest.model):
            found.setdefault(project, set()).add(manifest.model.spec.version)
    return {p: sorted(v) for p, v in sorted(found.items())}


def namespaces(desired: DesiredState) -> dict[str, set[str]]:
    """Cluster → namespaces the components run in."""
    found: dict[str, set[str]] = {}
    for component in desired.components.values():
        for w in component.model.spec.workloads:
            found.setdefault(w.cluster, set()).add(w.namespace)
    return found


def observe(
    desired: DesiredState,
    adapters: Adapters,
    root: Path,
    now: datetime,
    previous: JiraObservation | None = None,
) -> tuple[Observed, list[str]]:
    """The world as it is, and problems worth reporting (bad signal files)."""
    jira = None
    if adapters.jira is not None:
        jira = adapters.jira.observe(watched_versions(desired), now=now, previous=previous)
    workloads: dict[WorkloadId, ObservedWorkload] = {}
    unobserved: dict[str, str] = {}
    for cluster, names in sorted(namespaces(desired).items()):
        try:
            seen = adapters.cluster(cluster).observe(names)
        except KubeError as exc:
            unobserved[cluster] = str(exc)  # its releases wait; the others go on
            continue
        for (namespace, deployment), one in seen.items():
            workloads[(cluster, namespace, deployment)] = one
    flags: dict[flagd.FlagTarget, dict[str, Any] | None] = {}
    targets = {flagd.target_of(m.model.spec) for m in desired.flags.values()}
    for cluster in sorted({t.cluster for t in targets}):
        mine = [t for t in targets if t.cluster == cluster]
        try:
            flags.update(read_all_flags(adapters.cluster(cluster), mine))
        except KubeError as exc:
            unobserved.setdefault(cluster, str(exc))
    found, problems = signals.read(root, desired.config.spec.signals_path, desired.releases)
    problems += [
        f"cluster {name} could not be observed ({why}); the releases deploying there wait"
        for name, why in sorted(unobserved.items())
    ]
    return Observed(jira, workloads, flags, found, unobserved), problems

"""What a pass sees: the Jira versions and issues of every release, the Deployments of
every namespace a component runs in (one LIST per namespace), the flagd JSON at every
flag target (one LIST of FeatureFlags per cluster, one of the managed ConfigMaps per
namespace), the step Jobs of releases whose steps are under way (one LIST per namespace,
and a failed Job's Pod log), and the signals CI committed. Observation only: nothing is
changed here.

A cluster that cannot be observed is reported and left out (`Observed.unobserved`): the
releases deploying there wait, the others go on."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from controller.adapters.applications import read_application
from controller.adapters.approvals import Verifier
from controller.adapters.errors import AdapterError
from controller.adapters.git import GitError
from controller.adapters.kube import KubeError, read_all_flags
from controller.adapters.kube_jobs import observe_jobs
from controller.adapters.prometheus import variables
from controller.manifests import signals
from controller.manifests.deploy import Locator
from controller.manifests.state import DesiredState
from controller.plan import analysis, flag_analysis
from controller.plan import flags as flagd
from controller.plan.actions import WorkloadId
from controller.plan.analysis import Request
from controller.plan.approvals import Verified
from controller.plan.flag_analysis import Window
from controller.plan.measurements import RangeReading, Reading, Readings
from controller.plan.observed import (
    ApplicationState,
    JiraObservation,
    ObservedWorkload,
    SourceValue,
)
from controller.plan.phases import stepping
from controller.plan.plans import Observed
from controller.plan.readiness import projects_of
from controller.plan.records import ReleaseStatus, workload_key
from controller.plan.steps import ObservedJob
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
    recorded: Mapping[str, ReleaseStatus] | None = None,
    wall: datetime | None = None,
    verifier: Verifier | None = None,
) -> tuple[Observed, list[str]]:
    """The world as it is, and problems worth reporting (bad signal files). With the
    releases' `recorded` statuses, the analysis measurements due are taken too; `wall`
    is the wall-clock instant at which the pass took `now` (they differ under a
    simulated clock), which maps the pass's instants onto Prometheus' history."""
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
    for cluster in sorted({t.cluster for t in targets if not t.environment}):
        mine = [t for t in targets if t.cluster == cluster and not t.environment]
        try:
            flags.update(read_all_flags(adapters.cluster(cluster), mine))
        except KubeError as exc:
            unobserved.setdefault(cluster, str(exc))
    jobs = None if recorded is None else _jobs(desired, adapters, recorded, unobserved)
    found, problems = signals.read(root, desired.config.spec.signals_path, desired.releases)
    problems += [
        f"cluster {name} could not be observed ({why}); the releases deploying there wait"
        for name, why in sorted(unobserved.items())
    ]
    flag_commits = _flag_files(targets, adapters, problems, flags)
    problems += adapters.sink_problems({s.model.spec.sink for s in desired.subscriptions.values()})
    sources = _sources(desired, adapters, problems)
    applications = _applications(desired, adapters, problems)
    signatures = verifier or Verifier(root)
    observed = Observed(
        jira,
        workloads,
        flags,
        found,
        unobserved,
        jobs=jobs,
        sources=sources,
        applications=applications,
        flag_commits=flag_commits,
        approvals=verified_approvals(desired, signatures, problems),
        controls=_controls(desired, signatures),
    )
    if recorded is not None:
        adapters.retry_prometheus()
        # A simulated clock's distance from the wall's, taken when the pass began: zero
        # on the system clock however long the pass has been running.
        offset = (wall if wall is not None else datetime.now(UTC)) - now
        due = analysis.due(desired, observed, recorded, now)
        if due:
            observed = replace(observed, readings=measure(adapters, due, offset))
        specs = {name: m.model.spec for name, m in desired.flags.items()}
        windows = flag_analysis.windows(specs, desired.analyses, now)
        if windows and (adapters.prometheus is not None or any(w.provider for w in windows)):
            observed = replace(observed, ranges=measure_windows(adapters, windows, offset))
    return observed, problems


def verified_approvals(
    desired: DesiredState, verifier: Verifier, problems: list[str]
) -> dict[str, tuple[Verified, ...]] | None:
    """The releases' approvals as git verifies them (None: no keys, count as declared).
    When they cannot be verified, none counts, and the pass says why."""
    try:
        return verifier.verify(desired)
    except GitError as exc:
        problems.append(f"approvals cannot be verified: {exc}; none counts until they can")
        return {
            name: tuple(
                Verified(a.role, a.by, False, f"cannot be verified: {exc}")
                for a in m.model.spec.approvals
            )
            for name, m in desired.releases.items()
        }


def _controls(desired: DesiredState, verifier: Verifier) -> dict[str, dict[str, str]]:
    """Who set each release's control fields; unknown when git cannot say (a record says
    so rather than failing the pass)."""
    try:
        return verifier.controls(desired)
    except GitError:
        return {}


def _jobs(
    desired: DesiredState,
    adapters: Adapters,
    recorded: Mapping[str, ReleaseStatus],
    unobserved: dict[str, str],
) -> dict[str, ObservedJob] | None:
    """The step Jobs relctl made where releases have steps under way (None: none are);
    a cluster whose Jobs cannot be listed is unobserved (its steps wait)."""
    where, wanted = stepping.watched(desired, recorded)
    if not where:
        return None
    found: dict[str, ObservedJob] = {}
    for cluster, names in sorted(where.items()):
        if cluster in unobserved:
            continue
        try:
            found.update(observe_jobs(adapters.cluster(cluster), names, wanted))
        except KubeError as exc:
            unobserved[cluster] = str(exc)
    return found


def _sources(
    desired: DesiredState, adapters: Adapters, problems: list[str]
) -> dict[str, SourceValue]:
    """Each git-method workload's image in its environment repository (one fetch per
    repository); a repository that cannot be read is a problem, and its values absent."""
    wanted: dict[str, list[tuple[str, Locator, str]]] = {}
    for component in desired.components.values():
        spec = component.model.spec
        if spec.deploy.environment is None:
            continue
        for w in spec.workloads:
            if w.locator is not None:
                key = workload_key(w.cluster, w.namespace, w.deployment, w.container)
                wanted.setdefault(spec.deploy.environment, []).append((key, w.locator, spec.image))
    found: dict[str, SourceValue] = {}
    for name, items in sorted(wanted.items()):
        try:
            values = adapters.environment(name).observe([(loc, image) for _, loc, image in items])
        except AdapterError as exc:
            problems.append(f"environment {name} could not be read: {exc}")
            continue
        found.update((key, values[loc]) for key, loc, _ in items if loc in values)
    return found


def _flag_files(
    targets: set[flagd.FlagTarget],
    adapters: Adapters,
    problems: list[str],
    flags: dict[flagd.FlagTarget, dict[str, Any] | None],
) -> dict[flagd.FlagTarget, str]:
    """Into `flags`: what each git-method target's file holds (one fetch per
    repository); returned: who changed each file last. A repository or file that cannot
    be read is a problem, and its targets absent (their flags wait)."""
    commits: dict[flagd.FlagTarget, str] = {}
    for name in sorted({t.environment for t in targets if t.environment}):
        mine = sorted(t for t in targets if t.environment == name)
        try:
            held, by = adapters.environment(name).read_flags(mine)
        except AdapterError as exc:
            problems.append(f"environment {name} could not be read for flags: {exc}")
            continue
        flags.update(held)
        commits.update(by)
    return commits


def _applications(
    desired: DesiredState, adapters: Adapters, problems: list[str]
) -> dict[str, ApplicationState]:
    """The Argo CD Application status of each git-method component that names one."""
    found: dict[str, ApplicationState] = {}
    for name, component in sorted(desired.components.items()):
        application = component.model.spec.deploy.application
        if application is None:
            continue
        try:
            found[name] = read_application(adapters.cluster(application.cluster), application)
        except KubeError as exc:
            problems.append(f"{application.describe()} could not be read: {exc}")
    return found


def measure(
    adapters: Adapters, due: list[Request], offset: timedelta = timedelta(0)
) -> dict[str, Readings] | None:
    """Take the due analysis measurements, each from its provider's Prometheus (None:
    the deployment names none at all). A provider it does not name answers each of its
    measurements with an error; one found down answers the rest at once (the adapter).

    `offset` is the wall clock minus the pass's instant (zero but under a simulated
    clock, `--clock-file` or `--at`): Prometheus holds what happened at wall-clock times,
    so the instants asked about are shifted by it."""
    if adapters.prometheus is None and not any(r.provider for r in due):
        return None
    found: dict[str, Readings] = {}
    for request in due:
        prometheus = adapters.prometheus_for(request.provider)
        if prometheus is None:
            found[request.key] = Readings(Reading(error=_unnamed(request.provider)))
            continue
        baseline = None
        if request.baseline is not None:
            query, start, end = request.baseline
            baseline = prometheus.mean(query, start + offset, end + offset)
        traffic = None
        if request.traffic is not None:
            traffic = prometheus.instant(request.traffic, request.at + offset)
        value = prometheus.instant(request.query, request.at + offset)
        found[request.key] = Readings(value, traffic, baseline)
    return found


def _unnamed(provider: str) -> str:
    url, _ = variables(provider)
    what = f"no Prometheus named {provider!r}" if provider else "no Prometheus"
    return f"{what}: set ${url} where relctl runs"


def measure_windows(
    adapters: Adapters, windows: list[Window], offset: timedelta
) -> dict[str, RangeReading]:
    """Each flag stage window's values, one range query each (at most 10,000 points: a
    long stage is sampled coarser than its interval), from its provider."""
    found: dict[str, RangeReading] = {}
    for w in windows:
        prometheus = adapters.prometheus_for(w.provider)
        if prometheus is None:
            found[w.key] = RangeReading(error=_unnamed(w.provider))
            continue
        step = max(w.metric.interval, (w.end - w.start) / 10_000)
        got = prometheus.values(w.query, w.start + offset, w.end + offset, step)
        if not got.error and w.baseline is not None:
            start, end = w.baseline
            got = replace(got, baseline=prometheus.mean(w.query, start + offset, end + offset))
        found[w.key] = got
    return found

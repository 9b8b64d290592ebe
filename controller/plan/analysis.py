"""Analyses as rollback triggers: which measurements are due, what each one's outcome
is, and what the measurements so far make of the analysis. Pure: the shell sends the
due queries to Prometheus (`due`) and brings the readings back in `Observed.readings`;
the monitoring step judges them (`evaluate`) and records every measurement.

A metric is measured on every workload the release has reached, from its rollout's start
(the ROLLOUT decision) until monitoringEnd, every `interval` (or `count` times). A
measurement is Successful, Failed, Inconclusive or Error (`measurements.Outcome`); the
analysis of one metric on one workload is Failed once more than `failureLimit`
measurements failed (the trigger fires), Error after more than `consecutiveErrorLimit`
errors in a row and Inconclusive after more than `inconclusiveLimit` inconclusive ones in
a row (both hold the release until a later measurement settles it). An error is never a
success.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from controller.manifests.analysis import Analysis, Metric, fill, parse_condition
from controller.manifests.documents import Manifest
from controller.manifests.gates import Gates, MetricGate
from controller.manifests.state import DesiredState
from controller.plan import readiness, rollouts
from controller.plan.measurements import (
    KEEP,
    BaselineRecord,
    Measurement,
    Outcome,
    Reading,
    Readings,
)
from controller.plan.plans import Observed
from controller.plan.readiness import Criterion
from controller.plan.records import DecisionKind, Phase, ReleaseStatus

NO_PROMETHEUS = (
    "no Prometheus to ask: set RELCTL_PROMETHEUS_URL where relctl runs (analyses are "
    "never taken as passed without it)"
)


@dataclass(frozen=True)
class Request:
    """One due measurement: the metric's query at `at`, with what it needs besides."""

    key: str
    query: str
    at: datetime
    traffic: str | None = None
    """The minimum-traffic query, when the metric has one."""
    baseline: tuple[str, datetime, datetime] | None = None
    """The baseline to capture first (query, window start, window end), once."""
    provider: str = ""
    """The Prometheus to ask ("": the deployment's default)."""


@dataclass(frozen=True)
class Target:
    """One metric of one analysis on one workload."""

    key: str
    component: str
    analysis: str
    metric: Metric
    arguments: Mapping[str, str]
    source: Manifest[Analysis] | None = None
    """The Analysis manifest, to point at the metric's query in messages."""
    index: int = 0
    """The metric's place in the Analysis."""

    @property
    def provider(self) -> str:
        return (self.source.model.spec.provider or "") if self.source is not None else ""

    def where(self) -> str:
        """`file:line:column` of the metric's query (for a query Prometheus refuses)."""
        if self.source is None:
            return self.analysis
        line, column = self.source.document.position(("spec", "metrics", self.index, "query"))
        return f"{self.source.file}:{line}:{column} (spec.metrics[{self.index}].query)"

    def explain(self, m: Measurement) -> str:
        """Why `m` came out as it did, pointing at the query when Prometheus refused it."""
        if m.reason.startswith(REFUSED):
            return f"{m.reason}; the query is at {self.where()}"
        return m.reason


REFUSED = "Prometheus refused the query"


def rollout_start(status: ReleaseStatus) -> datetime | None:
    started = status.last(DecisionKind.ROLLOUT)
    return None if started is None else started.at


def _arguments(unit: rollouts.Unit, component: str, name: str, version: str) -> dict[str, str]:
    """What a release's analysis query may name, for one of its workloads."""
    w = unit.workload
    return {
        "cluster": w.cluster,
        "namespace": w.namespace,
        "deployment": w.deployment,
        "component": component,
        "release": name,
        "version": version,
    }


def targets(
    name: str,
    analyses: Mapping[str, Manifest[Analysis]],
    units: Mapping[str, Sequence[rollouts.Unit]],
    wanted: Sequence[str],
    version: str,
) -> list[Target]:
    """Every metric of the `wanted` analyses on every workload the release reached."""
    found: dict[str, Target] = {}
    for analysis_name in wanted:
        source = analyses.get(analysis_name)
        if source is None:
            continue  # `relctl validate` reports it
        for component in sorted(units):
            for unit in units[component]:
                if unit.seen is None or unit.superseded or not (unit.at_target or unit.ours):
                    continue
                w = unit.workload
                arguments = _arguments(unit, component, name, version)
                for index, metric in enumerate(source.model.spec.metrics):
                    key = f"{analysis_name}/{metric.name}@{w.cluster}/{w.namespace}/{w.deployment}"
                    found.setdefault(
                        key,
                        Target(key, component, analysis_name, metric, arguments, source, index),
                    )
    return [found[k] for k in sorted(found)]


def requests(targets_: Sequence[Target], status: ReleaseStatus, now: datetime) -> list[Request]:
    """The measurements due now."""
    start = rollout_start(status)
    if start is None:
        return []
    due = []
    for t in targets_:
        taken = [m for m in status.measurements if m.key == t.key and m.at >= start]
        if t.metric.count is not None and len(taken) >= t.metric.count:
            continue
        if taken and now - taken[-1].at < t.metric.interval:
            continue
        baseline = None
        if t.metric.baseline is not None and t.key not in status.baselines:
            query = fill(t.metric.query, dict(t.arguments))
            baseline = (query, start - t.metric.baseline.window, start)
        traffic = t.metric.minimum_traffic
        due.append(
            Request(
                t.key,
                fill(t.metric.query, dict(t.arguments)),
                now,
                fill(traffic.query, dict(t.arguments)) if traffic else None,
                baseline,
                t.provider,
            )
        )
    return due


def due(
    desired: DesiredState,
    observed: Observed,
    recorded: Mapping[str, ReleaseStatus],
    now: datetime,
) -> list[Request]:
    """Every measurement the releases in flight want this pass (for the shell to take)."""
    from controller.plan.fleet import Fleet

    fleet = Fleet.of(desired, observed, recorded, now)
    analyses = desired.analyses
    found: list[Request] = []
    for name, manifest in sorted(desired.releases.items()):
        status = recorded.get(name)
        release = manifest.model
        gates = readiness.gates_of(desired, release)
        if gates.metrics and (status is None or not (status.phase.deployed or status.phase.final)):
            units = fleet.units(release, name)
            found += [
                gate_request(t, now)
                for _, t in gate_targets(name, analyses, units, gates, release.spec.version)
            ]
        wanted = release.spec.rollback.triggers.analysis
        if status is None or not wanted or status.phase not in WATCHED:
            continue
        units = fleet.units(release, name)
        found += requests(targets(name, analyses, units, wanted, release.spec.version), status, now)
    return found


def gate_request(t: Target, now: datetime) -> Request:
    """A gate's measurement: the metric now, and for a relative condition its mean over
    the baseline window up to now ("twice what it was over the last hour")."""
    query = fill(t.metric.query, dict(t.arguments))
    window = t.metric.baseline.window if t.metric.baseline is not None else None
    baseline = (query, now - window, now) if window is not None else None
    return Request(t.key, query, now, _traffic(t), baseline, t.provider)


def _traffic(t: Target) -> str | None:
    guard = t.metric.minimum_traffic
    return fill(guard.query, dict(t.arguments)) if guard else None


# --- go/no-go gates -----------------------------------------------------------------------

GATE = "gate:"
"""Key prefix of a gate's measurements (taken each pass the verdict is judged)."""


def gate_targets(
    name: str,
    analyses: Mapping[str, Manifest[Analysis]],
    units: Mapping[str, Sequence[rollouts.Unit]],
    gates: Gates,
    version: str,
) -> list[tuple[MetricGate, Target]]:
    """Every metric the gates name, on every workload the release will change."""
    found = []
    for gate in gates.metrics:
        source = analyses.get(gate.analysis)
        if source is None:
            continue  # `relctl validate` reports it
        seen: set[tuple[str, str, str]] = set()
        for component in sorted(units):
            for unit in units[component]:
                w = unit.workload
                if unit.seen is None or (w.cluster, w.namespace, w.deployment) in seen:
                    continue
                seen.add((w.cluster, w.namespace, w.deployment))
                arguments = _arguments(unit, component, name, version)
                for index, metric in enumerate(source.model.spec.metrics):
                    if gate.metric not in (None, metric.name):
                        continue
                    key = (
                        f"{GATE}{gate.analysis}/{metric.name}"
                        f"@{w.cluster}/{w.namespace}/{w.deployment}"
                    )
                    target = Target(key, component, gate.analysis, metric, arguments, source, index)
                    found.append((gate, target))
    return found


def gate_criteria(
    found: Sequence[tuple[MetricGate, Target]],
    readings: Mapping[str, Readings] | None,
    now: datetime,
) -> tuple[list[Criterion], tuple[Measurement, ...]]:
    """One criterion per gated metric (met when every workload's measurement is
    Successful), and the measurements taken for them."""
    measured: dict[tuple[str, str], list[Measurement]] = {}
    explained: dict[str, str] = {}
    vetoes: dict[tuple[str, str], bool] = {}
    conditions: dict[tuple[str, str], str] = {}
    for gate, t in found:
        request = gate_request(t, now)
        got = None if readings is None else readings.get(t.key)
        before = got.baseline if got is not None else None
        baseline = before.value if before is not None and not before.error else None
        one = judge(t.metric, request, got, baseline)
        explained[t.key] = t.explain(one)
        name = (t.analysis, t.metric.name)
        measured.setdefault(name, []).append(one)
        vetoes[name] = gate.veto
        conditions[name] = " and ".join(
            f"{word} {text}"
            for word, text in (("not", t.metric.fail_when), ("", t.metric.pass_when))
            if text
        ).strip()
    criteria = []
    for (analysis_name, metric_name), taken in sorted(measured.items()):
        bad = [m for m in taken if m.outcome is not Outcome.SUCCESSFUL]
        actual = (
            f"{Outcome.SUCCESSFUL.value} on {len(taken)} workload{'s' if len(taken) > 1 else ''}"
            if not bad
            else "; ".join(
                f"{m.outcome.value} on {m.key.split('@', 1)[1]}"
                + (f" ({explained[m.key]})" if m.outcome is Outcome.ERROR else "")
                for m in bad
            )
        )
        criteria.append(
            Criterion(
                f"metric:{analysis_name}/{metric_name}",
                conditions[(analysis_name, metric_name)],
                actual,
                not bad,
                vetoes[(analysis_name, metric_name)],
            )
        )
    return criteria, tuple(m for taken in measured.values() for m in taken)


WATCHED = (Phase.ROLLING_OUT, Phase.MONITORING, Phase.ROLLBACK_RECOMMENDED)


def judge(
    metric: Metric, request: Request, readings: Readings | None, baseline: float | None
) -> Measurement:
    """One measurement's outcome, and why."""

    def measured(value: float | None, outcome: Outcome, reason: str) -> Measurement:
        return Measurement(request.key, request.at, request.query, value, outcome, reason, baseline)

    if readings is None:
        return measured(None, Outcome.ERROR, NO_PROMETHEUS)
    reading = readings.value
    if reading.error:
        return measured(None, Outcome.ERROR, reading.error)
    if request.traffic is not None and metric.minimum_traffic is not None:
        traffic = readings.traffic or Reading(error="the traffic query was not sent")
        if traffic.error:
            return measured(None, Outcome.ERROR, f"traffic: {traffic.error}")
        least = metric.minimum_traffic.at_least
        if traffic.value is None or traffic.value < least:
            seen = "no data" if traffic.value is None else f"{traffic.value:.6g}"
            return _no_data(metric, measured, reading.value, f"traffic {seen} < {least:g}")
    if reading.value is None:
        return _no_data(metric, measured, None, "no data")
    value = reading.value
    fail = parse_condition(metric.fail_when) if metric.fail_when else None
    passed = parse_condition(metric.pass_when) if metric.pass_when else None
    fails = fail.holds(value, baseline) if fail else False
    passes = passed.holds(value, baseline) if passed else None
    if fails is None or (passed is not None and passes is None):
        return measured(value, Outcome.INCONCLUSIVE, "no baseline to compare with")
    shown = f"{value:.6g}"
    if fails:
        assert fail is not None
        return measured(value, Outcome.FAILED, f"{shown} {fail.text}")
    if passed is None:
        return measured(value, Outcome.SUCCESSFUL, f"not {fail.text}" if fail else "")
    if passes:
        return measured(value, Outcome.SUCCESSFUL, f"{shown} {passed.text}")
    if fail is not None:
        return measured(value, Outcome.INCONCLUSIVE, f"neither {fail.text} nor {passed.text}")
    return measured(value, Outcome.FAILED, f"{shown} is not {passed.text}")


def _no_data(
    metric: Metric,
    measured: Callable[[float | None, Outcome, str], Measurement],
    value: float | None,
    why: str,
) -> Measurement:
    outcome = {
        "pass": Outcome.SUCCESSFUL,
        "fail": Outcome.FAILED,
        "hold": Outcome.INCONCLUSIVE,
    }[metric.no_data]
    return measured(value, outcome, f"{why} (noData: {metric.no_data})")


def state(metric: Metric, taken: Sequence[Measurement]) -> Outcome | None:
    """What the measurements so far make of the analysis; None: nothing conclusive yet."""
    if sum(m.outcome is Outcome.FAILED for m in taken) > metric.failure_limit:
        return Outcome.FAILED
    if _trailing(taken, Outcome.ERROR) > metric.consecutive_error_limit:
        return Outcome.ERROR
    if _trailing(taken, Outcome.INCONCLUSIVE) > metric.inconclusive_limit:
        return Outcome.INCONCLUSIVE
    if taken and taken[-1].outcome is Outcome.SUCCESSFUL:
        return Outcome.SUCCESSFUL
    return None


def _trailing(taken: Sequence[Measurement], outcome: Outcome) -> int:
    count = 0
    for m in reversed(taken):
        if m.outcome is not outcome:
            break
        count += 1
    return count


@dataclass(frozen=True)
class Evaluation:
    """An analysis pass over one release: its status after, what failed, what holds."""

    status: ReleaseStatus
    failed: tuple[tuple[Target, tuple[Measurement, ...]], ...] = ()
    holding: tuple[str, ...] = ()
    """Why the release may not be released yet (an analysis Inconclusive or in Error)."""


def evaluate(
    targets_: Sequence[Target],
    status: ReleaseStatus,
    now: datetime,
    readings: Mapping[str, Readings] | None,
) -> Evaluation:
    """Judge the due measurements from `readings` (None: no Prometheus), record them and
    any baseline captured, and say which analyses failed and which hold the release."""
    start = rollout_start(status)
    if start is None:
        return Evaluation(status)
    baselines = dict(status.baselines)
    new: list[Measurement] = []
    by_key = {t.key: t for t in targets_}
    for request in requests(targets_, status, now):
        target = by_key[request.key]
        got = None if readings is None else readings.get(request.key)
        captured = got.baseline if got is not None else None
        if request.baseline is not None and captured is not None and not captured.error:
            query, begin, end = request.baseline
            baselines[request.key] = BaselineRecord(captured.value, query, begin, end)
        known = baselines.get(request.key)
        new.append(judge(target.metric, request, got, known.value if known else None))
    kept = _bounded((*status.measurements, *new))
    status = replace(status, measurements=kept, baselines=baselines)
    return Evaluation(status, *verdicts(targets_, status))


def verdicts(
    targets_: Sequence[Target], status: ReleaseStatus, *, inconclusive_holds: bool = True
) -> tuple[tuple[tuple[Target, tuple[Measurement, ...]], ...], tuple[str, ...]]:
    """The analyses that failed (with their failed measurements), and why the others
    hold the release (Inconclusive ones only while `inconclusive_holds`), from the
    measurements recorded since the rollout's start."""
    start = rollout_start(status)
    if start is None:
        return (), ()
    failed, holding = [], []
    for t in targets_:
        taken = [m for m in status.measurements if m.key == t.key and m.at >= start]
        judged = state(t.metric, taken)
        if judged is Outcome.FAILED:
            failed.append((t, tuple(m for m in taken if m.outcome is Outcome.FAILED)))
        elif judged is Outcome.ERROR or (judged is Outcome.INCONCLUSIVE and inconclusive_holds):
            assert judged is not None
            holding.append(f"analysis {t.key} is {judged.value}: {t.explain(taken[-1])}")
    return tuple(failed), tuple(holding)


def _bounded(measurements: Sequence[Measurement]) -> tuple[Measurement, ...]:
    """The latest `KEEP` measurements of each metric and workload, oldest first."""
    counts: dict[str, int] = {}
    kept = []
    for m in reversed(measurements):
        counts[m.key] = counts.get(m.key, 0) + 1
        if counts[m.key] <= KEEP:
            kept.append(m)
    return tuple(reversed(kept))

"""Analyses on feature-flag stages: a stage with an `analysis` is measured over the time
it is live, from Prometheus' history (a range query from the stage's start to the next
stage's, or to now), and the next stage starts only once every metric passed over the
whole of it. A metric that failed sends the flag back to the previous stage (0% before
the first); no data, an error or no Prometheus hold it where it is. Nothing is kept in
git for this: the verdict is Prometheus' history judged by the manifests, the same each
pass, and the reason travels with the flag's stage (findings, `relctl flags status`).

Pure: the shell takes the range queries (`due`) and brings the values back; `judge`
turns them into the verdicts `flags.stages` applies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

from controller.manifests.analysis import Analysis, Metric, fill, parse_condition
from controller.manifests.documents import Manifest
from controller.manifests.models import FeatureFlagSpec
from controller.plan.measurements import Outcome, RangeReading

StageVerdict = tuple[Outcome | None, str]
"""A stage's analysis verdict (None: not judged) and why."""
StageJudge = Callable[[str, int], StageVerdict]
"""(flag, 1-based stage) → the verdict of that stage's analysis over its live window."""


@dataclass(frozen=True)
class Window:
    """One metric of a stage's analysis over the time the stage was (or is) live."""

    key: str
    """`flag:<flag>/<stage>/<analysis>/<metric>`."""
    flag: str
    stage: int
    analysis: str
    metric: Metric
    query: str
    start: datetime
    end: datetime
    provider: str = ""
    """The Prometheus to ask ("": the deployment's default)."""
    baseline: tuple[datetime, datetime] | None = None
    """For a relative condition: the window before the flag's first stage."""


def windows(
    flags: Mapping[str, FeatureFlagSpec],
    analyses: Mapping[str, Manifest[Analysis]],
    now: datetime,
) -> list[Window]:
    """Every stage with an analysis that has started, each metric over its window."""
    found = []
    for name, spec in sorted(flags.items()):
        rollout = spec.rollout
        if rollout is None:
            continue
        for index, stage in enumerate(rollout.stages, start=1):
            if stage.analysis is None or stage.at > now:
                continue
            source = analyses.get(stage.analysis)
            if source is None:
                continue  # `relctl validate` reports it
            following = rollout.stages[index].at if index < len(rollout.stages) else now
            end = min(following, now)
            arguments = {
                "cluster": spec.target.cluster,
                "namespace": spec.target.namespace,
                "flag": name,
            }
            for metric in source.model.spec.metrics:
                found.append(
                    Window(
                        f"flag:{name}/{index}/{stage.analysis}/{metric.name}",
                        name,
                        index,
                        stage.analysis,
                        metric,
                        fill(metric.query, arguments),
                        stage.at,
                        end,
                        source.model.spec.provider or "",
                        _baseline(metric, rollout.stages[0].at),
                    )
                )
    return found


def _baseline(metric: Metric, first: datetime) -> tuple[datetime, datetime] | None:
    if metric.baseline is None:
        return None
    return first - metric.baseline.window, first


def verdict(window: Window, reading: RangeReading | None) -> StageVerdict:
    """One metric over one stage's window."""
    metric = window.metric
    where = f"{window.analysis}/{metric.name}"
    if reading is None:
        return Outcome.ERROR, f"{where}: no Prometheus to ask"
    if reading.error:
        return Outcome.ERROR, f"{where}: {reading.error}"
    if not reading.values:
        outcome = {"pass": Outcome.SUCCESSFUL, "fail": Outcome.FAILED, "hold": None}[metric.no_data]
        return outcome or Outcome.INCONCLUSIVE, f"{where}: no data (noData: {metric.no_data})"
    fail = parse_condition(metric.fail_when) if metric.fail_when else None
    passed = parse_condition(metric.pass_when) if metric.pass_when else None
    before = reading.baseline
    baseline = before.value if before is not None and not before.error else None
    if baseline is None and any(c.relative for c in (fail, passed) if c is not None):
        return Outcome.INCONCLUSIVE, f"{where}: no baseline to compare with"
    failures = [
        v
        for v in reading.values
        if (fail is not None and fail.holds(v, baseline))
        or (passed is not None and not passed.holds(v, baseline))
    ]
    if len(failures) > metric.failure_limit:
        # The furthest past the threshold: the highest of values that must stay low.
        bound = fail if fail is not None else passed
        high = bound is not None and (bound.op in (">", ">=")) == (bound is fail)
        worst = max(failures) if high else min(failures)
        text = fail.text if fail is not None else f"not {passed.text if passed else ''}"
        versus = f", baseline {baseline:.6g}" if baseline is not None else ""
        return (
            Outcome.FAILED,
            f"{where}: {worst:.6g} {text} ({len(failures)} of {len(reading.values)} "
            f"measurements{versus})",
        )
    return Outcome.SUCCESSFUL, f"{where}: passed {len(reading.values)} measurements"


def judge(found: list[Window], readings: Mapping[str, RangeReading] | None) -> StageJudge:
    """The verdict of each (flag, stage): Failed if a metric failed, else held (None or
    Inconclusive/Error) if one is not yet Successful, else Successful."""
    verdicts: dict[tuple[str, int], list[StageVerdict]] = {}
    for window in found:
        got = None if readings is None else readings.get(window.key)
        verdicts.setdefault((window.flag, window.stage), []).append(verdict(window, got))

    def of(flag: str, stage: int) -> StageVerdict:
        taken = verdicts.get((flag, stage))
        if not taken:
            return None, "not measured"
        for wanted in (Outcome.FAILED, Outcome.ERROR, Outcome.INCONCLUSIVE):
            bad = [why for outcome, why in taken if outcome is wanted]
            if bad:
                return wanted, "; ".join(bad)
        return Outcome.SUCCESSFUL, "; ".join(why for _, why in taken)

    return of

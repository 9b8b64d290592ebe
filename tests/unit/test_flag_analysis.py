"""Analyses on flag stages, the pure part: which windows are measured, what one window's
values make of a metric, and the stage a flag is at given its stages' verdicts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from controller.manifests.analysis import Metric
from controller.manifests.models import FeatureFlagSpec
from controller.plan import flags
from controller.plan.flag_analysis import StageVerdict, Window, judge, verdict
from controller.plan.measurements import Outcome, RangeReading

T0 = datetime(2026, 12, 10, 10, 0, tzinfo=UTC)


def spec(*analyses: str | None) -> FeatureFlagSpec:
    stages = [
        {"percent": p, "at": (T0 + timedelta(hours=i)).isoformat(), "analysis": a}
        for i, (p, a) in enumerate(zip((10, 50, 100), analyses, strict=False))
    ]
    return FeatureFlagSpec.model_validate(
        {
            "owner": "team",
            "variants": {"on": True, "off": False},
            "defaultVariant": "off",
            "rollout": {"variant": "on", "stages": stages},
            "target": {"cluster": "prod", "namespace": "shop", "name": "flags"},
        }
    )


def stage_at(
    flag: FeatureFlagSpec, at: datetime, verdicts: dict[int, StageVerdict] | None
) -> flags.FlagStage:
    judge_ = None if verdicts is None else (lambda _name, n: verdicts.get(n, (None, "")))
    return flags.stages({"f": flag}, at, lambda _: True, judge=judge_)["f"]


S, F, N, E = Outcome.SUCCESSFUL, Outcome.FAILED, Outcome.INCONCLUSIVE, Outcome.ERROR


A = ("a", "a", None)
"""Stages 1 and 2 have the analysis `a`; stage 3 none."""


@pytest.mark.parametrize(
    ("analyses", "hours", "verdicts", "percent", "reason"),
    [
        # No analysis on any stage: time alone decides.
        ((None, None, None), 1.5, {}, 50, "stage 2 since"),
        # Stage 1's analysis passed over its whole window: stage 2 starts.
        (("a", None, None), 1.5, {1: (S, "ok")}, 50, "stage 2 since"),
        # Stage 1's analysis failed: back to 0% (before the first stage).
        (A, 0.5, {1: (F, "a/errors: 0.12 > 5%")}, 0, "rolled back from stage 1: analysis a/errors"),
        (A, 1.5, {1: (F, "a/errors: 0.12 > 5%")}, 0, "rolled back from stage 1"),
        # Stage 1 inconclusive (no traffic), in error, or not judged: held at 10%.
        (A, 1.5, {1: (N, "no data")}, 10, "held at stage 1: analysis Inconclusive"),
        (A, 1.5, {1: (E, "unreachable")}, 10, "held at stage 1: analysis Error"),
        (A, 1.5, None, 10, "held at stage 1: analysis not judged (no Prometheus to ask)"),
        # While stage 1 is live, only a failure changes anything.
        (A, 0.5, {1: (N, "no data")}, 10, "stage 1 since"),
        # Stage 2 failed after stage 1 passed: back to stage 1's 10%.
        (A, 2.5, {1: (S, ""), 2: (F, "a/errors: 0.2 > 5%")}, 10, "rolled back from stage 2"),
        # Both passed: stage 3.
        (A, 2.5, {1: (S, ""), 2: (S, "")}, 100, "stage 3 since"),
    ],
)
def test_the_stage_a_flag_is_at(
    analyses: tuple[str | None, ...],
    hours: float,
    verdicts: dict[int, StageVerdict] | None,
    percent: float,
    reason: str,
) -> None:
    found = stage_at(spec(*analyses), T0 + timedelta(hours=hours), verdicts)
    assert found.percent == percent
    assert reason in found.reason


def window(**fields: Any) -> Window:
    metric = Metric.model_validate({"name": "errors", "query": "q", **fields})
    return Window("flag:f/1/a/errors", "f", 1, "a", metric, "q", T0, T0 + timedelta(hours=1))


@pytest.mark.parametrize(
    ("fields", "reading", "outcome", "reason"),
    [
        ({"failWhen": "> 0.05"}, RangeReading((0.01, 0.02)), S, "passed 2 measurements"),
        ({"failWhen": "> 0.05"}, RangeReading((0.01, 0.12)), F, "0.12 > 0.05 (1 of 2"),
        ({"failWhen": "> 0.05", "failureLimit": 1}, RangeReading((0.01, 0.12)), S, "passed"),
        ({"passWhen": "> 1"}, RangeReading((3.0, 0.5)), F, "0.5 not > 1"),
        ({"failWhen": "> 0.05"}, RangeReading(()), N, "no data (noData: hold)"),
        ({"failWhen": "> 0.05", "noData": "pass"}, RangeReading(()), S, "no data"),
        ({"failWhen": "> 0.05"}, RangeReading(error="Prometheus is unreachable"), E, "unreach"),
        ({"failWhen": "> 0.05"}, None, E, "no Prometheus to ask"),
    ],
)
def test_one_window(
    fields: dict[str, Any], reading: RangeReading | None, outcome: Outcome, reason: str
) -> None:
    found, why = verdict(window(**fields), reading)
    assert found is outcome
    assert reason in why


def test_a_stage_fails_if_any_metric_fails_and_holds_if_any_is_unsettled() -> None:
    good = window(failWhen="> 0.05")
    other = Window("flag:f/1/a/latency", "f", 1, "a", good.metric, "q", T0, T0)
    readings = {good.key: RangeReading((0.01,)), other.key: RangeReading(())}
    assert judge([good, other], readings)("f", 1)[0] is N
    readings[other.key] = RangeReading((0.5,))
    assert judge([good, other], readings)("f", 1)[0] is F
    readings[other.key] = RangeReading((0.01,))
    assert judge([good, other], readings)("f", 1)[0] is S
    assert judge([good, other], readings)("f", 2)[0] is None


def test_a_relative_condition_compares_with_the_window_before_the_first_stage() -> None:
    from controller.plan.flag_analysis import windows
    from controller.plan.measurements import Reading

    relative = window(failWhen="> 2x baseline", baseline={"window": "30m"})
    assert verdict(relative, RangeReading((0.03,), baseline=Reading(0.02)))[0] is S
    failed, why = verdict(relative, RangeReading((0.03, 0.05), baseline=Reading(0.02)))
    assert failed is F and "0.05 > 2x baseline" in why and "baseline 0.02" in why
    assert verdict(relative, RangeReading((0.03,)))[0] is N
    # The window: the half hour before the flag's first stage, whichever stage is judged.
    from controller.manifests.analysis import Analysis
    from controller.manifests.documents import Manifest

    analysis = Analysis.model_validate(
        {
            "apiVersion": "relctl.dev/v1alpha1",
            "kind": "Analysis",
            "metadata": {"name": "a"},
            "spec": {"metrics": [relative.metric.model_dump(by_alias=True, exclude_none=True)]},
        }
    )
    found = windows(
        {"f": spec("a", "a", None)},
        {"a": Manifest(analysis, "a.yaml", None)},
        T0 + timedelta(hours=2),
    )  # type: ignore[arg-type]
    assert {w.baseline for w in found} == {(T0 - timedelta(minutes=30), T0)}

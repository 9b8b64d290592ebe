"""The pure part of analyses: conditions, one measurement's outcome, what a series of
measurements makes of an analysis, which measurements are due, and the Analysis kind's
validation."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pydantic import ValidationError

from controller.manifests.analysis import Analysis, Metric, fill, parse_condition
from controller.plan.analysis import NO_PROMETHEUS, Request, Target, evaluate, judge, state
from controller.plan.measurements import Measurement, Outcome, Reading, Readings
from controller.plan.records import (
    DecisionKind,
    DecisionRecord,
    Phase,
    ReleaseStatus,
    from_yaml,
    to_yaml,
)

NOW = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)


def metric(**fields: Any) -> Metric:
    return Metric.model_validate({"name": "errors", "query": "q", **fields})


@pytest.mark.parametrize(
    ("text", "value", "baseline", "holds"),
    [
        ("> 0.05", 0.12, None, True),
        ("> 0.05", 0.05, None, False),
        (">= 0.05", 0.05, None, True),
        ("< 99%", 0.985, None, True),
        ("< 99%", 0.995, None, False),
        ("> 2x baseline", 0.5, 0.2, True),
        ("> 2x baseline", 0.3, 0.2, False),
        ("> 2x baseline", 0.3, None, None),
        ("> 0.05", math.inf, None, True),
        ("< 0.05", -math.inf, None, True),
        ("!= 0", 0.0, None, False),
    ],
)
def test_conditions(text: str, value: float, baseline: float | None, holds: bool | None) -> None:
    assert parse_condition(text).holds(value, baseline) is holds


@pytest.mark.parametrize("text", ["0.05", "> x", "=> 1", "> 2 baseline", "> 5%%", ""])
def test_a_condition_that_does_not_parse_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a condition"):
        parse_condition(text)


REQUEST = Request("a/errors@prod/shop/cart", 'rate(x{deployment="cart"}[1m])', NOW)


@pytest.mark.parametrize(
    ("fields", "reading", "baseline", "outcome", "reason"),
    [
        ({"failWhen": "> 0.05"}, Reading(0.12), None, Outcome.FAILED, "0.12 > 0.05"),
        ({"failWhen": "> 0.05"}, Reading(0.01), None, Outcome.SUCCESSFUL, "not > 0.05"),
        ({"passWhen": "< 0.05"}, Reading(0.01), None, Outcome.SUCCESSFUL, "0.01 < 0.05"),
        ({"passWhen": "< 0.05"}, Reading(0.12), None, Outcome.FAILED, "0.12 is not < 0.05"),
        (
            {"failWhen": "> 0.1", "passWhen": "< 0.05"},
            Reading(0.07),
            None,
            Outcome.INCONCLUSIVE,
            "neither > 0.1 nor < 0.05",
        ),
        ({"failWhen": "> 0.05"}, Reading(None), None, Outcome.INCONCLUSIVE, "no data"),
        (
            {"failWhen": "> 0.05", "noData": "pass"},
            Reading(None),
            None,
            Outcome.SUCCESSFUL,
            "noData: pass",
        ),
        (
            {"failWhen": "> 0.05", "noData": "fail"},
            Reading(None),
            None,
            Outcome.FAILED,
            "noData: fail",
        ),
        (
            {"failWhen": "> 0.05"},
            Reading(error="Prometheus is unreachable (ConnectError)"),
            None,
            Outcome.ERROR,
            "unreachable",
        ),
        (
            {"failWhen": "> 2x baseline", "baseline": {"window": "1h"}},
            Reading(0.5),
            0.2,
            Outcome.FAILED,
            "0.5 > 2x baseline",
        ),
        (
            {"failWhen": "> 2x baseline", "baseline": {"window": "1h"}},
            Reading(0.5),
            None,
            Outcome.INCONCLUSIVE,
            "no baseline",
        ),
        ({"failWhen": "> 0.05"}, Reading(math.inf), None, Outcome.FAILED, "inf > 0.05"),
    ],
)
def test_one_measurement(
    fields: dict[str, Any],
    reading: Reading,
    baseline: float | None,
    outcome: Outcome,
    reason: str,
) -> None:
    measured = judge(metric(**fields), REQUEST, Readings(reading), baseline)
    assert measured.outcome is outcome
    assert reason in measured.reason
    assert measured.query == REQUEST.query and measured.at == NOW


def test_too_little_traffic_is_no_data_whatever_the_metric_says() -> None:
    guarded = metric(failWhen="> 0.05", minimumTraffic={"query": "t", "atLeast": 1})
    request = Request(REQUEST.key, REQUEST.query, NOW, traffic="t")
    quiet = judge(guarded, request, Readings(Reading(0.5), traffic=Reading(0.2)), None)
    assert quiet.outcome is Outcome.INCONCLUSIVE and "traffic 0.2 < 1" in quiet.reason
    busy = judge(guarded, request, Readings(Reading(0.5), traffic=Reading(3.0)), None)
    assert busy.outcome is Outcome.FAILED


def test_no_prometheus_is_an_error_never_a_success() -> None:
    measured = judge(metric(failWhen="> 0.05"), REQUEST, None, None)
    assert measured.outcome is Outcome.ERROR and measured.reason == NO_PROMETHEUS


def series(*outcomes: Outcome) -> list[Measurement]:
    return [
        Measurement("k", NOW + timedelta(minutes=i), "q", 0.0, o, "")
        for i, o in enumerate(outcomes)
    ]


S, F, N, E = Outcome.SUCCESSFUL, Outcome.FAILED, Outcome.INCONCLUSIVE, Outcome.ERROR


@pytest.mark.parametrize(
    ("fields", "taken", "expected"),
    [
        ({}, [], None),
        ({}, [S, S], S),
        ({}, [S, F], F),
        ({"failureLimit": 1}, [F, S], S),
        ({"failureLimit": 1}, [F, S, F], F),
        ({}, [S, E, E, E, E], None),  # four errors in a row are tolerated (the default)
        ({}, [S, E, E, E, E, E], E),
        ({}, [E, E, E, E, E, S], S),  # a later success settles it
        ({}, [S, N], N),
        ({"inconclusiveLimit": 2}, [N, N], None),
        ({"inconclusiveLimit": 2}, [N, N, N], N),
        ({"consecutiveErrorLimit": 0}, [E], E),
    ],
)
def test_what_the_measurements_make_of_an_analysis(
    fields: dict[str, Any], taken: list[Outcome], expected: Outcome | None
) -> None:
    assert state(metric(failWhen="> 0.05", **fields), series(*taken)) is expected


def rolled_out(**fields: Any) -> ReleaseStatus:
    started = DecisionRecord(DecisionKind.ROLLOUT, NOW, "rolling out")
    return ReleaseStatus("r", "1", Phase.MONITORING, decisions=(started,), **fields)


def target(**fields: Any) -> Target:
    arguments = {"cluster": "prod", "namespace": "shop", "deployment": "cart"}
    return Target("a/errors@prod/shop/cart", "cart", "a", metric(**fields), arguments)


def test_measurements_are_due_every_interval_and_recorded_bounded() -> None:
    t = target(failWhen="> 0.05", interval="1m")
    status = rolled_out()
    for minute in range(12):
        at = NOW + timedelta(minutes=minute, seconds=5)
        evaluation = evaluate([t], status, at, {t.key: Readings(Reading(0.01))})
        assert len(evaluation.status.measurements) == min(minute + 1, 10)
        again = evaluate([t], evaluation.status, at + timedelta(seconds=30), {})
        assert again.status.measurements == evaluation.status.measurements  # not due yet
        status = evaluation.status
    assert status.measurements[-1].at == NOW + timedelta(minutes=11, seconds=5)
    assert not evaluate([t], status, NOW + timedelta(hours=1), {}).failed


def test_a_baseline_is_captured_once_and_judges_relative_conditions() -> None:
    t = target(failWhen="> 2x baseline", baseline={"window": "30m"})
    first = evaluate(
        [t], rolled_out(), NOW, {t.key: Readings(Reading(0.02), baseline=Reading(0.01))}
    )
    captured = first.status.baselines[t.key]
    assert captured.value == 0.01 and captured.start == NOW - timedelta(minutes=30)
    assert first.status.measurements[-1].outcome is Outcome.SUCCESSFUL
    later = NOW + timedelta(minutes=2)
    second = evaluate([t], first.status, later, {t.key: Readings(Reading(0.03))})
    assert second.status.baselines[t.key] == captured
    assert [f[0].key for f in second.failed] == [t.key]
    assert second.failed[0][1][-1].baseline == 0.01
    # The record survives the status file, values and all.
    text = to_yaml(second.status)
    assert from_yaml(text, "status/r.yaml") == second.status


def test_measurements_start_only_with_a_rollout() -> None:
    t = target(failWhen="> 0.05")
    status = ReleaseStatus("r", "1", Phase.SCHEDULED)
    assert evaluate([t], status, NOW, {t.key: Readings(Reading(0.5))}).status == status


def test_an_analysis_is_validated_without_prometheus() -> None:
    def analysis(**fields: Any) -> Analysis:
        return Analysis.model_validate(
            {
                "apiVersion": "relctl.dev/v1alpha1",
                "kind": "Analysis",
                "metadata": {"name": "a"},
                "spec": {"metrics": [{"name": "m", "query": "up", **fields}]},
            }
        )

    assert analysis(failWhen="> 1").spec.metrics[0].no_data == "hold"
    for fields, message in [
        ({}, "needs 'failWhen' or 'passWhen'"),
        ({"failWhen": "> 2x baseline"}, "add 'baseline'"),
        ({"failWhen": "bigger"}, "is not a condition"),
        ({"failWhen": "> 1", "query": "x{d='{{ pod }}'}"}, "'{{ pod }}', which is no argument"),
        ({"failWhen": "> 1", "interval": "0s"}, "at least 1s"),
        ({"failWhen": "> 1", "failureLimit": 10}, "less than or equal to 9"),
    ]:
        with pytest.raises(ValidationError, match=message):
            analysis(**fields)


def test_arguments_are_escaped_for_promql() -> None:
    query = 'x{release="{{ release }}", version="{{version}}"}'
    filled = fill(query, {"release": "r", "version": 'a"} or vector(1) #\\'})
    assert filled == 'x{release="r", version="a\\"} or vector(1) #\\\\"}'


def test_a_metric_gate_is_one_criterion_met_when_every_workload_passes() -> None:
    from controller.manifests.gates import MetricGate
    from controller.plan.analysis import gate_criteria

    gate = MetricGate(analysis="a")
    found = []
    for deployment in ("cart", "pay"):
        arguments = {"cluster": "prod", "namespace": "shop", "deployment": deployment}
        key = f"gate:a/errors@prod/shop/{deployment}"
        found.append((gate, Target(key, deployment, "a", metric(failWhen="> 1%"), arguments)))
    healthy = {t.key: Readings(Reading(0.001)) for _, t in found}
    (criterion,), measured = gate_criteria(found, healthy, NOW)
    assert criterion.name == "metric:a/errors" and criterion.required == "not > 1%"
    assert criterion.met and criterion.veto and criterion.actual == "Successful on 2 workloads"
    assert len(measured) == 2
    sick = {**healthy, found[1][1].key: Readings(Reading(0.04))}
    (criterion,), measured = gate_criteria(found, sick, NOW)
    assert not criterion.met and criterion.actual == "Failed on prod/shop/pay"
    (criterion,), _ = gate_criteria(found, None, NOW)
    assert not criterion.met and criterion.actual.startswith("Error on prod/shop/cart")


def test_a_metric_gate_compares_with_its_mean_over_the_window_up_to_now() -> None:
    from controller.manifests.gates import MetricGate
    from controller.plan.analysis import gate_criteria, gate_request

    arguments = {"cluster": "prod", "namespace": "shop", "deployment": "cart"}
    relative = metric(failWhen="> 2x baseline", baseline={"window": "1h"})
    t = Target("gate:a/errors@prod/shop/cart", "cart", "a", relative, arguments)
    request = gate_request(t, NOW)
    assert request.baseline == ("q", NOW - timedelta(hours=1), NOW)
    found = [(MetricGate(analysis="a"), t)]
    doubled = {t.key: Readings(Reading(0.05), baseline=Reading(0.02))}
    (criterion,), measured = gate_criteria(found, doubled, NOW)
    assert not criterion.met and measured[0].baseline == 0.02
    steady = {t.key: Readings(Reading(0.03), baseline=Reading(0.02))}
    (criterion,), _ = gate_criteria(found, steady, NOW)
    assert criterion.met
    unknown = {t.key: Readings(Reading(0.03), baseline=Reading(error="unreachable"))}
    (criterion,), _ = gate_criteria(found, unknown, NOW)
    assert not criterion.met and criterion.actual.startswith("Inconclusive on")

"""Analyses as rollback triggers, end to end on the wall clock: `relctl reconcile --once`
against the emulators, a traffic simulator per cluster and a real Prometheus (Debian's
package) scraping it every second. A release ships an image whose error rate jumps: the
analysis fails and relctl rolls back, recording the query, the value, the threshold and
the baseline. A healthy image is released; no traffic holds the release; Prometheus gone
holds it too, as Error, never as a pass."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from controller.plan.records import DecisionKind, from_yaml
from controller.sandbox.prometheus import binary
from controller.sandbox.traffic import ERRORING, HEALTHY, SLOW
from controller.sandbox.world import World

REPO = Path(__file__).resolve().parents[2]
SOURCE = REPO / "tests" / "data" / "analysis"
"""One cluster, one component, no train, no window: it works at any wall-clock time."""
CRD = REPO.parent / "shared" / "flagd" / "core.openfeature.dev_featureflags.yaml"
IMAGE = "registry.shop.example/shop/notifications"

ANALYSIS = """\
apiVersion: relctl.dev/v1alpha1
kind: Analysis
metadata: {name: http-health}
spec:
  description: Errors and latency, as users feel them.
  metrics:
    - name: error-ratio
      query: >-
        sum(rate(http_requests_total{cluster="{{ cluster }}", namespace="{{ namespace }}",
        deployment="{{ deployment }}", code=~"5.."}[10s]))
        / sum(rate(http_requests_total{cluster="{{ cluster }}", namespace="{{ namespace }}",
        deployment="{{ deployment }}"}[10s]))
      failWhen: "> 5%"
      interval: 1s
      noData: hold
    - name: latency
      query: >-
        sum(rate(http_request_duration_seconds_sum{cluster="{{ cluster }}",
        deployment="{{ deployment }}"}[10s]))
        / sum(rate(http_request_duration_seconds_count{cluster="{{ cluster }}",
        deployment="{{ deployment }}"}[10s]))
      failWhen: "> 2x baseline"
      baseline: {window: 20s}
      interval: 1s
"""


def release(version: str, when: datetime, **spec: Any) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "relctl.dev/v1alpha1",
            "kind": "Release",
            "metadata": {"name": "notifications-" + version.replace(".", "-")},
            "spec": {
                "version": f"notifications-{version}",
                "date": when.isoformat(timespec="seconds"),
                "components": [{"name": "notifications", "version": version}],
                "rollback": {"auto": True, "triggers": {"analysis": ["http-health"]}},
                **spec,
            },
        },
        sort_keys=False,
    )


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    assert binary() is not None, "Prometheus is not installed (.ci/run installs it)"
    with World(
        SOURCE,
        tmp_path,
        jira_seed=REPO / "tests/data/jira/shop.yaml",
        crd=CRD,
        running={"notifications": "1.8.0"},
        metrics=True,
    ) as w:
        yield w


def reconcile(world: World) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "controller", "reconcile", "--once"],
        cwd=world.controller,
        env={k: v for k, v in {**os.environ, **world.env}.items() if k != "RELCTL_NOW"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr


def status(world: World, name: str) -> Any:
    subprocess.run(["git", "pull", "-q"], cwd=world.human, check=True)
    path = world.human / "status" / "releases" / f"{name}.yaml"
    return from_yaml(path.read_text(encoding="utf-8"), str(path)) if path.exists() else None


def until(world: World, name: str, check: Callable[[Any], bool], within: float = 90.0) -> Any:
    """Passes on the wall clock until the release's status satisfies `check`."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        reconcile(world)
        found = status(world, name)
        if found is not None and check(found):
            return found
    raise AssertionError(f"{name} never got there: {status(world, name)}")


def phase(*names: str) -> Callable[[Any], bool]:
    return lambda found: found.phase.name in names


def measured(key: str, count: int) -> Callable[[Any], bool]:
    """At least `count` measurements of the metric `key` (its prefix) were recorded."""
    return lambda found: sum(m.key.startswith(key) for m in found.measurements) >= count


def ship(world: World, version: str, **spec: Any) -> str:
    name = "notifications-" + version.replace(".", "-")
    now = datetime.now(UTC)
    world.push_change(
        f"Ship notifications {version}",
        {
            "releases/analyses/http-health.yaml": ANALYSIS,
            f"releases/releases/{name}.yaml": release(version, now - timedelta(minutes=1), **spec),
        },
    )
    return name


GATE = {"gates": {"metrics": [{"analysis": "http-health", "metric": "error-ratio"}]}}


def test_an_error_rate_above_the_threshold_rolls_back_with_its_evidence(world: World) -> None:
    world.mark_image(f"{IMAGE}:2.0.0", ERRORING)
    healthy_history(world)  # the latency's baseline: the 20 s before the rollout
    name = ship(world, "2.0.0")
    rolled = until(world, name, phase("ROLLED_BACK"))
    decision = rolled.last()
    assert decision.decision.value == "ROLLBACK"
    failed = decision.evidence.measurements
    assert failed and all(m.outcome.value == "Failed" for m in failed)
    first = failed[0]
    assert first.key == "http-health/error-ratio@prod/platform/notifications"
    assert 'deployment="notifications"' in first.query and 'code=~"5.."' in first.query
    assert first.value is not None and first.value > 0.05
    assert first.reason.endswith("> 5%")
    assert any("analysis http-health/error-ratio" in t for t in decision.evidence.triggers)
    # Every measurement is in the status file, with the latency's baseline captured once.
    assert any(m.key.startswith("http-health/latency@") for m in rolled.measurements)
    assert all(b.value is not None for b in rolled.baselines.values()), rolled.baselines
    for sandbox in world.clusters.values():
        kind = sandbox.store.find_type("apps", "v1", "deployments")
        cart = sandbox.store.get(kind, "platform", "notifications")
        assert cart["spec"]["template"]["spec"]["containers"][0]["image"] == f"{IMAGE}:1.8.0"


def test_latency_above_twice_its_baseline_rolls_back(world: World) -> None:
    healthy_history(world)  # the baseline: the 20 s before the rollout
    world.mark_image(f"{IMAGE}:2.1.0", SLOW)
    name = ship(world, "2.1.0")
    rolled = until(world, name, phase("ROLLED_BACK"))
    decision = rolled.last()
    latency = [m for m in decision.evidence.measurements if "/latency@" in m.key]
    assert latency, decision.evidence
    assert latency[0].baseline is not None and latency[0].value is not None
    assert latency[0].value > 2 * latency[0].baseline
    assert latency[0].reason.endswith("> 2x baseline")
    baseline = rolled.baselines[latency[0].key]
    assert baseline.end - baseline.start == timedelta(seconds=20)


def test_a_healthy_image_is_measured_and_stays(world: World) -> None:
    name = ship(world, "2.2.0")
    found = until(world, name, measured("http-health/error-ratio@", 4))
    assert found.phase.name == "MONITORING"
    ratios = [m for m in found.measurements if m.key.startswith("http-health/error-ratio@")]
    assert ratios[-1].outcome.value == "Successful" and ratios[-1].value is not None
    assert ratios[-1].value < 0.05
    assert not any(d.decision.value == "ROLLBACK" for d in found.decisions)


def test_no_traffic_is_inconclusive_not_a_rollback(world: World) -> None:
    world.traffic["prod"].set_idle("platform", "notifications")
    name = ship(world, "2.3.0")
    found = until(world, name, measured("http-health/error-ratio@", 3))
    ratios = [m for m in found.measurements if m.key.startswith("http-health/error-ratio@")]
    assert {m.outcome.value for m in ratios} == {"Inconclusive"}
    assert all("no data (noData: hold)" in m.reason for m in ratios)
    assert found.phase.name == "MONITORING"
    assert not any(d.decision.value == "ROLLBACK" for d in found.decisions)


def test_prometheus_gone_is_an_error_never_a_pass(world: World) -> None:
    assert world.prometheus is not None
    world.prometheus.stop()
    world.mark_image(f"{IMAGE}:2.4.0", ERRORING)
    name = ship(world, "2.4.0")
    found = until(world, name, measured("http-health/error-ratio@", 2))
    ratios = [m for m in found.measurements if m.key.startswith("http-health/error-ratio@")]
    assert {m.outcome.value for m in ratios} == {"Error"}
    assert all("Prometheus is unreachable" in m.reason for m in ratios)
    assert not any(d.decision.value == "ROLLBACK" for d in found.decisions)


def test_a_metric_gate_says_no_go_while_production_errors_and_go_once_it_does_not(
    world: World,
) -> None:
    """gates.metrics: the error rate of the image running now, before any rollout."""
    world.mark_image(f"{IMAGE}:1.8.0", ERRORING)
    name = ship(world, "2.5.0", **GATE)

    def failed(found: Any) -> bool:  # (before Prometheus has two samples: Inconclusive)
        verdict = found.last(DecisionKind.NO_GO)
        return verdict is not None and any(c.actual.startswith("Failed") for c in verdict.criteria)

    held = until(world, name, failed)
    verdict = held.last(DecisionKind.NO_GO)
    (criterion,) = [c for c in verdict.criteria if c.name.startswith("metric:")]
    assert criterion.name == "metric:http-health/error-ratio"
    assert criterion.required == "not > 5%" and criterion.veto and not criterion.met
    assert criterion.actual == "Failed on prod/platform/notifications"
    (measured,) = verdict.evidence.measurements  # the one measurement the verdict was on
    assert measured.value is not None and measured.value > 0.05
    world.mark_image(f"{IMAGE}:1.8.0", HEALTHY)  # production recovers
    went = until(world, name, phase("ROLLING_OUT", "MONITORING"))
    go = went.last(DecisionKind.GO)
    (criterion,) = [c for c in go.criteria if c.name.startswith("metric:")]
    assert criterion.met and criterion.actual == "Successful on 1 workload"


def test_a_query_prometheus_refuses_is_an_error_naming_the_query_in_the_manifest(
    world: World,
) -> None:
    broken = ANALYSIS.replace(
        '      failWhen: "> 5%"\n', '      failWhen: "> 5%"\n      consecutiveErrorLimit: 0\n'
    ).replace('code=~"5.."}[10s]))', 'code=~"5.."}[10s])) +')
    name = ship(world, "2.6.0")
    world.push_change("A broken query", {"releases/analyses/http-health.yaml": broken})
    found = until(world, name, measured("http-health/error-ratio@", 1))
    ratio = next(m for m in found.measurements if m.key.startswith("http-health/error-ratio@"))
    assert ratio.outcome.value == "Error"
    assert ratio.reason.startswith("Prometheus refused the query (bad_data):")
    done = subprocess.run(
        [sys.executable, "-m", "controller", "plan"],
        cwd=world.controller,
        env={k: v for k, v in {**os.environ, **world.env}.items() if k != "RELCTL_NOW"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert "analysis http-health/error-ratio@prod/platform/notifications is Error" in done.stdout
    assert (
        "the query is at releases/analyses/http-health.yaml:8:14 (spec.metrics[0].query)"
        in done.stdout
    ), done.stdout


NAMESPACE_HEALTH = """\
apiVersion: relctl.dev/v1alpha1
kind: Analysis
metadata: {name: namespace-health}
spec:
  metrics:
    - name: error-ratio
      query: >-
        sum(rate(http_requests_total{cluster="{{ cluster }}", namespace="{{ namespace }}",
        code=~"5.."}[10s])) / sum(rate(http_requests_total{cluster="{{ cluster }}",
        namespace="{{ namespace }}"}[10s]))
      failWhen: "> 5%"
      interval: 1s
"""


def staged_flag(first: datetime, second: datetime) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "relctl.dev/v1alpha1",
            "kind": "FeatureFlag",
            "metadata": {"name": "batched-push"},
            "spec": {
                "owner": "team-platform",
                "variants": {"on": True, "off": False},
                "defaultVariant": "off",
                "rollout": {
                    "variant": "on",
                    "stages": [
                        {"percent": 10, "at": first.isoformat(), "analysis": "namespace-health"},
                        {"percent": 50, "at": second.isoformat()},
                    ],
                },
                "target": {"cluster": "prod", "namespace": "platform", "name": "platform-flags"},
            },
        },
        sort_keys=False,
    )


def rollout_percent(world: World) -> float | None:
    sandbox = world.clusters["prod"]
    kind = sandbox.store.find_type("core.openfeature.dev", "v1beta1", "featureflags")
    try:
        found = sandbox.store.get(kind, "platform", "platform-flags")
    except Exception:  # noqa: BLE001 - not created yet
        return None
    flag = found["spec"]["flagSpec"]["flags"].get("batched-push") or {}
    return flag.get("metadata", {}).get("rolloutPercent")


def stage_flag(world: World) -> datetime:
    """The flag's stage 1 (10%, with an analysis) starts in 2 s, stage 2 (50%) in 8 s."""
    now = datetime.now(UTC)
    second = now + timedelta(seconds=8)
    world.push_change(
        "Stage batched-push",
        {
            "releases/analyses/namespace-health.yaml": NAMESPACE_HEALTH,
            "releases/flags/batched-push.yaml": staged_flag(now + timedelta(seconds=2), second),
        },
    )
    return second


def flag_until(world: World, percent: float, after: datetime, within: float = 60.0) -> None:
    """Passes until the flag is applied at `percent` once `after` has passed."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        reconcile(world)
        if datetime.now(UTC) > after and rollout_percent(world) == percent:
            return
    raise AssertionError(f"the flag is at {rollout_percent(world)}%, not {percent}%")


def test_a_flag_stage_whose_analysis_passed_advances(world: World) -> None:
    second = stage_flag(world)
    flag_until(world, 50, second + timedelta(seconds=1))


def test_a_flag_stage_whose_analysis_fails_goes_back_to_the_previous_stage(
    world: World,
) -> None:
    world.mark_image(f"{IMAGE}:1.8.0", ERRORING)
    second = stage_flag(world)
    flag_until(world, 0, second + timedelta(seconds=1))


def test_a_flag_stage_with_no_traffic_is_held(world: World) -> None:
    world.traffic["prod"].set_idle("platform", "notifications")
    second = stage_flag(world)
    flag_until(world, 10, second + timedelta(seconds=1))


def test_a_metric_gate_with_no_data_or_no_prometheus_is_not_go(world: World) -> None:
    """An Inconclusive or Error measurement never meets a criterion."""
    world.traffic["prod"].set_idle("platform", "notifications")
    name = ship(world, "2.7.0", **GATE)
    held = until(world, name, lambda s: s.last(DecisionKind.NO_GO) is not None)
    (criterion,) = [c for c in held.last(DecisionKind.NO_GO).criteria if c.name.startswith("m")]
    assert criterion.actual == "Inconclusive on prod/platform/notifications"
    assert world.prometheus is not None
    world.prometheus.stop()
    world.traffic["prod"].set_idle("platform", "notifications", idle=False)

    def gate_actual(found: Any) -> str:
        verdict = found.last(DecisionKind.NO_GO)
        return next(c.actual for c in verdict.criteria if c.name.startswith("metric:"))

    erred = until(world, name, lambda s: gate_actual(s).startswith("Error on"))
    assert gate_actual(erred).startswith("Error on prod/platform/notifications (Prometheus is")
    assert erred.phase.name not in ("ROLLING_OUT", "MONITORING")


def test_a_flag_stage_without_prometheus_is_held(world: World) -> None:
    assert world.prometheus is not None
    world.prometheus.stop()
    second = stage_flag(world)
    flag_until(world, 10, second + timedelta(seconds=1))


def test_an_analysis_asks_the_prometheus_its_provider_names(world: World) -> None:
    """provider: eu → $RELCTL_PROMETHEUS_EU_URL; a provider the deployment does not name
    is an Error naming the variable to set."""
    named = ANALYSIS.replace("spec:\n", "spec:\n  provider: eu\n", 1)
    name = ship(world, "2.8.0")
    world.push_change("Ask the eu Prometheus", {"releases/analyses/http-health.yaml": named})
    url = world.env.pop("RELCTL_PROMETHEUS_URL")
    found = until(world, name, measured("http-health/error-ratio@", 1))
    ratio = next(m for m in found.measurements if m.key.startswith("http-health/error-ratio@"))
    assert ratio.outcome.value == "Error"
    assert (
        ratio.reason == "no Prometheus named 'eu': set $RELCTL_PROMETHEUS_EU_URL where relctl runs"
    )
    world.env["RELCTL_PROMETHEUS_EU_URL"] = url
    found = until(
        world,
        name,
        lambda s: any(
            m.key.startswith("http-health/error-ratio@") and m.outcome.value == "Successful"
            for m in s.measurements
        ),
    )
    assert found.phase.name == "MONITORING"


LATENCY = """\
apiVersion: relctl.dev/v1alpha1
kind: Analysis
metadata: {name: latency}
spec:
  metrics:
    - name: mean
      query: >-
        sum(rate(http_request_duration_seconds_sum{cluster="{{ cluster }}",
        namespace="{{ namespace }}"}[10s]))
        / sum(rate(http_request_duration_seconds_count{cluster="{{ cluster }}",
        namespace="{{ namespace }}"}[10s]))
      failWhen: "> 2x baseline"
      baseline: {window: 30s}
      interval: 1s
"""
MEAN_LATENCY = (
    'sum(rate(http_request_duration_seconds_sum{cluster="prod", namespace="platform"}[10s]))'
    ' / sum(rate(http_request_duration_seconds_count{cluster="prod", namespace="platform"}[10s]))'
)


def prometheus_says(world: World, query: str, check: Callable[[float], bool]) -> None:
    """Until Prometheus' answer to `query` satisfies `check` (30 s at most)."""
    assert world.prometheus is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        answer = httpx.get(f"{world.prometheus.url}/api/v1/query", params={"query": query})
        result = answer.json()["data"]["result"]
        if result and check(float(result[0]["value"][1])):
            return
        time.sleep(0.2)
    raise AssertionError(f"Prometheus never said what was waited for: {query}")


def healthy_history(world: World) -> None:
    """Until Prometheus holds 15 s of the namespace's healthy latency (a baseline)."""
    prometheus_says(
        world,
        f"count_over_time(({MEAN_LATENCY})[30s:1s])",
        lambda points: points >= 15,
    )


def test_a_metric_gate_fails_on_latency_above_twice_its_recent_mean(world: World) -> None:
    """A gate's baseline is the metric's mean over the window up to now."""
    name = "notifications-2-9-0"
    healthy_history(world)
    world.mark_image(f"{IMAGE}:1.8.0", SLOW)  # production slows down now
    prometheus_says(world, MEAN_LATENCY, lambda seconds: seconds > 0.3)
    world.push_change("The latency analysis", {"releases/analyses/latency.yaml": LATENCY})
    ship(world, "2.9.0", gates={"metrics": [{"analysis": "latency"}]})
    held = until(world, name, lambda s: s.last(DecisionKind.NO_GO) is not None)
    (criterion,) = [c for c in held.last(DecisionKind.NO_GO).criteria if c.name.startswith("m")]
    assert criterion.name == "metric:latency/mean" and criterion.required == "not > 2x baseline"
    assert criterion.actual == "Failed on prod/platform/notifications"
    (measured,) = held.last(DecisionKind.NO_GO).evidence.measurements
    assert measured.baseline is not None and measured.value is not None
    assert measured.value > 2 * measured.baseline


def test_a_flag_stage_fails_on_latency_above_twice_its_mean_before_the_rollout(
    world: World,
) -> None:
    healthy_history(world)
    now = datetime.now(UTC)
    first, second = now + timedelta(seconds=2), now + timedelta(seconds=10)
    flag = staged_flag(first, second).replace("namespace-health", "latency")
    world.push_change(
        "Stage batched-push behind the latency analysis",
        {"releases/analyses/latency.yaml": LATENCY, "releases/flags/batched-push.yaml": flag},
    )
    world.mark_image(f"{IMAGE}:1.8.0", SLOW)  # slower once the flag is on
    flag_until(world, 0, second + timedelta(seconds=1))

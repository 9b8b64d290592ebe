"""The Analysis kind: metric checks against Prometheus, used as rollback triggers.

An Analysis names metrics; each is a PromQL query with `{{ argument }}` placeholders
(filled in per workload: cluster, namespace, deployment, component, release, version),
a condition (`failWhen` / `passWhen`: `> 0.05`, `< 99%`, `> 2x baseline`), how often it
is measured, how many failures, inconclusive or erroring measurements it tolerates, what
no data means, and optionally a baseline: the same query over a window before the rollout
started, captured once. The conditions are parsed here, so `relctl validate` refuses a
bad one without asking Prometheus.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, WithJsonSchema, model_validator

from controller.manifests.meta import ApiVersion, Model, ObjectMeta
from controller.manifests.types import Duration, Name, parse_duration

ARGUMENTS = ("cluster", "namespace", "deployment", "component", "release", "version", "flag")
"""What a query may name as `{{ argument }}`: a release's analyses have all but `flag`; a
flag stage's have `cluster`, `namespace` (of the flag's target) and `flag`."""
FLAG_ARGUMENTS = ("cluster", "namespace", "flag")
RELEASE_ARGUMENTS = ARGUMENTS[:-1]
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
CONDITION = (
    r"^\s*(<=|>=|==|!=|<|>)\s*([-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)"
    r"\s*(%|x\s*baseline)?\s*$"
)


@dataclass(frozen=True)
class Comparison:
    """A parsed condition: `value <op> threshold`, or `value <op> factor * baseline`."""

    op: str
    threshold: float
    relative: bool
    text: str

    def holds(self, value: float, baseline: float | None) -> bool | None:
        """Whether the condition holds for `value`; None when it is relative and there is
        no baseline to compare with."""
        if self.relative:
            if baseline is None:
                return None
            limit = self.threshold * baseline
        else:
            limit = self.threshold
        return {
            "<": value < limit,
            "<=": value <= limit,
            ">": value > limit,
            ">=": value >= limit,
            "==": value == limit,
            "!=": value != limit,
        }[self.op]


def parse_condition(text: str) -> Comparison:
    found = re.match(CONDITION, text)
    if found is None:
        raise ValueError(
            f"{text!r} is not a condition: write an operator (<, <=, >, >=, ==, !=) and a "
            "number, a percentage or a multiple of the baseline, e.g. '> 0.05', '< 99%', "
            "'> 2x baseline'"
        )
    op, number, unit = found.group(1), float(found.group(2)), (found.group(3) or "")
    if unit == "%":
        number /= 100
    return Comparison(op, number, unit.startswith("x"), text.strip())


def _condition(value: str) -> str:
    parse_condition(value)
    return value


Condition = Annotated[
    str,
    AfterValidator(_condition),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": CONDITION,
            "description": "An operator and a number, a percentage or a multiple of the baseline",
            "examples": ["> 0.05", "< 99%", "> 2x baseline"],
        }
    ),
]


class Baseline(Model):
    """The same query over a window before the rollout started, captured once."""

    window: Duration = Field(default_factory=lambda: parse_duration("1h"))
    """How far back from the rollout's start (e.g. 1h)."""


class MinimumTraffic(Model):
    """A measurement counts only when there was enough traffic to judge by."""

    query: str = Field(min_length=1, max_length=4000)
    """PromQL giving the traffic (e.g. requests a second), with the same arguments."""
    at_least: float = Field(ge=0)
    """Below this the measurement is no data, whatever the metric says."""


class Metric(Model):
    """One measured quantity and what makes it fail."""

    name: Name
    """Name of the metric, in records and messages."""
    query: str = Field(min_length=1, max_length=4000)
    """PromQL returning one value (aggregate it), with `{{ argument }}` placeholders."""
    fail_when: Condition | None = None
    """The measurement fails when this holds, e.g. '> 0.05' or '> 2x baseline'."""
    pass_when: Condition | None = None
    """The measurement passes when this holds. With both conditions, a value matching
    neither is inconclusive; with only passWhen, one not matching it fails."""
    interval: Duration = Field(default_factory=lambda: parse_duration("1m"))
    """Time between measurements (at least 1s)."""
    count: int | None = Field(default=None, ge=1)
    """Measurements to take; without it, measured until monitoringEnd."""
    failure_limit: int = Field(default=0, ge=0, le=9)
    """Failed measurements tolerated among the latest ten; one more fails the analysis."""
    inconclusive_limit: int = Field(default=0, ge=0, le=9)
    """Consecutive inconclusive measurements tolerated; one more holds the release."""
    consecutive_error_limit: int = Field(default=4, ge=0, le=9)
    """Consecutive measurements that errored tolerated (Prometheus down, a bad query);
    one more makes the analysis Error, which holds the release."""
    no_data: Literal["pass", "fail", "hold"] = "hold"
    """What a measurement with no data (or too little traffic) is: pass, fail, or
    inconclusive (hold)."""
    minimum_traffic: MinimumTraffic | None = None
    """Judge only when there is at least this much traffic."""
    baseline: Baseline | None = None
    """Capture a baseline for relative conditions ('> 2x baseline')."""

    @model_validator(mode="after")
    def _coherent(self) -> Metric:
        if self.fail_when is None and self.pass_when is None:
            raise ValueError("a metric needs 'failWhen' or 'passWhen'")
        relative = [
            c for c in (self.fail_when, self.pass_when) if c and parse_condition(c).relative
        ]
        if relative and self.baseline is None:
            raise ValueError(
                f"{relative[0]!r} compares with the baseline: add 'baseline' (e.g. "
                "'baseline: {window: 1h}')"
            )
        if self.interval < timedelta(seconds=1):
            raise ValueError("'interval' must be at least 1s")
        queries = [self.query] + ([self.minimum_traffic.query] if self.minimum_traffic else [])
        for query in queries:
            for name in PLACEHOLDER.findall(query):
                if name not in ARGUMENTS:
                    raise ValueError(
                        f"the query names '{{{{ {name} }}}}', which is no argument; "
                        f"arguments: {', '.join(ARGUMENTS)}"
                    )
        return self


class AnalysisSpec(Model):
    """Metrics measured against Prometheus."""

    metrics: tuple[Metric, ...] = Field(min_length=1)
    """The metrics; the analysis fails when any of them fails."""
    provider: Name | None = None
    """A Prometheus the deployment names: RELCTL_PROMETHEUS_<PROVIDER>_URL (and
    ..._TOKEN), e.g. `eu-west` for RELCTL_PROMETHEUS_EU_WEST_URL. The deployment's
    default one (RELCTL_PROMETHEUS_URL) when omitted."""
    description: str = ""
    """What the analysis watches."""

    @model_validator(mode="after")
    def _unique(self) -> AnalysisSpec:
        names = [m.name for m in self.metrics]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"metric names must be unique: {', '.join(twice)}")
        return self


class Analysis(Model):
    """Metric checks against Prometheus (kind Analysis)."""

    api_version: ApiVersion
    kind: Literal["Analysis"]
    metadata: ObjectMeta
    spec: AnalysisSpec


def promql_string(value: str) -> str:
    """`value` escaped for a PromQL double-quoted string (the placeholders sit in one)."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def fill(query: str, arguments: dict[str, str]) -> str:
    """The query with its placeholders replaced by the (escaped) arguments."""
    return PLACEHOLDER.sub(lambda m: promql_string(arguments.get(m.group(1), "")), query)


def arguments_used(analysis: Analysis) -> set[str]:
    """The arguments the analysis' queries name."""
    found: set[str] = set()
    for metric in analysis.spec.metrics:
        found.update(PLACEHOLDER.findall(metric.query))
        if metric.minimum_traffic is not None:
            found.update(PLACEHOLDER.findall(metric.minimum_traffic.query))
    return found

"""What an analysis measured, as the status file keeps it: each measurement (the query as
sent, when, the value, the outcome and why) and each baseline captured. Typed values
and their file form; the judging is `controller.plan.analysis`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

KEEP = 10
"""Measurements a status file keeps per metric and workload (the latest); those a
decision was taken on are kept in the decision's evidence."""


class Outcome(StrEnum):
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    """No data (with noData: hold), too little traffic, neither condition matched, or no
    baseline to compare with."""
    ERROR = "Error"
    """Prometheus unreachable or slow, a query it refused, a result of the wrong type."""


@dataclass(frozen=True)
class Measurement:
    key: str
    """`analysis/metric@cluster/namespace/deployment`."""
    at: datetime
    query: str
    """As sent to Prometheus."""
    value: float | None
    """None: no data (or an error)."""
    outcome: Outcome
    reason: str
    """Why this outcome: "0.12 > 0.05", "no data (noData: hold)", Prometheus' error."""
    baseline: float | None = None

    def describe(self) -> str:
        value = "no data" if self.value is None else f"{self.value:.6g}"
        extra = "" if self.baseline is None else f", baseline {self.baseline:.6g}"
        return f"{self.key} at {self.at.isoformat()}: {value} ({self.reason}{extra})"


@dataclass(frozen=True)
class BaselineRecord:
    """A metric's value before the rollout: the mean of its query over the window."""

    value: float | None
    """None: Prometheus had no data for the window (relative conditions are then
    inconclusive)."""
    query: str
    start: datetime
    end: datetime


def _number(value: float | None) -> float | str | None:
    if value is None:
        return None
    return value if math.isfinite(value) else ("+Inf" if value > 0 else "-Inf")


def _parse_number(raw: Any) -> float | None:
    return None if raw is None else float(raw)


def measurement_document(m: Measurement) -> dict[str, Any]:
    raw = {
        "key": m.key,
        "at": m.at.isoformat(),
        "query": m.query,
        "value": _number(m.value),
        "outcome": m.outcome.value,
        "reason": m.reason,
        "baseline": _number(m.baseline),
    }
    return {k: v for k, v in raw.items() if v is not None}


def measurement_from(raw: Mapping[str, Any], parse_time: Any, where: str) -> Measurement:
    at = parse_time(raw.get("at"), f"{where}.at")
    if at is None:
        raise ValueError(f"{where}.at: missing")
    return Measurement(
        str(raw["key"]),
        at,
        str(raw.get("query", "")),
        _parse_number(raw.get("value")),
        Outcome(raw["outcome"]),
        str(raw.get("reason", "")),
        _parse_number(raw.get("baseline")),
    )


def baseline_document(b: BaselineRecord) -> dict[str, Any]:
    raw = {
        "value": _number(b.value),
        "query": b.query,
        "start": b.start.isoformat(),
        "end": b.end.isoformat(),
    }
    return {k: v for k, v in raw.items() if v is not None}


def baseline_from(raw: Mapping[str, Any], parse_time: Any, where: str) -> BaselineRecord:
    start = parse_time(raw.get("start"), f"{where}.start")
    end = parse_time(raw.get("end"), f"{where}.end")
    if start is None or end is None:
        raise ValueError(f"{where}: start and end are required")
    return BaselineRecord(_parse_number(raw.get("value")), str(raw.get("query", "")), start, end)


@dataclass(frozen=True)
class Reading:
    """What one query gave: a value, no data (`value` None, `error` empty), or an error."""

    value: float | None = None
    error: str = ""
    series: int = 0


@dataclass(frozen=True)
class Readings:
    value: Reading
    traffic: Reading | None = None
    baseline: Reading | None = None


@dataclass(frozen=True)
class RangeReading:
    """A query's values over a window (NaN left out), or an error; with the baseline
    asked for, when it was."""

    values: tuple[float, ...] = ()
    error: str = ""
    baseline: Reading | None = None

"""Go/no-go criteria of the manifest API: the gates a release (or its components) declares."""

from __future__ import annotations

from pydantic import Field, model_validator

from controller.manifests.meta import Model
from controller.manifests.types import Name


class CompletionGate(Model):
    """Share of the release's Jira issues whose status category is Done."""

    min_percent: float = Field(ge=0, le=100)
    """Lowest acceptable completion, in percent."""
    veto: bool = False
    """When unmet, the verdict is NO_GO whatever else holds."""


class CountGate(Model):
    """An upper bound on a count of Jira issues."""

    max: int = Field(ge=0)
    """Highest acceptable count."""
    veto: bool = True
    """When unmet, the verdict is NO_GO whatever else holds."""


class ApprovalGate(Model):
    """Roles that must have approved the release in its manifest."""

    roles: tuple[Name, ...] = Field(min_length=1)
    """Roles that must each appear in the release's `approvals`."""
    veto: bool = True
    """When unmet, the verdict is NO_GO whatever else holds."""


class SignalGate(Model):
    """A fact committed by CI under `signals/`, compared with a threshold."""

    name: Name
    """Signal name: the file `signals/<release>/<name>` or key `<name>` CI writes."""
    min: float | None = None
    """Lowest acceptable numeric value."""
    max: float | None = None
    """Highest acceptable numeric value."""
    equals: str | float | bool | None = None
    """Required exact value."""
    veto: bool = False
    """When unmet, the verdict is NO_GO whatever else holds."""

    @model_validator(mode="after")
    def _one_threshold(self) -> SignalGate:
        if self.min is None and self.max is None and self.equals is None:
            raise ValueError("a signal needs a threshold: set 'min', 'max' or 'equals'")
        if self.equals is not None and (self.min is not None or self.max is not None):
            raise ValueError("use either 'equals' or 'min'/'max', not both")
        return self


class MetricGate(Model):
    """An Analysis' metrics measured on the release's workloads as they run before the
    rollout ("the error rate in production is below 1% right now"): one criterion per
    metric, met when every workload's measurement is Successful."""

    analysis: Name
    """The Analysis whose metrics are measured."""
    metric: Name | None = None
    """Only this metric of it; all of them when omitted."""
    veto: bool = True
    """When unmet, the verdict is NO_GO whatever else holds."""


class Gates(Model):
    """Go/no-go criteria evaluated at the goNoGo milestone and until departure."""

    completion: CompletionGate | None = None
    """Minimum share of done issues."""
    blockers: CountGate | None = None
    """Maximum number of open blocker issues."""
    critical_bugs: CountGate | None = None
    """Maximum number of open critical bugs."""
    approvals: ApprovalGate | None = None
    """Roles that must have approved."""
    signals: tuple[SignalGate, ...] = ()
    """CI facts compared with thresholds."""
    metrics: tuple[MetricGate, ...] = ()
    """Analyses measured now on the workloads the release will change (Prometheus)."""
    go_with_conditions_min_share: float = Field(default=0.75, ge=0, le=1)
    """GO_WITH_CONDITIONS needs all vetoes met and at least this share of criteria met."""
